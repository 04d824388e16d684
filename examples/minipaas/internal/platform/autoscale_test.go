package platform

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation/autoscale"
)

// TestAutoscaling: a deployed app's web dynos are scaled by the autoscaler
// on the router's real metrics, the policy survives a restart, and
// destroying the app ends it.
func TestAutoscaling(t *testing.T) {
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
	if _, err := p.CreateApp(ctx, "busy"); err != nil {
		t.Fatal(err)
	}
	policy := autoscale.Policy{Min: 1, Max: 3, P95: 60 * time.Millisecond}
	if err := p.SetAutoscaling(ctx, "busy", &policy); !errors.Is(err, ErrNoRelease) {
		t.Errorf("SetAutoscaling before a deploy = %v, want ErrNoRelease", err)
	}
	if _, err := p.Deploy(ctx, "busy", "testdata/hello", "", io.Discard); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "busy", "the deploy", func(status int, _ string) bool { return status == 200 })
	if err := p.SetAutoscaling(ctx, "busy", &autoscale.Policy{Min: 0, Max: 3, P95: time.Second}); err == nil || !strings.Contains(err.Error(), "minimum 0") {
		t.Errorf("SetAutoscaling(Min 0) = %v, want the policy's error", err)
	}
	if err := p.SetAutoscaling(WithUser(ctx, "dev@example.com"), "busy", &policy); err != nil {
		t.Fatal(err)
	}

	// Six clients queue on one dyno that serves /busy in 30 ms at a time:
	// a p95 near 180 ms, over the desired 60 ms.
	load(t, p, 6, 8)
	if err := p.autoscaler.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := (platformScaler{p.Platform}).WebQuantity(ctx, "busy"); n != 2 {
		t.Fatalf("after a slow interval: web=%d, want 2", n)
	}
	waitLog(t, p.Platform, "busy", "Scaled to web@2:")
	waitLog(t, p.Platform, "busy", " by autoscaling")
	waitLog(t, p.Platform, "busy", "Autoscaling: web 1 → 2, p95 ")
	waitLog(t, p.Platform, "busy", "Enabled web autoscaling (1 to 3 dynos, desired p95 60ms) by dev@example.com")
	// At the maximum, still slow: the log says so (once a day).
	if err := p.SetAutoscaling(ctx, "busy", &autoscale.Policy{Min: 1, Max: 2, P95: policy.P95}); err != nil {
		t.Fatal(err)
	}
	load(t, p, 6, 8)
	if err := p.autoscaler.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	waitLog(t, p.Platform, "busy", "Autoscaling: web is at its maximum, p95 ")
	waitLog(t, p.Platform, "busy", " at the maximum of 2 dynos; raise the maximum to add dynos")
	if err := p.SetAutoscaling(ctx, "busy", &policy); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	p.waitFor(t, "busy", "the second dyno serving", func(status int, body string) bool {
		seen[strings.TrimSpace(strings.TrimPrefix(body, " from "))] = status == 200
		return seen["web.2"]
	})

	// The policy is kept with the app across a restart.
	p.stop(t)
	stopped = true
	p = start(t, dataDir)
	stopped = false
	if got, ok, err := p.Autoscaling(ctx, "busy"); err != nil || !ok || got != policy {
		t.Errorf("after a restart: Autoscaling = %+v, %v, %v; want %+v", got, ok, err, policy)
	}
	waitUntil(t, "the autoscaler resumed", func() bool {
		got, ok := p.autoscaler.Policy("busy")
		return ok && got == policy
	})

	if err := p.SetAutoscaling(ctx, "busy", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := p.Autoscaling(ctx, "busy"); ok {
		t.Error("still autoscaled after SetAutoscaling(nil)")
	}
	if _, ok := p.autoscaler.Policy("busy"); ok {
		t.Error("the autoscaler still has the app after SetAutoscaling(nil)")
	}
	if err := p.SetAutoscaling(ctx, "busy", &policy); err != nil {
		t.Fatal(err)
	}
	if err := p.DestroyApp(ctx, "busy"); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.autoscaler.Policy("busy"); ok {
		t.Error("the autoscaler still has a destroyed app")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load sends n requests to /busy of app busy from each of c clients.
func load(t *testing.T, p *running, c, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				req, _ := http.NewRequest("GET", p.srv.URL+"/busy", nil)
				req.Host = "busy.localhost"
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}
