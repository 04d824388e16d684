package dashboard

import (
	"context"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/release"
)

// resourceControl is platformControl with the Addons and Drains
// capabilities on a few add-ons and drains in memory. minipaas's are its
// API's code; here an add-on's config vars are set and unset on the real
// platform (a release each), as minipaas's are.
type resourceControl struct {
	platformControl
	r *resources
}

type resources struct {
	mu     sync.Mutex
	n      int
	addons []fakeAddon
	drains map[string][]Drain // by app
}

// fakeAddon is an add-on, the secret its config var holds and the app
// that has it attached besides its billing app.
type fakeAddon struct {
	Addon
	secret     string
	attachedTo string
}

// fakePlans: each service's first plan is its default.
var fakePlans = []AddonPlan{
	{Name: "kv:small", Service: "kv", Description: "1 MB"},
	{Name: "kv:large", Service: "kv", Description: "1 GB"},
	{Name: "sql:tiny", Service: "sql"},
}

// maxFakeDrains is the fake platform's limit of drains per app.
const maxFakeDrains = 3

func newResources() *resources { return &resources{drains: map[string][]Drain{}} }

func (c resourceControl) ListAddons(ctx context.Context, app string) ([]Addon, error) {
	if _, err := c.App(ctx, app); err != nil {
		return nil, err
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	var out []Addon
	for _, a := range c.r.addons {
		if a.App == app || a.attachedTo == app {
			out = append(out, a.Addon)
		}
	}
	return out, nil
}

func (resourceControl) AddonPlans(context.Context) ([]AddonPlan, error) {
	return slices.Clone(fakePlans), nil
}

func (c resourceControl) CreateAddon(ctx context.Context, app, plan string) (Addon, error) {
	svc, name, found := strings.Cut(plan, ":")
	i := slices.IndexFunc(fakePlans, func(p AddonPlan) bool {
		return p.Name == plan || (!found && p.Service == svc)
	})
	if i < 0 {
		return Addon{}, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "Couldn't find plan %q", plan)
	}
	if name == "" {
		svc = fakePlans[i].Service
	}
	c.r.mu.Lock()
	c.r.n++
	a := fakeAddon{
		Addon:  Addon{Name: fmt.Sprintf("%s-%d", svc, c.r.n), Plan: fakePlans[i].Name, State: "provisioned", App: app, As: []string{strings.ToUpper(svc)}, ConfigVars: []string{strings.ToUpper(svc) + "_URL"}},
		secret: fmt.Sprintf("%s://u:pw-%d@example.test", svc, c.r.n),
	}
	c.r.mu.Unlock()
	if _, err := c.SetConfig(ctx, app, map[string]string{a.ConfigVars[0]: a.secret}, nil); err != nil {
		return Addon{}, err
	}
	c.r.mu.Lock()
	c.r.addons = append(c.r.addons, a)
	c.r.mu.Unlock()
	return a.Addon, nil
}

func (c resourceControl) DestroyAddon(ctx context.Context, app, name string) error {
	c.r.mu.Lock()
	i := slices.IndexFunc(c.r.addons, func(a fakeAddon) bool { return a.Name == name && a.App == app })
	var a fakeAddon
	if i >= 0 {
		a = c.r.addons[i]
	}
	c.r.mu.Unlock()
	if i < 0 {
		return platformapi.NotFound("add-on", name)
	}
	if _, err := c.SetConfig(ctx, app, nil, a.ConfigVars); err != nil {
		return err
	}
	c.r.mu.Lock()
	c.r.addons = slices.DeleteFunc(c.r.addons, func(x fakeAddon) bool { return x.Name == name })
	c.r.mu.Unlock()
	return nil
}

