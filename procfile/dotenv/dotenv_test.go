package dotenv

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

type diag struct {
	line int
	rule Rule
	sev  Severity
}

// parseTests hold what node-foreman 3.0.1 (heroku local) returns for each
// input; TestNodeForeman checks them against the real thing when asked.
var parseTests = []struct {
	name  string
	in    string
	want  []Var // nil with fatal: Parse fails
	fatal bool
	diags []diag
}{
	{name: "empty", in: ""},
	{name: "simple", in: "A=1\nB=two words\n", want: []Var{{"A", "1"}, {"B", "two words"}}},
	{name: "equals in value", in: "URL=postgres://u:p@h/db?a=b==\n", want: []Var{{"URL", "postgres://u:p@h/db?a=b=="}}},
	{name: "comments and blanks", in: "# top\n\n  # indented\nA=1\n   \n", want: []Var{{"A", "1"}}},
	{name: "inline comment", in: "A=value # comment\n", want: []Var{{"A", "value"}}},
	{name: "hash without space cuts", in: "A=abc#def\n", want: []Var{{"A", "abc"}},
		diags: []diag{{1, RuleHashInValue, SeverityWarning}}},
	{name: "double quotes keep hash", in: "A=\"quoted#hash\"\n", want: []Var{{"A", "quoted#hash"}}},
	{name: "single quotes", in: "A='it is # fine'\n", want: []Var{{"A", "it is # fine"}}},
	{name: "escapes kept literally", in: `A="line1\nline2"` + "\n", want: []Var{{"A", `line1\nline2`}},
		diags: []diag{{1, RuleEscape, SeverityWarning}}},
	{name: "escaped quote ends value", in: `A="say \"hi\""` + "\n", want: []Var{{"A", `say \`}},
		diags: []diag{{1, RuleTrailingText, SeverityWarning}, {1, RuleEscape, SeverityWarning}}},
	{name: "text after quote dropped", in: "A='x' y\nB=\"z\" # ok\n", want: []Var{{"A", "x"}, {"B", "z"}},
		diags: []diag{{1, RuleTrailingText, SeverityWarning}}},
	{name: "spaces around equals", in: "key = value \n", want: []Var{{"key", "value"}},
		diags: []diag{{1, RuleSpaceAroundEquals, SeverityWarning}}},
	{name: "export kept in key", in: "export A=1\n", want: []Var{{"export A", "1"}},
		diags: []diag{{1, RuleExport, SeverityWarning}, {1, RuleInvalidKey, SeverityWarning}}},
	{name: "short lines skipped", in: "A=\nB=1\nx\n", want: []Var{{"B", "1"}},
		diags: []diag{{1, RuleShortLine, SeverityError}, {3, RuleShortLine, SeverityError}}},
	{name: "empty value needs quotes", in: "A=''\nB=\"\"\n", want: []Var{{"A", ""}, {"B", ""}}},
	{name: "no equals", in: "garbage\n", want: []Var{{"garbage", ""}},
		diags: []diag{{1, RuleMissingEquals, SeverityError}}},
	{name: "empty key", in: "=value\n", want: []Var{{"", "value"}},
		diags: []diag{{1, RuleInvalidKey, SeverityError}}},
	{name: "duplicate last wins first fixes order", in: "A=1\nB=2\nA=3\n", want: []Var{{"A", "3"}, {"B", "2"}},
		diags: []diag{{3, RuleDuplicateKey, SeverityWarning}}},
	{name: "crlf", in: "A=1\r\nB='2'\r\n# c\r\n", want: []Var{{"A", "1"}, {"B", "2"}}},
	{name: "bom ignored", in: "\uFEFFA=1\n", want: []Var{{"A", "1"}},
		diags: []diag{{1, RuleBOM, SeverityWarning}}},
	{name: "unterminated double quote", in: "A=1\nB=\"open\nC=3\n", fatal: true,
		diags: []diag{{2, RuleUnterminatedQuote, SeverityError}}},
	{name: "unterminated single quote", in: "A='open\n", fatal: true,
		diags: []diag{{1, RuleUnterminatedQuote, SeverityError}}},
	{name: "proto key dropped", in: "__proto__=x\nA=1\n", want: []Var{{"A", "1"}},
		diags: []diag{{1, RuleProtoKey, SeverityWarning}}},
	{name: "invalid key", in: "MY-VAR=1\n1A=2\n", want: []Var{{"MY-VAR", "1"}, {"1A", "2"}},
		diags: []diag{{1, RuleInvalidKey, SeverityWarning}, {2, RuleInvalidKey, SeverityWarning}}},
	{name: "whitespace-only quoted", in: "A='  '\n", want: []Var{{"A", "  "}}},
	{name: "invalid utf8 replaced", in: "A=\xff\xfeok\n", want: []Var{{"A", "\uFFFD\uFFFDok"}},
		diags: []diag{{1, RuleInvalidUTF8, SeverityWarning}}},
	{name: "cr then comment is removed", in: "A=\"x\r#y\"\nB=1\n", fatal: true,
		diags: []diag{{1, RuleUnterminatedQuote, SeverityError}}},
	{name: "cr then comment in unquoted value", in: "A=x\r#y\nB=1\n", want: []Var{{"A", "x"}, {"B", "1"}}},
	{name: "cr lf cr merges lines", in: "A=x\r\n\rB=2\n", want: []Var{{"A", "x\r\rB=2"}}},
	{name: "json flattened", in: `{"db": {"url": "postgres://x", "pool": 5}, "debug": true, "list": ["a", 1.5e21], "n": null}`,
		want: []Var{{"DB_URL", "postgres://x"}, {"DB_POOL", "5"}, {"DEBUG", "true"}, {"LIST_0", "a"}, {"LIST_1", "1.5e+21"}}},
	{name: "json index keys first", in: `{"b": "1", "10": "x", "2": "y", "a": {"z": 1, "0": 2}}`,
		want: []Var{{"2", "y"}, {"10", "x"}, {"B", "1"}, {"A_0", "2"}, {"A_Z", "1"}}},
	{name: "json duplicate keys", in: `{"a": "1", "b": "2", "a": "3"}`, want: []Var{{"A", "3"}, {"B", "2"}}},
	{name: "json top-level string", in: `"hé"`, want: []Var{{"0", "h"}, {"1", "é"}}},
	{name: "json top-level number", in: `42`},
	{name: "json with bom is key=value", in: "\uFEFF{\"a\": 1}", want: []Var{{"{\"a\": 1}", ""}},
		diags: []diag{{1, RuleBOM, SeverityWarning}, {1, RuleMissingEquals, SeverityError}, {1, RuleInvalidKey, SeverityWarning}}},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Parse(strings.NewReader(tt.in))
			if tt.fatal {
				var se *SyntaxError
				if !errors.As(err, &se) || !errors.Is(err, RuleUnterminatedQuote) || env != nil {
					t.Fatalf("Parse = %v, %v; want nil and an unterminated-quote SyntaxError", env, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !slices.Equal(env.Vars, tt.want) {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, env.Vars, tt.want)
			}
		})
	}
}

func TestParseStrict(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ParseStrict(strings.NewReader(tt.in))
			lenient, _ := Parse(strings.NewReader(tt.in))
			if (env == nil) != (lenient == nil) || env != nil && !slices.Equal(env.Vars, lenient.Vars) {
				t.Fatalf("strict env %v differs from lenient %v", env, lenient)
			}
			var got []diag
			if err != nil {
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("error %v (%T) is not Errors", err, err)
				}
				for _, e := range errs {
					got = append(got, diag{e.Line, e.Rule, e.Severity})
				}
			}
			if !slices.Equal(got, tt.diags) {
				t.Errorf("diagnostics = %v, want %v\n%v", got, tt.diags, err)
			}
			for _, d := range tt.diags {
				if !errors.Is(err, d.rule) {
					t.Errorf("errors.Is(err, %s) = false", d.rule)
				}
			}
		})
	}
}

func TestParserOptions(t *testing.T) {
	in := "export A=1\nB=\"l1\\nl2 \\\"q\\\" \\\\ \\x\"\nC='raw\\n'\n"
	p := Parser{Export: true, Escapes: true}
	env, err := p.Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Var{{"A", "1"}, {"B", "l1\nl2 \"q\" \\ \\x"}, {"C", `raw\n`}}
	if !slices.Equal(env.Vars, want) {
		t.Errorf("got %q, want %q", env.Vars, want)
	}
	_, err = p.ParseStrict(strings.NewReader(in))
	if !errors.Is(err, RuleExport) || !errors.Is(err, RuleEscape) {
		t.Errorf("strict with options: %v; want export and escape warnings", err)
	}
	if _, err := p.Parse(strings.NewReader("A=\"open \\\"\n")); !errors.Is(err, RuleUnterminatedQuote) {
		t.Errorf("escaped closing quote: %v, want unterminated", err)
	}
	// "export" alone, or followed by '=', is a plain key.
	env, _ = p.Parse(strings.NewReader("export=1\nexportX=2\n"))
	if !slices.Equal(env.Vars, []Var{{"export", "1"}, {"exportX", "2"}}) {
		t.Errorf("export-like keys: %q", env.Vars)
	}
}

func TestEnvAccessors(t *testing.T) {
	env, _ := Parse(strings.NewReader("A=1\nB=x=y\n"))
	if v, ok := env.Lookup("B"); !ok || v != "x=y" {
		t.Errorf("Lookup(B) = %q, %v", v, ok)
	}
	if _, ok := env.Lookup("C"); ok {
		t.Error("Lookup(C) found")
	}
	if got := env.Environ(); !slices.Equal(got, []string{"A=1", "B=x=y"}) {
		t.Errorf("Environ = %q", got)
	}
	var nilEnv *Env
	if _, ok := nilEnv.Lookup("A"); ok || nilEnv.Environ() != nil {
		t.Error("nil Env not empty")
	}
}

func TestLimitsAndReadErrors(t *testing.T) {
	if _, err := Parse(strings.NewReader(strings.Repeat("#", MaxSize+1))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if _, err := ParseStrict(strings.NewReader(strings.Repeat("#", MaxSize))); err != nil {
		t.Errorf("MaxSize of comment: %v", err)
	}
	boom := errors.New("boom")
	if _, err := Parse(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}

func TestJSNumber(t *testing.T) {
	tests := map[float64]string{
		0: "0", 1: "1", -1: "-1", 1.5: "1.5", 0.1: "0.1", 100: "100", 1e20: "100000000000000000000",
		1e21: "1e+21", 1.5e21: "1.5e+21", 1e-6: "0.000001", 1e-7: "1e-7", 1.25e-7: "1.25e-7",
		123456789.125: "123456789.125", 5e-324: "5e-324", 1.7976931348623157e308: "1.7976931348623157e+308",
	}
	for f, want := range tests {
		if got := jsNumber(f); got != want {
			t.Errorf("jsNumber(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestDecodeUTF8LikeNode(t *testing.T) {
	// Expected values come from Node 20's Buffer.toString().
	in := []byte{0x41, 0xff, 0xff, 0x42, 0xe2, 0x82, 0x43, 0xed, 0xa0, 0x80, 0x44, 0xf0, 0x9f, 0x98, 0x45}
	want := "A\uFFFD\uFFFDB\uFFFDC\uFFFD\uFFFD\uFFFDD\uFFFDE"
	if got := decodeUTF8(in); got != want {
		t.Errorf("decodeUTF8 = %q, want %q", got, want)
	}
}
