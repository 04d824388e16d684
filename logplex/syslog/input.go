package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/dynokit/dynokit/logplex"
)

// ContentType is the media type of Logplex frame batches.
const ContentType = "application/logplex-1"

// DefaultMaxBody bounds the body of one POSTed batch.
const DefaultMaxBody = 1 << 20

// InputHandler is an http.Handler for Logplex log input (heroku.md §7.4):
// a POST whose body is octet-counted RFC 5424 frames, with Content-Type
// application/logplex-1 and optionally Logplex-Msg-Count. A batch is all
// or nothing: every frame must parse and route before any is sent.
// It answers 204 on success, 400 for a bad batch (the text names the frame
// and the rule), 405, 413 and 415.
type InputHandler struct {
	Sink    logplex.Sink
	Route   Route        // required; TokenRoute for Heroku-style input
	Dialect Dialect      // RFC5424 for log input; HTTPSDrain to receive drains
	MaxBody int64        // 0 means DefaultMaxBody
	Logger  *slog.Logger // nil discards
}

var _ http.Handler = (*InputHandler)(nil)

// BatchError reports the frame of a batch that was refused.
type BatchError struct {
	Frame int // 0-based index in the batch
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("frame %d: %v", e.Frame, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// ParseBatch parses a body of octet-counted frames of dialect d.
func ParseBatch(body []byte, d Dialect) ([]Message, error) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), len(body)+16)
	sc.Split(SplitMax(max(len(body), 1)))
	var out []Message
	for sc.Scan() {
		m, err := ParseDialect(sc.Bytes(), d)
		if err != nil {
			return nil, &BatchError{Frame: len(out), Err: err}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, &BatchError{Frame: len(out), Err: err}
	}
	return out, nil
}

func (h *InputHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method "+r.Method+" not allowed: log input takes POST", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentType {
		http.Error(w, fmt.Sprintf("Content-Type %q: want %s", r.Header.Get("Content-Type"), ContentType), http.StatusUnsupportedMediaType)
		return
	}
	limit := h.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("body over the %d-byte limit", limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	msgs, err := ParseBatch(body, h.Dialect)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if v := r.Header.Get("Logplex-Msg-Count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, fmt.Sprintf("Logplex-Msg-Count %q: want a non-negative integer", v), http.StatusBadRequest)
			return
		}
		if n != len(msgs) {
			http.Error(w, fmt.Sprintf("Logplex-Msg-Count %d: body has %d frames", n, len(msgs)), http.StatusBadRequest)
			return
		}
	}
	lines := make([]logplex.Message, len(msgs))
	for i, m := range msgs {
		if lines[i], err = h.Route(m); err == nil {
			err = lines[i].Validate()
		}
		if err != nil {
			http.Error(w, (&BatchError{Frame: i, Err: err}).Error(), http.StatusBadRequest)
			return
		}
	}
	for _, lm := range lines {
		if err := h.Sink.Send(r.Context(), lm); err != nil {
			log := h.Logger
			if log != nil {
				log.Warn("syslog: input: sink refused message", "err", err)
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
