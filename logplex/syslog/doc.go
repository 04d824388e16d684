// Package syslog reads and writes the syslog messages Logplex speaks:
// RFC 5424 messages, framed for streams with RFC 6587 octet counting
// ("<length> <message>"), and the application/logplex-1 batches that are
// POSTed over HTTP.
//
// # Vocabulary
//
//   - A [Message] is one RFC 5424 message: PRI, TIMESTAMP, HOSTNAME,
//     APP-NAME, PROCID, MSGID, STRUCTURED-DATA and MSG. Drains put the drain
//     token in HOSTNAME, the source ("app", "heroku") in APP-NAME and the
//     process ("web.1") in PROCID; log input (heroku.md §7.4) puts the
//     input token ("t.<uuid>") in APP-NAME.
//   - A [Dialect] is a header layout: [RFC5424], or [HTTPSDrain], which is
//     what Logplex POSTs to HTTPS drains (no STRUCTURED-DATA field, and a
//     newline ending each message inside its frame).
//   - A frame is "<length> <message>"; [Split] is a bufio.SplitFunc that
//     cuts a stream into messages and [AppendFrame] writes one.
//   - A [Route] decides which app a received message belongs to.
//
// # Receiving
//
// [Listener] accepts TCP or TLS connections and sends every message to a
// logplex.Sink (Run(ctx) or Serve(ctx, listener); stops when ctx is done).
// [InputHandler] is the http.Handler for POSTed batches. Neither applies
// back-pressure beyond TCP's own: the Sink never blocks.
//
// # Strictness
//
// Parse is strict about the header, because a lenient parser that guesses
// would route lines to the wrong app: PRI must be 0..191 without leading
// zeros, VERSION 1, TIMESTAMP RFC 3339 with at most six fraction digits,
// header fields printable ASCII within the RFC 5424 lengths, and
// STRUCTURED-DATA well formed (kept raw). MSG bytes are kept as they are;
// a UTF-8 BOM is not removed. Errors are *ParseError with the byte offset
// and field; framing errors are *FrameError. Frames are bounded
// ([DefaultMaxFrame], 64 KiB) so a bad length cannot make a reader buffer
// without limit.
//
// Parsing and formatting round-trip: for every input Parse accepts,
// Parse(Marshal(m)) returns m again (timestamps are normalised to UTC).
package syslog
