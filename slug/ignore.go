package slug

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strings"
)

// IgnoreFile is the name of the file, at the top of a build directory, whose
// patterns Pack leaves out of the slug.
const IgnoreFile = ".slugignore"

// Ignore is a parsed .slugignore: gitignore patterns without negation.
//
// The rules, as git applies them:
//   - blank lines and lines starting with "#" are skipped; "\#" starts a
//     pattern with "#"; trailing spaces are dropped unless escaped ("\ ");
//   - a pattern ending in "/" matches directories only;
//   - a pattern with a "/" at the start or in the middle is anchored at the
//     top of the tree; otherwise it matches a name at any depth;
//   - "*" and "?" match within one path element, "[a-z]" and "[!a-z]" are
//     character classes, "\" quotes the next character;
//   - "**/" at the start and "/**/" in the middle match zero or more
//     directories; "/**" at the end matches everything inside;
//   - a matched directory excludes everything under it.
//
// A line starting with "!" is an error: Heroku does not support negation,
// and silently keeping files the author wanted kept out (or the reverse)
// is worse than failing the build. Start the pattern with "\!" to match a
// literal "!".
//
// The zero Ignore matches nothing. An Ignore is safe for concurrent use.
type Ignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	line    int
	segs    []string // "**" is a zero-or-more-elements wildcard
	dirOnly bool
}

// IgnoreError reports a .slugignore line that breaks a rule.
type IgnoreError struct {
	Line    int    // 1-based line number
	Pattern string // the line as written
	Reason  string
}

func (e *IgnoreError) Error() string {
	return fmt.Sprintf("slug: %s:%d: %q: %s", IgnoreFile, e.Line, e.Pattern, e.Reason)
}

// ParseIgnore parses the contents of a .slugignore file.
func ParseIgnore(data []byte) (*Ignore, error) {
	m := &Ignore{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		rule, ok, err := parseIgnoreLine(raw)
		if err != nil {
			return nil, &IgnoreError{Line: n, Pattern: raw, Reason: err.Error()}
		}
		if ok {
			rule.line = n
			m.rules = append(m.rules, rule)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("slug: reading %s: %w", IgnoreFile, err)
	}
	return m, nil
}

func parseIgnoreLine(line string) (ignoreRule, bool, error) {
	line = strings.TrimSuffix(line, "\r")
	if line == "" || line[0] == '#' {
		return ignoreRule{}, false, nil
	}
	if line[0] == '!' {
		return ignoreRule{}, false, fmt.Errorf("negation (\"!\") is not supported in %s; write \"\\!\" for a literal \"!\"", IgnoreFile)
	}
	line = trimUnescapedSpaces(line)
	if line == "" {
		return ignoreRule{}, false, nil
	}
	var r ignoreRule
	if strings.HasSuffix(line, "/") {
		r.dirOnly = true
		line = strings.TrimRight(line, "/")
		if line == "" {
			// "/" alone would mean the whole tree; git ignores such a line.
			return ignoreRule{}, false, nil
		}
	}
	anchored := strings.Contains(line, "/")
	line = strings.TrimLeft(line, "/")
	if !anchored {
		r.segs = append(r.segs, "**")
	}
	parts := strings.Split(line, "/")
	for i, seg := range parts {
		switch {
		case seg == "":
			continue
		case seg == "**":
			if i == len(parts)-1 {
				// A trailing "/**" matches everything inside, not the
				// directory itself: one element, then any number.
				r.segs = append(r.segs, "*", "**")
			} else if len(r.segs) == 0 || r.segs[len(r.segs)-1] != "**" {
				r.segs = append(r.segs, "**")
			}
			continue
		}
		seg = gitClassToGo(seg)
		if _, err := path.Match(seg, ""); err != nil {
			return ignoreRule{}, false, fmt.Errorf("malformed pattern element %q (unclosed \"[\" or trailing \"\\\")", seg)
		}
		r.segs = append(r.segs, seg)
	}
	if len(r.segs) == 0 {
		return ignoreRule{}, false, nil
	}
	return r, true, nil
}

// trimUnescapedSpaces drops trailing spaces that are not quoted by "\".
func trimUnescapedSpaces(s string) string {
	end := len(s)
	for end > 0 && s[end-1] == ' ' {
		// Count the backslashes before this space: odd means it is quoted.
		bs := 0
		for i := end - 2; i >= 0 && s[i] == '\\'; i-- {
			bs++
		}
		if bs%2 == 1 {
			break
		}
		end--
	}
	return s[:end]
}

// gitClassToGo rewrites git's "[!...]" class negation as path.Match's
// "[^...]".
func gitClassToGo(seg string) string {
	if !strings.Contains(seg, "[!") {
		return seg
	}
	b := []byte(seg)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '[':
			if i+1 < len(b) && b[i+1] == '!' {
				b[i+1] = '^'
			}
			// Skip to the end of the class so a "[!" inside it stays literal.
			for i++; i < len(b) && b[i] != ']'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		}
	}
	return string(b)
}

// Match reports whether name, a slash-separated path relative to the top of
// the build directory, is excluded: it or one of its parent directories
// matches a pattern. isDir says whether name itself is a directory.
func (m *Ignore) Match(name string, isDir bool) bool {
	name = strings.Trim(name, "/")
	if m == nil || len(m.rules) == 0 || name == "" {
		return false // the top of the tree itself is never excluded
	}
	elems := strings.Split(name, "/")
	for i := 1; i <= len(elems); i++ {
		if m.matchExact(elems[:i], i < len(elems) || isDir) {
			return true
		}
	}
	return false
}

// matchExact reports whether some rule matches the path elems itself
// (ignoring its parents). Pack calls it while walking, since the walk never
// enters an excluded directory.
func (m *Ignore) matchExact(elems []string, isDir bool) bool {
	if m == nil {
		return false
	}
	for _, r := range m.rules {
		if r.dirOnly && !isDir {
			continue
		}
		if matchSegments(r.segs, elems) {
			return true
		}
	}
	return false
}

// matchSegments matches path elements against pattern elements where "**"
// matches any number of elements. It is the classic wildcard algorithm that
// backtracks only to the most recent "**", so it runs in O(len(pat)*len(name)).
func matchSegments(pat, name []string) bool {
	pi, ni := 0, 0
	starP, starN := -1, 0
	for ni < len(name) {
		if pi < len(pat) && pat[pi] == "**" {
			starP, starN = pi, ni
			pi++
			continue
		}
		if pi < len(pat) && matchElem(pat[pi], name[ni]) {
			pi++
			ni++
			continue
		}
		if starP >= 0 {
			starN++
			pi, ni = starP+1, starN
			continue
		}
		return false
	}
	for pi < len(pat) && pat[pi] == "**" {
		pi++
	}
	return pi == len(pat)
}

func matchElem(pat, elem string) bool {
	ok, _ := path.Match(pat, elem) // patterns were validated by ParseIgnore
	return ok
}
