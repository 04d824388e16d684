package syslog_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/syslog"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var parseCases = []struct {
	name    string
	in      string
	dialect syslog.Dialect
	want    syslog.Message
	field   string // non-empty: want a *ParseError on this field
}{
	{name: "logplex input (heroku.md 7.4)", in: "<134>1 2012-12-10T03:00:48.123456Z erlang t.feff49f1-4d55-4c9e-aee1-2d2b10e69b42 console.1 - - message",
		want: syslog.Message{Priority: 134, Time: time.Date(2012, 12, 10, 3, 0, 48, 123456000, time.UTC), Hostname: "erlang", AppName: "t.feff49f1-4d55-4c9e-aee1-2d2b10e69b42", ProcID: "console.1", Text: "message"}},
	{name: "drain line", in: "<190>1 2010-09-16T15:13:46.677020+00:00 d.1234 app web.1 - - Processing [GET]",
		want: syslog.Message{Priority: 190, Time: time.Date(2010, 9, 16, 15, 13, 46, 677020000, time.UTC), Hostname: "d.1234", AppName: "app", ProcID: "web.1", Text: "Processing [GET]"}},
	{name: "offset converted to UTC", in: "<14>1 2026-11-21T02:00:00.5+02:00 h a p - - x",
		want: syslog.Message{Priority: 14, Time: time.Date(2026, 11, 21, 0, 0, 0, 500000000, time.UTC), Hostname: "h", AppName: "a", ProcID: "p", Text: "x"}},
	{name: "RFC 5424 example with SD", in: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event`,
		want: syslog.Message{Priority: 165, Time: time.Date(2003, 10, 11, 22, 14, 15, 3000000, time.UTC), Hostname: "mymachine.example.com", AppName: "evntslog", MsgID: "ID47", StructuredData: `[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`, Text: "An application event"}},
	{name: "escaped SD value", in: `<0>1 - - - - - [x@1 a="q\"b\]c\\"]`,
		want: syslog.Message{StructuredData: `[x@1 a="q\"b\]c\\"]`}},
	{name: "all nil, no msg", in: "<0>1 - - - - - -", want: syslog.Message{}},
	{name: "empty msg after space", in: "<0>1 - - - - - - ", want: syslog.Message{}},
	{name: "msg keeps bytes", in: "<0>1 - - - - - - \xff\x00 \n tail", want: syslog.Message{Text: "\xff\x00 \n tail"}},
	{name: "https drain dialect (heroku.md 7.5)", in: "<40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up\n", dialect: syslog.HTTPSDrain,
		want: syslog.Message{Priority: 40, Time: time.Date(2012, 11, 30, 6, 45, 29, 0, time.UTC), Hostname: "host", AppName: "app", ProcID: "web.3", Text: "State changed from starting to up"}},

	{name: "no PRI", in: "134>1 - - - - - -", field: "PRI"},
	{name: "PRI too big", in: "<192>1 - - - - - -", field: "PRI"},
	{name: "PRI leading zero", in: "<01>1 - - - - - -", field: "PRI"},
	{name: "PRI four digits", in: "<1000>1 - - - - - -", field: "PRI"},
	{name: "version 2", in: "<1>2 - - - - - -", field: "VERSION"},
	{name: "BSD timestamp", in: "<1>1 Oct 11 22:14:15 h a p - - x", field: "TIMESTAMP"},
	{name: "seven fraction digits", in: "<1>1 2003-10-11T22:14:15.0000003Z h a p - - x", field: "TIMESTAMP"},
	{name: "no zone", in: "<1>1 2003-10-11T22:14:15 h a p - - x", field: "TIMESTAMP"},
	{name: "month 13", in: "<1>1 2003-13-11T22:14:15Z h a p - - x", field: "TIMESTAMP"},
	{name: "app name too long", in: "<1>1 - h " + strings.Repeat("a", 49) + " p - - x", field: "APP-NAME"},
	{name: "double space", in: "<1>1 - h  a p - - x", field: "APP-NAME"},
	{name: "non-ASCII hostname", in: "<1>1 - hé a p - - x", field: "HOSTNAME"},
	{name: "missing SD", in: "<1>1 - h a p -", field: "STRUCTURED-DATA"},
	{name: "SD not bracketed", in: "<1>1 - h a p - x msg", field: "STRUCTURED-DATA"},
	{name: "SD unterminated", in: `<1>1 - h a p - [x a="b`, field: "PARAM-VALUE"},
	{name: "SD value ends in a backslash", in: `<1>1 - h a p - [x a="b\`, field: "PARAM-VALUE"},
	{name: "SD unescaped bracket", in: `<1>1 - h a p - [x a="]"] m`, field: "PARAM-VALUE"},
	{name: "SD dash glued", in: "<1>1 - h a p - -x", field: "STRUCTURED-DATA"},
	{name: "https drain without newline", in: "<40>1 - host app web.3 - text", dialect: syslog.HTTPSDrain, field: "MSG"},
}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := syslog.ParseDialect([]byte(c.in), c.dialect)
			if c.field != "" {
				var pe *syslog.ParseError
				if !errors.As(err, &pe) || pe.Field != c.field {
					t.Fatalf("ParseDialect(%q) = %+v, %v; want a *ParseError on %s", c.in, got, err, c.field)
				}
				if pe.Offset < 0 || pe.Offset > len(c.in) {
					t.Errorf("error offset %d outside the %d-byte input", pe.Offset, len(c.in))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDialect(%q): %v", c.in, err)
			}
			if !got.Time.Equal(c.want.Time) || got.Time.Location() != time.UTC && !got.Time.IsZero() {
				t.Errorf("Time = %v, want %v (UTC)", got.Time, c.want.Time)
			}
			got.Time, c.want.Time = time.Time{}, time.Time{}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestMarshalGolden(t *testing.T) {
	ts := time.Date(2010, 9, 16, 15, 13, 46, 677020000, time.UTC)
	lines := []logplex.Message{
		{Time: ts, App: "demo", Source: "app", Proc: "web.1", Text: "Processing PostController#list [GET]"},
		{Time: ts, App: "demo", Source: "heroku", Proc: "router", Text: `at=info method=GET path="/" status=200`},
		{Time: ts, App: "demo", Source: "heroku", Proc: "logplex", Text: "Error L10 (output buffer overflow): 3 messages dropped since 2010-09-16T15:13:40.000000+00:00."},
		{Time: ts, App: "demo", Source: "app", Proc: "run.1234", Text: ""},
	}
	var out bytes.Buffer
	for _, d := range []syslog.Dialect{syslog.RFC5424, syslog.HTTPSDrain} {
		out.WriteString("# " + d.String() + "\n")
		for _, m := range lines {
			token := "d.0d9e2c5a-7f6b-4f3e-9a51-1c2b3d4e5f60"
			if d == syslog.HTTPSDrain {
				token = "host"
			}
			out.Write(syslog.AppendFrame(nil, syslog.FromLogplex(m, token).Append(nil, d)))
			out.WriteString("\n")
		}
	}
	testutil.Golden(t, filepath.Join("testdata", "marshal.golden"), out.Bytes(), *update)
}

func TestRoundTripLogplex(t *testing.T) {
	m := logplex.Message{Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), App: "demo", Source: "heroku", Proc: "router", Text: "x y"}
	for _, d := range []syslog.Dialect{syslog.RFC5424, syslog.HTTPSDrain} {
		sm, err := syslog.ParseDialect(syslog.FromLogplex(m, "d.tok").Append(nil, d), d)
		if err != nil {
			t.Fatal(err)
		}
		if got := sm.Logplex("demo"); got != m || sm.Hostname != "d.tok" || sm.Priority != syslog.PriorityPlatform {
			t.Errorf("%v: got %+v (%+v)", d, got, sm)
		}
	}
}

var splitCases = []struct {
	name   string
	in     string
	frames []string
	err    bool
}{
	{"two frames", "5 hello3 abc", []string{"hello", "abc"}, false},
	{"frame with spaces and newline", "11 hello\nworld", []string{"hello\nworld"}, false},
	{"empty", "", nil, false},
	{"truncated message", "10 hello", nil, true},
	{"truncated length", "12", nil, true},
	{"no length", "hello", nil, true},
	{"leading zero", "05 hello", nil, true},
	{"no space", "5hello", nil, true},
	{"too long", "99999999 x", nil, true},
	{"zero length", "0 ", nil, true},
}

func TestSplit(t *testing.T) {
	for _, c := range splitCases {
		t.Run(c.name, func(t *testing.T) {
			sc := bufio.NewScanner(strings.NewReader(c.in))
			sc.Split(syslog.Split)
			sc.Buffer(nil, syslog.DefaultMaxFrame+16)
			var got []string
			for sc.Scan() {
				got = append(got, sc.Text())
			}
			var fe *syslog.FrameError
			if c.err != errors.As(sc.Err(), &fe) {
				t.Fatalf("err = %v, want error: %v", sc.Err(), c.err)
			}
			if strings.Join(got, "|") != strings.Join(c.frames, "|") {
				t.Errorf("frames %q, want %q", got, c.frames)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.in, c.dialect == syslog.HTTPSDrain)
	}
	f.Fuzz(func(t *testing.T, in string, https bool) {
		d := syslog.RFC5424
		if https {
			d = syslog.HTTPSDrain
		}
		m, err := syslog.ParseDialect([]byte(in), d)
		if err != nil {
			var pe *syslog.ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(in) {
				t.Fatalf("error %v is not a *ParseError within the input", err)
			}
			return
		}
		out := m.Append(nil, d)
		m2, err := syslog.ParseDialect(out, d)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if !m.Time.Equal(m2.Time) {
			t.Fatalf("time %v != %v", m.Time, m2.Time)
		}
		m.Time, m2.Time = time.Time{}, time.Time{}
		if m != m2 {
			t.Fatalf("round trip:\n%+v\n%+v", m, m2)
		}
	})
}

func FuzzSplit(f *testing.F) {
	for _, c := range splitCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		sc := bufio.NewScanner(bytes.NewReader(in))
		sc.Split(syslog.SplitMax(1024))
		sc.Buffer(nil, 1024+16)
		var reframed []byte
		for sc.Scan() {
			if len(sc.Bytes()) > 1024 {
				t.Fatalf("frame of %d bytes over the limit", len(sc.Bytes()))
			}
			reframed = syslog.AppendFrame(reframed, sc.Bytes())
		}
		// What was split off re-frames into exactly the consumed prefix.
		if !bytes.HasPrefix(in, reframed) {
			t.Fatalf("re-framed %q is not a prefix of %q", reframed, in)
		}
		if sc.Err() == nil && len(reframed) != len(in) {
			t.Fatalf("no error but only %d of %d bytes consumed", len(reframed), len(in))
		}
	})
}

func FuzzParseBatch(f *testing.F) {
	for _, c := range parseCases {
		f.Add(string(syslog.AppendFrame(nil, []byte(c.in))), c.dialect == syslog.HTTPSDrain)
	}
	f.Add(string(frames("<0>1 - - - - - - a", "<0>1 - - - - - - b")), false)
	f.Fuzz(func(t *testing.T, body string, https bool) {
		d := syslog.RFC5424
		if https {
			d = syslog.HTTPSDrain
		}
		msgs, err := syslog.ParseBatch([]byte(body), d)
		if err != nil {
			var be *syslog.BatchError
			if !errors.As(err, &be) || be.Frame < 0 {
				t.Fatalf("error %v is not a *BatchError", err)
			}
			return
		}
		var again []byte
		for _, m := range msgs {
			again = syslog.AppendFrame(again, m.Append(nil, d))
		}
		msgs2, err := syslog.ParseBatch(again, d)
		if err != nil || len(msgs2) != len(msgs) {
			t.Fatalf("re-encoded batch: %d messages, %v; want %d", len(msgs2), err, len(msgs))
		}
		for i := range msgs {
			if !msgs[i].Time.Equal(msgs2[i].Time) {
				t.Fatalf("message %d time changed", i)
			}
			msgs[i].Time, msgs2[i].Time = time.Time{}, time.Time{}
			if msgs[i] != msgs2[i] {
				t.Fatalf("message %d changed:\n%+v\n%+v", i, msgs[i], msgs2[i])
			}
		}
	})
}
