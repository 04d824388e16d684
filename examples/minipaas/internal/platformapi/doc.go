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
//     RateLimit-Remaining, 429 rate_limit when empty.
//   - ParseRange, PageOf, Paginate: Range pagination. Both spellings the CLI
//     sends parse ("version ..; order=desc,max=1" and
//     "version ..; max=15, order=desc"), as do "id ]<last>..; max=200" (the
//     continuation form) and "name ..". A truncated page answers 206 with
//     Next-Range; the last page answers 200 without it, because the CLI's
//     HTTP client follows Next-Range on every array response and would
//     otherwise never stop.
//   - Server: ties these together in front of endpoints registered with Go
//     ServeMux patterns ("GET /apps/{app}/releases"), answering unknown paths
//     and methods with JSON errors too.
//
// URLs the CLI opens without the API's headers (the logplex_url of a log
// session, which carries its own credential and no Accept or Authorization,
// and the rendezvous of `heroku run`) must be served outside Server.
package platformapi
