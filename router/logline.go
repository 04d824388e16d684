package router

import (
	"strconv"
	"time"
)

// LogSink receives one router log line per request, for the app's log stream
// (source "heroku", dyno "router" in Logplex terms). The line has no
// timestamp or prefix; at is when the request was received. line is only
// valid during the call: a sink that keeps it must copy it. RouterLog is
// called on the request path, so it must not block.
//
// A platform wires it to logplex in its own code (router does not import
// logplex), e.g.:
//
//	router.LogSinkFunc(func(app string, at time.Time, line []byte) {
//		_ = sink.Send(ctx, logplex.Message{Time: at, App: app,
//			Source: logplex.SourceHeroku, Proc: "router", Text: string(line)})
//	})
type LogSink interface {
	RouterLog(app string, at time.Time, line []byte)
}

// LogSinkFunc adapts a function to LogSink.
type LogSinkFunc func(app string, at time.Time, line []byte)

// RouterLog implements LogSink.
func (f LogSinkFunc) RouterLog(app string, at time.Time, line []byte) { f(app, at, line) }

var _ LogSink = LogSinkFunc(nil)

// LogEntry holds the fields of one router log line. Durations below zero and
// a Status of zero are written as empty values ("connect="), as Heroku does
// when no dyno was reached.
type LogEntry struct {
	Code      Code   // CodeNone for a plain at=info line
	Cause     string // optional cause="..." for H26 and friends
	Sock      string // "client" or "backend" for H18/H27 lines; "" otherwise
	Method    string
	Path      string // path and query string, as sent by the client
	Host      string
	RequestID string
	Fwd       string // the X-Forwarded-For value sent to the dyno
	Dyno      string // dyno name, "" when none was chosen
	Connect   time.Duration
	Service   time.Duration
	Status    int
	Bytes     int64 // response body bytes sent to the client; <0 = empty
	Protocol  string
}

// AppendLogLine appends e formatted in Heroku's key order (§6.7 of the
// reference): [sock] at [code desc [cause]] method path host request_id fwd
// dyno connect service status bytes protocol.
func AppendLogLine(dst []byte, e *LogEntry) []byte {
	if e.Sock != "" {
		dst = append(dst, "sock="...)
		dst = appendBare(dst, e.Sock)
		dst = append(dst, ' ')
	}
	dst = append(dst, "at="...)
	dst = append(dst, e.Code.Level()...)
	if e.Code != CodeNone {
		dst = append(dst, " code="...)
		dst = append(dst, e.Code.String()...)
		dst = append(dst, " desc="...)
		dst = appendQuoted(dst, e.Code.Desc())
		if e.Cause != "" {
			dst = append(dst, " cause="...)
			dst = appendQuoted(dst, e.Cause)
		}
	}
	dst = append(dst, " method="...)
	dst = appendBare(dst, e.Method)
	dst = append(dst, " path="...)
	dst = appendQuoted(dst, e.Path)
	dst = append(dst, " host="...)
	dst = appendBare(dst, e.Host)
	dst = append(dst, " request_id="...)
	dst = appendBare(dst, e.RequestID)
	dst = append(dst, " fwd="...)
	dst = appendQuoted(dst, e.Fwd)
	dst = append(dst, " dyno="...)
	dst = appendBare(dst, e.Dyno)
	dst = append(dst, " connect="...)
	dst = appendMillis(dst, e.Connect)
	dst = append(dst, " service="...)
	dst = appendMillis(dst, e.Service)
	dst = append(dst, " status="...)
	if e.Status > 0 {
		dst = strconv.AppendInt(dst, int64(e.Status), 10)
	}
	dst = append(dst, " bytes="...)
	if e.Bytes >= 0 {
		dst = strconv.AppendInt(dst, e.Bytes, 10)
	}
	dst = append(dst, " protocol="...)
	dst = appendBare(dst, e.Protocol)
	return dst
}

func appendMillis(dst []byte, d time.Duration) []byte {
	if d < 0 {
		return dst
	}
	dst = strconv.AppendInt(dst, d.Milliseconds(), 10)
	return append(dst, "ms"...)
}

// appendBare writes an unquoted value; bytes that would break the key=value
// grammar (space, quote, controls) become '?', since these fields never
// legitimately contain them.
func appendBare(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '"' || c == 0x7f {
			c = '?'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendQuoted writes s in double quotes, escaping quote, backslash and
// control bytes so a hostile path cannot forge extra keys.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < ' ' || c == 0x7f:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