func (c resourceControl) ListDrains(ctx context.Context, app string) ([]Drain, error) {
	if _, err := c.App(ctx, app); err != nil {
		return nil, err
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	return slices.Clone(c.r.drains[app]), nil
}

// AddDrain checks a URL as minipaas's API does (its messages never hold
// the URL).
func (c resourceControl) AddDrain(ctx context.Context, app, rawURL string) (Drain, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || !slices.Contains([]string{"syslog", "syslog+tls", "http", "https"}, u.Scheme) {
		return Drain{}, platformapi.InvalidParams("Url is invalid: want syslog://host:port, syslog+tls://host:port, https://host/path or http://host/path")
	}
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	list := c.r.drains[app]
	if slices.ContainsFunc(list, func(d Drain) bool { return d.URL == rawURL }) {
		return Drain{}, platformapi.InvalidParams("Url has already been taken")
	}
	if len(list) >= maxFakeDrains {
		return Drain{}, platformapi.InvalidParams("App %s already has %d log drains, the most an app can have", app, maxFakeDrains)
	}
	c.r.n++
	d := Drain{URL: rawURL, Token: fmt.Sprintf("d.%d", c.r.n)}
	c.r.drains[app] = append(list, d)
	return d, nil
}

func (c resourceControl) RemoveDrain(ctx context.Context, app, token string) error {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	list := c.r.drains[app]
	i := slices.IndexFunc(list, func(d Drain) bool { return d.Token == token })
	switch {
	case i < 0:
		return platformapi.NotFound("log drain", token)
	case list[i].Addon != "":
		return platformapi.InvalidParams("This drain belongs to the add-on %s: it can only be removed by removing the add-on", list[i].Addon)
	}
	c.r.drains[app] = slices.Delete(list, i, i+1)
	return nil
}

// state is what the resource forms may change: the add-ons, the drains,
// demo's config and its number of releases.
type state struct {
	addons   []string
	drains   []string
	config   map[string]string
	releases int
}

func (st state) equal(o state) bool {
	return slices.Equal(st.addons, o.addons) && slices.Equal(st.drains, o.drains) && maps.Equal(st.config, o.config) && st.releases == o.releases
}

func stateOf(t *testing.T, p *platform.Platform, r *resources) state {
	t.Helper()
	ctx := context.Background()
	cfg, err := p.Config(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	rels, err := p.Releases(ctx, "demo", release.ListOptions{Max: release.MaxMax})
	if err != nil {
		t.Fatal(err)
	}
	st := state{config: cfg, releases: len(rels)}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.addons {
		st.addons = append(st.addons, a.Name+"@"+a.App)
	}
	for _, d := range r.drains["demo"] {
		st.drains = append(st.drains, d.Token+" "+d.URL)
	}
	return st
}

// section is the part of page from the element with id to the end of its
// table.
func section(t *testing.T, page, id string) string {
	t.Helper()
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("the page has no %s", id)
	}
	end := strings.Index(page[i:], "</table>")
	if end < 0 {
		t.Fatalf("the %s table does not end", id)
	}
	return page[i : i+end]
}

func resourcesBrowser(t *testing.T) (*browser, *platform.Platform, *resources) {
	t.Helper()
	p := openPlatform(t)
	ctx := context.Background()
	for _, app := range []string{"demo", "other"} {
		if _, err := p.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	r := newResources()
	return newBrowser(t, &Handler{Source: p, Control: resourceControl{platformControl{p}, r}, Token: token, User: dashUser}), p, r
}

// TestAddons: provision by plan (the app gets the config var in a
// release), list without the values, refuse what breaks a rule without
// changing anything, destroy only with the add-on's name typed.
func TestAddons(t *testing.T) {
	b, p, r := resourcesBrowser(t)
	// An add-on of other's that demo has attached.
	r.addons = append(r.addons, fakeAddon{Addon: Addon{Name: "kv-shared", Plan: "kv:large", State: "provisioned", App: "other", As: []string{"SHARED"}, ConfigVars: []string{"SHARED_URL"}}, attachedTo: "demo"})

	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{
		`<form id="create-addon" class="inline" method="post" action="/dashboard/apps/demo/addons">`,
		`<optgroup label="kv"><option value="kv:small">kv:small (1 MB)</option><option value="kv:large">kv:large (1 GB)</option></optgroup>`,
		`<optgroup label="sql"><option value="sql:tiny">sql:tiny</option></optgroup>`,
		`<tr class="addon" data-name="kv-shared">`, `(billed to other)`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	if strings.Contains(page, `value="kv-shared"`) {
		t.Error("an add-on billed to another app has a destroy form")
	}

	before := stateOf(t, p, r)
	if level, text := b.submit("addons", url.Values{"plan": {" kv:small "}}); level != "ok" || text != "Created kv-1 (kv:small) as KV: demo has its config vars KV_URL in a new release." {
		t.Errorf("create kv:small: %s %q", level, text)
	}
	after := stateOf(t, p, r)
	if after.config["KV_URL"] != "kv://u:pw-1@example.test" || after.releases != before.releases+1 || !slices.Equal(after.addons, []string{"kv-shared@other", "kv-1@demo"}) {
		t.Errorf("after creating kv:small: %+v", after)
	}
	rel := current(t, p)
	if rel.User != dashUser {
		t.Errorf("the add-on's release is by %q, want %q", rel.User, dashUser)
	}
	if level, text := b.submit("addons", url.Values{"plan": {"sql"}}); level != "ok" || !strings.HasPrefix(text, "Created sql-2 (sql:tiny) as SQL") {
		t.Errorf("create sql (its default plan): %s %q", level, text)
	}

	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	table := section(t, page, "addons")
	for _, want := range []string{
		`<tr class="addon" data-name="kv-1">`, `<td class="name">kv-1</td>`, `<td class="plan">kv:small</td>`,
		`<td class="state"><span class="addon-provisioned">provisioned</span></td>`, `<td class="as">KV</td>`,
		`<td class="config-vars"><code>KV_URL</code></td>`, `<td class="config-vars"><code>SQL_URL</code></td>`,
		`<input type="hidden" name="addon" value="kv-1">`, `<input type="hidden" name="addon" value="sql-2">`,
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the add-ons table lacks %q", want)
		}
	}
	// The values are the Config vars section's only.
	if strings.Contains(table, "pw-1") || strings.Contains(table, "example.test") {
		t.Error("the add-ons table shows a config var's value")
	}

	before = stateOf(t, p, r)
	for _, tc := range []struct {
		action string
		form   url.Values
		want   string
	}{
		{"addons", url.Values{"plan": {""}}, "The plan is required: a service and plan such as heroku-postgresql:essential-0."},
		{"addons", url.Values{"plan": {"kv:huge"}}, `Couldn't find plan "kv:huge"`},
		{"addons", url.Values{"plan": {"nosuch"}}, `Couldn't find plan "nosuch"`},
		{"addons/destroy", url.Values{"addon": {"kv-9"}, "confirm": {"kv-9"}}, `Nothing was destroyed: "kv-9" is not an add-on of demo.`},
		{"addons/destroy", url.Values{"addon": {"kv-1"}}, "Nothing was destroyed: type the add-on's name, kv-1, in the confirmation field to destroy it."},
		{"addons/destroy", url.Values{"addon": {"kv-1"}, "confirm": {"sql-2"}}, `Nothing was destroyed: the confirmation "sql-2" is not the add-on's name, kv-1.`},
		{"addons/destroy", url.Values{"addon": {"kv-shared"}, "confirm": {"kv-shared"}}, "Nothing was destroyed: kv-shared is billed to other, not demo, which only has it attached."},
	} {
		if level, text := b.submit(tc.action, tc.form); level != "error" || !strings.Contains(text, tc.want) {
			t.Errorf("%s %v: %s %q, want an error with %q", tc.action, tc.form, level, text, tc.want)
		}
		if now := stateOf(t, p, r); !now.equal(before) {
			t.Errorf("%s %v changed %+v to %+v", tc.action, tc.form, before, now)
		}
	}

	if level, text := b.submit("addons/destroy", url.Values{"addon": {"kv-1"}, "confirm": {" kv-1 "}}); level != "ok" || text != "Destroyed kv-1 (kv:small): KV_URL left demo's config vars in a new release." {
		t.Errorf("destroy kv-1: %s %q", level, text)
	}
	after = stateOf(t, p, r)
	if _, ok := after.config["KV_URL"]; ok || after.releases != before.releases+1 || !slices.Equal(after.addons, []string{"kv-shared@other", "sql-2@demo"}) {
		t.Errorf("after destroying kv-1: %+v", after)
	}
	if _, page = b.do("GET", "/dashboard/apps/demo", nil, nil); strings.Contains(page, `data-name="kv-1"`) {
		t.Error("the page still lists kv-1")
	}
}

// TestDrains: add by URL (shown without its password), refuse what
// breaks a rule without changing anything, remove by token; an add-on's
// drain is listed but goes with its add-on only.
func TestDrains(t *testing.T) {
	b, p, r := resourcesBrowser(t)
	r.drains["demo"] = []Drain{{URL: "syslog://addon.example:514", Token: "d.addon", Addon: "logs-1"}}

	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{
		`<form id="add-drain" class="inline" method="post" action="/dashboard/apps/demo/drains">`,
		`<tr class="drain" data-token="d.addon">`, `<span class="none">from add-on logs-1</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	if strings.Contains(page, `name="token" value="d.addon"`) {
		t.Error("an add-on's drain has a remove form")
	}

	const secretURL = "https://logger:s3cret-pw@logs.example.com/in"
	if level, text := b.submit("drains", url.Values{"url": {" " + secretURL + " "}}); level != "ok" || text != "Added drain https://logger:xxxxx@logs.example.com/in with token d.1." {
		t.Errorf("add %s: %s %q", secretURL, level, text)
	}
	if level, text := b.submit("drains", url.Values{"url": {"syslog+tls://logs.example.com:6514"}}); level != "ok" || text != "Added drain syslog+tls://logs.example.com:6514 with token d.2." {
		t.Errorf("add syslog+tls: %s %q", level, text)
	}
	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	// html/template writes the + of syslog+tls as &#43;.
	table := html.UnescapeString(section(t, page, "drains"))
	for _, want := range []string{
		`<td class="url"><code>https://logger:xxxxx@logs.example.com/in</code></td>`, `<td class="token"><code>d.1</code></td>`,
		`<td class="url"><code>syslog+tls://logs.example.com:6514</code></td>`, `<input type="hidden" name="token" value="d.2">`,
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the drains table lacks %q", want)
		}
	}
	if strings.Contains(page, "s3cret") {
		t.Error("the page shows a drain URL's password")
	}

	before := stateOf(t, p, r)
	for _, tc := range []struct {
		action string
		form   url.Values
		want   string
	}{
		{"drains", url.Values{"url": {"  "}}, "The drain URL is required: syslog://host:port, syslog+tls://host:port or https://host/path."},
		{"drains", url.Values{"url": {"ftp://u:s3cret-pw@example.test/x"}}, "Url is invalid: want syslog://host:port"},
		{"drains", url.Values{"url": {"not a url"}}, "Url is invalid"},
		{"drains", url.Values{"url": {secretURL}}, "Url has already been taken"},
		{"drains/remove", url.Values{"token": {"d.nosuch"}}, "Nothing was removed: that is not the token of one of demo's log drains."},
		{"drains/remove", url.Values{"token": {secretURL}}, "Nothing was removed: that is not the token of one of demo's log drains."},
		{"drains/remove", url.Values{"token": {"d.addon"}}, "This drain belongs to the add-on logs-1: it can only be removed by removing the add-on"},
	} {
		level, text := b.submit(tc.action, tc.form)
		if level != "error" || !strings.Contains(text, tc.want) {
			t.Errorf("%s %v: %s %q, want an error with %q", tc.action, tc.form, level, text, tc.want)
		}
		if strings.Contains(text, "s3cret") {
			t.Errorf("%s: the message shows a password: %q", tc.action, text)
		}
		if now := stateOf(t, p, r); !now.equal(before) {
			t.Errorf("%s %v changed %+v to %+v", tc.action, tc.form, before, now)
		}
	}
	// The platform's limit (three here) is its message.
	if level, text := b.submit("drains", url.Values{"url": {"https://logs.example.com/fourth"}}); level != "error" || text != "App demo already has 3 log drains, the most an app can have" {
		t.Errorf("a fourth drain: %s %q", level, text)
	}
	if now := stateOf(t, p, r); !now.equal(before) {
		t.Errorf("a fourth drain changed %+v to %+v", before, now)
	}

	if level, text := b.submit("drains/remove", url.Values{"token": {"d.1"}}); level != "ok" || text != "Removed drain https://logger:xxxxx@logs.example.com/in." {
		t.Errorf("remove d.1: %s %q", level, text)
	}
	if got := stateOf(t, p, r).drains; !slices.Equal(got, []string{"d.addon syslog://addon.example:514", "d.2 syslog+tls://logs.example.com:6514"}) {
		t.Errorf("after removing d.1: %v", got)
	}
}

// TestCrossOriginResourceForms: the add-on and drain forms refuse a
// cross-origin POST and change nothing.
func TestCrossOriginResourceForms(t *testing.T) {
	b, p, r := resourcesBrowser(t)
	if level, text := b.submit("addons", url.Values{"plan": {"kv:small"}}); level != "ok" {
		t.Fatalf("create: %s %q", level, text)
	}
	if level, text := b.submit("drains", url.Values{"url": {"syslog://logs.example.com:514"}}); level != "ok" {
		t.Fatalf("add drain: %s %q", level, text)
	}
	before := stateOf(t, p, r)
	for _, hdr := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "cross-site", "Origin": b.srv.URL},
	} {
		for _, tc := range []struct {
			path string
			form url.Values
		}{
			{"/dashboard/apps/demo/addons", url.Values{"plan": {"sql:tiny"}}},
			{"/dashboard/apps/demo/addons/destroy", url.Values{"addon": {"kv-1"}, "confirm": {"kv-1"}}},
			{"/dashboard/apps/demo/drains", url.Values{"url": {"syslog://evil.example:514"}}},
			{"/dashboard/apps/demo/drains/remove", url.Values{"token": {"d.2"}}},
		} {
			resp, body := b.do("POST", tc.path, tc.form, hdr)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Cross-origin request refused") {
				t.Errorf("POST %s with %v: %d, want 403", tc.path, hdr, resp.StatusCode)
			}
		}
	}
	if now := stateOf(t, p, r); !now.equal(before) {
		t.Errorf("cross-origin POSTs changed %+v to %+v", before, now)
	}
}

