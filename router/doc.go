// Package router is dynokit's HTTP router: an http.Handler that routes each
// request by its Host header to one of an app's web dynos, with Heroku's
// headers, timeouts, error codes and log lines, and a ready [Server] for
// HTTP/1.1 and HTTP/2 over TLS.
//
// # Vocabulary
//
//   - App: a name; it is served at "<app>.<BaseDomain>" (default
//     "<app>.localhost") and at its custom domains ([Router.SetDomains]),
//     which may be wildcards ("*.example.com": every name under it, any
//     depth). Lookup order: a custom domain, the app host, then the
//     closest wildcard. Custom domains are looked up first, so none may
//     be at or under BaseDomain, nor a wildcard above it
//     ([ErrReservedDomain]): another app's host would be taken over. ACME
//     orders certificates for exact names only, never for names a
//     wildcard routes.
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
// crashed: H10; stopped: H14; sleeping, an idle Eco app: the first
// request calls Config.Wake, then requests wait as during a boot),
// SetMaintenance (H80), SetErrorPages,
// SetDomains, RenameApp, RemoveApp. The router never imports the
// platform's packages: these methods are the whole seam. RenameApp
// (heroku apps:rename) moves an app with everything it has — dynos and
// pools, state, pages, custom domains, metrics — to a new name in one
// atomic step: the old host answers "no such app" from the same instant
// the new one routes, custom domains never stop routing, requests in
// flight finish, and log lines are written under the name the app has
// when they are. Reads are lock-free: the app table is a
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
// Client side: [Server] serves HTTP/1.1 with the router's own front end,
// on the plain listener and over TLS alike, and HTTP/2 with net/http. On
// the TLS listener each handshake runs in a goroutine of its own, bounded
// by ReadHeaderTimeout (a shutdown ends it, or stops waiting for it while
// GetCertificate is busy, e.g. with an ACME order), and ALPN decides which
// server gets the connection, so HTTPS requests get the same parsing,
// framing rules and H26 lines as plain ones. A Router is also an ordinary
// http.Handler for embedders, and Server.NetHTTP puts net/http back on
// both listeners. The front end runs one goroutine
// per connection and no other per request: a strict parser reads the head
// (one copy into one string; names, values, Host and framing checked as
// net/http's server checks them, Transfer-Encoding and Content-Length
// conflicts refused), the Request, its header map and URL and the response
// writer are reused across the requests of a connection, and the response
// head and a small body leave in one write. Client disconnects while a
// request waits on its dyno are detected by a background read that a
// sweeper starts for requests in flight for 50–100 ms (net/http pays for
// one per request), which cancels the request's context (H27).
//
// Dyno side: the router's own lean HTTP/1.1 client: per-dyno pools of
// keep-alive connections, the request head written straight from the
// incoming header map into a buffered writer (with a small request body,
// one write), the response head parsed from one read (behind the front
// end its checked header lines are kept as bytes and written out as they
// are, not put in a header map), bodies streamed both ways through pooled
// buffers, flushing whenever the dyno pauses so streams stay live. A
// connection is pooled again only when nothing past the response was
// read, so bytes a dyno sends beyond its response can never become the
// next request's response. A connection failure
// quarantines the dyno for QuarantineFor and retries on another dyno
// (MaxAttempts, then H19/H21); nothing is retried once the request may have
// reached a dyno (Config.ReplayIdempotent opts in to net/http's Transport
// rule: an idempotent, bodiless request whose pooled connection turned out
// to be closed before any response byte is resent once). Instead, a pooled
// connection idle for more than 250 ms is checked before reuse (a
// non-blocking MSG_PEEK): one the dyno closed, or sent anything on, is
// dropped for a fresh one.
// Upgrade requests (WebSocket…) become a byte tunnel under the rolling idle
// window.
//
// Dyno identity: pools are per dyno (Backend), never per address, and with
// Config.VerifyDyno each new upstream connection is checked to reach the
// dyno it was opened for before anything is written to it: once a dyno
// stops, another app's dyno may take its address before the router hears
// of the stop. A failed check counts as a failed connection (quarantine,
// another dyno, H21). The platform supplies the check; formation's
// Reconciler.DynoListens answers it for runtimes that can tell which
// process listens on a port (formation/local and formation/oci do).
//
// Backlog: with Config.MaxDynoRequests set (Heroku's router used 50), a
// dyno never has more requests in flight from this router than the cap. A
// request whose picked dyno is at the cap goes to another dyno under it,
// or waits in the app's backlog, first in, first out, until a request ends
// or dynos are added; a backlog already holding the cap times the number
// of dynos answers H11 (Backlog too deep) at once, and a wait longer than
// FirstByteTimeout ends in H12 with no dyno in the line. AppStats.Backlog
// and the dynokit_router_backlog gauge show its depth. Without the cap
// (the default) a slow dyno's requests queue in the dyno itself, as
// behind nginx or haproxy: a cap suits dynos that serve one request at a
// time, and costs dynos that serve many (a Go dyno behind a cap of 8–32
// served 3–11% fewer requests in bench/router).
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
// System calls: on TCP connections both sides read and write with raw
// read(2)/write(2) inside syscall.RawConn's callbacks (see rawIO), which
// keep the netpoller's waiting, deadlines and close handling but skip the
// runtime's blocking-syscall bookkeeping: with it, every loopback write
// (which runs the receiver's TCP stack inline) that outlasted sysmon's
// 20 µs tick handed the P to another thread, and sysmon itself woke every
// 20 µs. Writes that are answered are made inside the read that waits
// for the answer, after the netpoller's readiness reset, so that read does
// not first find the socket empty (EAGAIN): a request head to a
// just-pooled dyno connection, and a response to a keep-alive client. That
// leaves two reads and two writes per proxied request, as nginx does. A
// client's bytes that came in before the reset (a pipelined request, its
// FIN) raise no readiness: the sweeper looks once at each connection still
// waiting a sweep period after its response (a MSG_PEEK) and wakes it if
// anything is pending, so a pipelining client can wait up to 100 ms for its
// next answer. A dyno sends nothing unasked, so a quiet dyno connection
// needs no such check (a dyno that writes past its response and then
// nothing more gets H12 instead of H17). Per-request
// read deadlines are kept when still close enough (client keep-alive: up
// to 1/64 of IdleTimeout early; first byte: up to 1/64 of
// FirstByteTimeout late) instead of updating a timer per request. Under
// the race detector the calls go through package syscall, whose
// annotations make I/O a synchronisation point as for net.Conn.
//
// Every request produces one log line in Heroku's key order, given to the
// LogSink for the app's log stream and to the optional slog.Logger. Per-app
// metrics (requests, status classes, error codes, a service-time histogram
// and its percentiles) are read with [Router.Stats]: counters since the app
// was added, kept with atomic adds on the request path. A reader that
// wants an interval — an autoscaler's last minute, a dashboard's last few
// — takes snapshots and subtracts them ([AppStats.Sub]), which costs the
// request path nothing. [Router.MetricsHandler] serves the same counters
// and histogram to Prometheus in its text format.
//
// # Certificates
//
// [Server] serves TLS when TLSAddr or TLSListener is set and picks a
// certificate per handshake from the SNI name:
//
//   - Explicit certificates: a [CertStore] holds those the platform sets
//     (Set/Remove by domain, "*.example.com" for one-label wildcards, an
//     optional Default for unknown names). Pass its GetCertificate as
//     Server.GetCertificate, or put it in ACME.Certs.
//   - ACME ([ACME], built on golang.org/x/crypto/acme/autocert): set
//     Server.ACME and the router obtains certificates for the hosts it
//     routes — the apps' custom domains ([Router.SetDomains]), plus
//     "<app>.<BaseDomain>" with ACME.AppHosts, narrowed by ACME.Allow (e.g.
//     a per-app opt-in) — and nothing else: an unrouted SNI name never
//     reaches the CA. A certificate is ordered on the first handshake for
//     the name (that handshake waits for the order, seconds with Let's
//     Encrypt) and renewed in the background RenewBefore expiry (30 days
//     by default). A failed order holds the host back for a minute,
//     doubling up to an hour, so a domain whose DNS does not point here
//     cannot burn the CA's failed-validation limit one handshake at a
//     time. DirectoryURL defaults to Let's Encrypt production; HTTPClient
//     or RootCAs point it at another CA (Pebble in the tests); Email is
//     the account contact. Configuring ACME accepts the CA's terms.
//
// Order for a name: a Server.GetCertificate hit, then ACME.Certs (exact,
// then wildcard), then ACME for routed names, then ACME.Certs.Default, else
// the handshake fails. A removed domain stops being served at once (the
// policy is checked on every handshake) and is not renewed: autocert's
// renewal timers skip the host policy, so ACME's HTTP client refuses any
// new order for a name the router does not route. Its files stay cached.
//
// Challenges: TLS-ALPN-01 is tried first ("acme-tls/1" is offered on the
// TLS listener and its handshakes get the token certificate before any
// explicit one); HTTP-01 is answered on the plain-HTTP listener, by both
// front ends, for /.well-known/acme-challenge/ before routing, so it works
// for apps with no dyno up or in maintenance. The CA must reach the
// listeners on ports 443 and 80 of the domain's address.
//
// Cache: with ACME.CacheDir (required unless ACME.Cache replaces it) the
// account key ("acme_account+key") and one PEM file per certificate
// (private key and chain, named by domain, "+rsa" for the RSA certificate
// kept for clients without ECDSA) live in that directory (0700, files
// 0600), so a restart serves them without a new order.
//
// x/crypto/acme polls a finalizing order at the finalize response's
// Location header, which RFC 8555 does not require and Pebble omits (Go
// issue 77704); ACME's HTTP client supplies the order URL it saw at order
// creation when the header is missing.
//
// Not done: DNS-01, hence no ACME wildcard certificates (a base-domain
// wildcard must be set in the CertStore); OCSP stapling; revoking or
// deleting the cached certificate of a removed domain; external account
// binding; sharing one cache and one order per name across several
// router processes (autocert coordinates within a process only; a shared
// ACME.Cache makes them reuse certificates but they may order
// concurrently).
//
// # Deviations from the design
//
//   - The design sketched Balancer.Pick over a Pool type and a Proxy built
//     on httputil.ReverseProxy. ReverseProxy reaches about a third of
//     nginx's throughput here, so the dyno side is a purpose-built HTTP/1.1
//     client instead. The go-style.md advice behind "wrap, don't fork
//     ReverseProxy" — keep the standard library's parsing fixes — is kept
//     by test rather than by reuse: every smuggling, limit and protocol test
//     runs against both client front ends, and FuzzFrontParse checks that
//     the front end never accepts a request net/http's reader rejects or
//     reads differently (method, target, URL, Host, header map, length,
//     body).
//   - Own front end rather than github.com/valyala/fasthttp: fasthttp's
//     server has the same goroutine-per-connection model over net.Conn, so
//     the same syscall floor; its handler API is not http.Handler (its
//     adaptor copies every request into an http.Request, giving back most
//     of the gain), and its parser differs from net/http's, so the shared
//     tests could not hold for both. The own front end is ~800 lines, feeds
//     the same Router code as net/http does, and adds no dependency.
//   - The front end is stricter than net/http in a few places: HTTP
//     versions other than 1.0 and 1.1 get 505, Transfer-Encoding on an
//     HTTP/1.0 request 400, and trailers are checked and dropped. A
//     request framed both ways (chunked and a valid Content-Length) is
//     answered by its chunked framing and then the connection closes, as
//     RFC 9112 §6.1 requires of a server; net/http reads on. Expect
//     values other than 100-continue reach the router (H26, 417, with a
//     log line); on the net/http front end, net/http answers 417 itself for
//     HTTP/1.1 and no log line is written. A request body the handler left
//     unread is discarded when already buffered, else the connection is
//     closed. Client-gone detection lags by up to 100 ms (see above).
//     A request the own front end refuses before routing (a malformed
//     request line, header, Host or framing) gets a plain-text answer and
//     an H26 line with the broken rule as its cause ("bad header", "bad
//     content length", ...) in the log of the app its host names, and
//     counts in that app's metrics; a request naming no app, or two
//     hosts, gets no line. net/http's server (Server.NetHTTP, and
//     HTTP/2) answers such requests itself, without a line.
//   - Headers: X-Forwarded-Host, like X-Forwarded-Proto and -Port, is
//     kept only from TrustedProxies (Heroku forwards a client's value,
//     which lets any client choose the host an app builds its links
//     from), and X-Forwarded-Proto is always the router's own scheme, not
//     left as the client sent it on ports other than 80 and 443. vegur's
//     Connect-Time and Total-Route-Time request headers and its Server
//     response header are not added: the log line carries the first two,
//     and a response keeps the dyno's own Server header or none. Bare LF
//     line ends in a request head are read as net/http reads them; the
//     dyno always gets CRLF.
//   - The whole response head is read under the first-byte timeout: a
//     dyno that sends part of a head and then stalls gets H12 at
//     FirstByteTimeout, where Heroku's router would count the part as the
//     first byte and wait out the idle window (H15). The timeout fires up
//     to 1/64 of it late (deadlines are reused, see above), which the
//     line's service= shows.
//   - bytes= in a log line counts what the dyno sent: the router's own
//     error and maintenance pages leave it empty when no dyno was reached
//     (H14, H80) and 0 when one was (H12, H13), as in Heroku's lines.
//   - The platform passes plain [Dyno] values; Backends (which hold atomics
//     and must not be copied) are created and owned by the router.
//   - Performance (bench/router/run.sh: wrk -t2 -c64 -d10s through each
//     proxy to the same Go backend, on a shared 2-core box). nginx and
//     haproxy are set up as equivalent proxies: upstream keep-alive, and
//     the same headers added for the dyno (X-Forwarded-*, X-Request-Id,
//     X-Request-Start, Via), which cost the Go backend about 2 µs per
//     request to parse; runs before 2026-11-22 charged that to the router
//     alone. Two runs on a quiet box, medians of 5 and 9 rounds: req/s 0.98
//     and 1.00× nginx's, 1.03 and 0.99× haproxy's; p99 5.34 and 4.55 ms
//     against nginx's 5.61 and 4.73 and haproxy's 5.12 and 4.55; CPU per
//     request 20.6 and 18.2 µs against nginx's 22.4 and 19.7 and haproxy's
//     22.8 and 20.2. So throughput and p99 are at parity, within the
//     round-to-round spread (each proxy's req/s moves by ±8% between
//     rounds), and the router's CPU per request is the lowest of the three.
//     Per proxied request it makes the system calls nginx and haproxy make
//     (two reads, two writes, about a fifth of an epoll wait; plus 0.04
//     futex calls) and the same four TCP segments. Three quarters of its
//     CPU is kernel time in those calls (the loopback writes run the
//     receiver's TCP stack), about 6% the Go scheduler and netpoller, about
//     10% its own code (parser, routing, headers, log line, metrics). What
//     is left to gain is in how the Go runtime wakes threads: the router
//     leaves the CPUs idle a little more often than the event loops do
//     (idle time 88–136 against 39–114 clock ticks per 8 s round). A
//     minimal epoll-loop proxy kept as a measuring instrument
//     (EVLOOP=1 bench/router/run.sh; one locked thread per P, the same
//     forwarded headers, no log line, metrics, request IDs, timeouts or
//     checks) reached 1.05× the router's req/s and 1.02× nginx's, at 17.9
//     µs CPU per request against the router's 19.0 (medians of 5 rounds,
//     one run). That bounds what an event-loop fast path for plain
//     keep-alive requests could gain: about 5%. Such a front end was built
//     and measured (2026-11-22), then left out: per-GOMAXPROCS epoll
//     loops, each an ordinary goroutine waiting in the netpoller on its
//     epoll descriptor, answering requests whose head and dyno response
//     arrive whole straight from readiness events (the same parser,
//     Router code, log line and metrics, in steps), and handing anything
//     else — bodies, upgrades, slow or large responses, connect failures —
//     to this goroutine front end mid-request. In three 5–9-round runs of
//     bench/router/run.sh with the goroutine front end as a sixth target,
//     the loops' req/s was 1.11, 0.99 and 1.00× the goroutines', with p99
//     equal in the first run and 0.5–1.0 ms worse in the others (5.40 vs
//     5.49, 6.69 vs 5.66, 6.32 vs 5.87 ms); in interleaved A/B runs
//     (6–8 rounds of 5 s) 0.98–1.05×. It did cut the wake-ups
//     of wrk and the dyno compared with goroutines (voluntary context
//     switches per request 0.16–0.19 vs 0.21–0.24 and 0.19 vs 0.25), to
//     haproxy's level, but not robustly the CPU, and about 700 lines on
//     the hardened path for a gain inside the box's ±8% noise and a worse
//     tail was a bad trade. Neither this front end, the loops, nor the
//     minimal epoll proxy above reaches haproxy's p99 here (last run:
//     5.87, 6.32 and 5.30 ms against haproxy's 5.14 and nginx's 5.27);
//     haproxy's tighter tail is the one figure no Go variant tried
//     matched. In those three runs this front end's req/s was 0.97, 0.97
//     and 1.01× nginx's and 0.89, 0.97 and 0.98× haproxy's. The same
//     router behind net/http's server: 0.66× the front end's req/s.
//     Later that day, the goroutines' scheduling delay was measured
//     (runtime/metrics /sched/latencies): router goroutines waited
//     runnable p50 131 µs and p99 1.8 ms under the saturated bench,
//     the Go backend's p99 1.0–1.3 ms behind any proxy; yielding once
//     before parking for the dyno, GOMAXPROCS 1 or 4 and a FIFO dyno
//     pool did not help (bench/router/README.md). Pooling the 57 paired
//     rounds of seven runs that day (95% confidence intervals): req/s
//     0.985× nginx's [0.954, 1.017] and 0.974× haproxy's [0.945, 1.004];
//     p99 +0.21 ms [−0.05, +0.47] and +0.28 ms [+0.06, +0.50]; CPU per
//     request 0.936× [0.909, 0.964] and 0.927× [0.899, 0.955]. Less
//     CPU, the same throughput as nginx within 5%, a slightly wider
//     tail than haproxy's. The gap is one of saturation: with 8
//     connections instead of 64 the router served 1.16× nginx's
//     requests [1.05, 1.30] and 1.11× haproxy's [1.03, 1.20] with the
//     same p99; from 32 on, haproxy's tail is the tighter. Box-wide, runs
//     through the router leave the two CPUs idle about 7% of the time
//     against haproxy's 5%, with 15–20% more context switches and
//     interrupts (the dyno's and wrk's wake-ups; on this VM an idle vCPU
//     halts and each wake-up is a VM exit): that lost share is the
//     throughput, and so the p99, difference (bench/router/README.md).
//     How far single runs move: two runs an hour apart later gave 1.044×
//     haproxy's req/s with p99 −0.18 ms (every median at or past both
//     proxies') and, on a busier box, 0.904× with p99 +0.78 ms. Pooling
//     the 62 paired rounds of eight full runs with this front end:
//     against nginx, req/s 1.000× [0.970, 1.030] and p99 +0.09 ms
//     [−0.18, +0.35], parity; against haproxy, 0.977× [0.949, 1.005] and
//     +0.20 ms [−0.04, +0.43] (+3.6% relative), with the router's own CPU
//     per request 0.93× haproxy's but the dyno's 1.04× behind it: haproxy
//     delivers requests in tighter bursts, so the dyno and wrk wake less
//     often per request (bench/router/README.md, "Everything pooled").
//     On a faster machine of the same kind (2026-11-23: each proxy about
//     13 µs CPU per request), two 9-round runs pooled: p99 at parity
//     with both (+0.12 ms [−0.01, +0.25] against nginx, +0.07 ms [−0.07,
//     +0.20] against haproxy) but req/s 0.973× nginx's [0.955, 0.992] and
//     0.976× haproxy's [0.960, 0.992], the router's CPU per request equal
//     to nginx's; a quarter of its CPU samples are wake-ups of wrk, the
//     dyno and itself (bench/router/README.md, "A faster machine").
//     A later 9-round run: 0.982× nginx's req/s [0.968, 0.996] and 0.965×
//     haproxy's [0.952, 0.978], p99 at parity, the router's CPU per
//     request the lowest of the three. The shortfall is idle CPU (the
//     box idled 8.7% of the rounds behind the router, 7.8% behind nginx,
//     7.4% behind haproxy): a router thread is mostly preempted rather
//     than asleep, and the goroutines it holds wait in the Go scheduler's
//     queues, out of the kernel's sight, while a CPU idles. An event loop
//     avoids that (idle at haproxy's level, 1.05–1.22× the router's
//     req/s) but passes more of the Go dyno's own long tail through: its
//     p99 was 0.2–1.6 ms worse than haproxy's in every round
//     (bench/router/README.md, "Where the last few percent go").
//     Queueing at the router instead (a first-in-first-out limit of 8–32
//     requests in flight per dyno) cost 3–11% of req/s and left the p99
//     as it was. Over 36 paired rounds the router serves 0.976× nginx's
//     req/s and 0.971× haproxy's, p99 at parity with both; half the gap
//     is idle CPU, half the dyno's and wrk's extra CPU per request, both
//     from their more frequent sleeps and wake-ups behind the router
//     (bench/router/README.md, "Shaping the dyno's load"). Over HTTPS/1.1
//     (own front end on TLS, 7 paired rounds) it serves 1.008× nginx's
//     req/s and 1.019× haproxy's, with a p99 0.5–0.7 ms shorter, at the
//     least CPU per request of the three.
//   - Upgraded connections: the tunnel's pumps use raw system calls (on
//     plain TCP; over TLS, tls.Conn's Read and Write) and coarse deadlines
//     like the front end (router CPU per 64-byte echo
//     round trip 20.2–21.5 → 16.1–18.6 µs in interleaved runs). Over 16
//     connections the echo ran at 1.02 and 1.04× nginx's round trips/s and
//     1.05 and 1.09× haproxy's, at 17.4 and 15.5 µs of CPU per round trip
//     against nginx's 16.6 and 13.8 and haproxy's 20.1 and 17.8. A pump
//     still reads once more per message than nginx (its read until EAGAIN):
//     skipping that read could lose a wake-up, as the netpoller's readiness
//     is reset before each wait.
//   - obs-fold request headers are unfolded into one SP-joined value
//     (RFC 9112 §5.2 allows this for a proxy), exactly as net/http joins
//     them, rather than rejected; the dyno never sees a continuation line.
package router
