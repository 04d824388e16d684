// Package dashboard is minipaas's web dashboard: server-rendered pages of
// the apps, their releases and dynos, and each app's live log, with forms
// that change an app as Heroku's dashboard does.
//
// # Pages
//
//	<prefix>/                 every app: current release, dynos and their states
//	<prefix>/apps/{app}       one app: router metrics, process types, dynos, config vars, domains, buildpacks, add-ons, log drains, builds, releases, logs
//	<prefix>/apps/{app}/logs  the app's log as Server-Sent Events
//	<prefix>/apps/{app}/builds/{build}  a build's output as text, followed while it runs
//	<prefix>/static/          the stylesheet and the log script (embedded)
//
// The router metrics (requests, status classes, router errors by H-code,
// service-time percentiles since the router started) are shown when the
// Source also has the optional RouterMetrics capability, as
// *platform.Platform does, and the app has had requests; with
// RecentRouterMetrics too, those of the last minutes (the platform's
// snapshots of the last 10) are shown above them.
//
// With the optional BuildHistory capability (*platform.Platform has it),
// the app page lists the newest builds, git pushes and builds by API
// alike, each with a link to its output.
//
// # Actions
//
// With Handler.Control set, the apps page has a form to create an app and
// the app page a form for each change; each POSTs to one of
//
//	<prefix>/apps                       name: create an app
//	<prefix>/apps/{app}/formation       type, quantity, size: scale and resize a process type
//	<prefix>/apps/{app}/restart         dyno: restart that dyno, or without it every dyno
//	<prefix>/apps/{app}/config          name, value: set a config var (a new release)
//	<prefix>/apps/{app}/config/unset    name: unset a config var (a new release)
//	<prefix>/apps/{app}/domains         hostname: add a custom domain
//	<prefix>/apps/{app}/domains/remove  hostname: remove a custom domain
//	<prefix>/apps/{app}/rollback        version: a new release from an earlier one
//	<prefix>/apps/{app}/maintenance     maintenance=on|off
//	<prefix>/apps/{app}/acm             acm=on|off|refresh: Automatic Certificate Management (ACM)
//	<prefix>/apps/{app}/buildpacks      buildpack, index: add a buildpack (URL or registry name), by default last
//	<prefix>/apps/{app}/buildpacks/remove  buildpack: remove one (its URL or name)
//	<prefix>/apps/{app}/buildpacks/clear   clear the buildpacks (the next push detects)
//	<prefix>/apps/{app}/addons          plan: provision an add-on (heroku addons:create)
//	<prefix>/apps/{app}/addons/destroy  addon, confirm: destroy an add-on, when confirm is its name
//	<prefix>/apps/{app}/addons/plan     addon, plan: move one of the app's add-ons to another plan of its service
//	<prefix>/apps/{app}/addons/attach   addon, as: attach an add-on billed to another app (as: optional name)
//	<prefix>/apps/{app}/addons/detach   addon: detach an add-on billed to another app
//	<prefix>/apps/{app}/drains          url: add a log drain (heroku drains:add)
//	<prefix>/apps/{app}/drains/remove   token: remove one of the app's log drains
//	<prefix>/apps/{app}/autoscaling     autoscaling=on with min, max, p95 (ms), or autoscaling=off: web dyno autoscaling
//	<prefix>/apps/{app}/scheduler       command, every (10m, 1h, 24h), at (HH:MM UTC): schedule a job
//	<prefix>/apps/{app}/scheduler/remove  job: remove a scheduled job
//	<prefix>/apps/{app}/destroy         confirm: destroy the app, when confirm is its name
//
// and is answered 303 See Other back to the page, so a reload does not
// repeat it: a new app's page after it is created, the apps page after an
// app is destroyed, else the page the form is on. The outcome (the release
// made, or what was wrong) rides in the redirect's query string as a flash
// message, signed with a key made at start and bound to the page's app (""
// for the apps page, a name no app can have), so that a link from
// elsewhere cannot put words on a page; the page escapes it like
// everything else. Forms need no script.
//
// Inputs are checked before anything changes, each with a message on the
// page: an app name that is not empty (the platform's naming rule and a
// taken name are its own messages), a quantity from 0 to
// formation.MaxQuantity, a process type of the current release, a dyno size
// of platform.DynoSizes, config var names and values by
// release.ConfigLimits (the release manager's rules), a release that
// succeeded and has a slug, a host name that is not empty and not already
// the app's (its form is the platform's rule), a domain to remove that is
// one of the app's, acm on or off, a buildpack that is not empty and not
// already the app's at an index from 1 to one past the last, a buildpack
// to remove that is one of the app's, an add-on plan that is not empty
// (which plans exist is the platform's rule), an add-on to destroy that
// is one of the app's and billed to it (an app that only has another's
// add-on attached cannot destroy it, as the CLI says), a drain URL that is
// not empty (its form, a duplicate and the limit of drains per app are
// the platform's rules), a drain to remove given by the token of one of
// the app's drains, and a destroy confirmation, of the app or an add-on,
// that is exactly its name, as Heroku's dashboard asks. The changes are
// Control's calls, the ones minipaas's Platform API makes (its
// ChangeFormation, CreateApp, DestroyApp, AddDomain, RemoveDomain and
// its add-on and drain methods are the API handlers' own code:
// destroying tears down the app's add-ons, pipeline coupling and log
// drains too, adding a domain starts its ACM certificate, provisioning or
// destroying an add-on sets or unsets its config vars in a release), made as
// Handler.User: a change from here has the CLI's release descriptions
// ("Set FOO config vars", "Rollback to v3"), user and app[api] log lines.
//
// ACM and buildpacks are optional capabilities of a Control, as
// RouterMetrics is of a Source: the Domains section shows ACM's switch and
// each domain's status ("cert issued", "pending", "failing" and why; none
// with ACM off) when Control is also an ACM, and the Buildpacks section
// shows the app's buildpacks in order when it is also a Buildpacks. An ACM
// whose state is an error the page shows (minipaas without
// -acme-directory: the API's 422 acm_not_available) has that explanation
// next to the switch, and the switch answers with it. A buildpack is added,
// removed or cleared by reading the list and writing it back whole, as the
// CLI does with the API; minipaas's ReplaceBuildpacks is its PUT
// buildpack-installations, so which buildpacks exist and the messages
// refusing others are the API's.
//
// Add-ons and log drains are optional capabilities too, Heroku's
// Resources tab: with Addons, the Add-ons section lists the add-ons billed
// to or attached to the app (name, plan, state, attachment names and the
// names of the config vars each sets on the app, never their values,
// which only the Config vars section shows), a select of the plans the
// platform offers, and per add-on billed to the app a destroy form that
// asks for its name. With AddonChanges too, an add-on billed to the app
// gets a form to move it to another plan of its service, one attached
// from another app a detach form, and the section a form to attach an
// add-on of another app under an optional name (addons:upgrade, attach
// and detach; minipaas runs the API's own code). With Drains, the Log drains section lists the app's
// drains with their tokens, an add-on's marked as such (it goes with its
// add-on only), with a form to add one by URL and one to remove each of
// the app's own. A drain URL's password is masked on the page and in
// flash messages (the API and the CLI show it whole); the remove form
// names a drain by its token, never its URL. With Backups, the Backups
// section (shown when the app has backups or databases) lists the app's
// database backups (heroku pg:backups: name, database, status, size),
// a form to capture one of the app's own databases, and a download link
// per completed backup, served by the dashboard itself. With Autoscaling, an app
// with a web process gets the autoscaling form under Process types
// (Heroku's "Enable Autoscaling"): minimum, maximum and desired p95, on,
// update and off; *platform.Platform runs formation/autoscale. With
// Scheduler (which *platform.Platform has), the Scheduler section lists
// the app's jobs (Heroku Scheduler: every 10 minutes, hourly at :00 …
// :50, daily on the hour or half hour, UTC) with their next run, a form
// to add one and one to remove each. Without a
// capability its section and forms are not shown, and a POST to them says
// the platform lacks it.
//
// Only the change of a quantity or size that differs is made, as a resize
// restarts the dynos. Control errors the API would show are shown; others
// are logged and the page says the platform failed.
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
// Every page and action, the static files included, needs the API token:
// as the password of HTTP basic auth with any user name (what a browser
// prompts for, and what git push sends), or as a bearer token. A browser
// sends remembered basic-auth credentials with any site's form too, so a
// POST from another origin is refused with 403 before it is read:
// http.CrossOriginProtection checks Sec-Fetch-Site, or where a browser does
// not send it, that Origin names the dashboard's host. A same-site page (an
// app at <app>.localhost) counts as another origin. Clients that are not
// browsers send neither header and are let through, as they hold the token
// themselves. Referrer-Policy is same-origin, so the dashboard's own forms
// carry their Origin (no-referrer would make it "null"). The dashboard
// answers GET, HEAD and, with Control, POST, and may not be framed. Without
// Control it is read-only, shows no forms and refuses POST with 405.
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
// log is live. There is no confirmation step before a restart, rollback or
// unset (Heroku asks for one; only destroying asks here), nor an
// edit-in-place of a config var (setting an existing name replaces its
// value). A buildpack change is not atomic: two changes at once may lose one,
// as with the CLI. Restarting one dyno restarts every
// dyno of its process type, as platform.Restart does. A size can be
// changed but not removed again (the platform has no unsized Resize).
// Restarts write no app[api] line: the platform writes none for the API
// either (scaling writes "Scaled to web@2:Basic by …", as Heroku does).
// Apps cannot be deployed or
// renamed here (the API cannot rename either), nor pipelines changed;
// add-ons cannot be attached to other apps or detached (addons:attach,
// :detach), moved to another plan (addons:upgrade), or provisioned with a
// name, an attachment name or options (--name, --as, -- --flags), and a
// provisioning add-on is not followed live; those stay with the API and
// the CLI.
package dashboard
