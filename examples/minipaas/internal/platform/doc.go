// Package platform is minipaas's core: the glue that turns dynokit's
// packages into a working one-host platform. It is also the worked example
// of how a host program wires dynokit; main, the git server and the
// Platform API only translate their requests into calls on Platform.
//
// # The pieces and who owns what
//
//	Open(Config{DataDir})
//	  ├─ platform.db   internal/store/boltkv: one record per app
//	  │                (ID, formation quantities and sizes, domains, maintenance,
//	  │                buildpack list),
//	  │                and the API's opaque add-on, pipeline and log drain records
//	  ├─ releases.db   release/boltstore behind a release.Manager
//	  │                (history, config vars, release phase, rollback)
//	  ├─ slugs/        slug.FSStore, content-addressed; CollectSlugs deletes unreferenced ones
//	  ├─ cache/        buildpack.Cache, one build cache per app
//	  ├─ buildpacks/   buildpack/builtin.WriteAll (Go, Node.js, static, Procfile)
//	  ├─ apps/<id>/slugs/<sha256>/   each slug extracted once (slug.Extract)
//	  ├─ apps/<id>/builds/<build>.log   each build's output
//	  └─ dynos/        formation/local's per-dyno copies of a slug
//
// One formation.Reconciler runs every dyno, one router.Router serves every
// app at <app>.<BaseDomain> and its custom domains, and one logplex.Buffer
// holds every app's log stream.
//
// # A deploy
//
// Deploy copies the source to a private build directory, runs
// buildpack.Builder.Build with the builtin buildpacks (the app's list from
// SetBuildpacks, each in turn, or else the first that detects; output
// streamed to the caller with Heroku's "-----> " conventions), packs the
// tree with slug.Pack and puts it in the slug store, extracts it, and asks
// the release.Manager for a new release: the manager runs the "release"
// process type, if any, as a one-off dyno through the Reconciler
// (Reconciler.RunOneOff), and only a release whose phase succeeded becomes
// current. The platform then hands the Reconciler the app's formation at
// the new release (Reconciler.Set), which replaces the dynos with the
// configured Strategy. A new process type joins the formation at 0 dynos,
// except web, which starts with one, as on Heroku. A failed build or
// release phase leaves the current release and its dynos untouched.
//
// Every deploy is also a Build, stored with its output under
// apps/<id>/builds/: a git push (Deploy) and a build by API (CreateBuild),
// which fetches a source tarball by URL, extracts it with
// slug.ExtractOptions.Source and then deploys it the same way, in the
// background under the platform's lifetime. BuildOutput follows a running
// build's output; a build is succeeded once its slug is stored (its
// release phase may still fail, as on Heroku). Builds by API stop with
// Run; a build found pending at Open (a crash) is marked failed.
//
// Slugs can also come by API (CreateSlug, UploadSlug: checked by
// extracting them before they are stored) and any slug of an app can be
// released again (ReleaseSlug). The URLs minipaas serves without its API
// token (build and release output, slug blobs) are authorised by tokens
// derived from a secret kept in platform.db (urlToken).
//
// Config.OnAppEvent receives an AppEvent for every release, build (its
// start and its end), scale or resize (per process type), custom domain
// added or removed, dyno state change, and change of the app itself
// (created, renamed, maintenance switched, destroyed), which minipaas turns into app
// webhook deliveries.
//
// Config changes (SetConfig) and rollbacks are releases too, made by the
// same manager and applied the same way.
//
// Promote runs another app's slug (pipelines:promote) as a deploy without
// a build. Add-ons plug in through ApplyConfig, which makes the platform an
// addons.ConfigApplier: an addons.Manager's "Attach DATABASE" becomes an
// add-on release whose vars config:set cannot touch and rollback keeps.
//
// # Dynos
//
// The Reconciler asks the platform for each dyno's spec (dynoSpec): the
// command of its process type, the release's config vars, PORT (a free
// loopback port, in every dyno as on Heroku; routed to for web dynos) and
// DYNO, and the extracted slug, which the
// local runtime copies per dyno so it stays read-only. A dyno's stdout and
// stderr go through logplex line writers into its app's stream as
// app[web.1] lines. Scale and Resize change the persisted formation
// (sizes map to memory and process limits and a CPU weight, see
// DynoSizes); RunOneOff and RunDetached start one-off dynos of the
// current release. The release phase runs as a "release" one-off
// (release.N) and scheduled jobs as "scheduler" ones (scheduler.N), as on
// Heroku.
//
// Work that outlives a request runs under the platform's lifetime with Go
// (builds by API, minipaas's promotions); WithPhaseStarted tells a caller
// when the release phase of the release it asked for starts, so it can
// follow the phase's output (ReleaseOutput) while it runs.
//
// Beside the Reconciler, Run keeps an Eco idle watch (sleep.go: an app
// whose web dynos are eco sleeps after Config.EcoIdle without requests,
// and the router's Wake, WakeApp, starts it again) and a scheduler
// (scheduler.go: SchedulerJob, Heroku Scheduler's periods, each run a
// detached one-off), and a daily slug collection (CollectSlugs: slugs no
// release of any app and no slug created by API refers to). App features (Feature: preboot,
// runtime-dyno-metadata, log-runtime-metrics) change how dynos are
// replaced, what environment they get and what the log samples.
//
// # Routing and logs from events
//
// Every Reconciler event becomes a heroku[web.1] log line. Web dynos'
// state changes also drive the router: a dyno that is up is a backend at
// its address, any other state removes it, and an app left without
// backends tells the router why (starting: requests wait for a boot;
// crashed: H10; scaled to zero: H14; asleep: the first request wakes it). The router's own log lines come
// back through RouterLogSink as heroku[router] lines; deploys and releases
// are logged as app[api] lines.
//
// # Identity
//
// Apps are addressed by name; internally the release history and the log
// stream are keyed by the app's ID (a UUID made at creation), because
// neither release.Store nor logplex.Buffer can delete an app: a destroyed
// app's history becomes unreachable and an app created later under the
// same name starts at v1 with an empty log. Platform methods always return
// releases and messages with the app's name.
//
// RenameApp changes the name and nothing keyed by the ID: the record moves
// to its new key, and the router (Router.RenameApp) and the Reconciler
// (Reconciler.RenameApp) re-key the app under its running dynos, so
// nothing restarts. A front end's own records should keep the app's ID
// beside its name and look the name up with AppByID when it reads them
// back, so a crash between the platform's rename and theirs loses nothing.
//
// # Restarts and crashes
//
// Everything committed (apps, formation, domains, maintenance, buildpack
// lists, releases with their config vars, slugs) is on disk in DataDir
// when the method that changed it returns. Open reads it back and gives
// the Reconciler every app's formation, so Run starts the dynos again. A
// platform process that was killed leaves its dynos running with no one
// watching them; Open kills those orphans (found by their working
// directory under DataDir/dynos) before starting new ones.
//
// # Locking
//
// Reconciler.OnEvent runs under the Reconciler's lock, so the event path
// only takes the platform's short-lived map locks, never a lock held while
// calling the Reconciler. Changes to one app are serialised by a per-app
// lock; a build runs outside it. An operation that waited for the lock of
// an app that was renamed or destroyed meanwhile finds no app of that
// name. RenameApp takes routeMu before mu, and calls the Reconciler with
// neither held; the event path looks an event's app up by ID under
// routeMu, so a dyno event sent under the old name during a rename is
// routed under the new one.
package platform
