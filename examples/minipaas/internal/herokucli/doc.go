// Package herokucli runs the real heroku CLI (npm package heroku, pinned
// to Version) against a local Platform API, for tests.
//
// scripts/install-heroku-cli installs the CLI into a cache directory; Find
// locates it (DYNOKIT_HEROKU_CLI, else DYNOKIT_HEROKU_CLI_DIR, else the
// script's default directory). Require does the same for a test and skips it
// when the CLI is missing, unless DYNOKIT_TEST_REQUIRE=1, which makes it fail.
//
// CLI.Run gives every command the isolated environment of
// real-components.md §2: its own HOME and XDG directories (the CLI's init
// hook writes a git credential helper into the global git config), the API
// URL in HEROKU_HOST (plain http on 127.0.0.1 or localhost is accepted), the
// key in HEROKU_API_KEY, HEROKU_PARTICLEBOARD_URL pointing at the same server
// (otherwise GET /account also waits on particleboard.heroku.com), telemetry,
// analytics and auto-update off (the auto-updater is spawned detached and
// would outlive the command), and the CLI's own bin directory first on PATH (a hook
// spawns "heroku"). Nothing else is inherited from the test's environment, so
// proxies or CA bundles of the machine do not change what the CLI does. The
// CLI runs in its own process group, which is killed when the command ends,
// so no node process outlives a test.
//
// CLI.Start runs a command that does not end by itself (`heroku logs
// --tail`): Running.WaitOutput reads what it printed so far until a
// condition holds, and Running.Stop kills its process group.
//
// Each command costs about 2 s (node and oclif start-up): keep CLI tests few.
package herokucli
