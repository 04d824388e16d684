package logplex_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/logplextest"
)

func TestBufferSink(t *testing.T) {
	logplextest.TestSink(t, func(t *testing.T) (logplex.Sink, logplextest.Delivered) {
		b := &logplex.Buffer{}
		return b, func() []logplex.Message {
			var out []logplex.Message
			for m, err := range b.Tail(context.Background(), logplextest.App, logplex.TailOptions{Lines: logplex.DefaultHistory}) {
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, m)
			}
			return out
		}
	})
}

func TestBufferSource(t *testing.T) {
	logplextest.TestSource(t, func(t *testing.T) (logplex.Sink, logplex.Source) {
		b := &logplex.Buffer{History: 2000}
		return b, b
	})
}

func at(i int) time.Time {
	return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
}

func line(i int) logplex.Message {
	return logplex.Message{Time: at(i), App: "demo", Source: "app", Proc: "web.1", Text: fmt.Sprintf("line %d", i)}
}

func TestBufferHistoryWraps(t *testing.T) {
	for _, n := range []int{3, 5, 6, 7, 12} {
		b := &logplex.Buffer{History: 5}
		for i := range n {
			if err := b.Send(context.Background(), line(i)); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for m, err := range b.Tail(context.Background(), "demo", logplex.TailOptions{Lines: 100}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, m.Text)
		}
		var want []string
		for i := max(0, n-5); i < n; i++ {
			want = append(want, fmt.Sprintf("line %d", i))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("after %d sends: history %v, want %v", n, got, want)
		}
		if b.Len("demo") != len(want) {
			t.Errorf("Len = %d, want %d", b.Len("demo"), len(want))
		}
	}
}

func TestBufferDefaultHistoryIs1500(t *testing.T) {
	var b logplex.Buffer
	for i := range 1600 {
		b.Send(context.Background(), line(i))
	}
	if b.Len("demo") != 1500 {
		t.Fatalf("Len = %d, want 1500", b.Len("demo"))
	}
}

func TestBufferStampsZeroTime(t *testing.T) {
	now := time.Date(2026, 11, 21, 1, 2, 3, 456789999, time.FixedZone("X", 3600))
	b := &logplex.Buffer{Now: func() time.Time { return now }}
	b.Send(context.Background(), logplex.Message{App: "demo", Source: "app", Proc: "web.1", Text: "x"})
	for m := range b.Tail(context.Background(), "demo", logplex.TailOptions{Lines: 1}) {
		if want := "2026-11-21T00:02:03.456789+00:00 app[web.1]: x"; m.String() != want {
			t.Errorf("got %q, want %q", m.String(), want)
		}
	}
}

// TailOptions.Buffer sets one tail's queue: a burst the Buffer's default
// would cut waits whole for this reader, while another tail of the same
// app still gets the default.
func TestTailOptionsBuffer(t *testing.T) {
	b := &logplex.Buffer{TailBuffer: 10}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Send(context.Background(), line(0))
	big, stopBig := iter.Pull2(b.Tail(ctx, "demo", logplex.TailOptions{Lines: 1, Follow: true, Buffer: 100}))
	defer stopBig()
	small, stopSmall := iter.Pull2(b.Tail(ctx, "demo", logplex.TailOptions{Lines: 1, Follow: true}))
	defer stopSmall()
	for _, next := range []func() (logplex.Message, error, bool){big, small} {
		if m, err, ok := next(); !ok || err != nil || m.Text != "line 0" {
			t.Fatalf("first message = %v %v %v", m, err, ok)
		}
	}
	for i := 1; i <= 100; i++ {
		b.Send(context.Background(), line(i))
	}
	for i := 1; i <= 100; i++ {
		if m, err, _ := big(); err != nil || m.Text != fmt.Sprintf("line %d", i) {
			t.Fatalf("tail with Buffer 100: message %d = %q, %v", i, m.Text, err)
		}
	}
	for range 10 {
		small()
	}
	if m, _, _ := small(); !strings.HasPrefix(m.Text, "Error L11 (Tail buffer overflow) -> This tail session dropped 90 messages") {
		t.Errorf("tail with the default buffer, after 10 messages: %q, want the L11 notice", m.Text)
	}
	for _, bad := range []int{-1} {
		for _, err := range b.Tail(ctx, "demo", logplex.TailOptions{Buffer: bad}) {
			if !errors.Is(err, logplex.ErrInvalidOptions) {
				t.Errorf("Buffer %d: %v, want ErrInvalidOptions", bad, err)
			}
		}
	}
}

// A reader that stops reading loses messages, not the producers' time:
// sends stay fast, and the reader later gets what fit in its queue, an L11
// notice with the exact count, and then new messages.
func TestSlowTailIsCutOffWithL11(t *testing.T) {
	b := &logplex.Buffer{TailBuffer: 10}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Registration happens before history is yielded, so once line 0
	// comes out of the history the tail is following.
	b.Send(context.Background(), line(0))
	next, stop := iter.Pull2(b.Tail(ctx, "demo", logplex.TailOptions{Lines: 1, Follow: true}))
	defer func() { cancel(); stop() }()
	if m, err, ok := next(); !ok || err != nil || m.Text != "line 0" {
		t.Fatalf("first message = %v %v %v", m, err, ok)
	}
	start := time.Now()
	for i := 1; i <= 5000; i++ {
		if err := b.Send(context.Background(), line(i)); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("5000 sends took %v with a stalled reader", d)
	}
	for i := 1; i <= 10; i++ {
		m, err, _ := next()
		if err != nil || m.Text != fmt.Sprintf("line %d", i) {
			t.Fatalf("queued message %d = %q, %v", i, m.Text, err)
		}
	}
	m, err, _ := next()
	want := "Error L11 (Tail buffer overflow) -> This tail session dropped 4990 messages since 2026-11-21T12:00:11.000000+00:00."
	if err != nil || m.Text != want || m.Source != "heroku" || m.Proc != "logplex" {
		t.Fatalf("after the queue: %v %q, want %q", err, m, want)
	}
	if b.Dropped() != 4990 {
		t.Errorf("Dropped() = %d, want 4990", b.Dropped())
	}
	b.Send(context.Background(), line(6000))
	if m, _, _ := next(); m.Text != "line 6000" {
		t.Fatalf("after the notice: %q, want line 6000", m.Text)
	}
}

