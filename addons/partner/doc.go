// Package partner speaks the Heroku add-on partner API v3 (heroku.md
// §8.3) in both directions.
//
// Client is the platform side: an addons.Provider that provisions from
// any provider speaking the API. Provision sends POST /heroku/resources
// with uuid (the request id), name, plan, region, options,
// callback_url, oauth_grant and log_input_url, authenticated with the
// manifest id and password (basic auth). A 200/201 answer carries the
// config; a 202 means asynchronous provisioning: the Client, mounted as
// an http.Handler at CallbackBase, waits for the provider's PATCH
// {callback_url}/config and POST {callback_url}/actions/provision, and
// meanwhile repeats the idempotent POST every PollInterval, so a
// provider that failed or never calls back is noticed. A provision that
// cannot be finished (a 202 without CallbackBase, or no callback within
// the caller's deadline) returns the provider's id with its error, so
// addons.Manager deletes the resource, as Heroku deletes unfinished
// provisions. ChangePlan sends PUT /heroku/resources/{id}, Deprovision
// DELETE /heroku/resources/{id} (200, 204, or 202 for a provider that
// deprovisions in the background; 404 and 410 mean addons.ErrNotFound).
//
// Handler is the provider side: it serves any addons.Provider through
// the same API, with basic auth compared in constant time and JSON
// errors carrying a message (shown to users for 422 and 503; internal
// failures become a generic 503 and are logged). With AsyncAfter set,
// provisions that take longer are answered 202 and completed through the
// callbacks.
//
// Deviations from Heroku, with reasons:
//   - Callbacks are authorized with the oauth_grant code itself as a
//     bearer token; Heroku makes providers exchange it for an OAuth
//     token first. dynokit has no OAuth server, and the code is random,
//     per provision and short-lived.
//   - Error bodies carry an "id" (unknown_plan, not_found, …) beside
//     "message", like Platform API errors, so the Client can map them to
//     addons sentinels. Other providers omit it; the Client then relies
//     on the status code.
//   - The Handler keeps asynchronous provisions (uuid → resource id) in
//     memory; after a restart the platform's retried POST re-provisions,
//     which providers answer idempotently.
//   - The Accept header is sent but not enforced.
//   - An asynchronous provision is waited for within addons.Manager's
//     Timeout (a minute by default), where Heroku waits up to 12 hours:
//     Manager.Create returns only once the resource is ready, so raise
//     the Timeout for providers that take long.
//   - Provider-initiated config changes (PATCH {callback_url}/config) are
//     taken only while a provision waits; after that, a provider's change
//     reaches the platform through addons.Manager.UpdateConfig.
package partner
