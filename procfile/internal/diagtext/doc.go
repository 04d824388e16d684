// Package diagtext formats the diagnostics of strict parsing for procfile and
// procfile/dotenv. Each of those packages keeps its own Rule, Severity,
// SyntaxError and Errors types, so their rules stay distinct for errors.Is
// and their documentation stays in one place; only the text and the
// unwrapping, which must read the same in both, live here.
//
// Vocabulary: a diagnostic is one line's problem, printed as
// "pkg: line N: severity: message (rule)"; pkg is the package name that
// prefixes every error text of that package.
//
// Lifecycle: none; the functions are pure.
//
// What is left: nothing known.
package diagtext
