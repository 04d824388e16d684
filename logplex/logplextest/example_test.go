package logplextest_test

import (
	"context"
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
