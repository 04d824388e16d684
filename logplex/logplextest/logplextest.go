// Package logplextest is the conformance suite for implementations of
// logplex.Sink, logplex.Source and logplex.Drain, in the manner of
// testing/fstest.
//
// A Sink implementation calls TestSink with a constructor that also
// returns how to read back what the sink delivered; a Drain calls
// TestDrain the same way (it runs TestSink too); a Source implementation
// calls TestSource with a constructor for a Sink feeding it. All use the
// app name App.
package logplextest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/logplex"
)

// App is the app name every message of the suites belongs to.
const App = "suite-app"

// Delivered returns every message the sink under test delivered so far,
// in delivery order.
type Delivered func() []logplex.Message

var base = time.Date(2010, 9, 16, 15, 13, 46, 677020000, time.UTC)

func msg(i int, source, proc string) logplex.Message {
	return logplex.Message{Time: base.Add(time.Duration(i) * time.Millisecond), App: App, Source: source, Proc: proc, Text: fmt.Sprintf("line %d", i)}
}

// TestSink checks a Sink: messages arrive intact and in order, bad
// messages are refused with a *logplex.FieldError, long lines are split,
// a cancelled ctx still delivers, and concurrent senders are safe.
// newSink is called once per subtest and must clean up after itself.
func TestSink(t *testing.T, newSink func(t *testing.T) (logplex.Sink, Delivered)) {
	t.Run("InOrderIntact", func(t *testing.T) {
		s, got := newSink(t)
		var want []logplex.Message
		for i := range 50 {
			m := msg(i, logplex.SourceApp, "web.1")
			if i%3 == 0 {
				m.Source, m.Proc = logplex.SourceHeroku, "router"
			}
			if i == 7 {
				m.Text = "ünïcödé and \"quotes\" and [brackets]"
			}
			want = append(want, m)
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("Send(%v): %v", m, err)
			}
		}
		ms := WaitFor(t, got, len(want))
		if len(ms) != len(want) {
			t.Fatalf("delivered %d messages, want %d", len(ms), len(want))
		}
		for i := range want {
			if !ms[i].Time.Equal(want[i].Time) || ms[i].App != want[i].App || ms[i].Source != want[i].Source ||
				ms[i].Proc != want[i].Proc || ms[i].Text != want[i].Text {
				t.Errorf("message %d:\n got %+v\nwant %+v", i, ms[i], want[i])
			}
		}
	})
	t.Run("RefusesInvalid", func(t *testing.T) {
		s, _ := newSink(t)
		bad := []logplex.Message{
			{App: "", Source: "app", Proc: "web.1"},
			{App: App, Source: "", Proc: "web.1"},
			{App: App, Source: "app", Proc: "web 1"},
			{App: App, Source: "app", Proc: strings.Repeat("p", 129)},
			{App: App, Source: "a\npp", Proc: "web.1"},
		}
		for _, m := range bad {
			err := s.Send(context.Background(), m)
			var fe *logplex.FieldError
			if !errors.As(err, &fe) {
				t.Errorf("Send(%+v) = %v, want a *logplex.FieldError", m, err)
			}
		}
	})
	t.Run("SplitsLongLines", func(t *testing.T) {
		s, got := newSink(t)
		text := strings.Repeat("0123456789", 2500) + "é" // 25,002 bytes
		m := msg(1, logplex.SourceApp, "web.1")
		m.Text = text
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		ms := WaitFor(t, got, 3)
		if len(ms) != 3 {
			t.Fatalf("delivered %d pieces, want 3", len(ms))
		}
		var joined strings.Builder
		for _, p := range ms {
			if len(p.Text) > logplex.MaxLineBytes {
				t.Errorf("piece of %d bytes, want at most %d", len(p.Text), logplex.MaxLineBytes)
			}
			joined.WriteString(p.Text)
		}
		if joined.String() != text {
			t.Errorf("pieces do not join back into the line")
		}
	})
	t.Run("CancelledContextStillDelivers", func(t *testing.T) {
		s, got := newSink(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Send(ctx, msg(1, "app", "web.1")); err != nil {
			t.Fatalf("Send with a cancelled ctx: %v", err)
		}
		if ms := WaitFor(t, got, 1); len(ms) != 1 {
			t.Fatalf("delivered %d messages, want 1", len(ms))
		}
	})
	t.Run("ConcurrentSenders", func(t *testing.T) {
		s, got := newSink(t)
		const senders, each = 4, 100
		var wg sync.WaitGroup
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					m := msg(i, "app", fmt.Sprintf("web.%d", g+1))
					if err := s.Send(context.Background(), m); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		ms := WaitFor(t, got, senders*each)
		if len(ms) != senders*each {
			t.Fatalf("delivered %d messages, want %d", len(ms), senders*each)
		}
		next := map[string]int{}
		for _, m := range ms {
			if want := fmt.Sprintf("line %d", next[m.Proc]); m.Text != want {
				t.Fatalf("%s: got %q, want %q (per-sender order broken)", m.Proc, m.Text, want)
			}
			next[m.Proc]++
		}
	})
}

