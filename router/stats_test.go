package router_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynokit/dynokit/router"
)

func TestAppStatsSub(t *testing.T) {
	hist := func(pairs ...int64) (h [19]int64) {
		for i := 0; i < len(pairs); i += 2 {
			h[pairs[i]] = pairs[i+1]
		}
		return h
	}
	tests := []struct {
		name      string
		cur, prev router.AppStats
		want      router.AppStats
	}{{
		name: "interval",
		prev: router.AppStats{Requests: 100, ByClass: [6]int64{2: 95, 5: 5}, ByCode: map[string]int64{"H12": 5},
			ServiceTimes: hist(0, 95), P50: time.Millisecond, P95: time.Millisecond, P99: time.Millisecond},
		cur: router.AppStats{Requests: 120, ByClass: [6]int64{2: 110, 5: 10}, ByCode: map[string]int64{"H12": 5, "H13": 5},
			ServiceTimes: hist(0, 100, 7, 15), P50: time.Millisecond, P95: 128 * time.Millisecond, P99: 128 * time.Millisecond},
		// 5 fast and 15 slow requests: the interval's median is slow,
		// although the totals' is not.
		want: router.AppStats{Requests: 20, ByClass: [6]int64{2: 15, 5: 5}, ByCode: map[string]int64{"H13": 5},
			ServiceTimes: hist(0, 5, 7, 15), P50: 128 * time.Millisecond, P95: 128 * time.Millisecond, P99: 128 * time.Millisecond},
	}, {
		name: "no requests in between",
		prev: router.AppStats{Requests: 3, ByClass: [6]int64{2: 3}, ByCode: map[string]int64{}, ServiceTimes: hist(2, 3)},
		cur:  router.AppStats{Requests: 3, ByClass: [6]int64{2: 3}, ByCode: map[string]int64{}, ServiceTimes: hist(2, 3)},
		want: router.AppStats{ByCode: map[string]int64{}},
	}, {
		name: "counters started over",
		prev: router.AppStats{Requests: 50, ByClass: [6]int64{2: 50}, ServiceTimes: hist(1, 50)},
		cur:  router.AppStats{Requests: 2, ByClass: [6]int64{2: 2}, ServiceTimes: hist(3, 2), P50: 8 * time.Millisecond},
		want: router.AppStats{Requests: 2, ByClass: [6]int64{2: 2}, ServiceTimes: hist(3, 2), P50: 8 * time.Millisecond},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.cur.Sub(tt.prev)); diff != "" {
				t.Errorf("Sub (-want +got):\n%s", diff)
			}
		})
	}
}

// A snapshot's percentiles cover everything since the app was added; the
// difference of two snapshots gives the interval's.
func TestStatsInterval(t *testing.T) {
	e := newEnv(t, router.Config{})
	var slow atomic.Bool
	addr := backend(t, func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(40 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	})
	mustSet(t, e.rt, "app", addr)
	for range 20 {
		e.get(t, "app.localhost", "/")
	}
	before, ok := e.rt.Stats("app")
	if !ok || before.Requests != 20 {
		t.Fatalf("Stats after 20 requests = %+v, %v", before, ok)
	}
	slow.Store(true)
	for range 5 {
		e.get(t, "app.localhost", "/")
	}
	after, _ := e.rt.Stats("app")
	win := after.Sub(before)
	if win.Requests != 5 || win.ByClass[2] != 5 {
		t.Errorf("interval: %d requests, %d 2xx; want 5, 5", win.Requests, win.ByClass[2])
	}
	if win.P50 < 64*time.Millisecond {
		t.Errorf("interval p50 = %v, want at least 64ms (every request took 40ms or more)", win.P50)
	}
	if after.P50 >= 64*time.Millisecond {
		t.Errorf("overall p50 = %v: 20 of 25 requests were fast", after.P50)
	}
	var sum int64
	for _, n := range after.ServiceTimes {
		sum += n
	}
	if sum != 25 {
		t.Errorf("ServiceTimes hold %d requests, want 25", sum)
	}
}
