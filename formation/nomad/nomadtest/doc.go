// Package nomadtest starts real Nomad dev agents for tests: a server and a
// client in one process, on free loopback ports, with raw_exec enabled and
// the cloud fingerprinters off. The tests of formation/nomad and of
// examples/minipaas -runtime nomad share it.
//
// # Vocabulary and lifecycle
//
//   - Binary finds the nomad binary: $DYNOKIT_NOMAD, else the one
//     scripts/install-nomad caches (~/.cache/dynokit/nomad-1.10.5). Its
//     error wraps errors.ErrUnsupported when there is none.
//   - Start runs an agent in its own process group and returns once it has
//     a leader and a ready client node with a healthy raw_exec driver (about
//     two seconds). Agent.Stop purges every job, waits for the client's
//     executors to exit (a purged job's allocations leave the API before
//     its tasks are stopped, and executors run in sessions of their own),
//     stops the agent, kills what is left of its process group and any
//     process still in its directory, unmounts what the client left
//     mounted and removes the directory.
//   - Shared is one agent per test binary, started by the first test that
//     asks (Shared.Get skips that test when there is no binary, unless
//     DYNOKIT_TEST_REQUIRE=1) and stopped from TestMain (Shared.Stop).
//
// # What is left
//
//   - One client only: placement across nodes (reschedules after a lost
//     node, spread) is not exercised.
//   - The exec driver is available on the agent (it needs root and
//     cgroups) but not waited for by Start.
package nomadtest
