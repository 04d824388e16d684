package router

import (
	"sync/atomic"
	"time"
)

// serviceBuckets are upper bounds of the service-time histogram: powers of
// two milliseconds from 1 ms to ~65 s, then overflow.
const serviceBuckets = 18

type appStats struct {
	requests atomic.Int64
	classes  [6]atomic.Int64 // index status/100; 0 = unknown/499
	codes    [codeCount]atomic.Int64
	hist     [serviceBuckets + 1]atomic.Int64
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
	if service >= 0 {
		ms := service.Milliseconds()
		i := 0
		for i < serviceBuckets && ms >= int64(1)<<i {
			i++
		}
		s.hist[i].Add(1)
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
	// ServiceTimes is the service-time histogram: ServiceTimes[i] counts
	// requests served in under 2^i ms (and, for i > 0, in at least
	// 2^(i-1) ms); the last element counts the slower ones. Requests
	// answered without a dyno (H14, H80, ...) have no service time.
	ServiceTimes [serviceBuckets + 1]int64
	// Service-time percentiles, each rounded up to a power-of-two number of
	// milliseconds (the histogram's resolution).
	P50, P95, P99 time.Duration
}

// Stats returns a snapshot of app's metrics; ok is false for unknown apps.
func (rt *Router) Stats(appName string) (s AppStats, ok bool) {
	a := rt.apps.get(appName)
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
	s.percentiles()
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
	d := AppStats{Requests: s.Requests - prev.Requests, ByCode: map[string]int64{}}
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
	d.percentiles()
	return d
}

// percentiles sets P50, P95 and P99 from ServiceTimes.
func (s *AppStats) percentiles() {
	var total int64
	for _, n := range s.ServiceTimes {
		total += n
	}
	pct := func(p float64) time.Duration {
		if total == 0 {
			return 0
		}
		want := int64(float64(total)*p + 0.999999)
		var seen int64
		for i, n := range s.ServiceTimes {
			seen += n
			if seen >= want {
				return time.Duration(int64(1)<<i) * time.Millisecond
			}
		}
		return time.Duration(int64(1)<<serviceBuckets) * time.Millisecond
	}
	s.P50, s.P95, s.P99 = pct(0.50), pct(0.95), pct(0.99)
}
