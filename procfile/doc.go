// Package procfile parses, checks and writes Procfiles, the file in an app's
// root that names its process types:
//
//	release: bundle exec rails db:migrate
//	web: bundle exec puma -C config/puma.rb
//	worker: bundle exec sidekiq
//
// Each line gives a process type and the command its dynos run (with bash,
// after .profile.d is sourced). The build system parses the Procfile once;
// the result becomes the process types of the slug and of every release
// made from it, which the formation scales and the router sends traffic to
// (only to "web").
//
// # Two modes
//
// [Parse] reads a Procfile exactly as Heroku's slug compiler does, and
// never complains: what Heroku ignores, it ignores. Use it wherever the
// result decides what runs, so an app behaves as it would on Heroku.
//
// [ParseStrict] returns the very same [Procfile] and, besides, one
// *[SyntaxError] per questionable line — its line number, the [Rule] it
// broke and a [Severity] — gathered in an [Errors]. Use it where someone can
// act on the answer: show the diagnostics in the build output (Heroku shows
// none, and a silently dropped "worker:rake jobs:work" is a classic
// support ticket), lint in a CLI, or refuse the build when
// [Errors.HasErrors] if the platform prefers strictness to compatibility.
// Errors are lines that do not do what they seem to (Heroku drops them, or
// the result cannot run or cannot be released); warnings are lines Heroku
// reads as meant but that other implementations (Cloud Native Buildpacks,
// foreman) read differently or reject.
//
// # Heroku's rules, and so Parse's
//
// Line breaks are "\n", "\r\n" and a lone "\r". Each line is matched
// against the slug compiler's Ruby regex
//
//	^[[:space:]]*([a-zA-Z0-9_-]+):?\s+(.*)[[:space:]]*
//
// with Ruby's meaning of the classes. Hence:
//
//   - Leading whitespace, including Unicode spaces, is skipped.
//   - The type is ASCII letters, digits, '_' and '-', so "my.worker: x" is
//     ignored.
//   - The colon is optional ("web node app.js" defines web), but at least
//     one ASCII whitespace character must follow the type or the colon:
//     "web:cmd" is ignored, and so is "web:" followed by a no-break space.
//   - All whitespace after the separator is skipped; the command is the
//     rest of the line, trailing spaces included. "web: " followed by
//     nothing defines web with an empty command, while "web:" is ignored.
//   - Any other line — blank, a comment, garbage — is ignored.
//   - A type defined twice takes the last command and keeps the position
//     of its first definition.
//   - A file with no valid line defines no types; that is not an error.
//
// A UTF-8 byte order mark is not whitespace to Ruby, so it hides a process
// type on the first line. What Heroku does with bytes that are not UTF-8
// is unconfirmed: Ruby raises ArgumentError when a regex meets them in a
// UTF-8 string, so the build probably fails. Parse takes such bytes as
// ordinary non-space characters and strict mode reports them as errors.
// Parse is a hand-written scanner, over 100 times faster than running the
// regex per line; the fuzz tests hold it to the regex (with Ruby's classes
// spelled out) on every input.
//
// # The result
//
// A [Procfile] keeps its entries in file order, each type once. Look a
// command up with [Procfile.Command]; [Procfile.Map] gives the shape of a
// slug's process_types. [Merge] adds a buildpack's default process types
// (bin/release) under the Procfile, which takes precedence.
// [Procfile.OneOffCommand] turns `heroku run myworker 42` into the command a
// one-off dyno runs. [Format] and [Procfile.WriteTo] write the canonical
// form, "<type>: <command>" per line, which parses back to the same
// Procfile for everything Parse can return (empty commands and trailing
// spaces included).
//
// Three types mean something to the platform: [Web] receives HTTP traffic,
// [Release] runs in the release phase, and [OneOff] ("run") is the type of
// one-off dynos, so a Procfile should not define it. [ValidateName] applies
// the Platform API's rule for formation types, ^[-\w]{1,128}$; a Procfile
// type longer than 128 characters parses but cannot be released.
//
// Input is limited to [MaxSize] (1 MiB); larger input fails with
// [ErrTooLarge] instead of being read without bound.
//
// The .env files `heroku local` reads are handled by the sibling package
// [github.com/dynokit/dynokit/procfile/dotenv].
//
// # Deviation from the design sketch
//
// The sketch had Parse return a *SyntaxError and wrap ErrDuplicateType.
// Parse instead returns what Heroku accepts, silently, because platform
// compatibility is the point of Parse; the checks moved to ParseStrict,
// where every problem is reported rather than the first, and each rule is
// an error value ([RuleDuplicateType] and the others) that errors.Is
// matches.
package procfile
