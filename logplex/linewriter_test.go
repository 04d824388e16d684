package logplex_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/logplextest"
)

// texts are the texts of ms, in order.
func texts(ms []logplex.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

var lineWriterCases = []struct {
	name   string
	writes []string
	want   []string
}{
	{"one line", []string{"hello\n"}, []string{"hello"}},
	{"two lines one write", []string{"a\nb\n"}, []string{"a", "b"}},
	{"partial across writes", []string{"hel", "lo\nwor", "ld\n"}, []string{"hello", "world"}},
	{"CRLF", []string{"a\r\nb\r\n"}, []string{"a", "b"}},
	{"CR split from LF", []string{"a\r", "\nb\n"}, []string{"a", "b"}},
	{"lone CR kept", []string{"a\rb\n"}, []string{"a\rb"}},
	{"empty lines", []string{"\n\n"}, []string{"", ""}},
	{"final partial flushed on close", []string{"a\nlast"}, []string{"a", "last"}},
	{"final partial CR dropped", []string{"last\r"}, []string{"last"}},
	{"invalid UTF-8 kept", []string{"\xff\xfe ok\n"}, []string{"\xff\xfe ok"}},
	{"huge line split", []string{strings.Repeat("x", 25000) + "\n"}, []string{strings.Repeat("x", 10000), strings.Repeat("x", 10000), strings.Repeat("x", 5000)}},
	{"huge line across writes", []string{strings.Repeat("x", 7000), strings.Repeat("x", 7000), "\n"}, []string{strings.Repeat("x", 10000), strings.Repeat("x", 4000)}},
	{"huge line ending in CRLF", []string{strings.Repeat("x", 10000) + "\r", "\n"}, []string{strings.Repeat("x", 10000)}},
}

func TestLineWriter(t *testing.T) {
	for _, c := range lineWriterCases {
		t.Run(c.name, func(t *testing.T) {
			var got logplextest.Recorder
			w := logplex.NewLineWriter(&got, logplex.Message{App: "demo", Source: "app", Proc: "web.1"})
			for _, s := range c.writes {
				n, err := w.Write([]byte(s))
				if err != nil || n != len(s) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if g := texts(got.Messages()); strings.Join(g, "|") != strings.Join(c.want, "|") || len(g) != len(c.want) {
				t.Errorf("lines (%d) %q, want (%d) %q", len(g), short(g), len(c.want), short(c.want))
			}
			for _, m := range got.Messages() {
				if m.Time.IsZero() || m.App != "demo" || m.Proc != "web.1" {
					t.Errorf("message fields not from template: %+v", m)
				}
			}
		})
	}
}

func short(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		if len(s) > 20 {
			s = s[:10] + "…" + s[len(s)-5:]
		}
		out[i] = s
	}
	return out
}

func TestLineWriterAfterClose(t *testing.T) {
	w := logplex.NewLineWriter(&logplextest.Recorder{}, logplex.Message{App: "demo", Source: "app", Proc: "web.1"})
	w.Close()
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, logplex.ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestLineWriterBadTemplate(t *testing.T) {
	w := logplex.NewLineWriter(&logplextest.Recorder{}, logplex.Message{App: "demo", Source: "app", Proc: "web 1"})
	var fe *logplex.FieldError
	if _, err := w.Write([]byte("x\n")); !errors.As(err, &fe) || fe.Field != "Proc" {
		t.Fatalf("Write with a bad template = %v, want a FieldError on Proc", err)
	}
}

// Whatever the chunking, the lines are those of the whole input.
func FuzzLineWriter(f *testing.F) {
	for _, c := range lineWriterCases {
		f.Add(strings.Join(c.writes, ""), uint8(7))
	}
	f.Fuzz(func(t *testing.T, input string, chunk uint8) {
		var got logplextest.Recorder
		w := logplex.NewLineWriter(&got, logplex.Message{App: "demo", Source: "app", Proc: "web.1"})
		step := int(chunk%64) + 1
		for i := 0; i < len(input); i += step {
			w.Write([]byte(input[i:min(i+step, len(input))]))
		}
		w.Close()
		var want []string
		rest := input
		for rest != "" {
			line, after, found := strings.Cut(rest, "\n")
			line = strings.TrimSuffix(line, "\r")
			want = append(want, logplex.SplitText(line)...)
			if !found {
				break
			}
			rest = after
		}
		// Pieces of a long line may be cut at a different rune boundary
		// when it arrives in chunks; compare the joined text per line.
		if strings.Join(texts(got.Messages()), "") != strings.Join(want, "") {
			t.Fatalf("lines differ:\n got %q\nwant %q", texts(got.Messages()), want)
		}
		for _, s := range texts(got.Messages()) {
			if len(s) > logplex.MaxLineBytes {
				t.Fatalf("line of %d bytes", len(s))
			}
		}
	})
}

func TestHandlerSlogtest(t *testing.T) {
	var got logplextest.Recorder
	slogtest.Run(t, func(*testing.T) slog.Handler {
		got = logplextest.Recorder{}
		return logplex.NewHandler(&got, logplex.Message{App: "demo", Source: "heroku", Proc: "api"}, nil)
	}, func(t *testing.T) map[string]any {
		if len(got.Messages()) != 1 {
			t.Fatalf("%d messages, want 1", len(got.Messages()))
		}
		return parseLogfmt(t, got.Messages()[0])
	})
}

// parseLogfmt reads a Handler line back into slogtest's map shape.
func parseLogfmt(t *testing.T, m logplex.Message) map[string]any {
	out := map[string]any{}
	if !m.Time.IsZero() {
		out[slog.TimeKey] = m.Time
	}
	s := m.Text
	for s != "" {
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			t.Fatalf("bad logfmt %q", m.Text)
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			val = rest[1:end]
			rest = strings.TrimPrefix(rest[end+1:], " ")
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		switch key {
		case "at":
			out[slog.LevelKey] = val
		default:
			dst := out
			parts := strings.Split(key, ".")
			for _, p := range parts[:len(parts)-1] {
				sub, _ := dst[p].(map[string]any)
				if sub == nil {
					sub = map[string]any{}
					dst[p] = sub
				}
				dst = sub
			}
			dst[parts[len(parts)-1]] = val
		}
		s = rest
	}
	return out
}

func TestHandlerRoutesByAttributes(t *testing.T) {
	b := &logplex.Buffer{}
	log := slog.New(logplex.NewHandler(b, logplex.Message{Source: "heroku", Proc: "router"}, nil))
	ts := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	r := slog.NewRecord(ts, slog.LevelInfo, "", 0)
	r.AddAttrs(slog.String("app", "demo"), slog.String("method", "GET"), slog.String("path", "/a b"), slog.Int("status", 200))
	if err := log.Handler().Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	log.With("app", "other", "dyno", "web.2").Warn("State changed from up to crashed", "code", 137)
	if err := log.Handler().Handle(context.Background(), slog.NewRecord(ts, slog.LevelInfo, "no app", 0)); err == nil {
		t.Error("a record without an app was accepted")
	}
	var out bytes.Buffer
	for _, app := range []string{"demo", "other"} {
		for m := range b.Tail(context.Background(), app, logplex.TailOptions{Lines: 10}) {
			m.Time = ts
			out.WriteString(m.String() + "\n")
		}
	}
	want := `2026-11-21T00:00:00.000000+00:00 heroku[router]: at=info method=GET path="/a b" status=200
2026-11-21T00:00:00.000000+00:00 heroku[web.2]: at=warn msg="State changed from up to crashed" code=137
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestHandlerLevel(t *testing.T) {
	h := logplex.NewHandler(&logplextest.Recorder{}, logplex.Message{}, &logplex.HandlerOptions{Level: slog.LevelWarn})
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Error("Level not honoured")
	}
}
