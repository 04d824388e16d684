package dotenv

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest file the parser reads: 1 MiB.
const MaxSize = 1 << 20

// Var is one variable.
type Var struct {
	Key, Value string
}

// Env is a parsed .env file. Vars hold each key once, in the order of its
// first definition, with the value of its last one.
type Env struct {
	Vars []Var
}

// Lookup returns the value of key.
func (e *Env) Lookup(key string) (string, bool) {
	if e == nil {
		return "", false
	}
	for i := len(e.Vars) - 1; i >= 0; i-- {
		if e.Vars[i].Key == key {
			return e.Vars[i].Value, true
		}
	}
	return "", false
}

// Environ returns the variables as KEY=VALUE strings, the form of
// os.Environ and exec.Cmd.Env.
func (e *Env) Environ() []string {
	if e == nil {
		return nil
	}
	out := make([]string, len(e.Vars))
	for i, v := range e.Vars {
		out[i] = v.Key + "=" + v.Value
	}
	return out
}

// Parser reads .env files. The zero value reads them exactly as heroku local
// does; the fields opt into what other tools (Ruby foreman, forego,
// godotenv) also accept.
type Parser struct {
	// Export strips a leading "export " from keys. heroku local keeps it
	// and defines a variable named "export KEY".
	Export bool
	// Escapes expands \n, \r, \t, \" and \\ inside double quotes, and a
	// \" does not end the value. heroku local keeps backslashes as written.
	Escapes bool
}

// Parse reads a .env file exactly as heroku local does (see the package
// documentation). Lines it would misread are read the same way, silently;
// the one error besides reading and [ErrTooLarge] is an unterminated quote,
// a *[SyntaxError] with [RuleUnterminatedQuote], on which heroku local
// fails to start.
func Parse(r io.Reader) (*Env, error) { return Parser{}.Parse(r) }

// ParseStrict parses like [Parse] and reports every line heroku local reads
// differently from what its author probably meant, or differently from
// other tools, as an [Errors]. The Env is the one Parse returns (nil when
// Parse fails).
func ParseStrict(r io.Reader) (*Env, error) { return Parser{}.ParseStrict(r) }

// Parse reads a .env file with p's options and no diagnostics.
func (p Parser) Parse(r io.Reader) (*Env, error) {
	src, err := readAll(r)
	if err != nil {
		return nil, err
	}
	env, errs := p.parse(src, false)
	if len(errs) > 0 {
		return nil, errs[0] // the fatal one; no other is collected
	}
	return env, nil
}

// ParseStrict reads a .env file with p's options and reports diagnostics.
func (p Parser) ParseStrict(r io.Reader) (*Env, error) {
	src, err := readAll(r)
	if err != nil {
		return nil, err
	}
	env, errs := p.parse(src, true)
	if len(errs) > 0 {
		return env, errs
	}
	return env, nil
}

func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("dotenv: read: %w", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxSize)
	}
	return b, nil
}

// parse returns the env and the diagnostics; without strict, only a fatal
// one. A fatal diagnostic (unterminated quote) gives a nil env.
func (p Parser) parse(raw []byte, strict bool) (*Env, Errors) {
	src := decodeUTF8(raw) // as Node's Buffer.toString does
	st := &state{strict: strict, lines: newlineIndex(src)}
	if strict {
		st.checkEncoding(raw, src)
	}
	var env *Env
	if json.Valid([]byte(src)) {
		env = fromJSON(src)
	} else {
		env = p.keyValue(st, src)
	}
	sort.SliceStable(st.errs, func(i, j int) bool { return st.errs[i].Line < st.errs[j].Line })
	if st.fatal {
		env = nil
	}
	return env, st.errs
}

type state struct {
	strict bool
	fatal  bool
	lines  []int // offsets of '\n' in the decoded source
	errs   Errors
}

// lineOf returns the 1-based line of a byte offset of the decoded source.
func (st *state) lineOf(off int) int {
	return sort.SearchInts(st.lines, off) + 1
}

func (st *state) add(line int, rule Rule, sev Severity, format string, args ...any) {
	if !st.strict && rule != RuleUnterminatedQuote {
		return
	}
	st.errs = append(st.errs, &SyntaxError{Line: line, Rule: rule, Severity: sev, Msg: fmt.Sprintf(format, args...)})
}

