// Package drain ships app logs to endpoints outside the platform, like
// Heroku's log drains: [Syslog] (syslog:// over TCP, syslog+tls:// over
// TLS; RFC 5424 in RFC 6587 octet-counted frames, HOSTNAME = drain token,
// APP-NAME = source, PROCID = process) and [HTTPS] (POSTed
// application/logplex-1 batches with Logplex-Msg-Count, Logplex-Frame-Id
// and Logplex-Drain-Token headers). [New] picks one from a drain URL;
// [Set] is an app's drains together.
//
// # Lifecycle
//
// Configure the struct (the zero value of every field but Addr/URL and
// Token is a sensible default), start Run(ctx) in a goroutine, Send lines,
// and call Shutdown(ctx) to deliver what is queued and stop; cancelling
// Run's ctx stops at once instead. Send never blocks: it only appends to a
// bounded buffer ([DefaultBuffer] messages).
//
// # Never losing a line silently
//
// When the buffer is full the oldest message is dropped and counted.
// When a batch fails for good (HTTPS after Attempts tries) its messages
// are counted too. The next batch delivered starts with
//
//	Error L10 (output buffer overflow): N messages dropped since <time>.
//
// from heroku[logplex], so the endpoint's owner knows. [Stats] keeps
// Sent == Delivered + Dropped, and Reported counts the drops announced;
// Shutdown's error says how many drops could not be announced.
//
// A TLS endpoint whose certificate does not verify is retried like a
// down one; if Syslog.Errors is set, the app's own log gets Heroku's
//
//	Error L14 (certificate validation): error="..." uri="syslog+tls://host:port/"
//
// A syslog connection that breaks is redialled with exponential back-off
// (MinBackoff doubling to MaxBackoff) and the batch written again. Writes
// have a deadline (WriteTimeout), so an endpoint that accepts but never
// reads costs its own drain a reconnect, never the other drains or the
// producers; a cancelled Shutdown ctx interrupts a pending write.
// "Delivered" means written to the connection: bytes the kernel accepted
// for an endpoint that then dies unread cannot be known to be lost. A
// reader on each connection notices an endpoint that closed it (syslog
// receivers never write), so a restarted endpoint is redialled before
// lines are written into a dead socket.
package drain
