// Package pgtest starts a real, throw-away PostgreSQL server for tests and
// hands out one fresh database per test.
//
// One server serves a whole test binary: declare a package-level Server in
// the _test file, call [Server.Stop] from TestMain after m.Run, and call
// [Server.NewDatabase] or [Server.NewSchema] in each test. The server starts on first use, so
// test runs that need no database (fuzzing, -run filters) never start it.
//
//	var pg pgtest.Server
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pg.Stop()
//		os.Exit(code)
//	}
//
// Lifecycle. The server's binaries are found under
// /usr/lib/postgresql/*/bin (newest version first). A temp directory holds
// the cluster and the Unix socket; as root it is owned by user postgres and
// initdb and postgres run as that user (initdb refuses root), otherwise
// they run as the current user. postgres listens on a free 127.0.0.1 port
// with fsync off (unless Durable). Stop performs a fast shutdown (what pg_ctl stop -m fast
// does: SIGINT to the postmaster) and removes the directory. If the test
// binary dies without calling Stop (a panic, a -timeout, SIGKILL), the
// kernel sends the postmaster SIGQUIT (Linux parent-death signal), so no
// server outlives the binary; the next start removes directories left
// behind by dead servers.
//
// When the binaries are missing, tests are skipped, unless the environment
// sets DYNOKIT_TEST_REQUIRE=1, in which case they fail.
package pgtest
