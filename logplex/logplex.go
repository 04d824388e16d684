package logplex

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
)

// Sink accepts messages. Send never blocks on slow readers or endpoints:
// implementations buffer, and drop (counting the drops) rather than push
// back on the dynos that produce the lines. Cancelling ctx never discards a
// message that Send already accepted.
type Sink interface {
	Send(ctx context.Context, m Message) error
}

// Source yields up to opt.Lines lines of an app's history and then, if
// opt.Follow, live messages, with no gap and no duplicate between the two.
// The sequence ends when ctx is done (without an error) or when the
// consumer stops. An error is yielded with a zero Message, and ends the
// sequence.
type Source interface {
	Tail(ctx context.Context, app string, opt TailOptions) iter.Seq2[Message, error]
}

// Drain ships messages to an endpoint outside the platform through a
// bounded queue.
type Drain interface {
	Sink
	// Shutdown stops accepting messages and delivers what is queued until
	// ctx is done, like http.Server.Shutdown.
	Shutdown(ctx context.Context) error
}

// TailOptions select what a tail yields, like the flags of `heroku logs`.
type TailOptions struct {
	// Lines is how many history lines (after filtering) come first; 0
	// means none. It is capped by the history kept.
	Lines int
	// Follow keeps the tail open for live messages (`heroku logs --tail`).
	Follow bool
	// Source keeps only lines of that source ("app", "heroku"); empty keeps all.
	Source string
	// Dyno keeps only lines of that process, matched on the whole name or
	// on the part before the dot: "web" matches "web.1" and "web.2",
	// "web.1" matches only "web.1". Empty keeps all.
	Dyno string
	// Buffer is how many live messages this tail may fall behind before
	// newer ones are dropped for it (an L11 notice then follows); 0 means
	// the Source's default. A reader that only hands messages on without
	// blocking, such as a drain's feed, sets it large, so a burst waits
	// for it here instead of being cut: the drain's own buffer then drops
	// the oldest lines, as Heroku's drains do.
	Buffer int
}

// ErrInvalidOptions is wrapped by errors about bad TailOptions.
var ErrInvalidOptions = errors.New("invalid tail options")

// Validate reports options that cannot be honoured.
func (o TailOptions) Validate() error {
	if o.Lines < 0 {
		return fmt.Errorf("logplex: lines %d: %w: must not be negative", o.Lines, ErrInvalidOptions)
	}
	if o.Buffer < 0 {
		return fmt.Errorf("logplex: tail buffer %d: %w: must not be negative", o.Buffer, ErrInvalidOptions)
	}
	if strings.ContainsAny(o.Source, " \t\r\n") {
		return fmt.Errorf("logplex: source %q: %w: must not contain spaces", o.Source, ErrInvalidOptions)
	}
	if strings.ContainsAny(o.Dyno, " \t\r\n") {
		return fmt.Errorf("logplex: dyno %q: %w: must not contain spaces", o.Dyno, ErrInvalidOptions)
	}
	return nil
}

// Match reports whether m passes the Source and Dyno filters.
func (o TailOptions) Match(m Message) bool {
	if o.Source != "" && m.Source != o.Source {
		return false
	}
	return o.Dyno == "" || MatchDyno(o.Dyno, m.Proc)
}

// MatchDyno reports whether a process name matches a dyno filter: equal,
// or equal to the part of proc before its first dot ("web" matches "web.1").
func MatchDyno(filter, proc string) bool {
	if proc == filter {
		return true
	}
	typ, _, found := strings.Cut(proc, ".")
	return found && typ == filter
}

// Fanout returns a Sink that sends each message to every sink, in order.
// Every sink gets the message even if an earlier one failed; the errors are
// joined.
func Fanout(sinks ...Sink) Sink {
	return fanout(append([]Sink(nil), sinks...))
}

type fanout []Sink

func (f fanout) Send(ctx context.Context, m Message) error {
	var errs []error
	for _, s := range f {
		if err := s.Send(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SinkFunc adapts a function to a Sink; the function must not block.
type SinkFunc func(ctx context.Context, m Message) error

// Send calls f(ctx, m).
func (f SinkFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }
