// Package dynokit is an embeddable Go SDK for building Heroku-style
// platforms as a service.
//
// A host program imports the packages it needs and assembles its own
// platform from them: a git-push deployment service for a team, a PaaS
// inside a product, a test harness that runs apps the way Heroku runs them.
// Every package is a library, not a daemon: nothing owns the process, there
// is no global state and no init side effect, and every long-running part is
// started with Run(ctx) and stopped by cancelling the context. The examples
// directory holds complete platforms wired from these packages.
//
// # The pipeline
//
// Every platform built on dynokit follows the path an app takes on Heroku:
//
//	git push ─► buildpack ─► slug ─► release ─► formation ─► router
//	                                    ▲            │
//	                       addons ──────┘            └──────► logplex
//
// A push delivers the app's source. A build (package buildpack) runs
// classic Heroku buildpacks over it, with a persistent per-app cache, and
// reports default process types; the app's Procfile (package procfile)
// names the commands it runs and takes precedence.
//
// The built tree is packed into a slug (package slug): a deterministic,
// content-addressed tar.gz of ./app, kept in a slug Store and extracted
// safely wherever dynos run.
//
// A release (package release) pairs a slug with config vars and process
// types under a version number (v1, v2, …). Config changes, add-on changes,
// rollbacks and promotions create releases too, and a release phase can
// stop a release from becoming current.
//
// A formation (package formation) says how many dynos of each process type
// an app runs. Its Reconciler keeps the running dynos equal to the desired
// formation through a pluggable Runtime: local processes by default
// (formation/local), OCI containers through runc or crun (formation/oci), or
// one Nomad job per dyno (formation/nomad). It restarts crashed dynos with
// Heroku's back-off and deploys by restarting, prebooting or rolling. When a
// cluster scheduler should own the dynos instead, a formation.Scheduler takes
// the whole formation: formation/nomad (a job per app, a task group per
// process type) or formation/kubernetes (Deployments; a nested module, so
// client-go is downloaded only by those who import it).
//
// The router (package router) sends HTTP requests by Host header to an
// app's web dynos with Heroku's headers, timeouts and error codes, and
// writes a log line for every request. Its per-app metrics drive
// formation/autoscale, which adds and removes web dynos to hold a desired
// p95 response time, as Heroku's autoscaling does.
//
// Logplex (package logplex) keeps each app's log stream: every dyno's
// output, router lines and platform events, with recent history, live tails
// and syslog and HTTPS drains that count and report what they drop.
//
// Add-ons (package addons) provision real services (PostgreSQL, Redis, or
// any provider speaking the Heroku add-on partner API) and hand their
// credentials to the platform as config vars, and so as a new release.
//
// # How a host wires them
//
// Packages along the pipeline do not import each other, so a platform can
// replace any one piece (its own router, its own log system) without pulling
// in the rest. The host's main is the glue:
//
//   - formation's Reconciler.OnEvent receives every dyno event: web dynos
//     that come up or go away become router.Router.SetBackends calls, and
//     each event's Message goes to the app's logplex.Buffer with source
//     "heroku";
//   - Reconciler.Output returns a logplex line writer per dyno, so dyno
//     output lands in the same stream, and router.Config.LogSink sends the
//     router's request lines there too;
//   - release.Manager creates releases; its RunPhase runs the release phase
//     as a one-off dyno (Reconciler.RunOneOff), and a new current release
//     becomes a Reconciler.Set of the app's formation;
//   - addons.Manager hands add-on config vars to the platform through
//     addons.ConfigApplier, which a platform implements with
//     release.Manager.SetConfig.
//
// examples/local shows the formation half of that glue: it runs a Procfile
// and a .env file on this machine the way `heroku local` does.
//
// # Conventions
//
// Blocking calls take a context.Context first. Errors read "pkg: what
// failed: cause" and wrap their cause; typed errors carry the line, offset or
// field at fault, and sentinels exist only where callers branch. Loggers are
// optional *slog.Logger fields where nil discards. Configuration structs are
// usable as their zero value. Each interface with several implementations
// ships a conformance suite in a <pkg>test package (formationtest, slugtest,
// releasetest, logplextest, routertest, addonstest, buildpacktest) that
// every implementation, including a platform's own, can run.
package dynokit
