// Package store is dynokit's shared persistence layer: a tiny transactional
// ordered key-value abstraction with two backends, boltkv (the embedded
// default: one bbolt file) and pgkv (PostgreSQL through pgx), plus
// versioned migrations that run when a store is opened.
//
// Vocabulary. A namespace (ns) is an ordered map from byte keys to byte
// values, such as "release/myapp" holding one record per version. Keys
// compare bytewise in both backends, so big-endian integers sort
// numerically. A Tx sees and changes namespaces atomically: everything one
// Update function does commits together or not at all.
//
// Why key-value rather than SQL. Each dynokit package (releases, formation,
// add-on attachments, domains, apps) needs a handful of records per app, an
// ordered history at most, and compare-and-set for optimistic concurrency.
// Insert (fails if the key exists) gives compare-and-set on both backends;
// per-package code is then written once against Tx and runs on either
// backend, which keeps each package's store small and the two backends
// from drifting apart. The layer is internal: platforms choose a backend
// through each package's constructors (release/boltstore, release/pgstore),
// and the on-disk layout stays free to change with a migration.
//
// Concurrency. bbolt serialises writers. On PostgreSQL, Update runs at READ
// COMMITTED; Get inside Update locks the row it reads (SELECT … FOR
// UPDATE) so read-modify-write of one key is safe, and Insert on a key
// another transaction is inserting waits for it and then fails with
// ErrExists.
package store
