// Package release models Heroku-style releases: the numbered, immutable
// versions of an app, each a slug plus config vars plus process types.
//
// # Vocabulary
//
//   - A [Release] is version N of an app ("v12"): a [SlugRef] (slug id and
//     "SHA256:<hex>" checksum), [ConfigVars], process types, the add-on
//     attachments that own some of those vars, a description worded as
//     Heroku words it ("Deploy 1a2b3c4", "Set FOO, BAR config vars",
//     "Remove FOO config vars", "Attach DATABASE", "Rollback to v3",
//     "Promote app-staging v12"), a [Status], its creation time, and
//     optionally the user and source commit.
//   - The history of an app is append-only. The current release is the
//     newest succeeded one; failed releases stay in the history.
//   - The release phase is the "release" process type: it runs (through a
//     [PhaseFunc] the platform provides, in practice a one-off dyno of the
//     formation runtime) before the release becomes current.
//
// # Lifecycle
//
// Every change goes through [Manager], which derives the new release from
// the current one and appends it to a [Store] against the newest version
// it read (optimistic concurrency: a concurrent change makes the append
// fail with [ErrConflict], and nothing is lost or written twice):
//
//	deploy / config change / add-on change / rollback / promotion
//	        │
//	        ▼
//	Append (pending if there is a release phase, else succeeded)
//	        │ release phase: RunPhase(ctx with timeout, release, output)
//	        ▼
//	SetStatus succeeded ── becomes current
//	          failed    ── previous release stays current
//
// While a release is pending, other changes to the app fail with
// ErrConflict; a pending release older than twice the phase timeout is
// taken as abandoned (its runner died) and marked failed by the next
// change. A failed release changes nothing: the next change builds on the
// current release, so a config change whose release phase failed is not
// carried forward.
//
// Rollback copies the slug, process types and config vars of an earlier
// succeeded release into a new release; it never changes add-ons: it is
// refused if the set of attachments differs, and add-on-owned vars keep
// their current values (heroku.md §4.3). Promotion copies a slug and
// process types from another app's release; the target keeps its own
// config vars and add-ons (§4.5).
//
// # Config vars
//
// [ConfigLimits] enforces heroku.md §9.7: names of letters, digits and
// '_', not starting with "__" nor, unless set by the platform, "HEROKU_";
// at most 32 KB of names and values per app. Violations are
// [*ConfigVarError] values naming the var and the rule. Values never appear
// in errors, in fmt output of a Release or ConfigVars (any verb), or in
// slog output.
//
// # Stores
//
// Three implementations pass the conformance suite in releasetest:
// memstore (in memory), boltstore (the embedded default: one bbolt file)
// and pgstore (PostgreSQL). The persistent two share one implementation
// over dynokit's internal key-value layer, which other per-app state
// (formation, add-on attachments, domains) reuses. Listing pages like the
// Platform API's Range header (§9.2): see [ParseRange], [FormatRange] and
// [NextRange]. release/sealed wraps any Store so that config var values
// are encrypted at rest (AES-256-GCM, with key rotation); it passes the
// same suite.
//
// # Deviations from design.md
//
// The Store interface adds Latest, Current and SetStatus to the design's
// Append/Get/List: the release phase needs a status transition that is
// atomic in the store, and "current" (newest succeeded) is a query every
// platform asks. Rollback and promotion are Manager methods built on the
// interface, not Store methods, so that every backend gets them.
package release
