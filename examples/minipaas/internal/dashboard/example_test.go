package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/dashboard"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/release"
)

// oneApp is a Source with one deployed app; minipaas passes its
// *platform.Platform instead.
type oneApp struct{}

func (oneApp) Apps(ctx context.Context) ([]platform.App, error) {
	return []platform.App{{Name: "demo", WebURL: "http://demo.localhost/", Release: 1}}, nil
}

func (s oneApp) App(ctx context.Context, name string) (platform.App, error) {
	if name != "demo" {
		return platform.App{}, platform.ErrNotFound
	}
	apps, _ := s.Apps(ctx)
	return apps[0], nil
}

func (oneApp) Releases(ctx context.Context, app string, opt release.ListOptions) ([]release.Release, error) {
	return []release.Release{{App: app, Version: 1, Description: "Deploy 1a2b3c4", Status: release.StatusSucceeded}}, nil
}

func (oneApp) Dynos(ctx context.Context, app string) ([]platform.Dyno, error) {
	return []platform.Dyno{{Name: "web.1", Type: "web", State: formation.StateUp, Release: 1}}, nil
}

func (oneApp) Logs(ctx context.Context, app string, opt logplex.TailOptions) (iter.Seq2[logplex.Message, error], error) {
	return func(yield func(logplex.Message, error) bool) {
		yield(logplex.Message{Time: time.Unix(0, 0), App: app, Source: "app", Proc: "web.1", Text: "listening"}, nil)
	}, nil
}

