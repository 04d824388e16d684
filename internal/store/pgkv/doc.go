// Package pgkv is the PostgreSQL [store.DB] backend, for platforms whose
// state must outlive one machine. All namespaces share one table,
// dynokit_kv (ns text, key bytea, value bytea, primary key (ns, key)); bytea
// compares bytewise, as bbolt keys do. The table is created and upgraded by
// versioned SQL migrations when the store is opened, under an advisory
// lock so that concurrent openers do not race.
package pgkv
