package logplex

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits and defaults taken from Heroku's Logplex (see doc.go).
const (
	// MaxLineBytes is the longest Text a Message carries; longer lines are
	// split into several messages of at most this many bytes.
	MaxLineBytes = 10000
	// DefaultHistory is how many lines a [Buffer] keeps per app.
	DefaultHistory = 1500
	// DefaultTailBuffer is how many messages a tail reader may fall behind
	// before messages are dropped for it (and an L11 notice is inserted).
	DefaultTailBuffer = 1024

	// SourceApp is the source of lines written by an app's dynos.
	SourceApp = "app"
	// SourceHeroku is the source of lines written by platform components.
	SourceHeroku = "heroku"

	// TimeLayout is the RFC 5424 timestamp with microseconds that Heroku
	// prints, always in UTC: 2010-09-16T15:13:46.677020+00:00.
	TimeLayout = "2006-01-02T15:04:05.000000+00:00"

	maxAppLen    = 100
	maxSourceLen = 48  // RFC 5424 APP-NAME
	maxProcLen   = 128 // RFC 5424 PROCID
)

// Message is one log line of one app.
type Message struct {
	Time   time.Time // kept with microsecond precision, in UTC
	App    string    // the app whose stream the line belongs to
	Source string    // SourceApp, SourceHeroku, ...
	Proc   string    // the process: "web.1", "router", "api"
	Text   string    // the line without its newline; bytes kept as written
}

// FieldError reports a Message field that breaks a rule.
type FieldError struct {
	Field string // "App", "Source" or "Proc"
	Value string
	Rule  string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("logplex: invalid message %s %q: %s", e.Field, e.Value, e.Rule)
}

// Validate checks the fields that end up in syslog headers: App, Source
// and Proc must be 1 to 100, 48 and 128 bytes of printable ASCII without
// spaces (RFC 5424 PRINTUSASCII). Text may hold any bytes.
func (m Message) Validate() error {
	if err := checkToken("App", m.App, maxAppLen); err != nil {
		return err
	}
	if err := checkToken("Source", m.Source, maxSourceLen); err != nil {
		return err
	}
	return checkToken("Proc", m.Proc, maxProcLen)
}

func checkToken(field, v string, max int) error {
	if v == "" {
		return &FieldError{Field: field, Value: v, Rule: "must not be empty"}
	}
	if len(v) > max {
		return &FieldError{Field: field, Value: v, Rule: "longer than " + strconv.Itoa(max) + " bytes"}
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 33 || c > 126 {
			return &FieldError{Field: field, Value: v, Rule: fmt.Sprintf("byte %d is %q, want printable ASCII without spaces", i, c)}
		}
	}
	return nil
}

// String returns the display format of Heroku's log sessions, without the
// trailing newline: "2010-09-16T15:13:46.677020+00:00 app[web.1]: text".
func (m Message) String() string {
	return string(m.AppendDisplay(make([]byte, 0, 48+len(m.Source)+len(m.Proc)+len(m.Text))))
}

// AppendDisplay appends the display format (see [Message.String]) to b.
func (m Message) AppendDisplay(b []byte) []byte {
	b = m.Time.UTC().AppendFormat(b, TimeLayout)
	b = append(b, ' ')
	b = append(b, m.Source...)
	b = append(b, '[')
	b = append(b, m.Proc...)
	b = append(b, "]: "...)
	return append(b, m.Text...)
}

// normalize stamps a zero time with now and rounds to Heroku's precision.
func (m *Message) normalize(now func() time.Time) {
	if m.Time.IsZero() {
		m.Time = now()
	}
	m.Time = m.Time.UTC().Truncate(time.Microsecond)
}

// SplitText cuts s into pieces of at most MaxLineBytes bytes. A cut never
// falls inside a valid UTF-8 sequence (the piece is then a few bytes
// shorter), so split lines stay printable; invalid bytes are cut anywhere.
// No newline is added. It returns []string{s} when s is short enough.
func SplitText(s string) []string {
	if len(s) <= MaxLineBytes {
		return []string{s}
	}
	parts := make([]string, 0, len(s)/MaxLineBytes+1)
	for len(s) > MaxLineBytes {
		cut := runeCut(s, MaxLineBytes)
		parts = append(parts, s[:cut])
		s = s[cut:]
	}
	return append(parts, s)
}

// runeCut returns the largest n' <= n such that s[:n'] does not end in the
// middle of a valid multi-byte rune that s[n”:] completes.
func runeCut(s string, n int) int {
	for back := 0; back < utf8.UTFMax && back <= n; back++ {
		i := n - back
		if utf8.RuneStart(s[i]) {
			if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError && size > back && i+size > n {
				return i
			}
			return n
		}
	}
	return n
}

// Split returns m as one or more messages whose Text fits MaxLineBytes.
func Split(m Message) []Message {
	if len(m.Text) <= MaxLineBytes {
		return []Message{m}
	}
	texts := SplitText(m.Text)
	out := make([]Message, len(texts))
	for i, t := range texts {
		out[i] = m
		out[i].Text = t
	}
	return out
}