// The dashboard fronts the API on one listener: paths under /dashboard/
// need the token as the basic auth password, everything else goes to Next.
func ExampleHandler() {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the API") })
	srv := httptest.NewServer(&dashboard.Handler{Source: oneApp{}, Token: "secret", RouterPort: "5000", Next: api})
	defer srv.Close()

	get := func(path, password string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if password != "" {
			req.SetBasicAuth("", password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, _ := get("/dashboard/", "")
	fmt.Println("no token:", status)
	status, page := get("/dashboard/", "secret")
	fmt.Println("token:", status, strings.Contains(page, `href="http://demo.localhost:5000/"`), strings.Contains(page, "web.1 up"))
	status, _ = get("/dashboard/apps/nope", "secret")
	fmt.Println("unknown app:", status)
	_, body := get("/apps", "")
	fmt.Println("elsewhere:", body)
	// Output:
	// no token: 401
	// token: 200 true true
	// unknown app: 404
	// elsewhere: the API
}

// maintenanceOnly is a Control that records maintenance mode; minipaas
// passes its platform, with the API's formation change.
type maintenanceOnly struct{ on *bool }

func (maintenanceOnly) Formation(ctx context.Context, app string) ([]platform.FormationEntry, error) {
	return []platform.FormationEntry{{Type: "web", Command: "bin/web", Quantity: 1}}, nil
}

func (maintenanceOnly) Config(ctx context.Context, app string) (release.ConfigVars, error) {
	return release.ConfigVars{}, nil
}

func (maintenanceOnly) Release(ctx context.Context, app string, version int) (release.Release, error) {
	return release.Release{}, platform.ErrNotFound
}

func (maintenanceOnly) ChangeFormation(ctx context.Context, app string, quantities map[string]int, sizes map[string]string) error {
	return errors.New("not in this example")
}

func (maintenanceOnly) Restart(ctx context.Context, app, target string) error {
	return errors.New("not in this example")
}

func (maintenanceOnly) SetConfig(ctx context.Context, app string, set map[string]string, unset []string) (release.Release, error) {
	return release.Release{}, errors.New("not in this example")
}

func (maintenanceOnly) Rollback(ctx context.Context, app string, version int) (release.Release, error) {
	return release.Release{}, errors.New("not in this example")
}

func (c maintenanceOnly) SetMaintenance(ctx context.Context, app string, on bool) error {
	*c.on = on
	return nil
}

func (maintenanceOnly) CreateApp(ctx context.Context, name string) (platform.App, error) {
	return platform.App{}, errors.New("not in this example")
}

func (maintenanceOnly) DestroyApp(ctx context.Context, app string) error {
	return errors.New("not in this example")
}

func (maintenanceOnly) RenameApp(ctx context.Context, app, name string) (platform.App, error) {
	return platform.App{}, errors.New("not in this example")
}

func (maintenanceOnly) Domains(ctx context.Context, app string) ([]string, error) { return nil, nil }

func (maintenanceOnly) AddDomain(ctx context.Context, app, host string) error {
	return errors.New("not in this example")
}

func (maintenanceOnly) RemoveDomain(ctx context.Context, app, host string) error {
	return errors.New("not in this example")
}

// With Control set, the app page's forms change the app. A form posted from
// another site is refused; the dashboard's own answers 303 back to the app
// page, which shows the outcome.
func ExampleHandler_control() {
	var on bool
	srv := httptest.NewServer(&dashboard.Handler{Source: oneApp{}, Control: maintenanceOnly{&on}, Token: "secret"})
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	post := func(origin string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/dashboard/apps/demo/maintenance", strings.NewReader("maintenance=on"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		req.SetBasicAuth("", "secret")
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post("https://evil.example")
	fmt.Println("from another site:", resp.StatusCode, "maintenance", on)
	resp = post(srv.URL)
	fmt.Println("from the dashboard:", resp.StatusCode, "maintenance", on)

	req, _ := http.NewRequest("GET", srv.URL+resp.Header.Get("Location"), nil)
	req.SetBasicAuth("", "secret")
	page, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	defer page.Body.Close()
	b, _ := io.ReadAll(page.Body)
	fmt.Println(strings.Contains(string(b), `<p id="flash" class="flash flash-ok" role="status">Maintenance mode is on`))
	// Output:
	// from another site: 403 maintenance false
	// from the dashboard: 303 maintenance true
	// true
}

// withBuildpacks adds the optional Buildpacks capability to a Control, on
// a list in memory; minipaas's is its API's buildpack-installations.
type withBuildpacks struct {
	maintenanceOnly
	list *[]string
}

func (c withBuildpacks) ListBuildpacks(ctx context.Context, app string) ([]dashboard.Buildpack, error) {
	var out []dashboard.Buildpack
	for _, u := range *c.list {
		out = append(out, dashboard.Buildpack{URL: u, Name: u})
	}
	return out, nil
}

func (c withBuildpacks) ReplaceBuildpacks(ctx context.Context, app string, buildpacks []string) error {
	*c.list = buildpacks
	return nil
}

// A Control that is also a Buildpacks gets the app page's Buildpacks
// section: the add form inserts at the 1-based index given, or last.
func ExampleBuildpacks() {
	list := []string{"heroku/go"}
	srv := httptest.NewServer(&dashboard.Handler{Source: oneApp{}, Control: withBuildpacks{maintenanceOnly{new(bool)}, &list}, Token: "secret"})
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, form := range []string{"buildpack=heroku/nodejs&index=1", "buildpack=heroku/static", "buildpack=heroku/go"} {
		req, _ := http.NewRequest("POST", srv.URL+"/dashboard/apps/demo/buildpacks", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		req.SetBasicAuth("", "secret")
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		fmt.Println(loc.Query().Get("level")+":", loc.Query().Get("flash"))
	}
	fmt.Println(list)
	// Output:
	// ok: Added heroku/nodejs. The next push of demo builds with 1. heroku/nodejs, 2. heroku/go.
	// ok: Added heroku/static. The next push of demo builds with 1. heroku/nodejs, 2. heroku/go, 3. heroku/static.
	// error: heroku/go is already a buildpack of demo.
	// [heroku/nodejs heroku/go heroku/static]
}

// withDrains adds the optional Drains capability to a Control, on a list
// in memory; minipaas's is its API's log-drains.
type withDrains struct {
	maintenanceOnly
	list *[]dashboard.Drain
}

func (c withDrains) ListDrains(ctx context.Context, app string) ([]dashboard.Drain, error) {
	return *c.list, nil
}

func (c withDrains) AddDrain(ctx context.Context, app, rawURL string) (dashboard.Drain, error) {
	d := dashboard.Drain{URL: rawURL, Token: fmt.Sprintf("d.%d", len(*c.list)+1)}
	*c.list = append(*c.list, d)
	return d, nil
}

func (c withDrains) RemoveDrain(ctx context.Context, app, token string) error {
	return errors.New("not in this example")
}

// A Control that is also a Drains gets the app page's Log drains section.
// A drain URL's password stays off the page and out of its messages.
func ExampleDrains() {
	var list []dashboard.Drain
	srv := httptest.NewServer(&dashboard.Handler{Source: oneApp{}, Control: withDrains{maintenanceOnly{new(bool)}, &list}, Token: "secret"})
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, form := range []url.Values{{"url": {"https://logger:pa55@logs.example.com/in"}}, {"url": {""}}} {
		req, _ := http.NewRequest("POST", srv.URL+"/dashboard/apps/demo/drains", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		req.SetBasicAuth("", "secret")
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		fmt.Println(loc.Query().Get("level")+":", loc.Query().Get("flash"))
	}
	fmt.Println(list[0].URL)
	// Output:
	// ok: Added drain https://logger:xxxxx@logs.example.com/in with token d.1.
	// error: The drain URL is required: syslog://host:port, syslog+tls://host:port or https://host/path.
	// https://logger:pa55@logs.example.com/in
}