// collect reads a whole non-following tail.
func collect(t *testing.T, src logplex.Source, opt logplex.TailOptions) []logplex.Message {
	t.Helper()
	var out []logplex.Message
	for m, err := range src.Tail(context.Background(), App, opt) {
		if err != nil {
			t.Fatalf("Tail(%+v): %v", opt, err)
		}
		out = append(out, m)
	}
	return out
}

func texts(ms []logplex.Message) string {
	var b []string
	for _, m := range ms {
		b = append(b, m.Proc+":"+m.Text)
	}
	return strings.Join(b, ",")
}

// TestSource checks a Source fed by its Sink: history order and length,
// the source and dyno filters, history-then-follow without gap or
// duplicate while producers write, the end of the sequence on ctx and on
// break, and errors for bad options. newPair must return a source keeping
// at least 1,000 lines of history per app.
func TestSource(t *testing.T, newPair func(t *testing.T) (logplex.Sink, logplex.Source)) {
	send := func(t *testing.T, s logplex.Sink, ms ...logplex.Message) {
		t.Helper()
		for _, m := range ms {
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
	}
	t.Run("History", func(t *testing.T) {
		sink, src := newPair(t)
		for i := range 10 {
			send(t, sink, msg(i, "app", "web.1"))
		}
		if got := collect(t, src, logplex.TailOptions{Lines: 3}); texts(got) != "web.1:line 7,web.1:line 8,web.1:line 9" {
			t.Errorf("Lines 3: got %s", texts(got))
		}
		if got := collect(t, src, logplex.TailOptions{Lines: 100}); len(got) != 10 || got[0].Text != "line 0" {
			t.Errorf("Lines 100: got %s", texts(got))
		}
		if got := collect(t, src, logplex.TailOptions{}); len(got) != 0 {
			t.Errorf("Lines 0: got %s, want nothing", texts(got))
		}
	})
	t.Run("Filters", func(t *testing.T) {
		sink, src := newPair(t)
		procs := []struct{ source, proc string }{
			{"app", "web.1"}, {"app", "web.2"}, {"app", "web.10"}, {"app", "webby.1"},
			{"app", "worker.1"}, {"heroku", "router"}, {"heroku", "web.1"}, {"app", "run.1234"},
		}
		for i, p := range procs {
			send(t, sink, msg(i, p.source, p.proc))
		}
		cases := []struct {
			opt  logplex.TailOptions
			want string
		}{
			{logplex.TailOptions{Source: "app"}, "web.1:line 0,web.2:line 1,web.10:line 2,webby.1:line 3,worker.1:line 4,run.1234:line 7"},
			{logplex.TailOptions{Source: "heroku"}, "router:line 5,web.1:line 6"},
			{logplex.TailOptions{Dyno: "web"}, "web.1:line 0,web.2:line 1,web.10:line 2,web.1:line 6"},
			{logplex.TailOptions{Dyno: "web.1"}, "web.1:line 0,web.1:line 6"},
			{logplex.TailOptions{Source: "app", Dyno: "web.1"}, "web.1:line 0"},
			{logplex.TailOptions{Dyno: "router"}, "router:line 5"},
			{logplex.TailOptions{Dyno: "run"}, "run.1234:line 7"},
			{logplex.TailOptions{Dyno: "web", Lines: 2}, "web.10:line 2,web.1:line 6"},
		}
		for _, c := range cases {
			if c.opt.Lines == 0 {
				c.opt.Lines = 100
			}
			if got := texts(collect(t, src, c.opt)); got != c.want {
				t.Errorf("%+v:\n got %s\nwant %s", c.opt, got, c.want)
			}
		}
	})
	t.Run("FollowWithoutGap", func(t *testing.T) { followWithoutGap(t, newPair) })
	t.Run("FollowFiltered", func(t *testing.T) {
		sink, src := newPair(t)
		send(t, sink, msg(0, "app", "web.1"), msg(1, "app", "worker.1"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var got []logplex.Message
		started := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			first := true
			for m, err := range src.Tail(ctx, App, logplex.TailOptions{Lines: 10, Follow: true, Dyno: "web"}) {
				if err != nil {
					done <- err
					return
				}
				got = append(got, m)
				if first {
					first = false
					close(started)
				}
				if m.Text == "line 4" {
					break
				}
			}
			done <- nil
		}()
		<-started
		send(t, sink, msg(2, "app", "worker.1"), msg(3, "heroku", "router"), msg(4, "app", "web.2"))
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("tail did not yield the followed message within 10s")
		}
		if texts(got) != "web.1:line 0,web.2:line 4" {
			t.Errorf("got %s", texts(got))
		}
	})
	t.Run("EndsOnContext", func(t *testing.T) {
		_, src := newPair(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, err := range src.Tail(ctx, App, logplex.TailOptions{Follow: true}) {
				if err != nil {
					t.Error(err)
				}
			}
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a following tail did not end within 10s of its ctx being cancelled")
		}
	})
	t.Run("InvalidOptions", func(t *testing.T) {
		_, src := newPair(t)
		for _, opt := range []logplex.TailOptions{{Lines: -1}, {Dyno: "web 1"}} {
			var gotErr error
			for _, err := range src.Tail(context.Background(), App, opt) {
				gotErr = err
			}
			if gotErr == nil {
				t.Errorf("Tail(%+v) yielded no error", opt)
			}
		}
	})
}

// followWithoutGap starts tails while producers write. The history holds
// every message, so each tail, whenever it started, must see every message
// of every producer exactly once and in order: a gap or a duplicate at the
// switch from history to follow shows up as a skipped or repeated line.
func followWithoutGap(t *testing.T, newPair func(t *testing.T) (logplex.Sink, logplex.Source)) {
	sink, src := newPair(t)
	const producers, each, tails = 3, 300, 6
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pwg, twg sync.WaitGroup
	results := make([][]logplex.Message, tails)
	for i := range tails {
		twg.Add(1)
		go func() {
			defer twg.Done()
			time.Sleep(time.Duration(i) * 3 * time.Millisecond)
			for m, err := range src.Tail(ctx, App, logplex.TailOptions{Lines: 1000, Follow: true}) {
				if err != nil {
					t.Error(err)
					return
				}
				if m.Proc == "end.1" {
					return
				}
				results[i] = append(results[i], m)
			}
		}()
	}
	for p := range producers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for i := range each {
				if err := sink.Send(ctx, msg(i, "app", fmt.Sprintf("web.%d", p+1))); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	pwg.Wait()
	// Every tail must be following before the end marker is sent.
	time.Sleep(200 * time.Millisecond)
	if err := sink.Send(ctx, logplex.Message{Time: base, App: App, Source: "app", Proc: "end.1", Text: "end"}); err != nil {
		t.Fatal(err)
	}
	twg.Wait()
	if ctx.Err() != nil {
		t.Fatal("tails did not reach the end marker within 30s")
	}
	for i, ms := range results {
		next := map[string]int{}
		for _, m := range ms {
			if strings.HasPrefix(m.Text, "Error L11") {
				t.Fatalf("tail %d was cut off: %s", i, m.Text)
			}
			var n int
			fmt.Sscanf(m.Text, "line %d", &n)
			if n != next[m.Proc] {
				t.Fatalf("tail %d: %s: got line %d, want line %d (gap or duplicate)", i, m.Proc, n, next[m.Proc])
			}
			next[m.Proc] = n + 1
		}
		for p := range producers {
			proc := fmt.Sprintf("web.%d", p+1)
			if next[proc] != each {
				t.Errorf("tail %d: %s ended at line %d, want %d", i, proc, next[proc]-1, each-1)
			}
		}
	}
}

// TestDrain checks a Drain on top of TestSink's checks: Shutdown delivers
// everything queued and returns nil, Send afterwards fails, and a second
// Shutdown returns at once. newDrain must return a drain that is running
// (its delivery loop started) toward a working endpoint.
func TestDrain(t *testing.T, newDrain func(t *testing.T) (logplex.Drain, Delivered)) {
	TestSink(t, func(t *testing.T) (logplex.Sink, Delivered) { return newDrain(t) })
	t.Run("ShutdownFlushes", func(t *testing.T) {
		d, got := newDrain(t)
		const n = 500
		for i := range n {
			if err := d.Send(context.Background(), msg(i, "app", "web.1")); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		ms := WaitFor(t, got, n)
		if len(ms) != n {
			t.Fatalf("delivered %d of %d messages queued before Shutdown", len(ms), n)
		}
		for i, m := range ms {
			if m.Text != fmt.Sprintf("line %d", i) {
				t.Fatalf("message %d is %q", i, m.Text)
			}
		}
		if err := d.Send(context.Background(), msg(n, "app", "web.1")); err == nil {
			t.Error("Send after Shutdown succeeded")
		}
		start := time.Now()
		d.Shutdown(ctx)
		if time.Since(start) > time.Second {
			t.Errorf("second Shutdown took %v", time.Since(start))
		}
	})
}