func newlineIndex(s string) []int {
	var idx []int
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			idx = append(idx, i)
		}
	}
	return idx
}

func (st *state) checkEncoding(raw []byte, src string) {
	if strings.HasPrefix(src, "\uFEFF") {
		st.add(1, RuleBOM, SeverityWarning, "the file starts with a UTF-8 byte order mark; save it without one")
	}
	if utf8.Valid(raw) {
		return
	}
	num := 0
	for line := range strings.SplitSeq(string(raw), "\n") {
		num++
		if !utf8.ValidString(line) {
			st.add(num, RuleInvalidUTF8, SeverityWarning, "line is not valid UTF-8; the invalid bytes become U+FFFD")
		}
	}
}

// keyValue is node-foreman's KEY=VALUE reader. Its steps, in order:
// remove comment lines (/^\s*#.*$/gm), remove blank lines (/^\s*$/gm),
// split on "\n", trim each line, skip lines of two UTF-16 units or fewer,
// split each at the first '=', trim key and value, then unquote the value.
// The two removals use JavaScript's rules: \s and trim() mean jsSpace, and
// "\r", U+2028 and U+2029 end lines for ^, $ and '.' as "\n" does.
func (p Parser) keyValue(st *state, src string) *Env {
	t := newTracked(src)
	t = t.remove(commentRanges(t.s))
	t = t.remove(blankRanges(t.s))

	env := &Env{}
	index := make(map[string]int)
	firstLine := make(map[string]int)
	off := 0
	for line := range strings.SplitSeq(t.s, "\n") {
		start := off
		off += len(line) + 1
		trimmed, lead := trimJS(line)
		if trimmed == "" {
			continue
		}
		num := st.lineOf(int(t.origin[start+lead]))
		if utf16Len(trimmed) <= 2 {
			st.add(num, RuleShortLine, SeverityError, "heroku local skips lines of two characters or fewer, so %q sets nothing; write %s='' for an empty value", trimmed, strings.TrimSuffix(trimmed, "="))
			continue
		}
		key, val, ok := p.pair(st, num, trimmed)
		if !ok {
			continue
		}
		if key == "__proto__" {
			st.add(num, RuleProtoKey, SeverityWarning, "heroku local silently drops the key __proto__")
			continue
		}
		if i, dup := index[key]; dup {
			st.add(num, RuleDuplicateKey, SeverityWarning, "%q is already set on line %d; this value replaces it", key, firstLine[key])
			env.Vars[i].Value = val
			continue
		}
		index[key] = len(env.Vars)
		firstLine[key] = num
		env.Vars = append(env.Vars, Var{Key: key, Value: val})
	}
	return env
}

// pair splits a trimmed line into key and value and reports what is
// questionable about it. ok is false only for a fatal error.
func (p Parser) pair(st *state, num int, line string) (key, val string, ok bool) {
	eq := strings.IndexByte(line, '=')
	raw, spaced := "", false // spaced: whitespace between '=' and the value
	if eq < 0 {
		key, _ = trimJS(line)
		st.add(num, RuleMissingEquals, SeverityError, "no '=': heroku local sets a variable named %q to the empty string", truncate(key))
	} else {
		key, _ = trimJS(line[:eq])
		var lead int
		raw, lead = trimJS(line[eq+1:])
		spaced = lead > 0
		if eq > 0 && isJSSpaceBefore(line, eq) || eq+1 < len(line) && isJSSpaceAt(line, eq+1) {
			st.add(num, RuleSpaceAroundEquals, SeverityWarning, "whitespace around '='; heroku local trims it but shells and Ruby foreman do not accept it")
		}
	}
	if rest, ok := cutExport(key); ok {
		if p.Export {
			st.add(num, RuleExport, SeverityWarning, "heroku local would name this variable %q, not %q", truncate(key), truncate(rest))
			key = rest
		} else {
			st.add(num, RuleExport, SeverityWarning, "heroku local names this variable %q; remove \"export\"", truncate(key))
		}
	}
	switch {
	case key == "":
		st.add(num, RuleInvalidKey, SeverityError, "no variable name before '='")
	case !portableKey(key):
		st.add(num, RuleInvalidKey, SeverityWarning, "%q is not a portable variable name (letters, digits and '_', not starting with a digit)", truncate(key))
	}
	val, ok = p.value(st, num, raw, spaced)
	return key, val, ok
}