// The tail that is only registered when the history is read: messages sent
// while the consumer handles history must all be followed.
func TestTailNoGapWhileConsumingHistory(t *testing.T) {
	b := &logplex.Buffer{History: 100}
	for i := range 50 {
		b.Send(context.Background(), line(i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	got := 0
	for m, err := range b.Tail(ctx, "demo", logplex.TailOptions{Lines: 100, Follow: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if m.Text != fmt.Sprintf("line %d", got) {
			t.Fatalf("got %q, want line %d", m.Text, got)
		}
		got++
		if got == 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 50; i < 150; i++ {
					b.Send(context.Background(), line(i))
				}
			}()
		}
		if got == 150 {
			break
		}
	}
	wg.Wait()
}

func BenchmarkBufferSend(b *testing.B) {
	buf := &logplex.Buffer{}
	m := line(1)
	m.Text = "at=info method=GET path=\"/\" host=demo.example.com status=200 bytes=1024"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			buf.Send(context.Background(), m)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// Send → history → one following tail reader.
func BenchmarkSendToTail(b *testing.B) {
	buf := &logplex.Buffer{TailBuffer: 1 << 16}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := line(1)
	var seen atomic.Int64
	registered := make(chan struct{})
	done := make(chan struct{})
	buf.Send(ctx, line(0))
	go func() {
		defer close(done)
		first := true
		for m := range buf.Tail(ctx, "demo", logplex.TailOptions{Lines: 1, Follow: true}) {
			if first { // line 0, from history: the tail is registered
				first = false
				close(registered)
				continue
			}
			if m.Proc == "web.1" {
				seen.Add(1)
			}
		}
	}()
	<-registered
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		buf.Send(ctx, m)
	}
	for seen.Load()+int64(buf.Dropped()) < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(seen.Load())/b.Elapsed().Seconds(), "read-msgs/s")
	b.ReportMetric(float64(buf.Dropped())/float64(b.N), "dropped/op")
}

func TestFanout(t *testing.T) {
	a, b := &logplex.Buffer{}, &logplex.Buffer{}
	failing := logplex.SinkFunc(func(context.Context, logplex.Message) error { return errors.New("endpoint gone") })
	f := logplex.Fanout(a, failing, b)
	err := f.Send(context.Background(), line(1))
	if err == nil || !strings.Contains(err.Error(), "endpoint gone") {
		t.Fatalf("Send = %v, want the failing sink's error", err)
	}
	if a.Len("demo") != 1 || b.Len("demo") != 1 {
		t.Fatalf("sinks after a failing one did not get the message: %d %d", a.Len("demo"), b.Len("demo"))
	}
}

func TestFanoutSinkConformance(t *testing.T) {
	logplextest.TestSink(t, func(t *testing.T) (logplex.Sink, logplextest.Delivered) {
		var got logplextest.Recorder
		return logplex.Fanout(&got, &logplex.Buffer{}), func() []logplex.Message {
			var out []logplex.Message
			for _, m := range got.Messages() {
				out = append(out, logplex.Split(m)...)
			}
			return out
		}
	})
}

// Remove drops an app's history, ends its followers after what was queued
// for them, and leaves other apps alone; the name can be used again.
func TestBufferRemove(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := &logplex.Buffer{}
	other := line(0)
	other.App = "other"
	for _, m := range []logplex.Message{line(1), line(2), other} {
		if err := b.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan []string, 1)
	started := make(chan struct{})
	go func() {
		var texts []string
		for m, err := range b.Tail(ctx, "demo", logplex.TailOptions{Lines: 10, Follow: true}) {
			if err != nil {
				t.Error(err)
				break
			}
			texts = append(texts, m.Text)
			if len(texts) == 2 {
				close(started)
			}
		}
		got <- texts // only reached when the tail ends
	}()
	<-started
	if err := b.Send(ctx, line(3)); err != nil {
		t.Fatal(err)
	}
	b.Remove("demo")
	select {
	case texts := <-got:
		if want := "line 1,line 2,line 3"; strings.Join(texts, ",") != want {
			t.Errorf("follower saw %q, want %q", strings.Join(texts, ","), want)
		}
	case <-ctx.Done():
		t.Fatal("a follower of a removed app did not end")
	}
	if n := b.Len("demo"); n != 0 {
		t.Errorf("Len after Remove = %d, want 0", n)
	}
	if n := b.Len("other"); n != 1 {
		t.Errorf("Remove touched another app: Len(other) = %d, want 1", n)
	}
	if err := b.Send(ctx, line(4)); err != nil {
		t.Fatal(err)
	}
	for m, err := range b.Tail(ctx, "demo", logplex.TailOptions{Lines: 10}) {
		if err != nil || m.Text != "line 4" {
			t.Errorf("after reuse got %q, %v; want only line 4", m.Text, err)
		}
	}
}
