package logplextest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/logplextest"
)

// How an implementation runs the suites from its own tests (shown with
// logplex.Buffer, which is both a Sink and a Source).
func ExampleTestSource() {
	_ = func(t *testing.T) {
		logplextest.TestSource(t, func(t *testing.T) (logplex.Sink, logplex.Source) {
			b := &logplex.Buffer{History: 2000}
			return b, b
		})
		logplextest.TestSink(t, func(t *testing.T) (logplex.Sink, logplextest.Delivered) {
			b := &logplex.Buffer{}
			return b, func() []logplex.Message {
				var out []logplex.Message
				for m := range b.Tail(context.Background(), logplextest.App, logplex.TailOptions{Lines: logplex.DefaultHistory}) {
					out = append(out, m)
				}
				return out
			}
		})
	}
}

// A Recorder stands in for the sink of code under test, here a LineWriter.
func ExampleRecorder() {
	var got logplextest.Recorder
	w := logplex.NewLineWriter(&got, logplex.Message{App: "demo", Source: "app", Proc: "web.1"})
	fmt.Fprint(w, "listening\nready\n")
	for _, m := range got.Messages() {
		fmt.Println(m.Proc, m.Text)
	}
	fmt.Println(got.Send(context.Background(), logplex.Message{}) != nil)
	// Output:
	// web.1 listening
	// web.1 ready
	// true
}
