package platform

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRecentRouterStats(t *testing.T) {
	p, err := Open(context.Background(), Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.CreateApp(context.Background(), "metrics"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Router())
	defer srv.Close()
	get := func(n int) {
		for range n {
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			req.Host = "metrics.localhost"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close() // H14: the app has no web dyno
		}
	}
	if _, _, ok := p.RecentRouterStats("nope"); ok {
		t.Error("RecentRouterStats(nope): ok for an unknown app")
	}
	get(2)
	t0 := time.Now()
	if st, span, ok := p.recentRouterStats("metrics", t0); !ok || span != 0 || st.Requests != 0 {
		t.Errorf("before any snapshot: %d requests over %v, ok %v; want 0 over 0, ok", st.Requests, span, ok)
	}
	p.takeStatsSample(t0)
	get(3)
	p.takeStatsSample(t0.Add(6 * time.Minute))
	get(4)
	st, span, ok := p.recentRouterStats("metrics", t0.Add(8*time.Minute))
	if !ok || span != 8*time.Minute || st.Requests != 7 || st.ByCode["H14"] != 7 || st.ByClass[5] != 7 {
		t.Errorf("window from the first snapshot: %d requests (H14 %d, 5xx %d) over %v; want 7 over 8m0s",
			st.Requests, st.ByCode["H14"], st.ByClass[5], span)
	}
	// Ten minutes on, the first snapshot has left the window.
	st, span, _ = p.recentRouterStats("metrics", t0.Add(12*time.Minute))
	if span != 6*time.Minute || st.Requests != 4 {
		t.Errorf("window from the second snapshot: %d requests over %v; want 4 over 6m0s", st.Requests, span)
	}
	p.takeStatsSample(t0.Add(15 * time.Minute))
	if n := len(p.stats["metrics"]); n != 2 {
		t.Errorf("%d snapshots kept, want 2 (those of the last 10 minutes)", n)
	}
	if err := p.DestroyApp(context.Background(), "metrics"); err != nil {
		t.Fatal(err)
	}
	p.takeStatsSample(t0.Add(16 * time.Minute))
	if _, found := p.stats["metrics"]; found {
		t.Error("snapshots kept for a destroyed app")
	}
}
