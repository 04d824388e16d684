package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
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
