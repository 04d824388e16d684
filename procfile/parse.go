package procfile

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSize is the largest Procfile the parsers read: 1 MiB. Real Procfiles
// are a few hundred bytes; the limit keeps a hostile app from making the
// build system read without bound.
const MaxSize = 1 << 20

// Parse reads a Procfile exactly as Heroku's slug compiler does. It never
// reports a malformed line: lines Heroku ignores are ignored. Errors come
// only from reading r or from input larger than [MaxSize].
func Parse(r io.Reader) (*Procfile, error) {
	src, err := readAll(r)
	if err != nil {
		return nil, err
	}
	p, _ := parse(src, false)
	return p, nil
}

// ParseStrict parses like [Parse] and also checks every line against the
// rules listed with [Rule]. The Procfile it returns is always the one Parse
// returns for the same input, so a platform can build with it and show the
// diagnostics as warnings. When a rule is broken the error is an [Errors]
// holding one *[SyntaxError] per problem, ordered by line; reading errors
// and [ErrTooLarge] come with a nil Procfile.
func ParseStrict(r io.Reader) (*Procfile, error) {
	src, err := readAll(r)
	if err != nil {
		return nil, err
	}
	p, errs := parse(src, true)
	if len(errs) > 0 {
		return p, errs
	}
	return p, nil
}

// ParseString is [Parse] for a string.
func ParseString(s string) (*Procfile, error) {
	if len(s) > MaxSize {
		return nil, tooLarge()
	}
	p, _ := parse(s, false)
	return p, nil
}

func tooLarge() error {
	return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxSize)
}

func readAll(r io.Reader) (string, error) {
	var b strings.Builder
	if l, ok := r.(interface{ Len() int }); ok && l.Len() <= MaxSize {
		b.Grow(l.Len())
	}
	n, err := io.Copy(&b, io.LimitReader(r, MaxSize+1))
	if err != nil {
		return "", fmt.Errorf("procfile: read: %w", err)
	}
	if n > MaxSize {
		return "", tooLarge()
	}
	return b.String(), nil
}

// Byte classes of Heroku's line regex
//
//	^[[:space:]]*([a-zA-Z0-9_-]+):?\s+(.*)[[:space:]]*
//
// under Ruby's rules: [[:space:]] is Unicode White_Space, \s is ASCII
// [ \t\n\v\f\r] only, and '.' is anything but '\n'.
var (
	nameByte = byteClass(func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}) // [a-zA-Z0-9_-]
	rubySpace = byteClass(func(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }) // \s
)

func byteClass(in func(byte) bool) (t [256]bool) {
	for c := range 256 {
		t[c] = in(byte(c))
	}
	return t
}

func isNameByte(c byte) bool { return nameByte[c] }

// skipSpace returns the index of the first rune of s at or after i that is
// not [[:space:]] (Unicode White_Space). Invalid UTF-8 is not space.
func skipSpace(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == ' ' || c >= '\t' && c <= '\r' {
				i++
				continue
			}
			return i
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) { // RuneError is not space
			return i
		}
		i += size
	}
	return i
}

// line is one line of the source as the regex sees it.
type line struct {
	num                int    // 1-based
	text               string // without its line break
	nameStart, nameEnd int    // group 1, valid when matched
	colon              bool   // ":" present
	cmdStart           int    // group 2 is text[cmdStart:]
	matched            bool
}

// match applies Heroku's regex to l.text. Because the name class, ':' and
// \s are disjoint, the regex matches iff the maximal name run is followed by
// an optional ':' and at least one \s; no backtracking can change that.
func (l *line) match() {
	s := l.text
	i := skipSpace(s, 0)
	l.nameStart = i
	for i < len(s) && nameByte[s[i]] {
		i++
	}
	l.nameEnd = i
	if i == l.nameStart {
		return
	}
	if i < len(s) && s[i] == ':' {
		l.colon = true
		i++
	}
	j := i
	for j < len(s) && rubySpace[s[j]] {
		j++
	}
	if j == i {
		return
	}
	l.cmdStart = j
	l.matched = true
}

