package autoscale_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation/autoscale"
	"github.com/dynokit/dynokit/router"
)

// routedApp is an app behind a real router whose web dynos are HTTP
// servers that serve one request at a time, 20 ms each: with more
// concurrent clients than dynos, requests queue and the p95 grows.
type routedApp struct {
	rt    *router.Router
	front *httptest.Server
	dynos []*httptest.Server
	mu    sync.Mutex
	web   int
}

func newRoutedApp(t *testing.T, maxDynos int) *routedApp {
	a := &routedApp{rt: router.New(router.Config{})}
	for range maxDynos {
		var busy sync.Mutex
		d := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			busy.Lock()
			time.Sleep(20 * time.Millisecond)
			busy.Unlock()
			io.WriteString(w, "ok")
		}))
		t.Cleanup(d.Close)
		a.dynos = append(a.dynos, d)
	}
	a.front = httptest.NewServer(a.rt)
	t.Cleanup(a.front.Close)
	if err := a.ScaleWeb(context.Background(), autoscale.Event{App: "app", To: 1}); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *routedApp) WebQuantity(_ context.Context, app string) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.web, nil
}

// ScaleWeb routes to the first e.To dynos, as a platform would once they
// are up.
func (a *routedApp) ScaleWeb(_ context.Context, e autoscale.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var up []router.Dyno
	for i, d := range a.dynos[:e.To] {
		up = append(up, router.Dyno{ID: fmt.Sprint("d", i), Name: fmt.Sprint("web.", i+1), Addr: d.Listener.Addr().String()})
	}
	a.web = e.To
	return a.rt.SetBackends("app", up)
}

// load sends n requests from each of c concurrent clients.
func (a *routedApp) load(t *testing.T, c, n int) {
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				req, _ := http.NewRequest("GET", a.front.URL+"/", nil)
				req.Host = "app.localhost"
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

// TestWithRouter: the autoscaler reads a real router's metrics. Eight
// clients queue on one dyno (p95 ~160 ms, over the 90 ms wanted), so each
// round adds a dyno until the p95 is met; without traffic the count goes
// back to the minimum.
func TestWithRouter(t *testing.T) {
	app := newRoutedApp(t, 8)
	a := &autoscale.Autoscaler{Metrics: app.rt, Scaler: app, DownAfter: 2}
	ctx := context.Background()
	policy := autoscale.Policy{Min: 1, Max: 8, P95: 90 * time.Millisecond}
	if err := a.Enable(ctx, "app", policy); err != nil {
		t.Fatal(err)
	}
	var last router.AppStats
	met := false
	for round := 1; round <= 8 && !met; round++ {
		before, _ := app.WebQuantity(ctx, "app")
		app.load(t, 8, 6)
		cur, _ := app.rt.Stats("app")
		win := cur.Sub(last)
		last = cur
		if err := a.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
		after, _ := app.WebQuantity(ctx, "app")
		t.Logf("round %d: %d dynos, %d requests, p95 %v → %d dynos", round, before, win.Requests, win.P95, after)
		switch {
		case win.P95 > policy.P95 && after != min(before+1, policy.Max):
			t.Fatalf("round %d: p95 %v over %v with %d dynos, but now %d", round, win.P95, policy.P95, before, after)
		case win.P95 <= policy.P95:
			met = true
			if after != before {
				t.Errorf("round %d: p95 met, yet scaled from %d to %d", round, before, after)
			}
		}
	}
	web, _ := app.WebQuantity(ctx, "app")
	if !met && web == policy.Max {
		t.Logf("p95 still over %v at the maximum of %d dynos: a slow machine", policy.P95, web)
	} else if !met || web < 2 {
		t.Fatalf("the p95 was not met (%v) or met with %d dyno(s): one dyno cannot serve 8 clients in 90 ms", met, web)
	}
	// Idle: one dyno less every DownAfter rounds, down to the minimum.
	for round := 1; round <= 2*(web-1); round++ {
		if err := a.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := app.WebQuantity(ctx, "app"); got != policy.Min {
		t.Errorf("after %d idle rounds: %d dynos, want %d", 2*(web-1), got, policy.Min)
	}
}
