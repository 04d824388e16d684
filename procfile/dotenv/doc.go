// Package dotenv reads and writes .env files the way `heroku local` does.
//
// A .env file holds the config vars an app gets when it runs on a
// developer's machine. `heroku local` reads it with node-foreman (npm
// package foreman 3.0.1, lib/envs.js); [Parse] reproduces that reader
// exactly, quirks included, so an app behaves the same under a dynokit
// local runner as under heroku local. [ParseStrict] returns the same
// variables and also reports, with line numbers, every line that reader
// takes differently from what its author probably meant or from what other
// tools do. [Format] writes an [Env] back as a file that reads back
// unchanged.
//
// # What heroku local does, and so what Parse does
//
// If the whole file is valid JSON it is read as JSON: nested keys are
// joined with '_' and upper-cased ({"db": {"url": "x"}} gives DB_URL=x),
// array elements are numbered from 0, numbers and booleans become their
// JavaScript text (1e21 gives "1e+21"), null and empty containers define
// nothing. A file that starts with a byte order mark is never JSON.
//
// Otherwise it is read as KEY=VALUE lines:
//
//   - Bytes that are not UTF-8 become U+FFFD. Lines end at "\n"; a "\r"
//     before it is trimmed with the other whitespace (JavaScript's trim,
//     which also removes a byte order mark and Unicode spaces).
//   - Lines whose first non-blank character is '#' are comments; blank
//     lines are skipped. (Both are removed with JavaScript multi-line
//     regexes in which "\r", U+2028 and U+2029 also end lines; Parse
//     follows those rules to the byte.)
//   - A line of one or two characters is skipped, so "A=" sets nothing:
//     write A="" for an empty value.
//   - The key is the text before the first '=', trimmed; the value is the
//     rest, trimmed, so "=" may appear in values and " = " is accepted.
//     "export KEY=v" defines a variable named "export KEY". A line without
//     '=' defines the whole line as a key with an empty value.
//   - A value starting with ' or " ends at the next quote of the same
//     kind; what follows the closing quote is dropped. There are no
//     escapes: "a\nb" is a, backslash, n, b, and \" closes the value. A
//     quote that does not close on its line makes heroku local fail, and
//     Parse return a [SyntaxError] with [RuleUnterminatedQuote]; values
//     cannot span lines.
//   - An unquoted value ends before the first '#' (with the whitespace
//     before it), whether or not a space precedes it: "A=abc#def" gives
//     "abc".
//   - The last definition of a key wins. The key __proto__ is dropped.
//
// heroku local also sorts the variables by name and sets PATH from its own
// environment when the file does not set it; an [Env] keeps the order of
// the file and leaves PATH to the caller.
//
// These rules were checked by running node-foreman itself on the table
// tests and on 25,000 generated files (TestNodeForeman; set
// DOTENV_NODE_FOREMAN to the path of foreman's lib/envs.js to run it).
//
// # Other tools
//
// Ruby foreman, forego and godotenv strip "export " and expand \n and \"
// in double quotes; heroku local does neither (reported upstream as
// heroku/cli#999). A [Parser] with Export and Escapes set reads those
// files as they do; the zero Parser is heroku local. Strict mode flags the
// lines where the two readings differ, so a file can be made to mean the
// same everywhere.
//
// # Strict mode
//
// Every diagnostic is a *[SyntaxError] with a line, a [Rule] and a
// [Severity]: errors are lines that do not do what they seem to (a skipped
// "A=", a line without '=', an unterminated quote), warnings are lines that
// work under heroku local but not elsewhere. Use it where a developer can
// fix the file (a CLI's "local" command, an editor check); use Parse where
// the file is only to be honoured as heroku local would.
package dotenv
