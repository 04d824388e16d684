package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/buildpack/builtin"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// buildpackControl is platformControl with the Buildpacks capability on
// the platform's own list. minipaas validates with its API's code; here a
// buildpack is heroku/<builtin name>, anything else is the API's 422.
type buildpackControl struct{ platformControl }

func (c buildpackControl) ListBuildpacks(ctx context.Context, app string) ([]Buildpack, error) {
	list, err := c.Buildpacks(ctx, app)
	if err != nil {
		return nil, err
	}
	var out []Buildpack
	for _, b := range list {
		out = append(out, Buildpack{URL: b.URL, Name: b.URL})
	}
	return out, nil
}

func (c buildpackControl) ReplaceBuildpacks(ctx context.Context, app string, refs []string) error {
	var list []platform.BuildpackInstallation
	for _, ref := range refs {
		name, ok := strings.CutPrefix(ref, "heroku/")
		if !ok || !slices.Contains(builtin.Names(), name) {
			return platformapi.InvalidParams("Buildpack %s is not available.", ref)
		}
		list = append(list, platform.BuildpackInstallation{URL: ref, Builtin: name})
	}
	_, err := c.SetBuildpacks(ctx, app, list)
	return err
}

func buildpacksOf(t *testing.T, p *platform.Platform, app string) []string {
	t.Helper()
	list, err := p.Buildpacks(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range list {
		out = append(out, b.URL)
	}
	return out
}

// TestBuildpacks: add (last and at an index), refuse what breaks a rule
// without changing anything, show the list in order, remove, clear.
func TestBuildpacks(t *testing.T) {
	p := openPlatform(t)
	if _, err := p.CreateApp(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, &Handler{Source: p, Control: buildpackControl{platformControl{p}}, Token: token, User: dashUser})

	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{`<form id="add-buildpack"`, `action="/dashboard/apps/demo/buildpacks"`, `name="index"`, `id="no-buildpacks"`} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="clear-buildpacks"`) {
		t.Error("an app without buildpacks has a clear form")
	}

	if level, text := b.submit("buildpacks", url.Values{"buildpack": {" heroku/go "}}); level != "ok" || text != "Added heroku/go. The next push of demo builds with 1. heroku/go." {
		t.Errorf("add heroku/go: %s %q", level, text)
	}
	if level, text := b.submit("buildpacks", url.Values{"buildpack": {"heroku/nodejs"}, "index": {"1"}}); level != "ok" || text != "Added heroku/nodejs. The next push of demo builds with 1. heroku/nodejs, 2. heroku/go." {
		t.Errorf("add heroku/nodejs at 1: %s %q", level, text)
	}
	if level, text := b.submit("buildpacks", url.Values{"buildpack": {"heroku/static"}, "index": {"3"}}); level != "ok" || !strings.Contains(text, "3. heroku/static") {
		t.Errorf("add heroku/static at 3: %s %q", level, text)
	}
	want := []string{"heroku/nodejs", "heroku/go", "heroku/static"}
	if got := buildpacksOf(t, p, "demo"); !slices.Equal(got, want) {
		t.Fatalf("buildpacks %v, want %v", got, want)
	}
	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	last := -1
	for i, bp := range want {
		row := `<tr class="buildpack" data-url="` + bp + `">`
		at := strings.Index(page, row)
		if at < 0 || at < last {
			t.Errorf("buildpack %d %s: row at %d, after %d", i+1, bp, at, last)
		}
		last = at
	}
	for _, s := range []string{`id="clear-buildpacks"`, `<input type="hidden" name="buildpack" value="heroku/go"><button type="submit">Remove</button>`} {
		if !strings.Contains(page, s) {
			t.Errorf("app page lacks %q", s)
		}
	}

	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"buildpack": {""}}, "The buildpack is required: a URL or a registry name such as heroku/go."},
		{url.Values{"buildpack": {"heroku/ruby"}}, "Buildpack heroku/ruby is not available."},
		{url.Values{"buildpack": {"https://example.com/bp.tgz"}}, "Buildpack https://example.com/bp.tgz is not available."},
		{url.Values{"buildpack": {"heroku/go"}}, "heroku/go is already a buildpack of demo."},
		{url.Values{"buildpack": {"heroku/procfile"}, "index": {"0"}}, `The index must be a whole number from 1 to 4 (the position among demo's 3 buildpacks), not "0".`},
		{url.Values{"buildpack": {"heroku/procfile"}, "index": {"5"}}, `not "5"`},
		{url.Values{"buildpack": {"heroku/procfile"}, "index": {"x"}}, `not "x"`},
	} {
		if level, text := b.submit("buildpacks", tc.form); level != "error" || !strings.Contains(text, tc.want) {
			t.Errorf("add %v: %s %q, want an error with %q", tc.form, level, text, tc.want)
		}
		if got := buildpacksOf(t, p, "demo"); !slices.Equal(got, want) {
			t.Errorf("add %v changed the buildpacks to %v", tc.form, got)
		}
	}

	if level, text := b.submit("buildpacks/remove", url.Values{"buildpack": {"heroku/procfile"}}); level != "error" || text != `"heroku/procfile" is not a buildpack of demo.` {
		t.Errorf("remove an unknown buildpack: %s %q", level, text)
	}
	if got := buildpacksOf(t, p, "demo"); !slices.Equal(got, want) {
		t.Errorf("removing an unknown buildpack changed them to %v", got)
	}
	if level, text := b.submit("buildpacks/remove", url.Values{"buildpack": {"heroku/go"}}); level != "ok" || text != "Removed heroku/go. The next push of demo builds with 1. heroku/nodejs, 2. heroku/static." {
		t.Errorf("remove heroku/go: %s %q", level, text)
	}
	if got := buildpacksOf(t, p, "demo"); !slices.Equal(got, []string{"heroku/nodejs", "heroku/static"}) {
		t.Errorf("after removing heroku/go: %v", got)
	}
	if level, text := b.submit("buildpacks/clear", nil); level != "ok" || text != "Cleared the buildpacks. demo has no buildpacks set: the next push detects them." {
		t.Errorf("clear: %s %q", level, text)
	}
	if got := buildpacksOf(t, p, "demo"); len(got) != 0 {
		t.Errorf("after clearing: %v", got)
	}
}

// TestCrossOriginSettingsForms: the buildpack and ACM forms refuse a
// cross-origin POST and change nothing.
func TestCrossOriginSettingsForms(t *testing.T) {
	p := openPlatform(t)
	ctx := context.Background()
	if _, err := p.CreateApp(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetBuildpacks(ctx, "demo", []platform.BuildpackInstallation{{URL: "heroku/go", Builtin: "go"}}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, &Handler{Source: p, Control: buildpackControl{platformControl{p}}, Token: token})
	for _, hdr := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "cross-site", "Origin": b.srv.URL},
	} {
		for _, tc := range []struct {
			path string
			form url.Values
		}{
			{"/dashboard/apps/demo/buildpacks", url.Values{"buildpack": {"heroku/nodejs"}}},
			{"/dashboard/apps/demo/buildpacks/remove", url.Values{"buildpack": {"heroku/go"}}},
			{"/dashboard/apps/demo/buildpacks/clear", nil},
			{"/dashboard/apps/demo/acm", url.Values{"acm": {"on"}}},
		} {
			resp, body := b.do("POST", tc.path, tc.form, hdr)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Cross-origin request refused") {
				t.Errorf("POST %s with %v: %d, want 403", tc.path, hdr, resp.StatusCode)
			}
		}
	}
	if got := buildpacksOf(t, p, "demo"); !slices.Equal(got, []string{"heroku/go"}) {
		t.Errorf("after cross-origin POSTs the buildpacks are %v", got)
	}
}

// TestSettingsWithoutCapabilities: a Control without the optional
// capabilities shows neither section, and their forms say why they
// cannot work rather than failing.
func TestSettingsWithoutCapabilities(t *testing.T) {
	p := openPlatform(t)
	if _, err := p.CreateApp(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token})
	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, s := range []string{`id="add-buildpack"`, `<form id="acm"`, "ACM status"} {
		if strings.Contains(page, s) {
			t.Errorf("app page has %q without the capability", s)
		}
	}
	if level, text := b.submit("acm", url.Values{"acm": {"on"}}); level != "error" || text != "Automatic Certificate Management is not available on this platform." {
		t.Errorf("acm on: %s %q", level, text)
	}
	if level, text := b.submit("buildpacks", url.Values{"buildpack": {"heroku/go"}}); level != "error" || text != "Buildpacks cannot be changed on this platform." {
		t.Errorf("add buildpack: %s %q", level, text)
	}
	if got := buildpacksOf(t, p, "demo"); len(got) != 0 {
		t.Errorf("buildpacks %v", got)
	}
}
