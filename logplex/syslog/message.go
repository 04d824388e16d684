package syslog

import (
	"fmt"
	"strconv"
	"time"

	"github.com/dynokit/dynokit/logplex"
)

// Dialect selects the header layout of a message.
type Dialect int

const (
	// RFC5424 is the full header: PRI VERSION TIMESTAMP HOSTNAME APP-NAME
	// PROCID MSGID STRUCTURED-DATA [MSG]. Logplex uses it on syslog drains
	// and for log input.
	RFC5424 Dialect = iota
	// HTTPSDrain is what Logplex POSTs to HTTPS drains: no
	// STRUCTURED-DATA field at all (not even "-"), and the message ends
	// with a newline that the frame length counts.
	HTTPSDrain
)

func (d Dialect) String() string {
	switch d {
	case RFC5424:
		return "rfc5424"
	case HTTPSDrain:
		return "https-drain"
	}
	return "dialect(" + strconv.Itoa(int(d)) + ")"
}

// Message is one RFC 5424 syslog message. Empty strings and a zero Time
// stand for the NILVALUE "-".
type Message struct {
	Priority       int       // facility*8 + severity, 0..191
	Time           time.Time // microsecond precision, UTC
	Hostname       string    // Logplex drains: the drain token "d.<uuid>"
	AppName        string    // drains: the source ("app", "heroku"); log input: the token "t.<uuid>"
	ProcID         string    // the process ("web.1", "router")
	MsgID          string
	StructuredData string // raw SD-ELEMENTs, "" for none
	Text           string // MSG, bytes kept as sent
}

// Priorities Logplex uses (RFC 5424 facility*8 + severity).
const (
	PriorityApp      = 23*8 + 6 // local7.info: lines from dynos
	PriorityPlatform = 19*8 + 6 // local3.info: lines from platform components
	PriorityNotice   = 21*8 + 4 // local5.warning: Logplex's own L10 notices
)

// PriorityFor returns the priority Logplex gives a line of m's source.
func PriorityFor(m logplex.Message) int {
	switch {
	case m.Source == logplex.SourceApp:
		return PriorityApp
	case m.Source == logplex.SourceHeroku && m.Proc == "logplex":
		return PriorityNotice
	}
	return PriorityPlatform
}

// FromLogplex returns m as a drain sends it: HOSTNAME carries the drain
// token, APP-NAME the source and PROCID the process.
func FromLogplex(m logplex.Message, token string) Message {
	return Message{
		Priority: PriorityFor(m),
		Time:     m.Time,
		Hostname: token,
		AppName:  m.Source,
		ProcID:   m.Proc,
		Text:     m.Text,
	}
}

// Logplex returns the message as a line of app: the reverse of FromLogplex.
func (m Message) Logplex(app string) logplex.Message {
	return logplex.Message{Time: m.Time, App: app, Source: m.AppName, Proc: m.ProcID, Text: m.Text}
}

// ParseError reports where and why a message does not parse.
type ParseError struct {
	Offset int    // byte offset in the message
	Field  string // "PRI", "TIMESTAMP", ...
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("syslog: parse %s at offset %d: %s", e.Field, e.Offset, e.Reason)
}

// Append appends m in dialect d, without framing.
func (m Message) Append(b []byte, d Dialect) []byte {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(m.Priority), 10)
	b = append(b, ">1 "...)
	if m.Time.IsZero() {
		b = append(b, '-')
	} else {
		b = m.Time.UTC().AppendFormat(b, logplex.TimeLayout)
	}
	b = appendField(b, m.Hostname)
	b = appendField(b, m.AppName)
	b = appendField(b, m.ProcID)
	b = appendField(b, m.MsgID)
	if d == RFC5424 {
		b = appendField(b, m.StructuredData)
	}
	if m.Text != "" || d == HTTPSDrain {
		b = append(b, ' ')
		b = append(b, m.Text...)
	}
	if d == HTTPSDrain {
		b = append(b, '\n')
	}
	return b
}

func appendField(b []byte, v string) []byte {
	b = append(b, ' ')
	if v == "" {
		return append(b, '-')
	}
	return append(b, v...)
}

