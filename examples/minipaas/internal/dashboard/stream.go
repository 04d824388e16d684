package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/dynokit/dynokit/logplex"
)

// logStream serves GET <prefix>/apps/{app}/logs as Server-Sent Events: the
// app's recent lines (?lines=, default LogLines), then live ones, each a
// message event whose data is one JSON logLine, until the client leaves.
// ?source= and ?dyno= filter as `heroku logs` does. Done ends it too.
//
// JSON keeps a line one "data:" field whatever bytes the app wrote (an SSE
// field ends at CR or LF), and the script inserts its parts as text.
func (h *Handler) logStream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("app")
	q := r.URL.Query()
	opt := logplex.TailOptions{Lines: h.LogLines, Follow: true, Source: q.Get("source"), Dyno: q.Get("dyno")}
	if s := q.Get("lines"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxLogLines {
			h.errorPage(w, r, http.StatusBadRequest, "lines must be a number from 0 to "+strconv.Itoa(maxLogLines)+".")
			return
		}
		opt.Lines = n
	}
	if err := opt.Validate(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "Bad log filter.")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	seq, err := h.Source.Logs(ctx, name, opt)
	if err != nil {
		h.fail(w, r, "logs of "+name, err)
		return
	}

	// The tail blocks until a line comes, so it runs in its own goroutine
	// and the heartbeat can be written meanwhile. It ends with ctx, and
	// ServeHTTP waits for it, so no goroutine outlives the request.
	lines := make(chan logplex.Message)
	var tailErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(lines)
		for m, err := range seq {
			if err != nil {
				tailErr = err
				return
			}
			select {
			case lines <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer wg.Wait()
	defer cancel() // before Wait: the tail must see the end first

	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// retry: how long a browser waits before reconnecting after an end.
	if _, err := w.Write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(h.Heartbeat)
	defer beat.Stop()
	var buf []byte
	for {
		select {
		case m, ok := <-lines:
			ended := !ok
			if ok {
				// Send what is already waiting in one write.
				buf = appendEvent(buf[:0], m)
				for drained := false; !drained && !ended && len(buf) < 64<<10; {
					select {
					case m, ok := <-lines:
						if ok {
							buf = appendEvent(buf, m)
						} else {
							ended = true
						}
					default:
						drained = true
					}
				}
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
			if ended {
				if tailErr != nil && ctx.Err() == nil {
					h.log.Warn("dashboard: log tail ended", "app", name, "err", tailErr)
				}
				_ = rc.Flush()
				return // the browser reconnects after retry
			}
		case <-beat.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
		case <-ctx.Done():
			return
		case <-h.Done:
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// appendEvent appends one SSE message event holding m as JSON.
func appendEvent(b []byte, m logplex.Message) []byte {
	j, _ := json.Marshal(toLine(m)) // strings only: cannot fail
	b = append(b, "data: "...)
	b = append(b, j...)
	return append(b, '\n', '\n')
}
