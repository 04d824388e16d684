// Package boltstore is the embedded default [release.Store]: one bbolt file
// on disk, no server, pure Go. Every write is one fsynced bbolt
// transaction, so after a crash (even SIGKILL mid-append) the history has
// no gap, no duplicate and no torn record. The file can hold the other
// dynokit stores too: they share the layer in internal/store.
//
// bbolt locks the file: one process opens it at a time (a second Open
// waits up to Options.LockTimeout, then fails).
package boltstore
