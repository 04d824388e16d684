package procfile

import (
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// refRegex is Heroku's line regex with Ruby's character classes spelled out
// for Go's regexp: [[:space:]] is Unicode White_Space, \s is ASCII only.
var refRegex = regexp.MustCompile(`^[\t\n\v\f\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*` +
	`([a-zA-Z0-9_-]+):?[\t\n\v\f\r ]+(.*)[\t\n\v\f\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*`)

// referenceParse is the slug compiler's algorithm written the slow, obvious
// way: normalise line breaks, collapse trailing newlines, split, match each
// line, keep an insertion-ordered map.
func referenceParse(src string) []Entry {
	src = refCR.ReplaceAllString(src, "\n")
	src = refTrailingNL.ReplaceAllString(src, "\n")
	var out []Entry
	for _, l := range strings.Split(src, "\n") {
		m := refRegex.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if i := slices.IndexFunc(out, func(e Entry) bool { return e.Type == m[1] }); i >= 0 {
			out[i].Command = m[2]
			continue
		}
		out = append(out, Entry{Type: m[1], Command: m[2]})
	}
	return out
}

var (
	refCR         = regexp.MustCompile(`\r\n?`)
	refTrailingNL = regexp.MustCompile(`\n*\z`)
)

type diag struct {
	line int
	rule Rule
	sev  Severity
}

var parseTests = []struct {
	name  string
	in    string
	want  []Entry
	diags []diag
}{
	{name: "empty", in: "", diags: []diag{{0, RuleEmptyFile, SeverityWarning}}},
	{name: "simple", in: "web: bundle exec puma\nworker: rake jobs:work\n",
		want: []Entry{{"web", "bundle exec puma"}, {"worker", "rake jobs:work"}}},
	{name: "no trailing newline", in: "web: node server.js", want: []Entry{{"web", "node server.js"}}},
	{name: "crlf", in: "web: a\r\nworker: b\r\n", want: []Entry{{"web", "a"}, {"worker", "b"}}},
	{name: "lone cr", in: "web: a\rworker: b\r", want: []Entry{{"web", "a"}, {"worker", "b"}}},
	{name: "cr at end of file", in: "web: a\r", want: []Entry{{"web", "a"}}},
	{name: "mixed breaks", in: "web: a\r\r\nworker: b\n\rclock: c", want: []Entry{{"web", "a"}, {"worker", "b"}, {"clock", "c"}}},
	{name: "no colon", in: "web node server.js\n", want: []Entry{{"web", "node server.js"}},
		diags: []diag{{1, RuleNoColon, SeverityWarning}}},
	{name: "no space after colon", in: "web:cmd\n",
		diags: []diag{{1, RuleNoSpace, SeverityError}, {0, RuleEmptyFile, SeverityWarning}}},
	{name: "many spaces eaten", in: "web: \t  cmd  \n", want: []Entry{{"web", "cmd  "}}},
	{name: "trailing whitespace only", in: "web: \n", want: []Entry{{"web", ""}},
		diags: []diag{{1, RuleEmptyCommand, SeverityError}}},
	{name: "bare colon", in: "web:\nworker: w\n", want: []Entry{{"worker", "w"}},
		diags: []diag{{1, RuleMissingCommand, SeverityError}}},
	{name: "bare name", in: "web\n", diags: []diag{{1, RuleMissingCommand, SeverityError}, {0, RuleEmptyFile, SeverityWarning}}},
	{name: "leading whitespace", in: "  \tweb: a\n", want: []Entry{{"web", "a"}},
		diags: []diag{{1, RuleLeadingSpace, SeverityWarning}}},
	{name: "unicode leading whitespace", in: "\u00a0\u3000web: a\n", want: []Entry{{"web", "a"}},
		diags: []diag{{1, RuleLeadingSpace, SeverityWarning}}},
	{name: "nbsp separator is not \\s", in: "web:\u00a0a\nworker \u00a0b\n", want: []Entry{{"worker", "\u00a0b"}},
		diags: []diag{{1, RuleNoSpace, SeverityError}, {2, RuleNoColon, SeverityWarning}}},
	{name: "vertical tab and form feed are \\s", in: "web:\v\fa\n", want: []Entry{{"web", "a"}}},
	{name: "comments and blanks", in: "# comment\n\n   \n  # indented\nweb: a # not a comment\n", want: []Entry{{"web", "a # not a comment"}}},
	{name: "garbage", in: "&&&&&\nweb: a\n", want: []Entry{{"web", "a"}},
		diags: []diag{{1, RuleIgnoredLine, SeverityError}}},
	{name: "missing name", in: ": rails s\n", diags: []diag{{1, RuleMissingName, SeverityError}, {0, RuleEmptyFile, SeverityWarning}}},
	{name: "invalid name", in: "my.worker: x\nwörker: y\n",
		diags: []diag{{1, RuleInvalidName, SeverityError}, {2, RuleInvalidName, SeverityError}, {0, RuleEmptyFile, SeverityWarning}}},
	{name: "space in name becomes command", in: "my worker: x\n", want: []Entry{{"my", "worker: x"}},
		diags: []diag{{1, RuleNoColon, SeverityWarning}}},
	{name: "duplicate last wins first fixes order", in: "web: a\nworker: b\nweb: c\n", want: []Entry{{"web", "c"}, {"worker", "b"}},
		diags: []diag{{3, RuleDuplicateType, SeverityWarning}}},
	{name: "upper case and underscore", in: "Web_1: a\n", want: []Entry{{"Web_1", "a"}},
		diags: []diag{{1, RuleNotDNSLabel, SeverityWarning}}},
	{name: "dash at ends", in: "-web-: a\n", want: []Entry{{"-web-", "a"}},
		diags: []diag{{1, RuleNotDNSLabel, SeverityWarning}}},
	{name: "64 characters", in: strings.Repeat("a", 64) + ": x\n", want: []Entry{{strings.Repeat("a", 64), "x"}},
		diags: []diag{{1, RuleNotDNSLabel, SeverityWarning}}},
	{name: "129 characters", in: strings.Repeat("a", 129) + ": x\n", want: []Entry{{strings.Repeat("a", 129), "x"}},
		diags: []diag{{1, RuleNameTooLong, SeverityError}}},
	{name: "run is reserved", in: "run: x\n", want: []Entry{{"run", "x"}}, diags: []diag{{1, RuleReservedName, SeverityWarning}}},
	{name: "bom hides first line", in: "\uFEFFweb: a\nworker: b\n", want: []Entry{{"worker", "b"}},
		diags: []diag{{1, RuleBOM, SeverityError}}},
	{name: "bom before comment", in: "\uFEFF# c\nworker: b\n", want: []Entry{{"worker", "b"}},
		diags: []diag{{1, RuleBOM, SeverityWarning}}},
	{name: "bom then garbage", in: "\uFEFF&&&\nweb: a\n", want: []Entry{{"web", "a"}},
		diags: []diag{{1, RuleBOM, SeverityWarning}, {1, RuleIgnoredLine, SeverityError}}},
	{name: "bom on a later line", in: "web: a\n\uFEFFworker: b\n", want: []Entry{{"web", "a"}},
		diags: []diag{{2, RuleBOM, SeverityError}}},
	{name: "invalid utf8 kept", in: "web: echo \xff\xfe\n", want: []Entry{{"web", "echo \xff\xfe"}},
		diags: []diag{{1, RuleInvalidUTF8, SeverityError}}},
	{name: "colon in command", in: "web: a: b: c\n", want: []Entry{{"web", "a: b: c"}}},
	{name: "double colon", in: "web:: a\n", diags: []diag{{1, RuleNoSpace, SeverityError}, {0, RuleEmptyFile, SeverityWarning}}},
	{name: "release and web", in: "release: ./migrate\nweb: ./serve\n", want: []Entry{{"release", "./migrate"}, {"web", "./serve"}}},
	{name: "line numbers count crlf once", in: "web: a\r\n\r\nbad\r\n", want: []Entry{{"web", "a"}},
		diags: []diag{{3, RuleMissingCommand, SeverityError}}},
	{name: "nul bytes are command text", in: "web: a\x00b\n", want: []Entry{{"web", "a\x00b"}}},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !slices.Equal(p.Entries, tt.want) {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, p.Entries, tt.want)
			}
			if ref := referenceParse(tt.in); !slices.Equal(ref, tt.want) {
				t.Errorf("reference regex gives %q, want %q: the table is wrong", ref, tt.want)
			}
		})
	}
}