func (p Parser) value(st *state, num int, raw string, spaced bool) (string, bool) {
	if raw == "" {
		return "", true
	}
	switch q := raw[0]; q {
	case '"', '\'':
		var val string
		var end int // index of the closing quote in raw
		if q == '"' && p.Escapes {
			val, end = unescape(raw)
		} else {
			end = strings.IndexByte(raw[1:], q)
			if end >= 0 {
				end++
				val = raw[1:end]
			}
		}
		if end < 0 {
			st.fatal = true
			st.add(num, RuleUnterminatedQuote, SeverityError, "the %c quote is not closed on this line (heroku local fails to start; values cannot span lines)", q)
			return "", false
		}
		if trailing := raw[end+1:]; trailing != "" {
			t, lead := trimJS(trailing)
			if !(lead > 0 && strings.HasPrefix(t, "#")) {
				st.add(num, RuleTrailingText, SeverityWarning, "%q after the closing quote is dropped", truncate(trailing))
			}
		}
		if q == '"' && hasEscape(raw[1:end+1]) {
			if p.Escapes {
				st.add(num, RuleEscape, SeverityWarning, "backslash escapes are expanded here, but heroku local keeps them as written")
			} else {
				st.add(num, RuleEscape, SeverityWarning, "heroku local keeps backslash escapes as written (\\n stays two characters); foreman and forego expand them")
			}
		}
		return val, true
	}
	val, hash := cutComment(raw)
	if hash > 0 && !isJSSpaceBefore(raw, hash) || hash == 0 && !spaced {
		st.add(num, RuleHashInValue, SeverityWarning, "the value is cut at '#' (heroku local reads %q); quote it to keep the '#'", truncate(val))
	}
	return val, true
}

// cutComment applies /\s*#.*$/ (first match, no m flag): the earliest '#'
// with no line terminator after it starts a comment, with the whitespace
// before it. hash is the index of that '#', or -1.
func cutComment(v string) (string, int) {
	after := 0
	for i, r := range v {
		if isJSLineTerminator(r) {
			after = i + utf8.RuneLen(r)
		}
	}
	h := strings.IndexByte(v[after:], '#')
	if h < 0 {
		return v, -1
	}
	h += after
	cut := h
	for cut > 0 {
		r, size := utf8.DecodeLastRuneInString(v[:cut])
		if !isJSSpace(r) {
			break
		}
		cut -= size
	}
	return v[:cut], h
}

// unescape reads a double-quoted value with escapes; raw[0] is the quote.
// end is the index of the closing quote, or -1.
func unescape(raw string) (string, int) {
	var b strings.Builder
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '"':
			return b.String(), i
		case c == '\\' && i+1 < len(raw):
			i++
			switch raw[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\\':
				b.WriteByte(raw[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(raw[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", -1
}

// hasEscape reports whether the text of a double-quoted value, with its
// closing quote, holds an escape that heroku local and other tools read
// differently.
func hasEscape(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\\' && strings.IndexByte(`nrt"\`, s[i+1]) >= 0 {
			return true
		}
	}
	return false
}

func cutExport(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "export")
	if !ok || rest == "" {
		return "", false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if !isJSSpace(r) {
		return "", false
	}
	rest, _ = trimJS(rest)
	return rest, rest != ""
}

func portableKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return k != ""
}

func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	cut := 37
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// JavaScript's whitespace: what \s matches and trim() removes.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// JavaScript's line terminators, which end a line for ^, $ and '.'.
func isJSLineTerminator(r rune) bool {
	return r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029
}

func isJSSpaceAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isJSSpace(r)
}

func isJSSpaceBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isJSSpace(r)
}

