package router

import (
	"math/rand/v2"
	"net/http"
	"sync/atomic"
)

// Balancer picks the backend for a request. It receives the app's whole pool
// (quarantined backends included, so index-based policies stay stable) and
// must return an available backend ([Backend.Available]) or nil when none is.
// Implementations must be safe for concurrent use and must not retain the
// slice or the request (the HTTP/1.1 front end reuses Request values).
type Balancer interface {
	Pick(r *http.Request, backends []*Backend) *Backend
}

var (
	_ Balancer = Random{}
	_ Balancer = (*RoundRobin)(nil)
	_ Balancer = LeastConn{}
	_ Balancer = PowerOfTwo{}
)

// Random picks a uniformly random available backend: Heroku's policy.
type Random struct{}

// Pick implements [Balancer].
func (Random) Pick(_ *http.Request, bs []*Backend) *Backend {
	n := len(bs)
	if n == 0 {
		return nil
	}
	return scanFrom(bs, rand.IntN(n))
}

// scanFrom returns the first available backend at or after start, wrapping.
func scanFrom(bs []*Backend, start int) *Backend {
	n := len(bs)
	for i := 0; i < n; i++ {
		b := bs[(start+i)%n]
		if b.Available() {
			return b
		}
	}
	return nil
}

// RoundRobin cycles through the available backends in order. The zero value
// is ready to use; it must not be copied after first use.
type RoundRobin struct {
	next atomic.Uint64
}

// Pick implements [Balancer].
func (rr *RoundRobin) Pick(_ *http.Request, bs []*Backend) *Backend {
	n := len(bs)
	if n == 0 {
		return nil
	}
	start := int((rr.next.Add(1) - 1) % uint64(n))
	return scanFrom(bs, start)
}

// LeastConn picks the available backend with the fewest in-flight requests,
// breaking ties at random so equal backends share the load.
type LeastConn struct{}

// Pick implements [Balancer].
func (LeastConn) Pick(_ *http.Request, bs []*Backend) *Backend {
	n := len(bs)
	if n == 0 {
		return nil
	}
	start := rand.IntN(n)
	var best *Backend
	var bestLoad int64
	for i := 0; i < n; i++ {
		b := bs[(start+i)%n]
		if !b.Available() {
			continue
		}
		if load := b.InFlight(); best == nil || load < bestLoad {
			best, bestLoad = b, load
		}
	}
	return best
}

// PowerOfTwo samples two distinct backends at random and picks the one with
// fewer in-flight requests ("power of two choices"): near least-connections
// balance at the cost of two reads.
type PowerOfTwo struct{}

// Pick implements [Balancer].
func (PowerOfTwo) Pick(_ *http.Request, bs []*Backend) *Backend {
	n := len(bs)
	switch n {
	case 0:
		return nil
	case 1:
		return scanFrom(bs, 0)
	}
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++
	}
	a, b := bs[i], bs[j]
	aok, bok := a.Available(), b.Available()
	switch {
	case aok && bok:
		if b.InFlight() < a.InFlight() {
			return b
		}
		return a
	case aok:
		return a
	case bok:
		return b
	}
	return scanFrom(bs, i)
}
