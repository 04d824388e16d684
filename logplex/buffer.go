package logplex

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"
)

// Buffer keeps the recent history of every app and serves tails. It is a
// Sink and a Source; the zero value is ready to use and it is safe for
// concurrent use.
//
// A Send appends to the app's ring and hands the message to every live
// tail under the same per-app lock that Tail holds while it copies the
// history and registers itself: that is what makes history then follow
// gap-free and duplicate-free. Each tail has its own bounded queue; when a
// reader falls behind by TailBuffer messages, newer messages are dropped
// for that reader only and it later receives an L11 notice with the count.
type Buffer struct {
	// History is how many lines are kept per app; 0 means DefaultHistory.
	// Set it before the first Send; it must not change afterwards.
	History int
	// TailBuffer is how many messages a tail may fall behind before drops;
	// 0 means DefaultTailBuffer.
	TailBuffer int
	// Now stamps messages sent with a zero Time; nil means time.Now.
	Now func() time.Time

	mu      sync.RWMutex
	apps    map[string]*appLog
	dropped atomic.Uint64
}

var (
	_ Sink   = (*Buffer)(nil)
	_ Source = (*Buffer)(nil)
)

type appLog struct {
	mu    sync.Mutex
	ring  []Message // len grows to capacity, then wraps at next
	next  int
	tails map[*tail]struct{}
}

type tail struct {
	opt  TailOptions
	wake chan struct{} // capacity 1: "something changed"

	mu      sync.Mutex
	queue   []Message
	max     int
	dropped int
	since   time.Time
	ended   bool // the app was removed: finish after the queue
}

func (b *Buffer) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Buffer) capacity() int {
	if b.History > 0 {
		return b.History
	}
	return DefaultHistory
}

func (b *Buffer) app(name string) *appLog {
	b.mu.RLock()
	a := b.apps[name]
	b.mu.RUnlock()
	if a != nil {
		return a
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if a = b.apps[name]; a == nil {
		if b.apps == nil {
			b.apps = make(map[string]*appLog)
		}
		a = &appLog{ring: make([]Message, 0, min(b.capacity(), 64)), tails: make(map[*tail]struct{})}
		b.apps[name] = a
	}
	return a
}

// Send validates m, stamps it if its Time is zero, splits text longer than
// MaxLineBytes, appends it to m.App's history and hands it to the app's
// tails. It never blocks on a tail reader.
func (b *Buffer) Send(_ context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	m.normalize(b.now)
	a := b.app(m.App)
	capacity := b.capacity()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(m.Text) <= MaxLineBytes {
		b.append(a, m, capacity)
		return nil
	}
	for _, part := range Split(m) {
		b.append(a, part, capacity)
	}
	return nil
}

// append adds one message to a's history and tails; a.mu held.
func (b *Buffer) append(a *appLog, part Message, capacity int) {
	{
		if len(a.ring) < capacity {
			a.ring = append(a.ring, part)
		} else {
			a.ring[a.next] = part
			a.next = (a.next + 1) % capacity
		}
		for t := range a.tails {
			if t.opt.Match(part) && !t.offer(part) {
				b.dropped.Add(1)
			}
		}
	}
}

// Dropped is how many messages were dropped for slow tail readers, in all.
func (b *Buffer) Dropped() uint64 { return b.dropped.Load() }

// Len is how many history lines are kept for app.
func (b *Buffer) Len(app string) int {
	b.mu.RLock()
	a := b.apps[app]
	b.mu.RUnlock()
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ring)
}

// history returns up to n messages matching opt, oldest first; a.mu held.
func (a *appLog) history(opt TailOptions) []Message {
	if opt.Lines == 0 || len(a.ring) == 0 {
		return nil
	}
	out := make([]Message, 0, min(opt.Lines, len(a.ring)))
	// Walk newest to oldest, then reverse. next stays 0 until the ring is
	// full, so the newest is always just before next.
	for i := 0; i < len(a.ring) && len(out) < opt.Lines; i++ {
		idx := (a.next - 1 - i + 2*len(a.ring)) % len(a.ring)
		if opt.Match(a.ring[idx]) {
			out = append(out, a.ring[idx])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// offer queues m for the reader; false means it was dropped.
func (t *tail) offer(m Message) bool {
	t.mu.Lock()
	ok := len(t.queue) < t.max
	if ok {
		t.queue = append(t.queue, m)
	} else {
		if t.dropped == 0 {
			t.since = m.Time
		}
		t.dropped++
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return ok
}

// take returns what is queued, the drops that happened after it, and
// whether the tail has ended.
func (t *tail) take(spare []Message) (batch []Message, dropped int, since time.Time, ended bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	batch, t.queue = t.queue, spare[:0]
	dropped, since = t.dropped, t.since
	t.dropped = 0
	return batch, dropped, since, t.ended
}

// end marks the tail finished and wakes its reader.
func (t *tail) end() {
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Remove forgets app: its history is dropped, and tails following it end
// once they have delivered what was already queued for them. A later Send
// for app starts a new, empty history (a destroyed app's name reused).
func (b *Buffer) Remove(app string) {
	b.mu.Lock()
	a := b.apps[app]
	delete(b.apps, app)
	b.mu.Unlock()
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ring, a.next = nil, 0
	for t := range a.tails {
		t.end()
	}
}

// Tail implements Source. See [Source] and [TailOptions].
func (b *Buffer) Tail(ctx context.Context, app string, opt TailOptions) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		if err := opt.Validate(); err != nil {
			yield(Message{}, err)
			return
		}
		if app == "" {
			yield(Message{}, fmt.Errorf("logplex: tail: app name: %w: must not be empty", ErrInvalidOptions))
			return
		}
		if ctx.Err() != nil {
			return
		}
		a := b.app(app)
		var t *tail
		a.mu.Lock()
		hist := a.history(opt)
		if opt.Follow {
			max := opt.Buffer
			if max <= 0 {
				max = b.TailBuffer
			}
			if max <= 0 {
				max = DefaultTailBuffer
			}
			t = &tail{opt: opt, wake: make(chan struct{}, 1), max: max}
			a.tails[t] = struct{}{}
		}
		a.mu.Unlock()
		if t != nil {
			defer func() {
				a.mu.Lock()
				delete(a.tails, t)
				a.mu.Unlock()
			}()
		}
		for _, m := range hist {
			if ctx.Err() != nil || !yield(m, nil) {
				return
			}
		}
		if t == nil {
			return
		}
		var spare []Message
		for {
			batch, dropped, since, ended := t.take(spare)
			for _, m := range batch {
				if ctx.Err() != nil || !yield(m, nil) {
					return
				}
			}
			if dropped > 0 && !yield(TailOverflowNotice(app, b.now(), dropped, since), nil) {
				return
			}
			if ended {
				return
			}
			spare = batch
			clear(spare)
			select {
			case <-ctx.Done():
				return
			case <-t.wake:
			}
		}
	}
}

// TailOverflowNotice is the L11 line a tail reader gets in place of the n
// messages dropped for it since the given time.
func TailOverflowNotice(app string, now time.Time, n int, since time.Time) Message {
	return Message{
		Time:   now.UTC().Truncate(time.Microsecond),
		App:    app,
		Source: SourceHeroku,
		Proc:   "logplex",
		Text: fmt.Sprintf("Error L11 (Tail buffer overflow) -> This tail session dropped %d messages since %s.",
			n, since.UTC().Format(TimeLayout)),
	}
}
