package platform

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// upDynos names the app's dynos that are up.
func upDynos(t *testing.T, p *Platform, app string) []string {
	t.Helper()
	ds, err := p.Dynos(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	var up []string
	for _, d := range ds {
		if d.State == "up" {
			up = append(up, d.Name)
		}
	}
	slices.Sort(up)
	return up
}

// TestEcoSleep: an Eco app without requests sleeps (its dynos stop, the
// log says Idling), and the next request wakes it and is answered; an app
// on another size never sleeps.
func TestEcoSleep(t *testing.T) {
	ctx := context.Background()
	r := startWith(t, filepath.Join(t.TempDir(), "data"), func(c *Config) { c.EcoIdle = time.Second })
	defer r.stop(t)
	if _, err := r.CreateApp(ctx, "sleepy"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Deploy(ctx, "sleepy", "testdata/hello", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateApp(ctx, "awake"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Promote(ctx, "sleepy", 0, "awake"); err != nil {
		t.Fatal(err)
	}
	if err := r.Resize(ctx, "sleepy", map[string]string{"web": "eco"}); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "sleepy", "the eco app", ok("from web.1"))
	r.waitFor(t, "awake", "the basic app", ok("from web.1"))

	waitLog(t, r.Platform, "sleepy", "heroku[web.1]: Idling")
	deadline := time.Now().Add(30 * time.Second)
	for len(upDynos(t, r.Platform, "sleepy")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sleepy still has dynos up: %v", upDynos(t, r.Platform, "sleepy"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ds, _ := r.Dynos(ctx, "sleepy"); len(ds) != 1 || ds[0].Name != "web.1" || ds[0].State != StateIdle {
		t.Errorf("dynos of the sleeping app: %+v, want web.1 idle", ds)
	}
	if f, _ := r.Formation(ctx, "sleepy"); len(f) != 1 || f[0].Quantity != 1 {
		t.Errorf("sleeping changed the formation: %+v", f)
	}
	if up := upDynos(t, r.Platform, "awake"); !slices.Equal(up, []string{"web.1"}) {
		t.Errorf("the basic app's dynos: %v", up)
	}

	// One request wakes it, and is answered by the woken dyno.
	start := time.Now()
	status, body, err := r.get("sleepy")
	if err != nil || status != 200 {
		t.Fatalf("request to the sleeping app: %d %q %v\nthe app's log:\n%s", status, body, err, logText(t, r.Platform, "sleepy"))
	}
	t.Logf("woken and answered in %v", time.Since(start).Round(time.Millisecond))
	waitLog(t, r.Platform, "sleepy", "heroku[web.1]: Unidling")
	if up := upDynos(t, r.Platform, "sleepy"); !slices.Equal(up, []string{"web.1"}) {
		t.Errorf("after waking: %v", up)
	}
	if logs := logText(t, r.Platform, "awake"); strings.Contains(logs, "Idling") {
		t.Errorf("the basic app idled:\n%s", logs)
	}
}
