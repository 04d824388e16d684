package router

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The service-time histogram has buckets of whole milliseconds below 4 ms,
// then four per power of two (so a bucket is at most a quarter of its lower
// bound wide) up to 2^18 ms (~4.4 min), then one for longer times.
const (
	subBuckets     = 4  // per power of two
	topExponent    = 18 // 2^topExponent ms: where the overflow bucket starts
	serviceBuckets = subBuckets + (topExponent-2)*subBuckets + 1
)

// serviceBucket returns the histogram bucket of a service time of ms
// milliseconds.
func serviceBucket(ms int64) int {
	if ms < subBuckets {
		return int(max(ms, 0))
	}
	e := bits.Len64(uint64(ms)) - 1 // 2^e <= ms < 2^(e+1), e >= 2
	if e >= topExponent {
		return serviceBuckets - 1
	}
	sub := int(ms>>(e-2)) & (subBuckets - 1)
	return subBuckets + (e-2)*subBuckets + sub
}

// ServiceTimeBucket returns the bounds of AppStats.ServiceTimes[i]: it
// counts requests served in at least lo and less than hi; hi is 0 for the
// last bucket, which has no upper bound.
func ServiceTimeBucket(i int) (lo, hi time.Duration) {
	ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
	switch {
	case i < subBuckets:
		return ms(int64(i)), ms(int64(i) + 1)
	case i >= serviceBuckets-1:
		return ms(1 << topExponent), 0
	}
	e := (i-subBuckets)/subBuckets + 2
	sub := int64((i - subBuckets) % subBuckets)
	width := int64(1) << (e - 2)
	return ms((subBuckets + sub) * width), ms((subBuckets + sub + 1) * width)
}

// bucketsUnder returns how many ServiceTimes buckets hold only times under
// 2^e ms (e from 0 to topExponent): the fine buckets fall on every power
// of two.
func bucketsUnder(e int) int {
	if e < 2 {
		return e + 1
	}
	return subBuckets * (e - 1)
}

type appStats struct {
	requests atomic.Int64
	classes  [6]atomic.Int64 // index status/100; 0 = unknown/499
	codes    [codeCount]atomic.Int64
	hist     [serviceBuckets]atomic.Int64
	timeSum  atomic.Int64 // nanoseconds, of the requests in hist
}

func (s *appStats) record(status int, c Code, service time.Duration) {
	s.requests.Add(1)
	cls := status / 100
	if cls < 1 || cls > 5 {
		cls = 0 // no status at all
	}
	s.classes[cls].Add(1)
	if c != CodeNone {
		s.codes[c].Add(1)
	}
	// An upgraded connection's service time is its tunnel's setup, not a
	// response time: leaving it out keeps the percentiles about requests.
	if service >= 0 && status != 101 {
		s.hist[serviceBucket(service.Milliseconds())].Add(1)
		s.timeSum.Add(int64(service))
	}
}

// AppStats is a snapshot of an app's request metrics since it was added,
// readable by a dashboard or an autoscaler. Counters only grow, so the
// metrics of an interval are the difference of two snapshots: see
// [AppStats.Sub].
type AppStats struct {
	Requests int64
	// ByClass counts responses by logged status class: ByClass[2] is 2xx;
	// H27/H28 (client gone, logged as 499) count as 4xx, as on Heroku.
	ByClass [6]int64
	// ByCode counts router errors by code, e.g. ByCode["H12"].
	ByCode map[string]int64
	// ServiceTimes is the service-time histogram; ServiceTimeBucket gives
	// each bucket's bounds: whole milliseconds up to 4 ms, then four
	// buckets per power of two. Requests answered without a dyno (H14,
	// H80, ...) and upgraded connections (101) have no service time.
	ServiceTimes [serviceBuckets]int64
	// ServiceTimeSum is the sum of the service times ServiceTimes counts.
	ServiceTimeSum time.Duration
	// Service-time percentiles, interpolated within the histogram's bucket
	// (so within a quarter of the true value from 4 ms up; past ~4.4
	// minutes, the overflow bucket's lower bound).
	P50, P95, P99 time.Duration
	// Backlog is how many requests wait for a dyno at the moment of the
	// snapshot (Config.MaxDynoRequests); a gauge, which Sub keeps as it is
	// in the later snapshot.
	Backlog int64
	// InFlight is how many requests are with the app's dynos at the
	// moment of the snapshot, upgraded connections included; Waiting, how
	// many arrived while the app had no web dyno (booting, sleeping) and
	// have not ended, whether still waiting or since sent to a dyno. Both
	// are gauges, kept by Sub as in the later snapshot: a platform that
	// idles apps checks them, as a request counts in Requests only once
	// it ends.
	InFlight, Waiting int64
}

