// Package kvstore implements release.Store once, on the shared store layer
// (internal/store), for every backend that layer has: release/boltstore
// and release/pgstore are constructors around it.
//
// Layout (migration 1): namespace "release/<app>", key = version as 8
// big-endian bytes (so key order is version order), value = the Release as
// JSON. Append reads the newest key and inserts the next one in one
// transaction; Insert failing with ErrExists (a concurrent append won the
// race) and a newest key other than the expected one both mean ErrConflict.
package kvstore
