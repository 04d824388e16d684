// Package testutil holds test helpers that several packages of the module
// repeated word for word: golden-file comparison, a goroutine-safe output
// buffer, starting a real server as a child that dies with the test
// binary, serving a test listener's connections until the test ends
// ([ServeConns]), and self-signed server certificates. It is imported by tests and test-server packages only.
//
// Vocabulary: a golden file is the expected output of a test, kept in
// testdata and rewritten when the test binary runs with its package's
// -update flag (each test package declares that flag itself, so this
// package has no flags and no package state).
//
// Lifecycle: a SyncBuffer's zero value is ready to use. A [Process] runs
// from [Start] until it exits or [Process.Stop] ends it; set
// SysProcAttr.Pdeathsig on the command so that a killed test binary leaves
// no server behind.
//
// What is left: packages whose golden helper normalises output first keep
// that step and call [Golden] for the comparison.
package testutil