// parse runs the scanner. Line breaks are "\r\n", "\r" and "\n", as after
// Heroku's gsub(/\r\n?/, "\n"). With strict, it also returns diagnostics.
func parse(src string, strict bool) (*Procfile, Errors) {
	p := &Procfile{}
	var (
		index map[string]int // type -> position in p.Entries
		chk   *checker
	)
	if strict {
		chk = &checker{}
	}
	num := 0
	// Positions of the next '\n' and '\r' (len(src) when none), each
	// searched for again only once passed, so that a file of lone '\r'
	// line breaks is not rescanned to its end for every line.
	nl, cr := -1, -1
	for pos := 0; pos < len(src); {
		num++
		if nl < pos {
			nl = indexFrom(src, pos, '\n')
		}
		if cr < pos {
			cr = indexFrom(src, pos, '\r')
		}
		end := min(nl, cr)
		text := src[pos:end]
		switch {
		case end == len(src):
			pos = end
		case end == cr && cr+1 < len(src) && src[cr+1] == '\n':
			pos = end + 2 // "\r\n" is one break
		default:
			pos = end + 1
		}

		l := line{num: num, text: text}
		l.match()
		if chk != nil {
			chk.check(&l)
		}
		if !l.matched {
			continue
		}
		typ, cmd := text[l.nameStart:l.nameEnd], text[l.cmdStart:]
		if index == nil {
			// Size for every line being an entry; a Procfile is at most
			// 1 MiB, and growing a map costs more than the spare room.
			n := strings.Count(src[pos:], "\n") + 1
			index = make(map[string]int, n)
			p.Entries = make([]Entry, 0, n)
		}
		if i, dup := index[typ]; dup {
			p.Entries[i].Command = cmd
			if chk != nil {
				chk.duplicate(&l, typ, i)
			}
			continue
		}
		index[typ] = len(p.Entries)
		p.Entries = append(p.Entries, Entry{Type: typ, Command: cmd})
		if chk != nil {
			chk.firstLine = append(chk.firstLine, num)
		}
	}
	if chk == nil {
		return p, nil
	}
	if len(p.Entries) == 0 {
		chk.add(0, RuleEmptyFile, SeverityWarning, "no process types defined; every line is blank, a comment, or ignored")
	}
	return p, chk.errs
}

func indexFrom(s string, from int, c byte) int {
	if i := strings.IndexByte(s[from:], c); i >= 0 {
		return from + i
	}
	return len(s)
}

// checker collects strict-mode diagnostics.
type checker struct {
	errs      Errors
	firstLine []int // line of each entry's first definition
}

