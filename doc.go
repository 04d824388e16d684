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
//	 (source)    (detect,     (tar.gz   (slug +     (process    (HTTP by Host
//	             compile,     of ./app, config      types ×     to web dynos)
//	             release)     checksum) vars, vN)   quantity)        │
//	                                       ▲            │            ▼
//	                          addons ──────┘            └──────► logplex
//	                          (config vars               (every dyno's output,
//	                           from real services)        router and platform
//	                                                      events; tail; drains)
//
//   - A push delivers the app's source. A buildpack build (package buildpack)
//     turns it into a runnable tree and reports default process types; the
//     app's Procfile (package procfile) names the commands it runs.
//   - The tree is packed into a slug (package slug): a deterministic,
//     content-addressed tar.gz kept in a slug store and extracted safely where
//     dynos run.
//   - A release (package release) pairs a slug with config vars and process
//     types under a version number (v1, v2, …). Config changes, add-on
//     changes and rollbacks create releases too; a release phase can gate a
//     release before it becomes current.
//   - A formation (package formation) says how many dynos of each process
//     type an app runs. A reconciler keeps the observed dynos equal to the
//     desired formation through a pluggable Runtime: local processes by
//     default (formation/local), OCI containers through runc or crun
//     (formation/oci).
//   - The router (package router) sends HTTP requests by Host header to an
//     app's web dynos with Heroku's headers, timeouts and error codes, and
//     logs every request.
//   - Logplex (package logplex) collects every dyno's output and the
//     platform's own events per app, keeps recent history, serves live tails
//     and forwards to syslog and HTTPS drains.
//   - Add-ons (package addons) provision real services (PostgreSQL, Redis,
//     or any provider speaking the Heroku add-on partner API) and turn their
//     credentials into config vars, and so into a new release.
//
// # How a host wires them
//
// Packages do not import each other along the pipeline, so a platform can
// replace any one piece (its own router, its own log system) without pulling
// in the rest. The host's main connects them: formation events feed the
// router's table and the log stream, dyno output goes to a logplex writer,
// the router's request lines go to the same stream, and release changes
// drive the reconciler. The examples show that glue in full:
//
//   - examples/local runs a Procfile and a .env file on this machine, the way
//     `heroku local` does.
//
// # Conventions
//
// Blocking calls take a context.Context first. Errors read "pkg: what
// failed: cause" and wrap their cause; typed errors carry the line, offset or
// field at fault. Loggers are optional *slog.Logger fields where nil discards.
// Configuration structs are usable as their zero value. Each interface with
// several implementations ships a conformance suite in a <pkg>test package
// that every implementation, including yours, can run.
package dynokit
