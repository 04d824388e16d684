// Package sealed encrypts config var values at rest for any
// [release.Store]. [New] wraps a store (memstore, boltstore, pgstore or a
// platform's own); the wrapper seals every value before it reaches the
// backend and opens it on the way back, so the rest of dynokit (and
// [release.Manager]) sees plaintext while the backend's file, database or
// backups hold only sealed text.
//
//	keys, err := sealed.ParseKeys(os.Getenv("DYNOKIT_CONFIG_KEYS"))
//	…
//	store, err := sealed.New(boltStore, keys)
//	…
//	m := &release.Manager{Store: store, …}
//
// # Vocabulary
//
//   - A key is 32 random bytes (AES-256), written in a key list as one
//     base64 line ([ParseKeys], [NewKeyText]). Its ID, the first 8 hex
//     digits of the SHA-256 of the key ([KeyID]), is not secret: it is
//     written in every value the key seals, so that opening finds the key
//     at once and an operator can see which key a value needs.
//   - The sealing key is the first key of the list: every value written
//     is sealed with it.
//   - The opening keys are all the keys of the list, the sealing key
//     included: a value opens if the key whose ID it names is among them.
//   - A sealed value is the text the backend stores instead of a value:
//     "dk-sealed:v1:<key ID>:<payload>", where the payload is the
//     unpadded base64url of a random 12-byte nonce, the AES-256-GCM
//     ciphertext and its 16-byte tag. Sealing the same value twice gives
//     different text.
//   - A value is bound to its place: GCM authenticates, beside the
//     ciphertext, the app (the name the Store is called with), the
//     release version and the var name. A sealed value copied to another
//     app, another release or another var does not open.
//
// # Turning sealing on
//
// Needs no migration. A stored value that does not start with [Prefix]
// is plaintext written before sealing was turned on, and is returned as
// it is; every release appended from then on is sealed. Old releases keep
// their plaintext until the history is deleted (a rollback to one of them
// makes a new, sealed release). Only a plaintext value that itself starts
// with "dk-sealed:" would be misread: it fails to open.
//
// # Rotation
//
// To retire a key, put a new key first in the list and keep the old one
// after it. From the restart on, new releases are sealed with the new key
// and old ones still open with the old key. Drop the old key only when no
// release you still need to read names it: a value whose key is gone
// fails with an *[OpenError] naming that key ID ([ReasonUnknownKey]).
// Releases are immutable, so nothing re-seals old ones; but every new
// release seals all its values, so an app's current values move to the
// new key with its next release (a deploy or a config change).
//
// Rotate well before a key has sealed 2³² values (random 96-bit nonces):
// at one value per config var per release, that is far beyond any
// platform's history.
//
// # What is protected, and what is not
//
// Sealing protects the values of config vars, and only against someone
// who has the store (a copy of the bbolt file, a database dump, a backup,
// read access to the PostgreSQL tables) but not the key. Such a person
// cannot read a value, and cannot alter one, move one to another app,
// release or var, or invent one without the read failing.
//
// It does not protect:
//
//   - Names: config var names, add-on attachments and the vars they own,
//     app names, slugs, process types, descriptions, users and commits are
//     stored as they are.
//   - Lengths: a sealed value is as long as its value plus a fixed
//     overhead (4/3 of it, in base64), so its length shows.
//   - The history as a whole: someone who can write to the store can
//     delete releases, change a status, or put back an older copy of a
//     whole history (restore an old backup); sealing only guarantees that
//     each value read is one that was sealed for that app, version and var.
//   - Anything from someone who has the key, or the running process: the
//     key is in its memory and in its configuration (environment, file),
//     and plaintext values are in the releases it handles and the dynos it
//     starts.
//
// The binding to the app uses the name the Store is called with. minipaas
// keys its release history by app ID, which a rename does not change; a
// platform that keys the store by a renamable app name must keep the old
// name's history readable (or copy it through the sealed store) itself.
//
// # Other secrets: Box
//
// A platform keeps secrets besides config vars: TLS private keys, webhook
// signing secrets, ACME account keys. A [Box] seals them with the same
// key list and text format, bound to a label the caller names for the
// secret's place ("sni-endpoint/<id>/private_key"), so one key file and
// one rotation cover them all. Box secrets and config var values cannot
// be swapped for each other: a Box binds no app (the release store
// refuses an empty app name) and stands -1 for the version. Plaintext
// from before sealing passes through, as for config vars.
//
// # Streams
//
// Data too large for one value, such as a database backup, is sealed as
// it is written: [Box.SealStream] returns a writer, [Box.OpenStream] a
// reader. A stream starts with a header line, [StreamPrefix] and a fresh
// random 32-byte data key sealed as a Box secret for the stream's label
// (so one key list, one rotation and the same label binding cover
// streams too); then come chunks of 64 KiB of data, each sealed with
// AES-256-GCM under the data key, whose nonce is the chunk's index and a
// flag set on the last chunk only (the STREAM construction). Reading
// fails with an *OpenError when a chunk was altered, dropped, repeated or
// moved ([ReasonNotAuthentic]) or the stream ends before its last chunk
// ([ReasonTruncated]); the data before the bad chunk has been read by
// then, so a caller must treat the whole as failed. A stream without the
// prefix is data from before sealing and reads as it is, so removing the
// prefix yields the sealed bytes, never the data. Sealing runs at about
// 2.7 GB/s and opening at 2.2 GB/s on this project's test machine
// (go test -bench Stream ./release/sealed/).
//
// # Errors
//
// A value that cannot be opened fails the whole call (Get, Latest,
// Current, SetStatus, List, or the release Append returns) with an
// *[OpenError] naming the app, version, var, the key ID the value names
// and the [Reason]; it wraps [ErrCannotOpen]. Never a value: neither the
// plaintext nor the sealed text appears in an error, and [Key] prints and
// logs without its secret. [ParseKeys] errors are *[KeyError] values
// naming the line and the rule broken, never the line's text.
//
// # Design notes
//
// The store is a wrapper rather than a feature of each backend, so that
// every Store, including a platform's own, gets it unchanged, and so that
// the conformance suite (releasetest) checks the wrapped store like any
// other. Two concrete types are chosen in New, so that the wrapper
// implements [release.AppDeleter] exactly when the backend does and
// callers' type assertions stay truthful.
//
// The design this package was asked for bound a value to its app and var;
// it also binds the version, which costs nothing (Append can only store a
// release as expectVersion+1) and stops someone with write access from
// putting an older value of the same var (a revoked password) into a
// newer release. Keys carry an ID so that rotation needs no trial
// decryption and errors can say which key is missing; the ID is derived
// from the key by ParseKeys but may be chosen freely by callers of New
// who build their own [Key] values. ParseKeys allows a comment after a
// key so that operators can note when and why it was added.
package sealed
