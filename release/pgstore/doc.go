// Package pgstore is the PostgreSQL [release.Store], for platforms whose
// state spans machines. Releases live in the shared dynokit_kv table (see
// internal/store/pgkv), created by migrations when the store is opened;
// concurrent appends from several machines resolve through the primary key
// exactly as concurrent goroutines do: one wins, the others get
// release.ErrConflict.
package pgstore
