package procfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func addParseSeeds(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	inputs, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.Procfile"))
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

// FuzzParse checks, for any input: the scanner agrees with the regex
// reference, strict mode returns the lenient entries and well-formed
// diagnostics, and Format round-trips the result.
func FuzzParse(f *testing.F) {
	addParseSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		p, err := ParseString(src)
		if err != nil {
			t.Fatalf("ParseString: %v", err)
		}
		if ref := referenceParse(src); !slices.Equal(p.Entries, ref) {
			t.Fatalf("scanner %q != regex reference %q", p.Entries, ref)
		}

		sp, err := ParseStrict(strings.NewReader(src))
		if sp == nil || !slices.Equal(sp.Entries, p.Entries) {
			t.Fatalf("strict entries differ from lenient: %v vs %q (err %v)", sp, p.Entries, err)
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("strict error %v is not a non-empty Errors", err)
			}
			lines := strings.Count(strings.ReplaceAll(src, "\r\n", "\n"), "\n") + strings.Count(strings.ReplaceAll(src, "\r\n", ""), "\r") + 1
			prev := 0
			for _, e := range errs {
				if e.Line < 0 || e.Line > lines || e.Msg == "" || e.Rule == "" ||
					(e.Severity != SeverityError && e.Severity != SeverityWarning) {
					t.Fatalf("malformed diagnostic %#v (file has %d lines)", e, lines)
				}
				if e.Line != 0 && e.Line < prev {
					t.Fatalf("diagnostics out of line order: %v", errs)
				}
				prev = e.Line
			}
		}

		out, err := Format(p)
		if err != nil {
			t.Fatalf("Format of a parsed Procfile failed: %v", err)
		}
		back, err := ParseString(string(out))
		if err != nil || !slices.Equal(back.Entries, p.Entries) {
			t.Fatalf("round trip: Parse(Format(p)) = %q, want %q (formatted %q)", back.Entries, p.Entries, out)
		}
		again, _ := Format(back)
		if string(again) != string(out) {
			t.Fatalf("Format not canonical: %q then %q", out, again)
		}
	})
}

// FuzzFormat checks the other direction: whatever single entry Format
// accepts, Parse reads back unchanged.
func FuzzFormat(f *testing.F) {
	f.Add("web", "bundle exec puma")
	f.Add("worker", "")
	f.Add("w", "cmd  ")
	f.Add("web", " leading")
	f.Add("a.b", "x")
	f.Add("web", "\u00a0x")
	f.Add("web", "a\rb")
	f.Fuzz(func(t *testing.T, typ, command string) {
		p := &Procfile{Entries: []Entry{{typ, command}, {"zz-other", "x"}}}
		out, err := Format(p)
		if err != nil {
			return
		}
		back, err := ParseString(string(out))
		if err != nil || !slices.Equal(back.Entries, p.Entries) {
			t.Fatalf("Format accepted %q but Parse gives %q (text %q)", p.Entries, back.Entries, out)
		}
	})
}
