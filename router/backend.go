package router

import (
	"sync/atomic"
	"time"
)

// Backend is one web dyno the router may send requests to.
//
// The platform builds Backends from its dynos and hands them to
// [Router.SetBackends]. The router keeps a pool of upstream connections per
// Backend value (never per address), so a reused address that now belongs to
// another app never receives a pooled connection opened for the first one;
// Config.VerifyDyno checks each new connection's dyno before it is used.
//
// A Backend must not be copied after first use: it carries atomics (go vet's
// copylocks check catches copies).
type Backend struct {
	// ID identifies the dyno uniquely across the platform (e.g. a UUID).
	ID string
	// Name is the dyno name shown in router log lines (e.g. "web.1").
	Name string
	// Addr is the dyno's host:port.
	Addr string

	inflight         atomic.Int64
	quarantinedUntil atomic.Int64 // unix nanoseconds; 0 = never quarantined
	pool             *connPool    // set by the router when the backend is installed
}

// NewBackend returns a Backend for the dyno id named name listening on addr.
func NewBackend(id, name, addr string) *Backend {
	return &Backend{ID: id, Name: name, Addr: addr}
}

// InFlight reports how many requests the router is currently proxying to b.
func (b *Backend) InFlight() int64 { return b.inflight.Load() }

// Available reports whether b may be picked now: it is not quarantined after
// a failed connection attempt.
func (b *Backend) Available() bool {
	until := b.quarantinedUntil.Load()
	return until == 0 || time.Now().UnixNano() >= until
}

// Quarantine takes b out of rotation for d. The router calls it when a
// connection attempt fails; balancers and tests may call it too.
func (b *Backend) Quarantine(d time.Duration) {
	b.quarantinedUntil.Store(time.Now().Add(d).UnixNano())
}

// Release ends a quarantine early.
func (b *Backend) Release() { b.quarantinedUntil.Store(0) }

// AddInFlight adjusts the in-flight counter; the router calls it around each
// request. Exposed so balancer tests can simulate load.
func (b *Backend) AddInFlight(delta int64) { b.inflight.Add(delta) }