// Marshal returns m in RFC 5424 form, without framing.
func (m Message) Marshal() []byte { return m.Append(nil, RFC5424) }

// Parse parses one RFC 5424 message (without its frame length).
func Parse(b []byte) (Message, error) { return ParseDialect(b, RFC5424) }

// ParseDialect parses one message of dialect d. It is strict about the
// header (PRI 0..191, VERSION 1, RFC 3339 timestamp with at most six
// fraction digits, PRINTUSASCII fields within RFC 5424 lengths,
// well-formed SD-ELEMENTs) and keeps the MSG bytes as they are.
func ParseDialect(b []byte, d Dialect) (Message, error) {
	p := parser{b: b}
	var m Message
	var err error
	if m.Priority, err = p.pri(); err != nil {
		return Message{}, err
	}
	if err = p.literal("VERSION", "1 "); err != nil {
		return Message{}, err
	}
	if m.Time, err = p.timestamp(); err != nil {
		return Message{}, err
	}
	fields := []struct {
		name string
		max  int
		dst  *string
	}{{"HOSTNAME", 255, &m.Hostname}, {"APP-NAME", 48, &m.AppName}, {"PROCID", 128, &m.ProcID}, {"MSGID", 32, &m.MsgID}}
	for _, f := range fields {
		if err = p.literal(f.name, " "); err != nil {
			return Message{}, err
		}
		if *f.dst, err = p.field(f.name, f.max); err != nil {
			return Message{}, err
		}
	}
	if d == RFC5424 {
		if err = p.literal("STRUCTURED-DATA", " "); err != nil {
			return Message{}, err
		}
		if m.StructuredData, err = p.structuredData(); err != nil {
			return Message{}, err
		}
	}
	if p.i < len(b) {
		if err = p.literal("MSG", " "); err != nil {
			return Message{}, err
		}
		m.Text = string(b[p.i:])
	} else if d == HTTPSDrain {
		return Message{}, &ParseError{Offset: p.i, Field: "MSG", Reason: "missing: the https-drain dialect always has a message"}
	}
	if d == HTTPSDrain {
		if len(m.Text) == 0 || m.Text[len(m.Text)-1] != '\n' {
			return Message{}, &ParseError{Offset: len(b), Field: "MSG", Reason: "https-drain message must end with a newline"}
		}
		m.Text = m.Text[:len(m.Text)-1]
	}
	return m, nil
}

type parser struct {
	b []byte
	i int
}

func (p *parser) errf(field, format string, args ...any) error {
	return &ParseError{Offset: p.i, Field: field, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) literal(field, want string) error {
	if len(p.b)-p.i < len(want) || string(p.b[p.i:p.i+len(want)]) != want {
		return p.errf(field, "want %q", want)
	}
	p.i += len(want)
	return nil
}

func (p *parser) pri() (int, error) {
	if p.i >= len(p.b) || p.b[p.i] != '<' {
		return 0, p.errf("PRI", "want '<'")
	}
	p.i++
	start, n := p.i, 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' && p.i-start < 3 {
		n = n*10 + int(p.b[p.i]-'0')
		p.i++
	}
	switch {
	case p.i == start:
		return 0, p.errf("PRI", "want 1 to 3 digits")
	case p.i-start > 1 && p.b[start] == '0':
		return 0, &ParseError{Offset: start, Field: "PRI", Reason: "leading zero"}
	case n > 191:
		return 0, &ParseError{Offset: start, Field: "PRI", Reason: fmt.Sprintf("%d is above 191", n)}
	}
	if p.i >= len(p.b) || p.b[p.i] != '>' {
		return 0, p.errf("PRI", "want '>'")
	}
	p.i++
	return n, nil
}

// token returns the bytes up to the next space or the end.
func (p *parser) token() []byte {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] != ' ' {
		p.i++
	}
	return p.b[start:p.i]
}

