// Package dashboard is minipaas's web dashboard: server-rendered pages of
// the apps, their releases and dynos, and each app's live log.
//
// # Pages
//
//	<prefix>/                 every app: current release, dynos and their states
//	<prefix>/apps/{app}       one app: dynos (type, state, release), releases, logs
//	<prefix>/apps/{app}/logs  the app's log as Server-Sent Events
//	<prefix>/static/          the stylesheet and the log script (embedded)
//
// The pages are html/template, so every app name, release description and
// log line is escaped for where it lands. The only script is
// static/dashboard.js: it opens an EventSource on the log stream and
// appends each line as text. The Content-Security-Policy allows no inline
// script, so markup that slipped through escaping still could not run.
//
// # Log stream
//
// A stream starts with the app's recent lines and then follows, with no gap
// and no duplicate between the two (logplex's tail guarantees it); each
// line is a message event whose data is one JSON object
// {"time","source","proc","text"}. A browser that loses the stream
// reconnects and gets the recent lines again, replacing what it showed.
// Comment lines keep an idle stream open. The stream ends when the client
// leaves or Handler.Done is closed; without Done, a server shutting down
// must cut such connections (http.Server.Close).
//
// # Access
//
// Every page, the static files included, needs the API token: as the
// password of HTTP basic auth with any user name (what a browser prompts
// for, and what git push sends), or as a bearer token. The dashboard only
// reads, so ambient basic-auth credentials give another site nothing to
// forge; it answers GET and HEAD only and may not be framed.
//
// # Lifecycle
//
// Set a Handler's fields and serve it; it prepares its templates on the
// first request. With Next set it fronts another handler, taking only the
// paths under Prefix.
//
// # Not done
//
// Pages show a snapshot (reload for new dyno states and releases); only the
// log is live. Nothing can be changed from the dashboard: scaling,
// restarts, config vars and rollbacks stay with the API and the CLI.
package dashboard