func TestParseStrict(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseStrict(strings.NewReader(tt.in))
			if p == nil {
				t.Fatalf("ParseStrict returned nil Procfile, err %v", err)
			}
			if !slices.Equal(p.Entries, tt.want) {
				t.Errorf("entries = %q, want %q", p.Entries, tt.want)
			}
			var got []diag
			var errs Errors
			if err != nil {
				if !errors.As(err, &errs) {
					t.Fatalf("error %v (%T) is not Errors", err, err)
				}
				for _, e := range errs {
					got = append(got, diag{e.Line, e.Rule, e.Severity})
					if e.Msg == "" {
						t.Errorf("diagnostic %v has no message", e)
					}
				}
			}
			if !slices.Equal(got, tt.diags) {
				t.Errorf("diagnostics = %v, want %v\nerror: %v", got, tt.diags, err)
			}
			for _, d := range tt.diags {
				if !errors.Is(err, d.rule) {
					t.Errorf("errors.Is(err, %s) = false", d.rule)
				}
			}
			var se *SyntaxError
			if len(tt.diags) > 0 && (!errors.As(err, &se) || se.Line != tt.diags[0].line) {
				t.Errorf("errors.As(*SyntaxError) = %v", se)
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	big := strings.Repeat("x", MaxSize+1)
	for name, parse := range map[string]func(io.Reader) (*Procfile, error){"Parse": Parse, "ParseStrict": ParseStrict} {
		if _, err := parse(strings.NewReader(big)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s(%d bytes) error = %v, want ErrTooLarge", name, len(big), err)
		}
		if _, err := parse(strings.NewReader(big[:MaxSize])); err == nil || errors.Is(err, ErrTooLarge) {
			// A MaxSize file of 'x' is one ignored line: strict mode
			// reports it, but it is not too large.
			if errors.Is(err, ErrTooLarge) {
				t.Errorf("%s(%d bytes) = ErrTooLarge, want accepted", name, MaxSize)
			}
		}
	}
	if _, err := ParseString(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ParseString error = %v, want ErrTooLarge", err)
	}
	// The limit also holds for readers that do not say their length.
	if _, err := Parse(io.MultiReader(strings.NewReader(big[:10]), strings.NewReader(big[10:]))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse(MultiReader) error = %v, want ErrTooLarge", err)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	p, err := ParseStrict(iotest.ErrReader(boom))
	if !errors.Is(err, boom) || p != nil {
		t.Errorf("ParseStrict(failing reader) = %v, %v; want nil, wrapped boom", p, err)
	}
	if _, err := Parse(iotest.TimeoutReader(strings.NewReader("web: a\n"))); err != nil {
		// TimeoutReader fails the second read; a one-line file is read
		// in one go only when the reader cooperates, so just make sure the
		// error is wrapped, not swallowed.
		if !strings.HasPrefix(err.Error(), "procfile: read:") {
			t.Errorf("error %q not prefixed", err)
		}
	}
}

func TestCommandAndTypes(t *testing.T) {
	p, _ := ParseString("web: a\nworker: b\n")
	if c, ok := p.Command("worker"); !ok || c != "b" {
		t.Errorf("Command(worker) = %q, %v", c, ok)
	}
	if _, ok := p.Command("clock"); ok {
		t.Error("Command(clock) found")
	}
	if got := p.Types(); !slices.Equal(got, []string{"web", "worker"}) {
		t.Errorf("Types = %q", got)
	}
	if m := p.Map(); len(m) != 2 || m["web"] != "a" {
		t.Errorf("Map = %v", m)
	}
	var nilP *Procfile
	if _, ok := nilP.Command("web"); ok || nilP.Types() != nil || len(nilP.Map()) != 0 {
		t.Error("nil Procfile is not empty")
	}
	// Hand-built duplicates: the last wins, like the parser.
	dup := &Procfile{Entries: []Entry{{"web", "a"}, {"web", "b"}}}
	if c, _ := dup.Command("web"); c != "b" {
		t.Errorf("Command on duplicates = %q, want b", c)
	}
}

func TestMerge(t *testing.T) {
	p, _ := ParseString("worker: w\nweb: mine\n")
	defaults := map[string]string{"web": "bin/node server.js", "release": "bin/migrate", "clock": "bin/clock"}
	got := Merge(p, defaults)
	want := []Entry{{"worker", "w"}, {"web", "mine"}, {"clock", "bin/clock"}, {"release", "bin/migrate"}}
	if !slices.Equal(got.Entries, want) {
		t.Errorf("Merge = %q, want %q", got.Entries, want)
	}
	if len(p.Entries) != 2 {
		t.Errorf("Merge modified its input: %q", p.Entries)
	}
	if got := Merge(nil, map[string]string{"web": "x"}); !slices.Equal(got.Entries, []Entry{{"web", "x"}}) {
		t.Errorf("Merge(nil) = %q", got.Entries)
	}
	if got := Merge(p, nil); !slices.Equal(got.Entries, p.Entries) {
		t.Errorf("Merge(p, nil) = %q", got.Entries)
	}
}

func TestOneOffCommand(t *testing.T) {
	p, _ := ParseString("myworker: python dowork.py\nweb: bundle exec puma -p $PORT\n")
	tests := []struct{ in, want string }{
		{"myworker 42", "python dowork.py 42"},
		{"myworker", "python dowork.py"},
		{"myworker   ", "python dowork.py"},
		{"  myworker\t42  43", "python dowork.py\t42  43"},
		{"web", "bundle exec puma -p $PORT"},
		{"bash", "bash"},
		{"rails console", "rails console"},
		{"myworkers 1", "myworkers 1"},
		{"", ""},
		{"   ", "   "},
	}
	for _, tt := range tests {
		if got := p.OneOffCommand(tt.in); got != tt.want {
			t.Errorf("OneOffCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var nilP *Procfile
	if got := nilP.OneOffCommand("web 1"); got != "web 1" {
		t.Errorf("nil OneOffCommand = %q", got)
	}
}

func TestValidateName(t *testing.T) {
	valid := []string{"web", "release", "run", "worker_2", "Clock", "-", "a", strings.Repeat("x", 128)}
	for _, n := range valid {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v", n, err)
		}
	}
	invalid := []string{"", "my.worker", "web ", "wörker", "a:b", strings.Repeat("x", 129)}
	for _, n := range invalid {
		err := ValidateName(n)
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", n, err)
		}
	}
	// Every name ValidateName accepts is one the parser reads back.
	for _, n := range valid {
		p, _ := ParseString(n + ": x\n")
		if c, ok := p.Command(n); !ok || c != "x" {
			t.Errorf("parser does not accept valid name %q", n)
		}
	}
}

func TestFormat(t *testing.T) {
	p := &Procfile{Entries: []Entry{{"web", "puma  "}, {"worker", ""}, {"clock", "\u00a0x"}}}
	b, err := Format(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "web: puma  \nworker: \nclock: \u00a0x\n"; string(b) != want {
		t.Errorf("Format = %q, want %q", b, want)
	}
	back, _ := ParseString(string(b))
	if !slices.Equal(back.Entries, p.Entries) {
		t.Errorf("round trip = %q, want %q", back.Entries, p.Entries)
	}
	if b, err := Format(&Procfile{}); err != nil || len(b) != 0 {
		t.Errorf("Format(empty) = %q, %v", b, err)
	}

	bad := []*Procfile{
		{Entries: []Entry{{"", "x"}}},
		{Entries: []Entry{{"my.worker", "x"}}},
		{Entries: []Entry{{"web", "a"}, {"web", "b"}}},
		{Entries: []Entry{{"web", "a\nb"}}},
		{Entries: []Entry{{"web", "a\rb"}}},
		{Entries: []Entry{{"web", " a"}}},
		{Entries: []Entry{{"web", "\ta"}}},
	}
	for _, p := range bad {
		var sb strings.Builder
		if n, err := p.WriteTo(&sb); err == nil || n != 0 || sb.Len() != 0 {
			t.Errorf("WriteTo(%q) = %d, %v; want an error and nothing written", p.Entries, n, err)
		}
	}
}

func TestWriteToError(t *testing.T) {
	p := &Procfile{Entries: []Entry{{"web", "a"}}}
	boom := errors.New("boom")
	if _, err := p.WriteTo(failWriter{boom}); !errors.Is(err, boom) {
		t.Errorf("WriteTo(failing writer) = %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestErrorsText(t *testing.T) {
	_, err := ParseStrict(strings.NewReader("web:x\n&&&\n"))
	msg := err.Error()
	for _, want := range []string{"3 problems", "line 1: error", "(no-space)", "line 2", "(ignored-line)", "empty-file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error text %q lacks %q", msg, want)
		}
	}
	var errs Errors
	errors.As(err, &errs)
	if !errs.HasErrors() {
		t.Error("HasErrors = false")
	}
	if (Errors{{Line: 1, Rule: RuleNoColon, Severity: SeverityWarning, Msg: "m"}}).HasErrors() {
		t.Error("warnings only: HasErrors = true")
	}
}

// TestLinearTime guards against rescanning: a MaxSize file of lone '\r'
// line breaks (524,288 lines) parses in milliseconds; a scanner that looked
// for the next '\n' from every line would take minutes.
func TestLinearTime(t *testing.T) {
	src := strings.Repeat("a b\r", MaxSize/4)
	start := time.Now()
	p, err := Parse(strings.NewReader(src))
	if err != nil || len(p.Entries) != 1 {
		t.Fatalf("Parse = %v, %v; want the single type a", p, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}
