package dotenv

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// naiveRanges is the JavaScript global replace run literally: try the
// regex at every position, with no cached whitespace runs. It takes
// quadratic time, so only the fuzzer uses it.
func naiveRanges(s string, comment bool) [][2]int {
	var out [][2]int
	for p := 0; p < len(s); {
		if lineStart(s, p) {
			h := skipJSSpace(s, p)
			if comment && h < len(s) && s[h] == '#' {
				e := lineEnd(s, h+1)
				out = append(out, [2]int{p, e})
				p = e
				continue
			}
			if !comment {
				if h == len(s) {
					out = append(out, [2]int{p, len(s)})
					break
				}
				// Backtrack from h to the last line terminator.
				k := -1
				for q := p; q < h; {
					r, size := utf8.DecodeRuneInString(s[q:])
					if isJSLineTerminator(r) {
						k = q
					}
					q += size
				}
				if k > p {
					out = append(out, [2]int{p, k})
					p = k
					continue
				}
			}
		}
		_, size := utf8.DecodeRuneInString(s[p:])
		p += size
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	f.Add("A=1\r\n\r\n  \u2028 # c\rB='x\r  \ry'\n")
	f.Fuzz(func(t *testing.T, src string) {
		dec := decodeUTF8([]byte(src))
		if !utf8.ValidString(dec) {
			t.Fatalf("decodeUTF8 gave invalid UTF-8 %q", dec)
		}
		if got, want := commentRanges(dec), naiveRanges(dec, true); !slices.Equal(got, want) {
			t.Fatalf("commentRanges = %v, naive %v", got, want)
		}
		s1 := newTracked(dec).remove(commentRanges(dec)).s
		if got, want := blankRanges(s1), naiveRanges(s1, false); !slices.Equal(got, want) {
			t.Fatalf("blankRanges = %v, naive %v", got, want)
		}

		for _, p := range []Parser{{}, {Export: true, Escapes: true}} {
			env, err := p.Parse(strings.NewReader(src))
			senv, serr := p.ParseStrict(strings.NewReader(src))
			if (env == nil) != (senv == nil) || env != nil && !slices.Equal(env.Vars, senv.Vars) {
				t.Fatalf("%+v: strict %v differs from lenient %v (%v / %v)", p, senv, env, err, serr)
			}
			if serr != nil {
				var errs Errors
				if !errors.As(serr, &errs) {
					t.Fatalf("strict error %T is not Errors", serr)
				}
				lines := strings.Count(src, "\n") + 1
				for _, e := range errs {
					if e.Line < 1 || e.Line > lines || e.Msg == "" || e.Rule == "" {
						t.Fatalf("malformed diagnostic %#v", e)
					}
				}
			}
			if env == nil {
				if !errors.Is(err, RuleUnterminatedQuote) {
					t.Fatalf("nil env with error %v", err)
				}
				continue
			}
			out, ferr := p.Format(env)
			if ferr != nil {
				// A KEY=VALUE file read by heroku local can always be
				// written back; JSON files can hold values it cannot.
				if !json.Valid([]byte(dec)) && p == (Parser{}) {
					t.Fatalf("Format of %q failed: %v", env.Vars, ferr)
				}
				continue
			}
			back, err := p.Parse(strings.NewReader(string(out)))
			if err != nil || !slices.Equal(back.Vars, env.Vars) {
				t.Fatalf("round trip: %q -> %q -> %q (%v)", env.Vars, out, back, err)
			}
		}
	})
}
