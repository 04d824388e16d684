package procfile

import (
	"errors"
	"slices"

	"github.com/dynokit/dynokit/procfile/internal/diagtext"
)

// ErrTooLarge is returned (wrapped) when the input is longer than [MaxSize].
var ErrTooLarge = errors.New("procfile: input too large")

// ErrInvalidName is returned (wrapped) by [ValidateName].
var ErrInvalidName = errors.New("procfile: invalid process type name")

// Rule names a check of strict mode. A Rule is also an error, so
// errors.Is(err, procfile.RuleDuplicateType) tells whether a strict parse
// broke that rule anywhere.
type Rule string

// Rules reported by [ParseStrict]. Each comment says what Heroku's parser
// (lenient mode) does with such a line.
const (
	// The file starts with a UTF-8 byte order mark. Heroku does not strip
	// it, so a process type on line 1 is silently lost.
	RuleBOM Rule = "bom"
	// The line is not valid UTF-8. Heroku's Ruby slug compiler is expected
	// to fail on such input; dynokit parses the bytes as they are.
	RuleInvalidUTF8 Rule = "invalid-utf8"
	// "web:cmd": no whitespace after the colon. Heroku ignores the line.
	RuleNoSpace Rule = "no-space"
	// "web:" or "web": a type without a command. Heroku ignores the line.
	RuleMissingCommand Rule = "missing-command"
	// ": cmd": a command without a type. Heroku ignores the line.
	RuleMissingName Rule = "missing-name"
	// "my.worker: cmd": the type has a character outside [A-Za-z0-9_-].
	// Heroku ignores the line.
	RuleInvalidName Rule = "invalid-name"
	// Any other line that is not blank, not a comment and not an entry.
	// Heroku ignores it.
	RuleIgnoredLine Rule = "ignored-line"
	// "web: " (trailing whitespace only): Heroku defines the type with an
	// empty command, so its dynos exit at once.
	RuleEmptyCommand Rule = "empty-command"
	// The type is longer than 128 characters: the parser accepts it but the
	// Platform API (formation, slug process_types) rejects it.
	RuleNameTooLong Rule = "name-too-long"
	// The type is not a DNS label (lowercase a-z0-9 and '-', alphanumeric
	// at both ends, at most 63 characters) as Cloud Native Buildpacks and
	// Kubernetes require. Heroku's classic platform accepts it.
	RuleNotDNSLabel Rule = "not-dns-label"
	// The type was already defined on an earlier line. The last definition
	// wins; the first one fixes the position.
	RuleDuplicateType Rule = "duplicate-type"
	// "web cmd": no colon after the type. Heroku accepts it.
	RuleNoColon Rule = "no-colon"
	// Whitespace before the type. Heroku accepts it.
	RuleLeadingSpace Rule = "leading-space"
	// The type "run" is the type of one-off dynos (run.N).
	RuleReservedName Rule = "reserved-name"
	// The file defines no process type at all (reported with Line 0).
	RuleEmptyFile Rule = "empty-file"
)

// Error returns the rule name, e.g. "duplicate-type".
func (r Rule) Error() string { return string(r) }

// Severity tells whether a diagnostic is a mistake or merely unportable.
type Severity int

const (
	// SeverityError: the line does not do what its author meant — Heroku
	// drops it, or the result cannot run or cannot be released.
	SeverityError Severity = iota + 1
	// SeverityWarning: Heroku does what the author meant, but other
	// implementations (Cloud Native Buildpacks, foreman, forego) may not, or
	// the file is ambiguous.
	SeverityWarning
)

func (s Severity) String() string { return diagtext.SeverityName(int(s)) }

// SyntaxError is one diagnostic of strict mode.
type SyntaxError struct {
	Line     int // 1-based line number; 0 when about the whole file
	Rule     Rule
	Severity Severity
	Msg      string // what is wrong and how to fix it
}

func (e *SyntaxError) Error() string {
	return diagtext.Format("procfile", e.Line, e.Severity.String(), e.Msg, string(e.Rule))
}

// Unwrap returns the Rule, so errors.Is matches rules.
func (e *SyntaxError) Unwrap() error { return e.Rule }

// Errors is the error [ParseStrict] returns: every diagnostic, ordered by
// line. Get it with errors.As(err, &errs).
type Errors []*SyntaxError

func (errs Errors) Error() string { return diagtext.Join("procfile", errs) }

// Unwrap exposes each *SyntaxError to errors.Is and errors.As.
func (errs Errors) Unwrap() []error { return diagtext.Unwrap(errs) }

// HasErrors reports whether any diagnostic has SeverityError.
func (errs Errors) HasErrors() bool {
	return slices.ContainsFunc(errs, func(e *SyntaxError) bool { return e.Severity == SeverityError })
}
