package buildpack

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// Prefixes of the platform's own build output lines (heroku.md §2.2).
const (
	stepPrefix   = "-----> "
	indentPrefix = "       "
	warnPrefix   = " !     "
)

// maxLineBytes bounds one buffered line: a script that writes a huge line
// without a newline is passed on in pieces of this size.
const maxLineBytes = 16 << 10

// output is the build log: it passes whole lines to the caller's writer as
// they complete (so a git push shows progress), and stops passing script
// output after limit bytes, writing one notice instead. The platform's own
// lines are always written. Safe for concurrent use.
type output struct {
	mu        sync.Mutex
	w         io.Writer
	limit     int64 // bytes of script output passed on; <= 0 means none
	written   int64
	truncated bool
	dropped   int64
	partial   []byte
	err       error // first error from w; later writes are dropped
}

func newOutput(w io.Writer, limit int64) *output {
	if w == nil {
		w = io.Discard
	}
	return &output{w: w, limit: limit}
}

// Write takes script output. It never fails, so a broken log reader
// cannot kill a build; the first error is kept for the Builder.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLineBytes - len(o.partial)
			if len(p) < room {
				o.partial = append(o.partial, p...)
				return n, nil
			}
			o.partial = append(o.partial, p[:room]...)
			p = p[room:]
			o.partial = append(o.partial, '\n')
			o.emitLocked(o.partial)
			o.partial = o.partial[:0]
			continue
		}
		line := p[:i+1]
		p = p[i+1:]
		if len(o.partial) > 0 {
			o.partial = append(o.partial, line...)
			line = o.partial
		}
		o.emitLocked(line)
		o.partial = o.partial[:0]
	}
	return n, nil
}

// flush passes on a trailing line that had no newline.
func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.partial = append(o.partial, '\n')
		o.emitLocked(o.partial)
		o.partial = o.partial[:0]
	}
}

func (o *output) emitLocked(line []byte) {
	if o.truncated {
		o.dropped += int64(len(line))
		return
	}
	if o.written+int64(len(line)) > o.limit {
		o.truncated = true
		o.dropped += int64(len(line))
		o.writeLocked(fmt.Appendf(nil, "%sBuild output truncated: more than %d bytes; the rest is not shown (the build goes on).\n", warnPrefix, o.limit))
		return
	}
	o.written += int64(len(line))
	o.writeLocked(line)
}

func (o *output) writeLocked(b []byte) {
	if o.err != nil {
		return
	}
	if _, err := o.w.Write(b); err != nil {
		o.err = err
	}
}

// step writes a platform line "-----> text".
func (o *output) step(format string, args ...any) { o.platform(stepPrefix, format, args...) }

// detail writes a platform line indented by 7 spaces.
func (o *output) detail(format string, args ...any) { o.platform(indentPrefix, format, args...) }

// warn writes a platform line " !     text".
func (o *output) warn(format string, args ...any) { o.platform(warnPrefix, format, args...) }

func (o *output) platform(prefix, format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 { // keep a script's unterminated line apart from ours
		o.partial = append(o.partial, '\n')
		o.emitLocked(o.partial)
		o.partial = o.partial[:0]
	}
	o.writeLocked(fmt.Appendf([]byte(prefix), format+"\n", args...))
}

// droppedBytes reports how much script output was not passed on.
func (o *output) droppedBytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}
