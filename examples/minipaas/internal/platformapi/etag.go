package platformapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"strconv"
	"strings"
)

// etagOf is the ETag Server gives a successful GET response with body: a
// strong validator, the first 128 bits of the body's SHA-256 in hex.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// Comparison functions of RFC 9110 §8.8.3.2.
const (
	weakComparison   = true  // If-None-Match: W/"x" and "x" are the same
	strongComparison = false // If-Match: a weak tag never matches
)

// etagListMatches reports whether the If-Match or If-None-Match field
// values name etag, either in their list of entity tags or as "*" (any
// current representation). A malformed list matches nothing, which answers
// a GET in full and refuses a conditional write: both safe.
func etagListMatches(values []string, etag string, weak bool) bool {
	if etag == "" {
		return false
	}
	list := strings.TrimSpace(strings.Join(values, ","))
	if list == "*" {
		return true
	}
	opaque, etagIsWeak := strings.CutPrefix(etag, "W/")
	if etagIsWeak && !weak {
		return false
	}
	for {
		list = strings.TrimLeft(list, " \t,")
		if list == "" {
			return false
		}
		tag, isWeak := strings.CutPrefix(list, "W/")
		if !strings.HasPrefix(tag, `"`) {
			return false
		}
		closing := strings.IndexByte(tag[1:], '"') + 1
		if closing == 0 {
			return false
		}
		tag, list = tag[:closing+1], tag[closing+1:]
		if tag == opaque && (weak || !isWeak) {
			return true
		}
	}
}

// responseBuffer holds a GET's response back until its handler returns, so
// that Server can derive the ETag and answer 304 before anything is sent.
// It starts with a copy of the real header, so the handler sees and may
// override what Server set. From the handler's first Flush it passes
// through instead: a stream cannot be hashed before it ends.
type responseBuffer struct {
	w      http.ResponseWriter // nil: a probe, whose answer is dropped
	header http.Header
	status int
	body   bytes.Buffer
	// streaming is set by the first Flush; the response has no ETag.
	streaming bool
	// stopStream, if set, is called on a probe's first Flush.
	stopStream func()
}

func newResponseBuffer(w http.ResponseWriter) *responseBuffer {
	b := &responseBuffer{w: w, header: make(http.Header)}
	if w != nil {
		b.header = w.Header().Clone()
	}
	return b
}

func (b *responseBuffer) Header() http.Header { return b.header }

func (b *responseBuffer) WriteHeader(code int) {
	// 1xx responses (103 Early Hints) are dropped: only the final status
	// is held.
	if b.status != 0 || code < 200 {
		return
	}
	b.status = code
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.streaming {
		if b.w == nil {
			return len(p), nil
		}
		return b.w.Write(p)
	}
	return b.body.Write(p)
}

// Flush switches to streaming: what is held is sent without ETag or
// Content-Length, and later writes pass through.
func (b *responseBuffer) Flush() {
	if !b.streaming {
		b.streaming = true
		if b.w == nil {
			if b.stopStream != nil {
				b.stopStream()
			}
			return
		}
		b.sendHeader("", -1)
		b.w.Write(b.body.Bytes())
		b.body = bytes.Buffer{}
	}
	if b.w != nil {
		http.NewResponseController(b.w).Flush()
	}
}

// Unwrap lets http.ResponseController reach the real response (deadlines,
// full duplex); a probe has none.
func (b *responseBuffer) Unwrap() http.ResponseWriter { return b.w }

// etag is the held response's ETag, "" unless it succeeded (2xx) and was
// held whole. A handler's own ETag is kept.
func (b *responseBuffer) etag() string {
	if b.streaming || (b.status != 0 && b.status/100 != 2) {
		return ""
	}
	if etag := b.header.Get("ETag"); etag != "" {
		return etag
	}
	return etagOf(b.body.Bytes())
}

// send sends the held response with etag (if any) and its Content-Length;
// withBody false answers a HEAD, whose handler may have said the length.
func (b *responseBuffer) send(etag string, withBody bool) {
	length := b.body.Len()
	if !withBody && b.header.Get("Content-Length") != "" {
		length = -1
	}
	b.sendHeader(etag, length)
	if withBody {
		b.w.Write(b.body.Bytes())
	}
}

// sendHeader makes the held header the real one and sends the status;
// length < 0 leaves Content-Length out.
func (b *responseBuffer) sendHeader(etag string, length int) {
	h := b.w.Header()
	clear(h)
	maps.Copy(h, b.header)
	if etag != "" {
		h.Set("ETag", etag)
	}
	status := b.status
	if status == 0 {
		status = http.StatusOK
	}
	if length >= 0 && status != http.StatusNoContent && status != http.StatusNotModified {
		h.Set("Content-Length", strconv.Itoa(length))
	}
	b.w.WriteHeader(status)
}

// sendNotModified answers 304 with the real header (Request-Id,
// RateLimit-Remaining, CORS) and, of the handler's, only the fields RFC 9110
// §15.4.5 lists for a 304: no body and no representation metadata.
func (b *responseBuffer) sendNotModified(etag string) {
	h := b.w.Header()
	h.Set("ETag", etag)
	for _, k := range []string{"Cache-Control", "Content-Location", "Expires", "Vary"} {
		if v, ok := b.header[k]; ok {
			h[k] = v
		}
	}
	b.w.WriteHeader(http.StatusNotModified)
}
