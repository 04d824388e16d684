// Package platformapi holds the transport conventions of the Heroku
// Platform API v3 (reference heroku.md §9, real-components.md §2) as pieces
// independent of the domain objects, so that minipaas's API answers the real
// heroku CLI the way api.heroku.com does:
//
//   - CheckVersion: the Accept header must ask for
//     application/vnd.heroku+json; version=3 (or a variant such as 3.sdk),
//     else 406 not_acceptable.
//   - Error, WriteError, WriteJSON: errors are JSON {"id", "message"} with
//     the status of their id (not_found 404, invalid_params 422, ...); the CLI
//     prints them as "Error: <message>" and "Error ID: <id>". Errors that are
//     not *Error become a generic 500 so internals never leak.
//   - RequestID: a valid client Request-Id is echoed, otherwise one is made.
//   - BearerOrBasic, TokenMatches: the CLI sends "Authorization: Bearer
//     <key>"; basic auth with the key as password also works. Comparison is
//     constant time.
//   - RateLimiter: a token bucket per account, reported in
//     RateLimit-Remaining, 429 rate_limit when empty. Server answers GET
//     /account/rate-limits ({"remaining": n}) itself without charging it;
//     embedders register no endpoint for it.
//   - ParseRange, PageOf, Paginate: Range pagination. Both spellings the CLI
//     sends parse ("version ..; order=desc,max=1" and
//     "version ..; max=15, order=desc"), as do "id ]<last>..; max=200" (the
//     continuation form) and "name ..". A truncated page answers 206 with
//     Next-Range; the last page answers 200 without it, because the CLI's
//     HTTP client follows Next-Range on every array response and would
//     otherwise never stop.
//   - Server: ties these together in front of endpoints registered with Go
//     ServeMux patterns ("GET /apps/{app}/releases"), answering unknown paths
//     and methods with JSON errors too. It also applies the conventions
//     below.
//   - X-Http-Method-Override: a POST carrying it (PATCH, DELETE or PUT, in
//     any case) is routed as that method, for clients that cannot send
//     those; another value is 400 bad_request. Other methods ignore it.
//   - ETag: every successful GET (and HEAD) answer carries a strong ETag, a
//     hash of its body, so GET responses are held in memory until their
//     handler returns; one that flushes streams instead and has no ETag.
//     If-None-Match naming it (weak comparison, or "*") answers 304 with no
//     body. Errors carry no ETag.
//   - If-Match on a write (any other method): the ETag of what GET of the
//     same path answers now, with the same credentials, must match (strong
//     comparison; "*" matches any representation), else 412
//     precondition_failed, also when the path has no GET. When that GET
//     fails (an unknown app: 404), its answer is the write's (RFC 9110
//     §13.2.1). Conditional writes to one path run one at a time, check
//     and act under the path's lock, so of two clients writing with the
//     same ETag one wins and the other gets 412; their bodies are read
//     before the lock. Nothing else waits for them: unconditional writes
//     and changes the platform makes by itself skip the check.
//   - CORS: the API takes tokens, never cookies, so any origin may call it
//     without credentials. A request with Origin gets
//     "Access-Control-Allow-Origin: *" and the API's headers exposed (errors
//     too); a preflight (OPTIONS with Access-Control-Request-Method) is
//     answered 204 before the version check and auth.
//
// URLs the CLI opens without the API's headers (the logplex_url of a log
// session, which carries its own credential and no Accept or Authorization,
// and the rendezvous of `heroku run`) must be served outside Server.
package platformapi
