// Package logplex carries the log streams of apps, in the manner of
// Heroku's Logplex: every line a dyno writes to stdout or stderr, and
// every line platform components log about the app, goes into the app's
// stream; `heroku logs` reads its recent history and follows it; drains
// ship it to syslog or HTTPS endpoints outside the platform.
//
// # Vocabulary
//
//   - A [Message] is one line: Time (microseconds, UTC), App, Source
//     ("app" for dynos, "heroku" for the platform), Proc (the process:
//     "web.1", "router", "api") and Text. Its display form is Heroku's:
//     "2010-09-16T15:13:46.677020+00:00 app[web.1]: text". Text longer than
//     [MaxLineBytes] (10,000 bytes) is split into several messages.
//   - A [Sink] accepts messages and never blocks on slow readers; a
//     [Source] yields an app's history then, optionally, live messages; a
//     [Drain] is a Sink that ships messages out through a bounded queue.
//   - A [Buffer] is the in-memory Sink and Source: a ring of the last
//     [DefaultHistory] (1,500) lines per app, and tails that follow it.
//
// # Ingestion
//
// [LineWriter] turns a dyno's stdout or stderr into messages (one per line,
// partial lines kept across writes, "\r\n" accepted, bytes kept as written,
// long lines split, a last partial line sent on Close). [Handler] is an
// slog.Handler for platform components: records become logfmt lines in
// the stream of the app named by an attribute. Package logplex/syslog
// receives RFC 5424 messages from outside (TCP with RFC 6587 octet
// counting, and HTTP POSTs of application/logplex-1 batches).
//
// # Tails
//
// [Buffer.Tail] copies the history and registers the tail under one lock,
// so the history and the live part have no gap and no duplicate. Each tail
// has a bounded queue ([DefaultTailBuffer] messages); a reader that falls
// further behind loses the newer messages, never the producers' time, and
// then reads an L11 notice (heroku.md §7.3):
//
//	Error L11 (Tail buffer overflow) -> This tail session dropped N messages since <time>.
//
// and the tail goes on. TailOptions.Buffer sets one tail's queue: a feed
// that only hands lines on (to a drain, whose own buffer then drops the
// oldest with an L10 notice) sets it large, so a burst is not cut there.
// Filters follow `heroku logs --source/--dyno`: the
// dyno filter "web" matches "web.1" and "web.2" (the part before the dot);
// "web.1" matches only itself. History lines are the last Lines lines that
// pass the filters.
//
// # Log sessions
//
// [Sessions] hands out session URLs carrying a random secret (compared in
// constant time; a session can be opened until it expires) and serves them
// as Server-Sent Events for the heroku CLI, or as chunked text/plain.
//
// # Drains
//
// Package logplex/drain holds the syslog (TCP, TLS) and HTTPS drains. They
// queue up to 1,024 messages, drop the oldest when the endpoint is down or
// slow, count the drops, and deliver an L10 notice with the count once the
// endpoint catches up, so no line is lost silently.
//
// # Deviations from design.md
//
// The drains live in logplex/drain rather than here because they need the
// RFC 5424 code of logplex/syslog, which imports this package for Message.
// Splitting a long line backs off to a UTF-8 rune boundary (pieces may be
// up to 3 bytes short of 10,000) so split lines stay printable; Heroku
// cuts at exactly 10,000 bytes.
package logplex
