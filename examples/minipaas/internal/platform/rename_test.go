package platform

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRenameApp: a renamed app keeps its ID, releases, config, domains,
// logs and running dynos; its new host and its custom domain answer
// through the rename without a miss; the old name is free for a new app;
// and everything holds after a restart.
func TestRenameApp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go app")
	}
	ctx := context.Background()
	dataDir := t.TempDir()
	p := start(t, dataDir)
	stopped := false
	defer func() {
		if !stopped {
			p.stop(t)
		}
	}()
	for _, name := range []string{"demo", "taken"} {
		if _, err := p.CreateApp(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AddDomain(ctx, "demo", "www.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetConfig(ctx, "demo", map[string]string{"GREETING": "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Deploy(ctx, "demo", "testdata/hello", "1a2b3c4d5e6f", io.Discard); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "demo", "deploy", ok("hi from web.1"))
	before, err := p.App(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	dynosBefore, err := p.Dynos(ctx, "demo")
	if err != nil || len(dynosBefore) != 1 {
		t.Fatalf("Dynos = %+v, %v", dynosBefore, err)
	}

	// Refusals change nothing.
	for _, tc := range []struct {
		name string
		want func(error) bool
	}{
		{"taken", func(err error) bool { return errors.Is(err, ErrConflict) }},
		{"Bad_Name", func(err error) bool { var ne *NameError; return errors.As(err, &ne) }},
	} {
		if _, err := p.RenameApp(ctx, "demo", tc.name); !tc.want(err) {
			t.Errorf("rename to %q: %v", tc.name, err)
		}
	}
	if _, err := p.RenameApp(ctx, "nope", "fresh"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rename of an unknown app: %v, want ErrNotFound", err)
	}
	if _, err := p.App(ctx, "demo"); err != nil {
		t.Fatalf("demo after refused renames: %v", err)
	}

	// The custom domain answers throughout the rename.
	var (
		stop   atomic.Bool
		misses []string
		n      int
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for !stop.Load() {
			status, body, err := p.get("www.example.com")
			n++
			if err != nil || status != 200 {
				misses = append(misses, strings.TrimSpace(body))
			}
		}
	})
	time.Sleep(100 * time.Millisecond)
	renamed, err := p.RenameApp(ctx, "demo", "shop")
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(misses) > 0 {
		t.Errorf("%d of %d requests to the custom domain failed during the rename: %q", len(misses), n, misses)
	}
	if renamed.Name != "shop" || renamed.ID != before.ID || renamed.Release != before.Release || renamed.WebURL != "http://shop.localhost/" {
		t.Errorf("RenameApp = %+v, before %+v", renamed, before)
	}

	if status, body, err := p.get("shop"); err != nil || status != 200 || !strings.Contains(body, "hi from web.1") {
		t.Errorf("shop.localhost: %d %q %v", status, body, err)
	}
	if status, _, err := p.get("demo"); err != nil || status != 404 {
		t.Errorf("demo.localhost after the rename: %d, %v; want 404 (no such app)", status, err)
	}
	dynosAfter, err := p.Dynos(ctx, "shop")
	if err != nil || len(dynosAfter) != 1 || dynosAfter[0].ID != dynosBefore[0].ID || !dynosAfter[0].UpdatedAt.Equal(dynosBefore[0].UpdatedAt) {
		t.Errorf("dynos after the rename %+v (%v), before %+v: want the same dyno, not restarted", dynosAfter, err, dynosBefore)
	}
	if cfg, err := p.Config(ctx, "shop"); err != nil || cfg["GREETING"] != "hi" {
		t.Errorf("Config(shop) = %v, %v", cfg, err)
	}
	if ds, err := p.Domains(ctx, "shop"); err != nil || !slices.Equal(ds, []string{"www.example.com"}) {
		t.Errorf("Domains(shop) = %v, %v", ds, err)
	}
	if text := logText(t, p.Platform, "shop"); !strings.Contains(text, "Deploy 1a2b3c4") {
		t.Errorf("shop's log lacks the deploy made as demo:\n%s", text)
	}
	if byID, err := p.AppByID(ctx, before.ID); err != nil || byID.Name != "shop" {
		t.Errorf("AppByID = %+v, %v", byID, err)
	}

	// Dyno events now carry the new name: a scale-up is routed.
	if err := p.Scale(ctx, "shop", map[string]int{"web": 2}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	p.waitFor(t, "shop", "both dynos", func(status int, body string) bool {
		if status == 200 {
			seen[strings.TrimSpace(body)] = true
		}
		return seen["hi from web.1"] && seen["hi from web.2"]
	})

	// The old name is free: a new app there starts empty.
	fresh, err := p.CreateApp(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if fresh.ID == before.ID || fresh.Release != 0 {
		t.Errorf("new demo = %+v", fresh)
	}
	if status, _, err := p.get("demo"); err != nil || status != 503 {
		t.Errorf("new demo before a deploy: %d, %v; want 503 (H14)", status, err)
	}

	// After a restart the app is shop, with its domain and formation.
	p.stop(t)
	stopped = true
	p2 := start(t, dataDir)
	defer p2.stop(t)
	got, err := p2.App(ctx, "shop")
	if err != nil || got.ID != before.ID || got.Formation["web"].Quantity != 2 {
		t.Fatalf("shop after a restart: %+v, %v", got, err)
	}
	p2.waitFor(t, "www.example.com", "after a restart", ok("hi from web."))
	if _, err := p2.App(ctx, "demo"); err != nil {
		t.Errorf("the new demo after a restart: %v", err)
	}
}