func (p *parser) field(name string, max int) (string, error) {
	start := p.i
	tok := p.token()
	if len(tok) == 0 {
		return "", &ParseError{Offset: start, Field: name, Reason: "empty, want a value or \"-\""}
	}
	if len(tok) > max {
		return "", &ParseError{Offset: start, Field: name, Reason: fmt.Sprintf("%d bytes, at most %d allowed", len(tok), max)}
	}
	for j, c := range tok {
		if c < 33 || c > 126 {
			return "", &ParseError{Offset: start + j, Field: name, Reason: fmt.Sprintf("byte %q is not printable ASCII", c)}
		}
	}
	if string(tok) == "-" {
		return "", nil
	}
	return string(tok), nil
}

func (p *parser) timestamp() (time.Time, error) {
	start := p.i
	tok := p.token()
	if string(tok) == "-" {
		return time.Time{}, nil
	}
	bad := func(reason string) error {
		return &ParseError{Offset: start, Field: "TIMESTAMP", Reason: fmt.Sprintf("%q: %s", tok, reason)}
	}
	// 2006-01-02T15:04:05[.ffffff](Z|+hh:mm)
	const base = len("2006-01-02T15:04:05")
	if len(tok) < base+1 {
		return time.Time{}, bad("too short for RFC 3339")
	}
	for j, c := range tok[:base] {
		want := "dddd-dd-ddTdd:dd:dd"[j]
		if (want == 'd' && (c < '0' || c > '9')) || (want != 'd' && c != want) {
			return time.Time{}, bad(fmt.Sprintf("byte %d is %q, want RFC 3339 full-date \"T\" full-time", j, c))
		}
	}
	rest := tok[base:]
	if rest[0] == '.' {
		k := 1
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		if k == 1 || k > 7 {
			return time.Time{}, bad("want 1 to 6 fraction digits")
		}
		rest = rest[k:]
	}
	switch {
	case string(rest) == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigits(rest[1:3]) && isDigits(rest[4:6]):
	default:
		return time.Time{}, bad("want \"Z\" or a ±hh:mm offset")
	}
	t, err := time.Parse(time.RFC3339Nano, string(tok))
	if err != nil {
		return time.Time{}, bad(err.Error())
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, bad("outside years 0001 to 9999 in UTC")
	}
	return t.UTC(), nil
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// structuredData reads "-" or one or more SD-ELEMENTs and returns them raw.
func (p *parser) structuredData() (string, error) {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
		if p.i < len(p.b) && p.b[p.i] != ' ' {
			return "", p.errf("STRUCTURED-DATA", "want a space after \"-\"")
		}
		return "", nil
	}
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return "", p.errf("STRUCTURED-DATA", "want \"-\" or '['")
	}
	for p.i < len(p.b) && p.b[p.i] == '[' {
		p.i++
		if err := p.sdName("SD-ID"); err != nil {
			return "", err
		}
		for p.i < len(p.b) && p.b[p.i] == ' ' {
			p.i++
			if err := p.sdName("PARAM-NAME"); err != nil {
				return "", err
			}
			if err := p.literal("PARAM-VALUE", "=\""); err != nil {
				return "", err
			}
			if err := p.paramValue(); err != nil {
				return "", err
			}
		}
		if err := p.literal("SD-ELEMENT", "]"); err != nil {
			return "", err
		}
	}
	if p.i < len(p.b) && p.b[p.i] != ' ' {
		return "", p.errf("STRUCTURED-DATA", "want a space or '[' after ']'")
	}
	return string(p.b[start:p.i]), nil
}

func (p *parser) sdName(field string) error {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' || c == ' ' {
			break
		}
		p.i++
	}
	switch n := p.i - start; {
	case n == 0:
		return p.errf(field, "empty name")
	case n > 32:
		return &ParseError{Offset: start, Field: field, Reason: fmt.Sprintf("%d bytes, at most 32 allowed", n)}
	}
	return nil
}

func (p *parser) paramValue() error {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			p.i = min(p.i+2, len(p.b)) // a final backslash escapes nothing
			continue
		case ']':
			return p.errf("PARAM-VALUE", "unescaped ']'")
		case '"':
			p.i++
			return nil
		}
		p.i++
	}
	return p.errf("PARAM-VALUE", "unterminated, want '\"'")
}
