package drain

import (
	"context"
	"fmt"
	"time"

	"github.com/dynokit/dynokit/logplex"
)

// OverflowNotice is the L10 line a drain delivers in place of n messages of
// app dropped since the given time.
func OverflowNotice(app string, now time.Time, n int, since time.Time) logplex.Message {
	return logplex.Message{
		Time:   now.UTC().Truncate(time.Microsecond),
		App:    app,
		Source: logplex.SourceHeroku,
		Proc:   "logplex",
		Text: fmt.Sprintf("Error L10 (output buffer overflow): %d messages dropped since %s.",
			n, since.UTC().Format(logplex.TimeLayout)),
	}
}

// batch is what one delivery attempt carries: an optional L10 notice
// first, then queued messages in order.
type batch struct {
	msgs     []logplex.Message
	notice   bool // msgs[0] is an L10 notice
	reported int  // drops the notice reports
	since    time.Time
}

func (b *batch) real() int {
	if b.notice {
		return len(b.msgs) - 1
	}
	return len(b.msgs)
}

// queue is a bounded ring that drops its oldest message when full and
// remembers how many it dropped since when. Guarded by core.mu.
type queue struct {
	ring       []logplex.Message
	head, n    int
	dropped    int
	since      time.Time
	droppedApp string
}

func (q *queue) push(m logplex.Message, max int) (dropped bool) {
	if q.ring == nil {
		q.ring = make([]logplex.Message, max)
	}
	if q.n == len(q.ring) {
		old := q.ring[q.head]
		q.noteDrop(1, old.Time, old.App)
		q.ring[q.head] = m
		q.head = (q.head + 1) % len(q.ring)
		return true
	}
	q.ring[(q.head+q.n)%len(q.ring)] = m
	q.n++
	return false
}

func (q *queue) noteDrop(n int, since time.Time, app string) {
	if n == 0 {
		return
	}
	if q.dropped == 0 || since.Before(q.since) {
		q.since = since
	}
	if q.droppedApp == "" {
		q.droppedApp = app
	}
	q.dropped += n
}

// take removes up to maxMsgs messages and about maxBytes bytes, with an L10
// notice first if drops are pending.
func (q *queue) take(now time.Time, maxMsgs, maxBytes int) *batch {
	if q.n == 0 && q.dropped == 0 {
		return nil
	}
	b := &batch{}
	if q.dropped > 0 {
		b.notice, b.reported, b.since = true, q.dropped, q.since
		b.msgs = append(b.msgs, OverflowNotice(q.droppedApp, now, q.dropped, q.since))
		q.dropped, q.droppedApp = 0, ""
	}
	size := 0
	for q.n > 0 && len(b.msgs) < maxMsgs {
		m := q.ring[q.head]
		size += len(m.Text) + 100 // header estimate
		if size > maxBytes && len(b.msgs) > 0 {
			break
		}
		b.msgs = append(b.msgs, m)
		q.ring[q.head] = logplex.Message{}
		q.head = (q.head + 1) % len(q.ring)
		q.n--
	}
	return b
}

// lose counts a batch that could not be delivered as dropped.
func (q *queue) lose(b *batch) {
	since := b.since
	app := ""
	start := 0
	if b.notice {
		start = 1
		app = b.msgs[0].App
	}
	if len(b.msgs) > start && (since.IsZero() || b.msgs[start].Time.Before(since)) {
		since = b.msgs[start].Time
	}
	if len(b.msgs) > start {
		app = b.msgs[start].App
	}
	q.noteDrop(b.reported+b.real(), since, app)
}

// waitCtx sleeps d or until ctx is done; false means ctx is done.
func waitCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff returns lo·2^attempt capped at hi.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}
