package dashboard

import (
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/release"
)

// platformControl is the real platform as a Control. minipaas's
// ChangeFormation is its API's; here it is the same two platform calls.
// Its AddDomain reports a host name the platform refuses as minipaas's
// does, a 422 (the platform's error for it has no type of its own).
type platformControl struct{ *platform.Platform }

func (c platformControl) AddDomain(ctx context.Context, app, host string) error {
	err := c.Platform.AddDomain(ctx, app, host)
	if err != nil && !errors.Is(err, platform.ErrConflict) && !errors.Is(err, platform.ErrNotFound) {
		return platformapi.InvalidParams("%s", strings.TrimPrefix(err.Error(), "platform: "))
	}
	return err
}

func (c platformControl) ChangeFormation(ctx context.Context, app string, quantities map[string]int, sizes map[string]string) error {
	if len(quantities) > 0 {
		if err := c.Scale(ctx, app, quantities); err != nil {
			return err
		}
	}
	if len(sizes) > 0 {
		return c.Resize(ctx, app, sizes)
	}
	return nil
}

const dashUser = "dash@example.com"

// livePlatform is openPlatform with app "demo" deployed: a Procfile whose
// worker sleeps, so nothing is compiled and no port is needed.
func livePlatform(t *testing.T) *platform.Platform {
	t.Helper()
	p := openPlatform(t)
	ctx := context.Background()
	if _, err := p.CreateApp(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "Procfile"), []byte("worker: exec sleep 3600\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if _, err := p.Deploy(ctx, "demo", src, "1a2b3c4d5e6f", &out); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	return p
}

// openPlatform opens a platform with no apps in a temporary directory and
// runs it until the test ends.
func openPlatform(t *testing.T) *platform.Platform {
	t.Helper()
	p, err := platform.Open(context.Background(), platform.Config{DataDir: t.TempDir(), StopGrace: 3 * time.Second, BootTimeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("platform Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("platform Run did not end 60 s after cancel")
		}
		if err := p.Close(); err != nil {
			t.Errorf("platform Close: %v", err)
		}
	})
	return p
}

// browser talks to a dashboard as a browser on its page would: basic auth,
// the dashboard's own Origin and Sec-Fetch-Site, no redirects followed.
type browser struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &browser{t: t, srv: srv, c: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}}
}

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.SetBasicAuth("anyone", token)
	if method == "POST" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(body)
}

var sameOrigin = func(b *browser) map[string]string {
	return map[string]string{"Origin": b.srv.URL, "Sec-Fetch-Site": "same-origin"}
}

var flashRE = regexp.MustCompile(`<p id="flash" class="flash flash-(ok|error)" role="status">([^<]*)</p>`)

// submit posts a form as the app page does, checks the 303 back to the
// page, follows it and returns the flash level and text the page shows.
func (b *browser) submit(action string, form url.Values) (level, text string) {
	b.t.Helper()
	return b.submitTo("/dashboard/apps/demo/"+action, form, "/dashboard/apps/demo")
}

// submitTo posts a form to path, checks the 303 to page, follows it and
// returns the flash level and text that page shows.
func (b *browser) submitTo(path string, form url.Values, page string) (level, text string) {
	b.t.Helper()
	resp, body := b.do("POST", path, form, sameOrigin(b))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, page+"?") {
		b.t.Fatalf("POST %s %.80v: %d to %q, want 303 to %s\n%s", path, form, resp.StatusCode, loc, page, body)
	}
	resp, body = b.do("GET", loc, nil, nil)
	if resp.StatusCode != 200 {
		b.t.Fatalf("GET %s: %d", loc, resp.StatusCode)
	}
	m := flashRE.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("POST %s %.80v: %s shows no flash message", path, form, page)
	}
	return m[1], html.UnescapeString(m[2])
}

// waitDynos polls the app's dynos until ok accepts them.
func waitDynos(t *testing.T, p *platform.Platform, what string, ok func([]platform.Dyno) bool) []platform.Dyno {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		dynos, err := p.Dynos(context.Background(), "demo")
		if err != nil {
			t.Fatal(err)
		}
		if ok(dynos) {
			return dynos
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: dynos are %+v after 60 s", what, dynos)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// upIDs maps the names of up formation dynos to their IDs.
func upIDs(dynos []platform.Dyno) map[string]string {
	m := map[string]string{}
	for _, d := range dynos {
		if d.State == formation.StateUp && d.Type != "run" {
			m[d.Name] = d.ID
		}
	}
	return m
}

// snapshot is what an action may change: releases, formation, maintenance.
type snapshot struct {
	releases    int
	current     int
	formation   string
	maintenance bool
}

func snap(t *testing.T, p *platform.Platform) snapshot {
	t.Helper()
	ctx := context.Background()
	app, err := p.App(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	rels, err := p.Releases(ctx, "demo", release.ListOptions{Max: release.MaxMax})
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.Formation(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var fs []string
	for _, e := range f {
		fs = append(fs, e.Type+"@"+strconv.Itoa(e.Quantity)+":"+e.Size)
	}
	return snapshot{releases: len(rels), current: app.Release, formation: strings.Join(fs, ","), maintenance: app.Maintenance}
}

func current(t *testing.T, p *platform.Platform) release.Release {
	t.Helper()
	app, err := p.App(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := p.Release(context.Background(), "demo", app.Release)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// TestActions makes every change through the dashboard's forms on a real
// platform and checks each through the platform.
func TestActions(t *testing.T) {
	p := livePlatform(t)
	ctx := context.Background()
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token, User: dashUser})
	deployed := current(t, p)

	// The page has the forms: a scale form per process type, restart,
	// config, rollback (not of the current release) and maintenance.
	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{
		`<tr class="process" data-type="worker">`, `action="/dashboard/apps/demo/formation"`,
		`<input type="hidden" name="type" value="worker">`, `name="quantity" value="0"`, `<option value="standard-2x">`,
		`<form id="config-set"`, `action="/dashboard/apps/demo/maintenance"`, `<input type="hidden" name="maintenance" value="on">`,
		`<span class="current">current</span>`, `method="post"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	if strings.Contains(page, `action="/dashboard/apps/demo/rollback"`) {
		t.Error("the only release has a rollback button")
	}
	if strings.Contains(page, `id="flash"`) {
		t.Error("a flash message without an action")
	}

	// Scale: quantity, then size.
	if level, text := b.submit("formation", url.Values{"type": {"worker"}, "quantity": {"2"}, "size": {""}}); level != "ok" || text != "Scaled to worker@2." {
		t.Errorf("scale: %s %q", level, text)
	}
	dynos := waitDynos(t, p, "scaled to 2", func(ds []platform.Dyno) bool { return len(upIDs(ds)) == 2 && len(ds) == 2 })
	if level, text := b.submit("formation", url.Values{"type": {"worker"}, "quantity": {"2"}, "size": {"Standard-2X"}}); level != "ok" || text != "Scaled to worker@2:standard-2x." {
		t.Errorf("resize: %s %q", level, text)
	}
	if f, err := p.Formation(ctx, "demo"); err != nil || len(f) != 1 || f[0].Quantity != 2 || f[0].Size != "standard-2x" {
		t.Errorf("formation after scale and resize: %+v, %v", f, err)
	}
	if level, text := b.submit("formation", url.Values{"type": {"worker"}, "quantity": {"2"}, "size": {"standard-2x"}}); level != "ok" || text != "Already at worker@2:standard-2x." {
		t.Errorf("scale to the same: %s %q", level, text)
	}
	// The resize restarted both dynos.
	before := upIDs(dynos)
	dynos = waitDynos(t, p, "restarted by the resize", func(ds []platform.Dyno) bool {
		now := upIDs(ds)
		return len(ds) == 2 && len(now) == 2 && now["worker.1"] != before["worker.1"] && now["worker.2"] != before["worker.2"]
	})

	// Restart one dyno, then all.
	before = upIDs(dynos)
	if level, text := b.submit("restart", url.Values{"dyno": {"worker.1"}}); level != "ok" || text != "Restarting worker.1." {
		t.Errorf("restart worker.1: %s %q", level, text)
	}
	// Only that dyno is replaced.
	dynos = waitDynos(t, p, "worker.1 restarted", func(ds []platform.Dyno) bool {
		now := upIDs(ds)
		return len(ds) == 2 && len(now) == 2 && now["worker.1"] != before["worker.1"]
	})
	if now := upIDs(dynos); now["worker.2"] != before["worker.2"] {
		t.Errorf("restarting worker.1 replaced worker.2 too (%s → %s)", before["worker.2"], now["worker.2"])
	}
	before = upIDs(dynos)
	if level, text := b.submit("restart", url.Values{}); level != "ok" || text != "Restarting all dynos." {
		t.Errorf("restart all: %s %q", level, text)
	}
	waitDynos(t, p, "all restarted", func(ds []platform.Dyno) bool {
		now := upIDs(ds)
		return len(ds) == 2 && len(now) == 2 && now["worker.1"] != before["worker.1"] && now["worker.2"] != before["worker.2"]
	})

	// Config vars: a set is a release made by User, with the value as
	// typed (line breaks as LF); the page shows it, escaped.
	if level, text := b.submit("config", url.Values{"name": {" GREETING "}, "value": {"<b>hi</b>\r\nthere"}}); level != "ok" || !strings.HasPrefix(text, "Released v") || !strings.HasSuffix(text, ": Set GREETING config vars.") {
		t.Errorf("config set: %s %q", level, text)
	}
	set := current(t, p)
	if set.Version != deployed.Version+1 || set.Config["GREETING"] != "<b>hi</b>\nthere" || set.Description != "Set GREETING config vars" || set.User != dashUser {
		t.Errorf("after config set the current release is v%d %q by %q with GREETING=%q", set.Version, set.Description, set.User, set.Config["GREETING"])
	}
	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	if want := `<td class="value"><code>&lt;b&gt;hi&lt;/b&gt;` + "\nthere</code></td>"; !strings.Contains(page, want) {
		t.Errorf("app page lacks the value %q", want)
	}
	if level, text := b.submit("config/unset", url.Values{"name": {"GREETING"}}); level != "ok" || !strings.HasSuffix(text, ": Remove GREETING config vars.") {
		t.Errorf("config unset: %s %q", level, text)
	}
	if unset := current(t, p); unset.Version != set.Version+1 || len(unset.Config) != 0 || unset.Description != "Remove GREETING config vars" {
		t.Errorf("after config unset the current release is v%d %q with %v", unset.Version, unset.Description, unset.Config.Names())
	}

	// Rollback to the release that set GREETING brings it back.
	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	if !strings.Contains(page, `<input type="hidden" name="version" value="`+strconv.Itoa(set.Version)+`"><button type="submit">Roll back to v`+strconv.Itoa(set.Version)+`</button>`) {
		t.Errorf("app page has no rollback to v%d", set.Version)
	}
	level, text := b.submit("rollback", url.Values{"version": {strconv.Itoa(set.Version)}})
	rb := current(t, p)
	if level != "ok" || text != "Released v"+strconv.Itoa(rb.Version)+": Rollback to v"+strconv.Itoa(set.Version)+"." {
		t.Errorf("rollback: %s %q", level, text)
	}
	if rb.Version != set.Version+2 || rb.Config["GREETING"] != set.Config["GREETING"] || rb.User != dashUser {
		t.Errorf("after rollback the current release is v%d %q by %q", rb.Version, rb.Description, rb.User)
	}

	// Maintenance mode, on and off.
	if level, text := b.submit("maintenance", url.Values{"maintenance": {"on"}}); level != "ok" || !strings.HasPrefix(text, "Maintenance mode is on") {
		t.Errorf("maintenance on: %s %q", level, text)
	}
	if app, _ := p.App(ctx, "demo"); !app.Maintenance {
		t.Error("maintenance is off after turning it on")
	}
	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	if !strings.Contains(page, `<input type="hidden" name="maintenance" value="off">`) || !strings.Contains(page, `badge maintenance`) {
		t.Error("the page does not offer to turn maintenance mode off")
	}
	if level, text := b.submit("maintenance", url.Values{"maintenance": {"off"}}); level != "ok" || text != "Maintenance mode is off." {
		t.Errorf("maintenance off: %s %q", level, text)
	}
	if app, _ := p.App(ctx, "demo"); app.Maintenance {
		t.Error("maintenance is on after turning it off")
	}

	// A reload of the page after an action does not repeat it: the
	// redirect made it a GET.
	n := snap(t, p)
	_, page = b.do("GET", "/dashboard/apps/demo?"+url.Values{"flash": {"x"}}.Encode(), nil, nil)
	if snap(t, p) != n || strings.Contains(page, `id="flash"`) {
		t.Error("a GET changed something or showed an unsigned flash")
	}
}

// TestActionsBadInput: each bad form value is shown as an error on the
// page, and nothing changes.
func TestActionsBadInput(t *testing.T) {
	p := livePlatform(t)
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token, User: dashUser})
	big := strings.Repeat("x", 70<<10)
	for _, tc := range []struct {
		action string
		form   url.Values
		want   string
	}{
		{"formation", url.Values{"type": {"worker"}, "quantity": {"-1"}}, `The quantity of worker must be a whole number from 0 to 10000, not "-1".`},
		{"formation", url.Values{"type": {"worker"}, "quantity": {"two"}}, `not "two"`},
		{"formation", url.Values{"type": {"worker"}, "quantity": {"10001"}}, `not "10001"`},
		{"formation", url.Values{"type": {"web"}, "quantity": {"1"}}, `There is no process type "web" (the current release has worker).`},
		{"formation", url.Values{"type": {"worker"}, "quantity": {"1"}, "size": {"huge"}}, `There is no dyno size "huge" (sizes: eco, basic,`},
		{"config", url.Values{"name": {"BAD NAME"}, "value": {"x"}}, `config var "BAD NAME": ` + string(release.RuleNameChars) + ` (byte 3)`},
		{"config", url.Values{"name": {""}, "value": {"x"}}, `config var "": ` + string(release.RuleNameEmpty)},
		{"config", url.Values{"name": {"HEROKU_X"}, "value": {"x"}}, `config var "HEROKU_X": ` + string(release.RuleNameReserved)},
		{"config", url.Values{"name": {"BIG"}, "value": {big}}, `The form could not be read (at most 64 KB).`},
		{"config", url.Values{"name": {"A"}, "value": {big[:33<<10]}}, `config var "A": ` + string(release.RuleVarTooLarge)},
		{"config/unset", url.Values{"name": {"NOPE"}}, `NOPE is not set.`},
		{"config/unset", url.Values{"name": {"a-b"}}, `config var "a-b": ` + string(release.RuleNameChars)},
		{"rollback", url.Values{"version": {"abc"}}, `The release to roll back to must be a version number, not "abc".`},
		{"rollback", url.Values{"version": {"99"}}, `demo has no release v99.`},
		{"restart", url.Values{"dyno": {"web.9"}}, `There is no dyno "web.9" to restart`},
		{"maintenance", url.Values{"maintenance": {"maybe"}}, `maintenance must be on or off.`},
	} {
		before := snap(t, p)
		level, text := b.submit(tc.action, tc.form)
		if level != "error" || !strings.Contains(text, tc.want) {
			t.Errorf("%s %.80v: %s %q, want an error with %q", tc.action, tc.form, level, text, tc.want)
		}
		if after := snap(t, p); after != before {
			t.Errorf("%s %.80v changed %+v to %+v", tc.action, tc.form, before, after)
		}
	}
}

// TestCrossOrigin: a POST from another site (by Sec-Fetch-Site, or by an
// Origin that is not the dashboard's host) is refused before it changes
// anything, even with the credentials the browser remembers.
func TestCrossOrigin(t *testing.T) {
	p := livePlatform(t)
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token})
	on := url.Values{"maintenance": {"on"}}
	before := snap(t, p)
	for _, hdr := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "cross-site", "Origin": b.srv.URL}, // Sec-Fetch-Site wins
		{"Sec-Fetch-Site": "same-site", "Origin": "http://demo.localhost:5000"},
		{"Origin": "null"},
	} {
		for _, action := range []string{"maintenance", "config", "restart", "rollback", "formation"} {
			resp, body := b.do("POST", "/dashboard/apps/demo/"+action, url.Values{"maintenance": {"on"}, "name": {"X"}, "value": {"1"}, "version": {"1"}, "type": {"worker"}, "quantity": {"3"}}, hdr)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Cross-origin request refused") {
				t.Errorf("%s with %v: %d, want 403\n%s", action, hdr, resp.StatusCode, body)
			}
		}
	}
	if after := snap(t, p); after != before {
		t.Errorf("cross-origin POSTs changed %+v to %+v", before, after)
	}
	// Without credentials a POST is 401, like every request.
	req, _ := http.NewRequest("POST", b.srv.URL+"/dashboard/apps/demo/maintenance", strings.NewReader(on.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := b.c.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST without the token: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}
	// The dashboard's own origin, and a client that is not a browser (no
	// Origin, no Sec-Fetch-Site), may post.
	for _, hdr := range []map[string]string{{"Origin": b.srv.URL}, {"Sec-Fetch-Site": "same-origin"}, nil} {
		if resp, body := b.do("POST", "/dashboard/apps/demo/maintenance", on, hdr); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("same-origin POST with %v: %d\n%s", hdr, resp.StatusCode, body)
		}
	}
	if app, _ := p.App(context.Background(), "demo"); !app.Maintenance {
		t.Error("a same-origin POST did not turn maintenance mode on")
	}
	// Methods other than GET, HEAD and POST are refused.
	if resp, _ := b.do("PUT", "/dashboard/apps/demo/maintenance", on, sameOrigin(b)); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT: %d Allow %q, want 405", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// failingControl reads nothing and fails every change with an internal
// error.
type failingControl struct{}

var errInternal = errors.New("bolt: write /secret/path/releases.db: disk full")

func (failingControl) Formation(context.Context, string) ([]platform.FormationEntry, error) {
	return nil, nil
}

func (failingControl) Config(context.Context, string) (release.ConfigVars, error) {
	return release.ConfigVars{}, nil
}

func (failingControl) Release(context.Context, string, int) (release.Release, error) {
	return release.Release{}, errInternal
}

func (failingControl) ChangeFormation(context.Context, string, map[string]int, map[string]string) error {
	return errInternal
}

func (failingControl) Restart(context.Context, string, string) error { return errInternal }

func (failingControl) RenameApp(context.Context, string, string) (platform.App, error) {
	return platform.App{}, errInternal
}

func (failingControl) SetConfig(context.Context, string, map[string]string, []string) (release.Release, error) {
	return release.Release{}, errInternal
}

func (failingControl) Rollback(context.Context, string, int) (release.Release, error) {
	return release.Release{}, errInternal
}

func (failingControl) SetMaintenance(context.Context, string, bool) error { return errInternal }

func (failingControl) CreateApp(context.Context, string) (platform.App, error) {
	return platform.App{}, errInternal
}

func (failingControl) DestroyApp(context.Context, string) error { return errInternal }

func (failingControl) Domains(context.Context, string) ([]string, error) { return nil, nil }

func (failingControl) AddDomain(context.Context, string, string) error { return errInternal }

func (failingControl) RemoveDomain(context.Context, string, string) error { return errInternal }

// syncBuffer is a log destination the server and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestActionFailure: a platform failure is a flash error without its
// detail (which goes to the log), not a 500.
func TestActionFailure(t *testing.T) {
	f := newFake()
	var logged syncBuffer
	h := &Handler{Source: f, Control: failingControl{}, Token: token, Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	b := newBrowser(t, h)
	for _, tc := range []struct {
		action string
		form   url.Values
	}{
		{"maintenance", url.Values{"maintenance": {"on"}}},
		{"config", url.Values{"name": {"A"}, "value": {"1"}}},
		{"restart", url.Values{}},
		{"rollback", url.Values{"version": {"1"}}},
		{"domains", url.Values{"hostname": {"www.example.com"}}},
		{"destroy", url.Values{"confirm": {"demo"}}},
		{"rename", url.Values{"name": {"demo-2"}}},
	} {
		level, text := b.submit(tc.action, tc.form)
		if level != "error" || text != "The platform could not do that; see its log." {
			t.Errorf("%s: %s %q", tc.action, level, text)
		}
	}
	if level, text := b.submitTo("/dashboard/apps", url.Values{"name": {"new-app"}}, "/dashboard/"); level != "error" || text != "The platform could not do that; see its log." {
		t.Errorf("create app: %s %q", level, text)
	}
	if !strings.Contains(logged.String(), "/secret/path") {
		t.Errorf("the failure is not logged: %q", logged.String())
	}
	// An unknown app is a 404 page, as for GET.
	if resp, _ := b.do("POST", "/dashboard/apps/nope/maintenance", url.Values{"maintenance": {"on"}}, sameOrigin(b)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST to an unknown app: %d, want 404", resp.StatusCode)
	}
}

// TestReadOnly: without Control the page has no forms and POST is 405.
func TestReadOnly(t *testing.T) {
	h := &Handler{Source: newFake(), Token: token}
	w := get(t, h, "/dashboard/apps/demo", true)
	if strings.Contains(w.Body.String(), "<form") {
		t.Error("a read-only dashboard shows forms")
	}
	for _, action := range []string{"maintenance", "config", "restart"} {
		r := httptest.NewRequest("POST", "/dashboard/apps/demo/"+action, strings.NewReader("maintenance=on"))
		r.SetBasicAuth("", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d Allow %q, want 405", action, rec.Code, rec.Header().Get("Allow"))
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}