// Stats returns a snapshot of app's metrics; ok is false for unknown apps.
func (rt *Router) Stats(appName string) (s AppStats, ok bool) {
	a := rt.named(appName)
	if a == nil {
		return s, false
	}
	st := &a.stats
	s.Requests = st.requests.Load()
	for i := range s.ByClass {
		s.ByClass[i] = st.classes[i].Load()
	}
	s.ByCode = map[string]int64{}
	for c := Code(1); c < codeCount; c++ {
		if n := st.codes[c].Load(); n > 0 {
			s.ByCode[c.String()] = n
		}
	}
	for i := range s.ServiceTimes {
		s.ServiceTimes[i] = st.hist[i].Load()
	}
	s.ServiceTimeSum = time.Duration(st.timeSum.Load())
	s.percentiles()
	s.Backlog = a.backlog.n.Load()
	for _, b := range *a.backends.Load() {
		s.InFlight += b.InFlight()
	}
	s.Waiting = a.waiting.Load()
	return s, true
}

// Sub returns the metrics of the requests counted in s but not in prev, an
// earlier snapshot of the same app: the metrics of the interval between
// the two, with that interval's own percentiles (those of a snapshot cover
// all requests since the app was added, which an autoscaler cannot use).
// If the app was removed and added again in between, its counters started
// over and s is returned as it is.
func (s AppStats) Sub(prev AppStats) AppStats {
	if s.Requests < prev.Requests {
		return s
	}
	d := AppStats{Requests: s.Requests - prev.Requests, ByCode: map[string]int64{}, Backlog: s.Backlog, InFlight: s.InFlight, Waiting: s.Waiting}
	for i := range d.ByClass {
		d.ByClass[i] = s.ByClass[i] - prev.ByClass[i]
	}
	for c, n := range s.ByCode {
		if n -= prev.ByCode[c]; n > 0 {
			d.ByCode[c] = n
		}
	}
	for i := range d.ServiceTimes {
		d.ServiceTimes[i] = s.ServiceTimes[i] - prev.ServiceTimes[i]
	}
	d.ServiceTimeSum = s.ServiceTimeSum - prev.ServiceTimeSum
	d.percentiles()
	return d
}

// Timed returns how many requests have a service time: those that
// reached a dyno, upgrades aside (the sum of ServiceTimes).
func (s AppStats) Timed() int64 {
	var n int64
	for _, c := range s.ServiceTimes {
		n += c
	}
	return n
}

// percentiles sets P50, P95 and P99 from ServiceTimes.
func (s *AppStats) percentiles() {
	total := s.Timed()
	pct := func(p float64) time.Duration {
		if total == 0 {
			return 0
		}
		rank := float64(total) * p // requests at or below the percentile
		var seen int64
		for i, n := range s.ServiceTimes {
			if n == 0 || float64(seen+n) < rank {
				seen += n
				continue
			}
			lo, hi := ServiceTimeBucket(i)
			if hi == 0 {
				return lo
			}
			return lo + time.Duration(float64(hi-lo)*(rank-float64(seen))/float64(n))
		}
		lo, _ := ServiceTimeBucket(serviceBuckets - 1)
		return lo
	}
	s.P50, s.P95, s.P99 = pct(0.50), pct(0.95), pct(0.99)
}
