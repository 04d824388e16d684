// Package memstore is an in-memory [release.Store] for tests and for
// platforms that keep no history across restarts.
package memstore
