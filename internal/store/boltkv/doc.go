// Package boltkv is the embedded [store.DB] backend: one bbolt file, pure
// Go, no server. Every namespace is a top-level bucket created on first
// write. Commits are fsynced (bbolt's default), so a crash loses at most
// the transaction in flight and never tears a record.
package boltkv
