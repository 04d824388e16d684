package diagtext

import (
	"fmt"
	"strings"
)

// Severity numbers, as both packages declare them (iota + 1).
const (
	SeverityError   = 1
	SeverityWarning = 2
)

// SeverityName is the text of a severity: "error", "warning", or
// "Severity(n)" for any other number.
func SeverityName(s int) string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return fmt.Sprintf("Severity(%d)", s)
}

// Format is the text of one diagnostic. Line 0 means the whole file, which
// has no line to name.
func Format(pkg string, line int, severity, msg, rule string) string {
	if line == 0 {
		return fmt.Sprintf("%s: %s: %s (%s)", pkg, severity, msg, rule)
	}
	return fmt.Sprintf("%s: line %d: %s: %s (%s)", pkg, line, severity, msg, rule)
}

// Join is the text of a list of diagnostics: the one diagnostic alone, or a
// count followed by one indented diagnostic a line, each without the
// repeated "pkg: " prefix.
func Join[E error](pkg string, errs []E) string {
	switch len(errs) {
	case 0:
		return pkg + ": no errors"
	case 1:
		return errs[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems:", pkg, len(errs))
	for _, e := range errs {
		b.WriteString("\n\t")
		b.WriteString(strings.TrimPrefix(e.Error(), pkg+": "))
	}
	return b.String()
}

// Unwrap returns errs as a []error, for an Unwrap() []error method that
// exposes each diagnostic to errors.Is and errors.As.
func Unwrap[E error](errs []E) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return out
}
