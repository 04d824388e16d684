// Package router is dynokit's HTTP router: an http.Handler that routes each
// request by its Host header to one of an app's web dynos, with Heroku's
// headers, timeouts, error codes and log lines, and a ready [Server] for
// HTTP/1.1 and HTTP/2 over TLS.
//
// # Vocabulary
//
//   - App: a name; it is served at "<app>.<BaseDomain>" (default
//     "<app>.localhost") and at its custom domains ([Router.SetDomains]).
//   - Dyno / Backend: a web dyno the router may send requests to. The
//     platform describes dynos with [Dyno] values; the router keeps a
//     [Backend] per dyno with its in-flight count, quarantine state and
//     pool of keep-alive upstream connections.
//   - Balancer: picks a Backend per request. [Random] (Heroku's policy,
//     the default), [RoundRobin], [LeastConn] and [PowerOfTwo] are
//     provided; routertest.TestBalancer is their shared conformance suite.
//   - Code: a Heroku router error code (H10, H12, …, H99); it decides the
//     error page's status and appears in the router log line.
//
// # Lifecycle
//
// New returns a Router; the platform then feeds it at any time, from any
// goroutine: SetBackends when web dynos start or stop, SetWebState to say
// why an app has none (starting: requests wait up to BootWait, then H20;
// crashed: H10; stopped: H14), SetMaintenance (H80), SetErrorPages,
// SetDomains, RemoveApp. The router never imports the platform's packages:
// these methods are the whole seam. Reads are lock-free: the app table is a
// sharded copy-on-write map behind atomic pointers and each app's dyno list
// is an atomic pointer, so a change never blocks or drops a request in
// flight (requests keep the Backend they started with; a removed dyno's
// idle connections are closed, busy ones when their request ends).
//
// A [Server] runs the Router: Run(ctx) serves until ctx is cancelled, then
// shuts down gracefully and closes upgraded connections.
//
// # Request path
//
// The client side is net/http's server (robust parsing, HTTP/2, TLS). The
// dyno side is the router's own lean HTTP/1.1 client: per-dyno pools of
// keep-alive connections, the request head written straight from the
// incoming header map into a buffered writer, the response head parsed
// into the outgoing header map, bodies streamed both ways through pooled
// buffers, flushing whenever the dyno pauses so streams stay live. A
// connection failure quarantines the dyno for QuarantineFor and retries on
// another dyno (MaxAttempts, then H19/H21); nothing is retried once the
// request may have reached a dyno, except an idempotent, bodiless request
// whose pooled connection turned out to be closed before any response byte
// (the same rule as net/http's Transport; Config.NeverReplay turns even that
// off). Upgrade requests (WebSocket…) become a byte tunnel under the
// rolling idle window.
//
// Heroku semantics: X-Forwarded-For gets the peer's address appended (a
// client-sent value is kept only from TrustedProxies, as are
// X-Forwarded-Proto/-Port, X-Forwarded-Host and Forwarded), X-Request-Start
// carries milliseconds since the epoch, X-Request-Id keeps a valid client
// id (20–200 of [A-Za-z0-9+/=-]) or gets a generated UUID-shaped one (a
// keyed counter mix, not crypto/rand per request), Via gets "1.1 dynokit"
// appended. Hop-by-hop headers and those the client names in Connection are
// dropped before the router adds its own, so a client cannot strip them.
// Timeouts: connect (5 s), first response byte (30 s, H12), and a rolling
// 55 s idle window once bytes flow (H15 dyno idle, H28 client idle).
//
// Every request produces one log line in Heroku's key order, given to the
// LogSink for the app's log stream and to the optional slog.Logger. Per-app
// metrics (requests, status classes, error codes, service-time
// percentiles) are read with [Router.Stats].
//
// # Deviations from the design
//
//   - The design sketched Balancer.Pick over a Pool type and a Proxy built
//     on httputil.ReverseProxy. ReverseProxy reaches about a third of
//     nginx's throughput here, so the dyno side is a purpose-built HTTP/1.1
//     client instead (net/http still parses every client request). The
//     go-style.md advice behind "wrap, don't fork ReverseProxy" — keep the
//     standard library's parsing fixes — holds: client input is parsed by
//     net/http, dyno responses by a strict parser with Heroku's limits.
//   - The platform passes plain [Dyno] values; Backends (which hold atomics
//     and must not be copied) are created and owned by the router.
//   - Expect values other than 100-continue are answered 417 by net/http
//     itself for HTTP/1.1 before the handler runs, so no router log line is
//     written for them; HTTP/2 requests get the router's own H26 answer.
//   - Performance: with net/http serving clients, the floor per request is
//     a bare net/http server's cost plus the dyno exchange. On the 2-core
//     benchmark box the router spends about 40 µs of CPU per proxied
//     request where nginx spends about 22 µs and a bare net/http "hello"
//     server about 17 µs (bench/router/run.sh), so throughput is about 0.6×
//     nginx's. Closing the gap needs a leaner HTTP/1.1 server for the
//     client side (its parser would have to pass the same smuggling tests);
//     the dyno side is already a lean pooled client.
//   - obs-fold request headers are unfolded by net/http into one
//     SP-joined value (RFC 9112 §5.2 allows this for a proxy) rather than
//     rejected; the dyno never sees a continuation line.
package router
