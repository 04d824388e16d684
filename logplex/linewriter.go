package logplex

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// LineWriter turns a dyno's stdout or stderr into messages: one per line,
// sent to a Sink with the fields of a template. It is safe for concurrent
// use.
//
// Lines end at "\n"; a "\r" before it is removed. A line that arrives in
// several writes is sent once complete. A line longer than MaxLineBytes is
// sent in pieces as soon as a full piece is available, so memory stays
// bounded. Bytes are kept as written: invalid UTF-8 is not replaced (a
// drain receives what the dyno wrote). Close sends a final partial line.
type LineWriter struct {
	sink Sink
	tmpl Message
	now  func() time.Time

	mu      sync.Mutex
	pending []byte
	closed  bool
}

var _ io.WriteCloser = (*LineWriter)(nil)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("logplex: line writer closed")

// NewLineWriter returns a writer that sends every line as tmpl with Text
// set to the line and Time to the moment the line was complete.
func NewLineWriter(s Sink, tmpl Message) *LineWriter {
	return &LineWriter{sink: s, tmpl: tmpl, now: time.Now}
}

// Write splits p into lines. It returns len(p) unless the sink refused a
// line, in which case that error is returned.
func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.pending = append(w.pending, p...)
			if err := w.flushLong(); err != nil {
				return n, err
			}
			break
		}
		var line []byte
		if len(w.pending) > 0 {
			w.pending = append(w.pending, p[:i]...)
			line = w.pending
		} else {
			line = p[:i]
		}
		p = p[i+1:]
		line = bytes.TrimSuffix(line, []byte{'\r'})
		err := w.send(line)
		w.pending = w.pending[:0]
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// flushLong sends whole MaxLineBytes pieces of an unfinished long line.
func (w *LineWriter) flushLong() error {
	// Keep one byte more than a piece back: if it is the "\r" of a "\r\n",
	// it must not end up in a piece.
	off := 0
	for len(w.pending)-off > MaxLineBytes+1 {
		rest := w.pending[off:]
		cut := runeCut(string(rest[:MaxLineBytes+min(len(rest)-MaxLineBytes, 3)]), MaxLineBytes)
		if err := w.send(rest[:cut]); err != nil {
			w.pending = append(w.pending[:0], w.pending[off+cut:]...)
			return err
		}
		off += cut
	}
	if off > 0 {
		w.pending = append(w.pending[:0], w.pending[off:]...)
	}
	return nil
}

func (w *LineWriter) send(line []byte) error {
	m := w.tmpl
	m.Text = string(line)
	m.Time = w.now()
	var errs []error
	for _, part := range Split(m) {
		if err := w.sink.Send(context.Background(), part); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close sends what remains of an unfinished last line, if anything, and
// makes later writes fail with ErrClosed.
func (w *LineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if len(w.pending) == 0 {
		return nil
	}
	err := w.send(bytes.TrimSuffix(w.pending, []byte{'\r'}))
	w.pending = nil
	return err
}
