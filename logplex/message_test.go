package logplex_test

import (
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/dynokit/dynokit/logplex"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name), got, *update)
}

func TestDisplayFormatGolden(t *testing.T) {
	ts := time.Date(2010, 9, 16, 15, 13, 46, 677020000, time.UTC)
	cases := []logplex.Message{
		{Time: ts, App: "demo", Source: "app", Proc: "web.1", Text: "Processing PostController#list (for 208.39.138.12 at 2010-09-16 15:13:46) [GET]"},
		{Time: ts.Add(time.Second), App: "demo", Source: "heroku", Proc: "router", Text: `at=info method=GET path="/posts" host=demo.herokuapp.com fwd="204.204.204.204" dyno=web.1 connect=1ms service=18ms status=200 bytes=975`},
		{Time: ts.In(time.FixedZone("CEST", 2*3600)), App: "demo", Source: "heroku", Proc: "web.1", Text: "State changed from starting to up"},
		{Time: time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC), App: "demo", Source: "app", Proc: "run.1234", Text: ""},
		{Time: ts, App: "demo", Source: "app", Proc: "worker.2", Text: "ünïcödé ✓"},
	}
	var out strings.Builder
	for _, m := range cases {
		out.WriteString(m.String())
		out.WriteByte('\n')
	}
	golden(t, "display.golden", []byte(out.String()))
}

func TestValidate(t *testing.T) {
	ok := logplex.Message{App: "demo", Source: "app", Proc: "web.1"}
	cases := []struct {
		name  string
		edit  func(*logplex.Message)
		field string
	}{
		{"valid", func(*logplex.Message) {}, ""},
		{"empty app", func(m *logplex.Message) { m.App = "" }, "App"},
		{"space in source", func(m *logplex.Message) { m.Source = "my app" }, "Source"},
		{"long source", func(m *logplex.Message) { m.Source = strings.Repeat("s", 49) }, "Source"},
		{"48-byte source", func(m *logplex.Message) { m.Source = strings.Repeat("s", 48) }, ""},
		{"control in proc", func(m *logplex.Message) { m.Proc = "web\x001" }, "Proc"},
		{"non-ASCII proc", func(m *logplex.Message) { m.Proc = "wéb.1" }, "Proc"},
		{"any text", func(m *logplex.Message) { m.Text = "\xff\x00 anything\n" }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := ok
			c.edit(&m)
			err := m.Validate()
			var fe *logplex.FieldError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case c.field != "" && !errors.As(err, &fe):
				t.Fatalf("Validate() = %v, want a *FieldError", err)
			case c.field != "" && fe.Field != c.field:
				t.Fatalf("Validate() field = %s, want %s (%v)", fe.Field, c.field, err)
			}
		})
	}
}

var splitCases = []struct {
	name  string
	text  string
	sizes []int
}{
	{"short", "hello", []int{5}},
	{"exactly max", strings.Repeat("a", 10000), []int{10000}},
	{"one over", strings.Repeat("a", 10001), []int{10000, 1}},
	{"three pieces", strings.Repeat("a", 25000), []int{10000, 10000, 5000}},
	// "é" is 2 bytes: a cut at 10,000 would fall inside it.
	{"rune on boundary", strings.Repeat("a", 9999) + "é" + "b", []int{9999, 3}},
	// "𝄞" is 4 bytes starting at 9,997.
	{"4-byte rune on boundary", strings.Repeat("a", 9997) + "𝄞" + "b", []int{9997, 5}},
	// Invalid bytes are cut where they fall.
	{"invalid bytes", strings.Repeat("\xff", 10002), []int{10000, 2}},
}

func TestSplitText(t *testing.T) {
	for _, c := range splitCases {
		t.Run(c.name, func(t *testing.T) {
			parts := logplex.SplitText(c.text)
			var sizes []int
			for _, p := range parts {
				sizes = append(sizes, len(p))
			}
			if strings.Join(parts, "") != c.text {
				t.Fatal("pieces do not join back")
			}
			if len(sizes) != len(c.sizes) {
				t.Fatalf("sizes %v, want %v", sizes, c.sizes)
			}
			for i := range sizes {
				if sizes[i] != c.sizes[i] {
					t.Fatalf("sizes %v, want %v", sizes, c.sizes)
				}
			}
		})
	}
}

func FuzzSplitText(f *testing.F) {
	for _, c := range splitCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Make long inputs out of short fuzz strings too.
		if len(s) > 0 && len(s) < 200 {
			s = strings.Repeat(s, 10001/len(s)+1)
		}
		parts := logplex.SplitText(s)
		if strings.Join(parts, "") != s {
			t.Fatal("pieces do not join back")
		}
		for i, p := range parts {
			if len(p) > logplex.MaxLineBytes {
				t.Fatalf("piece %d is %d bytes", i, len(p))
			}
			if len(p) == 0 && len(s) > 0 {
				t.Fatalf("empty piece %d", i)
			}
			if utf8.ValidString(s) && !utf8.ValidString(p) {
				t.Fatalf("piece %d of valid UTF-8 is invalid", i)
			}
		}
	})
}

func TestMatchDyno(t *testing.T) {
	cases := []struct {
		filter, proc string
		want         bool
	}{
		{"web", "web.1", true}, {"web", "web.10", true}, {"web", "web", true},
		{"web.1", "web.1", true}, {"web.1", "web.10", false}, {"web", "webby.1", false},
		{"web", "worker.1", false}, {"router", "router", true}, {"run", "run.1234", true},
		{"web.1", "web", false}, {"w", "web.1", false},
	}
	for _, c := range cases {
		if got := logplex.MatchDyno(c.filter, c.proc); got != c.want {
			t.Errorf("MatchDyno(%q, %q) = %v, want %v", c.filter, c.proc, got, c.want)
		}
	}
}
