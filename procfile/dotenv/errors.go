package dotenv

import (
	"errors"
	"slices"

	"github.com/dynokit/dynokit/procfile/internal/diagtext"
)

// ErrTooLarge is returned (wrapped) when the input is longer than [MaxSize].
var ErrTooLarge = errors.New("dotenv: input too large")

// Rule names a check. A Rule is also an error, so errors.Is(err,
// dotenv.RuleUnterminatedQuote) works on what the parsers return.
type Rule string

// Rules. Each comment says what heroku local does with such a line.
const (
	// A value opens a quote that does not close on the same line. heroku
	// local stops with a TypeError; [Parse] fails too. The only rule that
	// makes the lenient parser fail.
	RuleUnterminatedQuote Rule = "unterminated-quote"
	// A line of one or two characters, such as "A=", is skipped: the
	// variable is not set. Write A="" for an empty value.
	RuleShortLine Rule = "short-line"
	// A line without '=' defines a variable named after the whole line,
	// with an empty value.
	RuleMissingEquals Rule = "missing-equals"
	// "export KEY=v": heroku local names the variable "export KEY".
	RuleExport Rule = "export"
	// The key is not a portable variable name ([A-Za-z_][A-Za-z0-9_]*),
	// or it is empty.
	RuleInvalidKey Rule = "invalid-key"
	// "KEY = v": heroku local trims the spaces; shells and Ruby foreman do
	// not accept them.
	RuleSpaceAroundEquals Rule = "space-around-equals"
	// Text after the closing quote is dropped (a '#' comment after
	// whitespace is not reported).
	RuleTrailingText Rule = "trailing-text"
	// An unquoted value is cut at a '#' with no whitespace before it
	// ("A=abc#def" gives "abc").
	RuleHashInValue Rule = "hash-in-value"
	// A double-quoted value holds a backslash escape such as \n: heroku
	// local keeps it as written, foreman and forego expand it.
	RuleEscape Rule = "escape"
	// The key was already set on an earlier line; the last value wins.
	RuleDuplicateKey Rule = "duplicate-key"
	// The key "__proto__" is silently dropped by heroku local (a
	// JavaScript quirk).
	RuleProtoKey Rule = "proto-key"
	// The file starts with a UTF-8 byte order mark. heroku local ignores
	// it in KEY=VALUE files, but it stops a JSON file from being read as
	// JSON, and other tools choke on it.
	RuleBOM Rule = "bom"
	// The line is not valid UTF-8; invalid bytes become U+FFFD, as in
	// heroku local.
	RuleInvalidUTF8 Rule = "invalid-utf8"
)

// Error returns the rule name, e.g. "short-line".
func (r Rule) Error() string { return string(r) }

// Severity tells whether a diagnostic is a mistake or merely unportable.
type Severity int

const (
	// SeverityError: the line does not do what its author meant.
	SeverityError Severity = iota + 1
	// SeverityWarning: heroku local does what the author probably meant,
	// but other readers of .env files may not.
	SeverityWarning
)

func (s Severity) String() string { return diagtext.SeverityName(int(s)) }

// SyntaxError is one diagnostic.
type SyntaxError struct {
	Line     int // 1-based line of the input
	Rule     Rule
	Severity Severity
	Msg      string
}

func (e *SyntaxError) Error() string {
	return diagtext.Format("dotenv", e.Line, e.Severity.String(), e.Msg, string(e.Rule))
}

// Unwrap returns the Rule, so errors.Is matches rules.
func (e *SyntaxError) Unwrap() error { return e.Rule }

// Errors is the error strict parsing returns: every diagnostic, ordered by
// line. Get it with errors.As(err, &errs).
type Errors []*SyntaxError

func (errs Errors) Error() string { return diagtext.Join("dotenv", errs) }

// Unwrap exposes each *SyntaxError to errors.Is and errors.As.
func (errs Errors) Unwrap() []error { return diagtext.Unwrap(errs) }

// HasErrors reports whether any diagnostic has SeverityError.
func (errs Errors) HasErrors() bool {
	return slices.ContainsFunc(errs, func(e *SyntaxError) bool { return e.Severity == SeverityError })
}
