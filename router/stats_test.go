package router_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dynokit/dynokit/router"
)

// bucketOf returns the index of ServiceTimes that counts a time of ms.
func bucketOf(t *testing.T, ms int64) int {
	d := time.Duration(ms) * time.Millisecond
	var st router.AppStats
	for i := range st.ServiceTimes {
		if lo, hi := router.ServiceTimeBucket(i); d >= lo && (hi == 0 || d < hi) {
			return i
		}
	}
	t.Fatalf("no bucket holds %d ms", ms)
	return -1
}

func TestAppStatsSub(t *testing.T) {
	fast, slow := bucketOf(t, 0), bucketOf(t, 100) // [0, 1ms) and [96ms, 112ms)
	hist := func(counts map[int]int64) (st router.AppStats) {
		for i, n := range counts {
			st.ServiceTimes[i] = n
		}
		return st
	}
	type pct struct{ p50, p95, p99 [2]time.Duration } // each within [lo, hi]
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	tests := []struct {
		name      string
		cur, prev router.AppStats
		want      router.AppStats // but its percentiles
		pct       pct
	}{{
		name: "interval",
		prev: router.AppStats{Requests: 100, ByClass: [6]int64{2: 95, 5: 5}, ByCode: map[string]int64{"H12": 5},
			ServiceTimes: hist(map[int]int64{fast: 95}).ServiceTimes},
		cur: router.AppStats{Requests: 120, ByClass: [6]int64{2: 110, 5: 10}, ByCode: map[string]int64{"H12": 5, "H13": 5},
			ServiceTimes: hist(map[int]int64{fast: 100, slow: 15}).ServiceTimes},
		// 5 fast and 15 slow requests: the interval's median is slow,
		// although the totals' is not. Ranks 10, 19 and 19.8 of 20 are
		// the 5th, 14th and 14.8th of the 15 in [96ms, 112ms).
		want: router.AppStats{Requests: 20, ByClass: [6]int64{2: 15, 5: 5}, ByCode: map[string]int64{"H13": 5},
			ServiceTimes: hist(map[int]int64{fast: 5, slow: 15}).ServiceTimes},
		pct: pct{[2]time.Duration{ms(101.3), ms(101.4)}, [2]time.Duration{ms(110.9), ms(111)}, [2]time.Duration{ms(111.7), ms(111.8)}},
	}, {
		name: "no requests in between",
		prev: router.AppStats{Requests: 3, ByClass: [6]int64{2: 3}, ByCode: map[string]int64{}, ServiceTimes: hist(map[int]int64{slow: 3}).ServiceTimes},
		cur:  router.AppStats{Requests: 3, ByClass: [6]int64{2: 3}, ByCode: map[string]int64{}, ServiceTimes: hist(map[int]int64{slow: 3}).ServiceTimes},
		want: router.AppStats{ByCode: map[string]int64{}},
	}, {
		name: "counters started over",
		prev: router.AppStats{Requests: 50, ByClass: [6]int64{2: 50}, ServiceTimes: hist(map[int]int64{fast: 50}).ServiceTimes},
		cur:  router.AppStats{Requests: 2, ByClass: [6]int64{2: 2}, ServiceTimes: hist(map[int]int64{slow: 2}).ServiceTimes, P50: ms(104)},
		want: router.AppStats{Requests: 2, ByClass: [6]int64{2: 2}, ServiceTimes: hist(map[int]int64{slow: 2}).ServiceTimes},
		pct:  pct{p50: [2]time.Duration{ms(104), ms(104)}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cur.Sub(tt.prev)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(router.AppStats{}, "P50", "P95", "P99")); diff != "" {
				t.Errorf("Sub (-want +got):\n%s", diff)
			}
			for _, c := range []struct {
				name string
				got  time.Duration
				want [2]time.Duration
			}{{"p50", got.P50, tt.pct.p50}, {"p95", got.P95, tt.pct.p95}, {"p99", got.P99, tt.pct.p99}} {
				if c.got < c.want[0] || c.got > c.want[1] {
					t.Errorf("%s = %v, want within [%v, %v]", c.name, c.got, c.want[0], c.want[1])
				}
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
	if win.ServiceTimeSum < 5*40*time.Millisecond || win.ServiceTimeSum >= after.ServiceTimeSum {
		t.Errorf("interval service time sum %v (of %v in all), want at least 200ms and less than all", win.ServiceTimeSum, after.ServiceTimeSum)
	}
	if win.P50 < 40*time.Millisecond {
		t.Errorf("interval p50 = %v, want at least 40ms (every request took 40ms or more)", win.P50)
	}
	if after.P50 >= 40*time.Millisecond {
		t.Errorf("overall p50 = %v: 20 of 25 requests were fast", after.P50)
	}
	if n := after.Timed(); n != 25 {
		t.Errorf("ServiceTimes hold %d requests, want 25", n)
	}
}
