package logplex

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of log sessions (Logplex's).
const (
	DefaultSessionTTL   = 360 * time.Second
	DefaultSessionLines = 100
)

// SessionOptions are the fields of a log-session request
// (POST /apps/{app}/log-sessions).
type SessionOptions struct {
	Lines  int    // history lines; 0 means DefaultSessionLines, at most DefaultHistory
	Source string // "app", "heroku" or empty
	Dyno   string // "web" or "web.1" or empty
	Tail   bool   // keep streaming
}

// Session is a created log session. URL is relative: prefix it with the
// base URL the Sessions handler is served at.
type Session struct {
	ID        string
	App       string
	Options   SessionOptions
	ExpiresAt time.Time
	secret    string
}

// URL returns base + "/" + ID + "?secret=…": the logplex_url to hand out.
// The secret in it is the only credential the stream needs.
func (s Session) URL(base string) string {
	return strings.TrimSuffix(base, "/") + "/" + s.ID + "?secret=" + url.QueryEscape(s.secret)
}

// Sessions creates log sessions and serves their streams. It is an
// http.Handler for GET <base>/<id>?secret=<secret>: the stream is
// Server-Sent Events ("data: <line>" events) when the request accepts
// text/event-stream, as the heroku CLI's EventSource does, and chunked
// text/plain otherwise, one display-format line per line. A session may
// be opened until it expires (TTL after creation); a stream that is open
// goes on. Unknown or expired sessions get 404, a wrong secret 403.
// The zero value needs Source set; it is safe for concurrent use.
type Sessions struct {
	Source Source
	TTL    time.Duration // 0 means DefaultSessionTTL
	Now    func() time.Time

	mu       sync.Mutex
	sessions map[string]Session
}

var _ http.Handler = (*Sessions)(nil)

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Create registers a session for app.
func (s *Sessions) Create(app string, opt SessionOptions) (Session, error) {
	if opt.Lines == 0 {
		opt.Lines = DefaultSessionLines
	}
	if opt.Lines < 0 || opt.Lines > DefaultHistory {
		return Session{}, fmt.Errorf("logplex: log session lines %d: %w: want 1 to %d", opt.Lines, ErrInvalidOptions, DefaultHistory)
	}
	if err := (TailOptions{Source: opt.Source, Dyno: opt.Dyno}).Validate(); err != nil {
		return Session{}, err
	}
	if app == "" {
		return Session{}, fmt.Errorf("logplex: log session: app name: %w: must not be empty", ErrInvalidOptions)
	}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	now := s.now()
	sess := Session{ID: newUUID(), App: app, Options: opt, ExpiresAt: now.Add(ttl), secret: randomHex(32)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = make(map[string]Session)
	}
	for id, old := range s.sessions {
		if !now.Before(old.ExpiresAt) {
			delete(s.sessions, id)
		}
	}
	s.sessions[sess.ID] = sess
	return sess, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Sessions) lookup(id, secret string) (Session, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return Session{}, http.StatusNotFound
	}
	if !s.now().Before(sess.ExpiresAt) {
		delete(s.sessions, id)
		return Session{}, http.StatusNotFound
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(sess.secret)) != 1 {
		return Session{}, http.StatusForbidden
	}
	return sess, http.StatusOK
}

func (s *Sessions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method "+r.Method+" not allowed: log sessions take GET", http.StatusMethodNotAllowed)
		return
	}
	id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	sess, code := s.lookup(id, r.URL.Query().Get("secret"))
	switch code {
	case http.StatusNotFound:
		http.Error(w, "log session "+id+" not found or expired", code)
		return
	case http.StatusForbidden:
		http.Error(w, "log session "+id+": wrong secret", code)
		return
	}
	sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	h := w.Header()
	if sse {
		h.Set("Content-Type", "text/event-stream")
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Connection", "close") // as Logplex: one session per connection
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	opt := TailOptions{Lines: sess.Options.Lines, Follow: sess.Options.Tail, Source: sess.Options.Source, Dyno: sess.Options.Dyno}
	buf := make([]byte, 0, 256)
	for m, err := range s.Source.Tail(r.Context(), sess.App, opt) {
		if err != nil {
			// Headers are gone; the error becomes the last line.
			m = Message{Time: s.now(), App: sess.App, Source: SourceHeroku, Proc: "logplex", Text: "Error: " + err.Error()}
		}
		if sse {
			buf = appendEvent(buf[:0], m)
		} else {
			buf = append(m.AppendDisplay(buf[:0]), '\n')
		}
		if _, werr := w.Write(buf); werr != nil {
			return
		}
		if rc.Flush() != nil || err != nil {
			return
		}
	}
}

// appendEvent appends m as one SSE event; line breaks inside the text
// become further data lines, which the client joins back with "\n".
func appendEvent(b []byte, m Message) []byte {
	line := m.AppendDisplay(nil)
	for {
		i := bytes.IndexAny(line, "\r\n")
		b = append(b, "data: "...)
		if i < 0 {
			b = append(b, line...)
			b = append(b, '\n')
			break
		}
		b = append(b, line[:i]...)
		b = append(b, '\n')
		if line[i] == '\r' && i+1 < len(line) && line[i+1] == '\n' {
			i++
		}
		line = line[i+1:]
	}
	return append(b, '\n')
}
