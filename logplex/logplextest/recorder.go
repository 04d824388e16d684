package logplextest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/logplex"
)

// Recorder is a Sink for tests of code that writes to one (a listener, a
// LineWriter, a drain's notices): it keeps every message as sent, in
// order, and rejects what [logplex.Message.Validate] rejects, as real sinks
// do. Its Messages method is a [Delivered]. The zero value is ready.
type Recorder struct {
	mu   sync.Mutex
	msgs []logplex.Message
}

// Send implements [logplex.Sink].
func (r *Recorder) Send(_ context.Context, m logplex.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	return nil
}

// Messages returns a copy of the messages recorded so far.
func (r *Recorder) Messages() []logplex.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logplex.Message(nil), r.msgs...)
}

// Reset forgets the messages recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.msgs = nil
	r.mu.Unlock()
}

// WaitFor polls got until it returns at least n messages or 10 s pass, and
// returns what it returned last; the caller checks the count, so a test can
// tell "too few" from "wrong ones".
func WaitFor(t testing.TB, got Delivered, n int) []logplex.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms := got()
		if len(ms) >= n || time.Now().After(deadline) {
			return ms
		}
		time.Sleep(5 * time.Millisecond)
	}
}