// trimJS is String.prototype.trim; lead is how many bytes it cut in front.
func trimJS(s string) (string, int) {
	start := 0
	for start < len(s) {
		r, size := utf8.DecodeRuneInString(s[start:])
		if !isJSSpace(r) {
			break
		}
		start += size
	}
	end := len(s)
	for end > start {
		r, size := utf8.DecodeLastRuneInString(s[start:end])
		if !isJSSpace(r) {
			break
		}
		end -= size
	}
	return s[start:end], start
}

// utf16Len is JavaScript's String length.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// tracked is text with, for each byte, its offset in the decoded source,
// so diagnostics can name lines after the removals.
type tracked struct {
	s      string
	origin []int32
}

func newTracked(s string) tracked {
	o := make([]int32, len(s)+1)
	for i := range o {
		o[i] = int32(i)
	}
	return tracked{s: s, origin: o}
}

// remove deletes the sorted, disjoint byte ranges.
func (t tracked) remove(ranges [][2]int) tracked {
	if len(ranges) == 0 {
		return t
	}
	var b strings.Builder
	b.Grow(len(t.s))
	o := make([]int32, 0, len(t.origin))
	prev := 0
	for _, r := range ranges {
		b.WriteString(t.s[prev:r[0]])
		o = append(o, t.origin[prev:r[0]]...)
		prev = r[1]
	}
	b.WriteString(t.s[prev:])
	o = append(o, t.origin[prev:]...)
	return tracked{s: b.String(), origin: o}
}

func lineStart(s string, p int) bool {
	if p == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:p])
	return isJSLineTerminator(r)
}

func skipJSSpace(s string, p int) int {
	for p < len(s) {
		r, size := utf8.DecodeRuneInString(s[p:])
		if !isJSSpace(r) {
			break
		}
		p += size
	}
	return p
}

// lineEnd is the position of the first JavaScript line terminator at or
// after p, or len(s).
func lineEnd(s string, p int) int {
	for p < len(s) {
		r, size := utf8.DecodeRuneInString(s[p:])
		if isJSLineTerminator(r) {
			break
		}
		p += size
	}
	return p
}

// commentRanges finds what s.replace(/^\s*\#.*$/gm, "") removes: from a
// line start, whitespace (which may span blank lines) then '#' and the rest
// of that line.
func commentRanges(s string) [][2]int {
	var out [][2]int
	runEnd := -1 // end of the whitespace run around p, once computed
	for p := 0; p < len(s); {
		if lineStart(s, p) {
			if p >= runEnd {
				runEnd = skipJSSpace(s, p)
			}
			if h := runEnd; h < len(s) && s[h] == '#' {
				e := lineEnd(s, h+1)
				out = append(out, [2]int{p, e})
				p = e
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(s[p:])
		p += size
	}
	return out
}

// blankRanges finds what s.replace(/^\s*$/gm, "") removes: from a line
// start, whitespace up to the last line terminator before the next
// non-space character, or to the end of s.
func blankRanges(s string) [][2]int {
	var out [][2]int
	runEnd, lastLT := -1, -1
	for p := 0; p < len(s); {
		if lineStart(s, p) {
			if p >= runEnd {
				runEnd, lastLT = p, -1
				for runEnd < len(s) {
					r, size := utf8.DecodeRuneInString(s[runEnd:])
					if !isJSSpace(r) {
						break
					}
					if isJSLineTerminator(r) {
						lastLT = runEnd
					}
					runEnd += size
				}
			}
			if runEnd == len(s) {
				out = append(out, [2]int{p, len(s)})
				break
			}
			if lastLT > p {
				out = append(out, [2]int{p, lastLT})
				p = lastLT
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(s[p:])
		p += size
	}
	return out
}

// decodeUTF8 converts bytes to a string the way Node's Buffer.toString()
// does: each maximal invalid subsequence becomes one U+FFFD (WHATWG).
func decodeUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			sb.Write(b[i : i+size])
			i += size
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += maximalSubpart(b[i:])
	}
	return sb.String()
}

// maximalSubpart is the length of the invalid sequence at the start of b
// that WHATWG decoding replaces with a single U+FFFD.
func maximalSubpart(b []byte) int {
	c := b[0]
	need, lo, hi := 0, byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k > 0 {
			lo, hi = 0x80, 0xBF
		}
		if x < lo || x > hi {
			break
		}
		n++
	}
	return n
}
