package drain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynokit/dynokit/logplex"
)

// Defaults shared by the drains (Logplex's, where it has one).
const (
	DefaultBuffer       = 1024 // messages queued per drain before the oldest are dropped
	DefaultWriteTimeout = 10 * time.Second
	DefaultDialTimeout  = 5 * time.Second
	DefaultMinBackoff   = 100 * time.Millisecond
	DefaultMaxBackoff   = 5 * time.Second
)

// ErrClosed is returned by Send after Shutdown, and by Run when called twice.
var ErrClosed = errors.New("drain: closed")

// Stats counts a drain's messages. Once a drain has stopped,
// Sent == Delivered + Dropped, and Reported of the Dropped were announced
// to the endpoint in L10 notices.
type Stats struct {
	Sent      uint64 // messages accepted by Send (after splitting long lines)
	Delivered uint64 // of those, delivered to the endpoint
	Dropped   uint64 // of those, dropped (buffer overflow, failed delivery, shutdown)
	Reported  uint64 // drops announced in delivered L10 notices
	Notices   uint64 // L10 notices delivered
	Queued    int    // waiting in the buffer now
}

// core is the bounded queue and lifecycle every drain shares.
type core struct {
	mu      sync.Mutex
	q       queue
	closing bool
	wake    chan struct{} // capacity 1
	stopReq chan struct{} // closed by Shutdown
	abort   chan struct{} // closed when Shutdown gives up
	done    chan struct{} // closed when Run returns
	started chan struct{} // closed when Run starts
	running atomic.Bool
	init    sync.Once
	abortMu sync.Once
	stopMu  sync.Once

	sent, delivered, dropped, reported, notices atomic.Uint64
}

func (c *core) setup() {
	c.init.Do(func() {
		c.wake = make(chan struct{}, 1)
		c.stopReq = make(chan struct{})
		c.abort = make(chan struct{})
		c.done = make(chan struct{})
		c.started = make(chan struct{})
	})
}

func (c *core) send(m logplex.Message, bufSize int, now func() time.Time) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	if m.Time.IsZero() {
		m.Time = now()
	}
	m.Time = m.Time.UTC().Truncate(time.Microsecond)
	c.setup()
	if bufSize <= 0 {
		bufSize = DefaultBuffer
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	if len(m.Text) <= logplex.MaxLineBytes {
		c.push(m, bufSize)
	} else {
		for _, part := range logplex.Split(m) {
			c.push(part, bufSize)
		}
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// push queues one message; c.mu held.
func (c *core) push(m logplex.Message, bufSize int) {
	c.sent.Add(1)
	if c.q.push(m, bufSize) {
		c.dropped.Add(1)
	}
}

// deliverFunc sends one batch, retrying as the drain's policy says; an
// error means the batch is lost.
type deliverFunc func(ctx context.Context, b *batch) error

// run delivers batches until Shutdown has flushed the queue, Shutdown gave
// up, or ctx is done. What is left is counted as dropped.
func (c *core) run(ctx context.Context, now func() time.Time, maxMsgs, maxBytes int, deliver deliverFunc) error {
	c.setup()
	if !c.running.CompareAndSwap(false, true) {
		return ErrClosed
	}
	defer close(c.done)
	close(c.started)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		c.mu.Lock()
		b := c.q.take(now(), maxMsgs, maxBytes)
		stopping := c.closing
		c.mu.Unlock()
		if b == nil {
			if stopping {
				return nil
			}
			select {
			case <-ctx.Done():
				c.abandon()
				return nil
			case <-c.wake:
			case <-c.stopReq:
			}
			continue
		}
		if err := deliver(ctx, b); err != nil {
			c.mu.Lock()
			c.q.lose(b)
			c.mu.Unlock()
			c.dropped.Add(uint64(b.real()))
			if ctx.Err() != nil {
				c.abandon()
				return nil
			}
			continue
		}
		c.delivered.Add(uint64(b.real()))
		if b.notice {
			c.notices.Add(1)
			c.reported.Add(uint64(b.reported))
		}
	}
}

// abandon counts whatever is still queued as dropped.
func (c *core) abandon() {
	c.mu.Lock()
	c.closing = true
	n := c.q.n
	for c.q.n > 0 {
		m := c.q.ring[c.q.head]
		c.q.noteDrop(1, m.Time, m.App)
		c.q.ring[c.q.head] = logplex.Message{}
		c.q.head = (c.q.head + 1) % len(c.q.ring)
		c.q.n--
	}
	c.mu.Unlock()
	c.dropped.Add(uint64(n))
}

func (c *core) shutdown(ctx context.Context, name string) error {
	c.setup()
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.stopMu.Do(func() { close(c.stopReq) })
	c.mu.Lock()
	empty := c.q.n == 0 && c.q.dropped == 0
	c.mu.Unlock()
	if !c.running.Load() && !empty {
		// Run may be about to start; give it until ctx is done.
		select {
		case <-c.started:
		case <-ctx.Done():
		}
	}
	if c.running.Load() {
		select {
		case <-c.done:
		case <-ctx.Done():
			c.abortMu.Do(func() { close(c.abort) })
			<-c.done
		}
	} else {
		c.abandon()
	}
	st := c.stats()
	if st.Dropped > st.Reported {
		err := fmt.Errorf("drain: shutdown %s: %d messages dropped without an L10 notice", name, st.Dropped-st.Reported)
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", err, ctx.Err())
		}
		return err
	}
	return nil
}

func (c *core) stats() Stats {
	c.mu.Lock()
	queued := c.q.n
	c.mu.Unlock()
	return Stats{
		Sent:      c.sent.Load(),
		Delivered: c.delivered.Load(),
		Dropped:   c.dropped.Load(),
		Reported:  c.reported.Load(),
		Notices:   c.notices.Load(),
		Queued:    queued,
	}
}
