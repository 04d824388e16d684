package router

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// backlog is an app's queue of requests waiting for a dyno under
// Config.MaxDynoRequests, first in, first out.
type backlog struct {
	n       atomic.Int64 // len(waiters), read without mu by releases
	mu      sync.Mutex
	waiters []*waiter
}

// waiter is one queued request; ch gets a token when a slot frees.
type waiter struct{ ch chan struct{} }

// enqueue adds w unless the queue holds max requests already. A request
// that already waited (front) goes back to the head of the queue whatever
// its length: it lost its slot to a newcomer, and must not get H11 for the
// requests queued behind it.
func (q *backlog) enqueue(w *waiter, max int, front bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !front && len(q.waiters) >= max {
		return false
	}
	if front {
		q.waiters = append(q.waiters, nil)
		copy(q.waiters[1:], q.waiters)
		q.waiters[0] = w
	} else {
		q.waiters = append(q.waiters, w)
	}
	q.n.Store(int64(len(q.waiters)))
	return true
}

// remove takes w out of the queue. When w was already woken (its token
// sent) and the caller will not use the slot, pass must be true: the
// token goes to the next waiter, so no wake-up is lost.
func (q *backlog) remove(w *waiter, pass bool) {
	q.mu.Lock()
	for i, x := range q.waiters {
		if x == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			q.n.Store(int64(len(q.waiters)))
			q.mu.Unlock()
			return
		}
	}
	q.mu.Unlock()
	if pass {
		select {
		case <-w.ch:
			q.wakeOne()
		default:
		}
	}
}

// wakeOne hands a freed slot to the first waiter, if any.
func (q *backlog) wakeOne() {
	if q.n.Load() == 0 {
		return
	}
	q.mu.Lock()
	if len(q.waiters) == 0 {
		q.mu.Unlock()
		return
	}
	w := q.waiters[0]
	q.waiters[0] = nil
	q.waiters = q.waiters[1:]
	q.n.Store(int64(len(q.waiters)))
	q.mu.Unlock()
	w.ch <- struct{}{} // buffered, and a waiter is popped once
}

// admit takes a request slot on b, the dyno the balancer picked. With
// Config.MaxDynoRequests set and b at the cap, it takes one on another
// available dyno under the cap, or queues the request in the app's backlog
// until a slot frees: H11 when the backlog already holds the cap times the
// number of dynos, H12 after FirstByteTimeout in it, H27 when the client
// leaves. A nil Backend with CodeNone sends the caller back to picking (no
// dyno is available: quarantines and boots are handled there).
func (rt *Router) admit(ctx context.Context, a *app, b *Backend, tried []*Backend) (*Backend, Code) {
	limit := int64(rt.cfg.MaxDynoRequests)
	if n := b.inflight.Add(1); limit <= 0 || n <= limit {
		return b, CodeNone
	}
	b.inflight.Add(-1)
	w := &waiter{ch: make(chan struct{}, 1)}
	var timeout <-chan time.Time
	queued := false
	for {
		bs := *a.backends.Load()
		b, available := underCap(bs, tried, limit)
		if b != nil || !available {
			return b, CodeNone
		}
		if !a.backlog.enqueue(w, int(limit)*len(bs), queued) {
			return nil, H11
		}
		// A slot freed between the scan and the enqueue woke nobody:
		// look again now that releases can see this request waiting.
		if b, _ := underCap(bs, tried, limit); b != nil {
			a.backlog.remove(w, true)
			return b, CodeNone
		}
		queued = true
		if timeout == nil {
			t := time.NewTimer(rt.cfg.FirstByteTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-w.ch:
		case <-a.changed(): // dynos added or gone: look again
			a.backlog.remove(w, true)
		case <-ctx.Done():
			a.backlog.remove(w, true)
			return nil, H27
		case <-timeout:
			a.backlog.remove(w, true)
			return nil, H12
		}
	}
}

// underCap takes a slot on an available dyno under limit that is not in
// tried, scanning from a random one. available is false when no dyno
// outside tried is available at all.
func underCap(bs, tried []*Backend, limit int64) (b *Backend, available bool) {
	n := len(bs)
	if n == 0 {
		return nil, false
	}
	start := rand.IntN(n)
next:
	for i := range n {
		b := bs[(start+i)%n]
		if !b.Available() {
			continue
		}
		for _, t := range tried {
			if t == b {
				continue next
			}
		}
		available = true
		if b.inflight.Add(1) <= limit {
			return b, true
		}
		b.inflight.Add(-1)
	}
	return nil, available
}

// release gives back the slot admit took on b.
func (rt *Router) release(a *app, b *Backend) {
	b.inflight.Add(-1)
	if rt.cfg.MaxDynoRequests > 0 {
		a.backlog.wakeOne()
	}
}