func (c *checker) add(num int, rule Rule, sev Severity, format string, args ...any) {
	c.errs = append(c.errs, &SyntaxError{Line: num, Rule: rule, Severity: sev, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) duplicate(l *line, typ string, i int) {
	c.add(l.num, RuleDuplicateType, SeverityWarning,
		"process type %q is already defined on line %d; this definition replaces that command", typ, c.firstLine[i])
}

func (c *checker) check(l *line) {
	if !utf8.ValidString(l.text) {
		c.add(l.num, RuleInvalidUTF8, SeverityError, "line is not valid UTF-8")
	}
	if l.matched {
		c.checkEntry(l)
		return
	}
	if stripped, bom := strings.CutPrefix(l.text, "\uFEFF"); bom {
		// Heroku does not strip a byte order mark, and U+FEFF is not
		// whitespace, so it spoils the line it starts.
		nl := &line{num: l.num, text: stripped}
		nl.match()
		where := "the file starts"
		if l.num > 1 {
			where = "the line starts"
		}
		if nl.matched {
			c.add(l.num, RuleBOM, SeverityError, "%s with a UTF-8 byte order mark, which hides process type %q from Heroku; save the file without a BOM",
				where, truncate(nl.text[nl.nameStart:nl.nameEnd]))
			return
		}
		c.add(l.num, RuleBOM, SeverityWarning, "%s with a UTF-8 byte order mark; save the file without a BOM", where)
		l = nl
	}
	rest := l.text[skipSpace(l.text, 0):]
	if rest == "" || rest[0] == '#' {
		return // blank or comment
	}
	c.explainIgnored(l)
}

// explainIgnored says why a non-blank, non-comment line did not match.
func (c *checker) explainIgnored(l *line) {
	s := l.text
	name := s[l.nameStart:l.nameEnd]
	after := s[l.nameEnd:]
	if name == "" {
		if strings.HasPrefix(after, ":") {
			c.add(l.num, RuleMissingName, SeverityError, "command without a process type; Heroku ignores this line")
			return
		}
		if n, ok := intendedName(after); ok {
			c.add(l.num, RuleInvalidName, SeverityError, "process type %q has characters outside [A-Za-z0-9_-]; Heroku ignores this line", truncate(n))
			return
		}
		c.add(l.num, RuleIgnoredLine, SeverityError, "not a %q line; Heroku ignores it (start comments with '#')", "<type>: <command>")
		return
	}
	colon := strings.HasPrefix(after, ":")
	tail := after
	if colon {
		tail = after[1:]
	}
	switch {
	case tail == "":
		c.add(l.num, RuleMissingCommand, SeverityError, "process type %q has no command; Heroku ignores this line", truncate(name))
	case colon && tail[0] == ':':
		c.add(l.num, RuleNoSpace, SeverityError, "more than one colon after process type %q; Heroku ignores this line. Write %q", truncate(name), truncate(name)+": <command>")
	case colon:
		r, _ := utf8.DecodeRuneInString(tail)
		if unicode.IsSpace(r) {
			c.add(l.num, RuleNoSpace, SeverityError, "process type %q is followed by %U, which Heroku does not take as a space; it ignores this line. Use an ASCII space after the colon", truncate(name), r)
			return
		}
		c.add(l.num, RuleNoSpace, SeverityError, "no space after %q; Heroku ignores this line. Write %q", truncate(name)+":", truncate(name)+": "+truncateCmd(tail))
	default:
		r, _ := utf8.DecodeRuneInString(tail)
		if unicode.IsSpace(r) {
			c.add(l.num, RuleNoSpace, SeverityError, "process type %q is followed by %U, which Heroku does not take as a space; it ignores this line. Use \": \"", truncate(name), r)
			return
		}
		if n, ok := intendedName(s[l.nameStart:]); ok {
			c.add(l.num, RuleInvalidName, SeverityError, "process type %q has characters outside [A-Za-z0-9_-]; Heroku ignores this line", truncate(n))
			return
		}
		c.add(l.num, RuleIgnoredLine, SeverityError, "not a %q line; Heroku ignores it (start comments with '#')", "<type>: <command>")
	}
}

// intendedName returns the text before the first ':' when it looks like a
// process type the author meant (no whitespace, non-empty).
func intendedName(s string) (string, bool) {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return "", false
	}
	n := s[:colon]
	if strings.IndexFunc(n, unicode.IsSpace) >= 0 {
		return "", false
	}
	return n, true
}

func truncateCmd(s string) string {
	if len(s) <= 30 {
		return s
	}
	return s[:27] + "..."
}

// checkEntry reports what is questionable about a line Heroku accepts.
func (c *checker) checkEntry(l *line) {
	s := l.text
	name := s[l.nameStart:l.nameEnd]
	if l.nameStart > 0 {
		c.add(l.num, RuleLeadingSpace, SeverityWarning, "whitespace before process type %q; Cloud Native Buildpacks strip it with a warning", truncate(name))
	}
	if !l.colon {
		c.add(l.num, RuleNoColon, SeverityWarning, "no colon after process type %q; Heroku accepts %q but most other tools need %q", truncate(name), truncate(name)+" <command>", truncate(name)+": <command>")
	}
	if len(name) > MaxNameLen {
		c.add(l.num, RuleNameTooLong, SeverityError, "process type %q is %d characters long; the Platform API accepts at most %d", truncate(name), len(name), MaxNameLen)
	} else if !isDNSLabel(name) {
		switch fixed := cnbName(name); {
		case len(name) > 63:
			c.add(l.num, RuleNotDNSLabel, SeverityWarning, "process type %q is longer than 63 characters, which Cloud Native Buildpacks and Kubernetes reject", truncate(name))
		case isDNSLabel(fixed):
			c.add(l.num, RuleNotDNSLabel, SeverityWarning, "process type %q is not a DNS label (a-z, 0-9 and '-'); Cloud Native Buildpacks rename it %q", name, fixed)
		default:
			c.add(l.num, RuleNotDNSLabel, SeverityWarning, "process type %q is not a DNS label (a-z, 0-9 and '-', alphanumeric at both ends); Cloud Native Buildpacks reject it", name)
		}
	}
	if name == OneOff {
		c.add(l.num, RuleReservedName, SeverityWarning, "process type %q is also the type of one-off dynos (run.N); choose another name", name)
	}
	if l.cmdStart == len(s) {
		c.add(l.num, RuleEmptyCommand, SeverityError, "process type %q has an empty command; its dynos would exit at once", truncate(name))
	}
}

// cnbName is the correction Heroku's CNB Procfile buildpack applies.
func cnbName(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}