// TestResourcesWithoutCapabilities: a Control without Addons and Drains
// shows neither section, and their forms say why they cannot work.
func TestResourcesWithoutCapabilities(t *testing.T) {
	p := openPlatform(t)
	if _, err := p.CreateApp(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token})
	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, s := range []string{"<h2>Add-ons</h2>", `id="create-addon"`, "<h2>Log drains</h2>", `id="add-drain"`} {
		if strings.Contains(page, s) {
			t.Errorf("app page has %q without the capability", s)
		}
	}
	for _, tc := range []struct {
		action string
		form   url.Values
		want   string
	}{
		{"addons", url.Values{"plan": {"kv:small"}}, "Add-ons cannot be changed on this platform."},
		{"addons/destroy", url.Values{"addon": {"kv-1"}, "confirm": {"kv-1"}}, "Add-ons cannot be changed on this platform."},
		{"drains", url.Values{"url": {"syslog://logs.example.com:514"}}, "Log drains cannot be changed on this platform."},
		{"drains/remove", url.Values{"token": {"d.1"}}, "Log drains cannot be changed on this platform."},
	} {
		if level, text := b.submit(tc.action, tc.form); level != "error" || text != tc.want {
			t.Errorf("%s: %s %q", tc.action, level, text)
		}
	}
}
