package dashboard

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/formation/autoscale"
)

// TestAutoscalingForm: the web process gets an autoscaling form that turns
// the platform's autoscaling on (the count comes into the range at once),
// changes and turns it off; bad values change nothing and say why.
func TestAutoscalingForm(t *testing.T) {
	p := livePlatform(t) // demo: a worker only
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token, User: dashUser})
	if _, page := b.do("GET", "/dashboard/apps/demo", nil, nil); strings.Contains(page, `id="autoscaling"`) {
		t.Error("an app without a web process has an autoscaling form")
	}
	if level, text := b.submit("autoscaling", url.Values{"autoscaling": {"on"}, "min": {"1"}, "max": {"2"}, "p95": {"500"}}); level != "error" || !strings.Contains(text, "no web process type") {
		t.Errorf("autoscaling an app without web: %s %q", level, text)
	}

	// A web process (that never binds its port: the test ends first).
	ctx := context.Background()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "Procfile"), []byte("web: exec sleep 3600\nworker: exec sleep 3600\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if _, err := p.Deploy(ctx, "demo", src, "", &out); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{
		`<form id="autoscaling" method="post" action="/dashboard/apps/demo/autoscaling">`,
		`Web autoscaling: off`, `name="min" value="1"`, `name="max" value="2"`, `name="p95" value="1000"`,
		`<button type="submit" name="autoscaling" value="on">Enable autoscaling</button>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}

	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"min": {"0"}, "max": {"3"}, "p95": {"500"}}, "Autoscaling was not changed: minimum 0: must be at least 1."},
		{url.Values{"min": {"3"}, "max": {"2"}, "p95": {"500"}}, "Autoscaling was not changed: maximum 2: must be at least the minimum 3."},
		{url.Values{"min": {"two"}, "max": {"3"}, "p95": {"500"}}, `The minimum number of dynos must be a whole number, not "two".`},
		{url.Values{"min": {"1"}, "max": {"3"}, "p95": {""}}, `The desired p95 response time in milliseconds must be a whole number, not "".`},
	} {
		tc.form.Set("autoscaling", "on")
		if level, text := b.submit("autoscaling", tc.form); level != "error" || text != tc.want {
			t.Errorf("%v: %s %q, want error %q", tc.form, level, text, tc.want)
		}
	}
	if _, on, _ := p.Autoscaling(ctx, "demo"); on {
		t.Fatal("refused forms turned autoscaling on")
	}

	if level, text := b.submit("autoscaling", url.Values{"autoscaling": {"on"}, "min": {" 2 "}, "max": {"4"}, "p95": {"250"}}); level != "ok" || text != "Autoscaling web between 2 and 4 dynos for a p95 response time of 250ms." {
		t.Errorf("enable: %s %q", level, text)
	}
	want := autoscale.Policy{Min: 2, Max: 4, P95: 250 * time.Millisecond}
	if got, on, err := p.Autoscaling(ctx, "demo"); err != nil || !on || got != want {
		t.Errorf("after enabling: %+v, %v, %v; want %+v", got, on, err, want)
	}
	if f, err := p.Formation(ctx, "demo"); err != nil || web(f) != 2 {
		t.Errorf("web dynos after enabling with a minimum of 2: %d, %v", web(f), err)
	}
	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{`Web autoscaling: <span class="state-up">on</span>`, `name="min" value="2"`, `name="max" value="4"`, `name="p95" value="250"`, `>Update autoscaling</button>`, `value="off" formnovalidate>Disable autoscaling</button>`} {
		if !strings.Contains(page, want) {
			t.Errorf("app page with autoscaling on lacks %q", want)
		}
	}

	if level, text := b.submit("autoscaling", url.Values{"autoscaling": {"off"}}); level != "ok" || text != "Autoscaling is off; the web dynos stay as they are." {
		t.Errorf("disable: %s %q", level, text)
	}
	if _, on, _ := p.Autoscaling(ctx, "demo"); on {
		t.Error("autoscaling still on after Disable")
	}
	if f, _ := p.Formation(ctx, "demo"); web(f) != 2 {
		t.Errorf("web dynos after disabling: %d, want 2", web(f))
	}
}

// web returns the web quantity of a formation, -1 without one.
func web(f []platform.FormationEntry) int {
	for _, e := range f {
		if e.Type == "web" {
			return e.Quantity
		}
	}
	return -1
}
