// Package slug packs, stores, serves and extracts slugs: the immutable,
// content-addressed archives of a built app that every dyno runs.
//
// # Vocabulary
//
//   - Build directory: the tree a build leaves behind (the buildpacks'
//     output). [Pack] turns it into a slug.
//   - Slug: a gzip-compressed tar whose entries are "./app/" and
//     "./app/<path>", exactly what Heroku's "tar czf slug.tgz ./app"
//     produces. At run time it is unpacked so that its "./app" is the
//     dyno's /app. Entries outside "./app" are ignored on unpack.
//   - [Digest]: the SHA-256 of a slug's compressed bytes, written as
//     Heroku writes a slug checksum, "SHA256:<hex>". It is the slug's
//     identity in a [Store].
//   - .slugignore: a file at the top of the build directory listing
//     gitignore-style patterns (without "!" negation) of files kept out
//     of the slug; see [Ignore].
//
// # Lifecycle
//
// Before the buildpacks run, [RemoveIgnored] deletes the source's
// .slugignore'd files, as Heroku does, so the build never sees them. A
// build then calls [Pack] (with PackOptions.Ignore set to &Ignore{}, so
// that what the build made stays even where a pattern matches it; left
// nil, Pack applies .slugignore itself, at pack time), which streams the slug to any io.Writer and
// returns its [PackInfo] (digest, sizes, soft-limit warning). The slug goes
// into a [Store] with [Store.Put], which verifies the digest and publishes
// atomically. A runtime fetches it with [Getter.Open] (from the store, or
// over HTTP through [Handler] and [HTTPGetter]) and unpacks it with
// [Extract], which verifies the digest again (Heroku's R17 check) while
// streaming. [CollectGarbage] deletes slugs no kept release references.
// [ExportOCI] wraps a slug as a one-layer OCI image layout for runtimes
// that run images (on top of a base image that provides the OS).
//
// # What Pack writes
//
// Entries are sorted (depth first, names bytewise), with owner 0/0, no
// user or group names and the fixed [DefaultModTime]; the gzip header has
// no name and no time, and compression runs in parallel (pgzip) in fixed
// 1 MiB blocks, so the same tree gives the same bytes on every machine and
// identical builds deduplicate in a store. Permission bits and the sticky
// bit are kept; setuid and setgid are dropped. Symlinks are kept
// when their target is relative, has ".." elements only at its start, and
// does not climb above the tree: a ".." after a name is refused because
// the kernel applies it after following any link before it, so a lexical
// check could be fooled (d/l -> "..", a -> "d/l/../.." leaves the tree).
// Absolute targets inside /app, where the slug runs (buildpacks write
// them), are rewritten as the equivalent relative target. Other links make
// Pack fail with a [*PathError] (or are skipped and listed, with
// [PackOptions.SkipEscapingSymlinks]). Hard-linked files are stored as
// separate files. FIFOs, sockets and devices make Pack fail.
//
// # What Extract accepts
//
// Extract writes only through an [os.Root] on a fresh temporary directory
// beside the target, and renames it into place after the last byte has
// been read and the digest checked: the target appears complete or not at
// all. It refuses (with an [*EntryError] matching [ErrInsecurePath] or
// [ErrUnsupportedEntry]):
//
//   - absolute names and names containing "..";
//   - entries below a symlink created by the same archive;
//   - symlinks with absolute targets or targets that may leave the tree
//     (the same rule as Pack's);
//   - hard links to anything but a regular file extracted earlier inside
//     "./app";
//   - device files and FIFOs.
//
// Setuid and setgid bits are stripped, not refused: they carry no meaning
// for an app and refusing them would fail deploys for no safety gain.
// [ExtractInfo.StrippedSetID] counts them. Owners are not restored;
// modification times are (so a slug packed with [DefaultModTime] extracts
// with that time everywhere, as tar would do). The
// [Limits] bound compressed bytes, uncompressed (tar) bytes and the entry
// count, so a decompression bomb stops early with a [*LimitError].
//
// A build's source tarball gets the same checks: with
// [ExtractOptions.Source], Extract takes every entry rather than only
// those under "./app" (hard links may then point at any regular file
// extracted earlier) and skips the pax global header that git archive
// writes.
//
// # Deviations from the design notes
//
//   - Digests use Heroku's "SHA256:" spelling; [ParseDigest] also accepts
//     the OCI/containerd "sha256:".
//   - Store methods take a [Digest], not a string id; Put takes the
//     expected digest directly (as in design.md) rather than a PutOptions
//     struct, and the size bound is a store field (MaxSize).
//   - Store has a List method (an iter.Seq2), which garbage collection
//     needs; Open returns the [Info] as in design.md.
//   - [FSStore] and [MemStore] live here rather than in sub-packages: both
//     are small and need nothing but the standard library. Package slugtest
//     holds the conformance suite and the hostile-archive corpus.
//   - Extract takes a directory path to get atomic publication;
//     [ExtractRoot] is the lower-level form taking an *os.Root.
//   - Compression uses github.com/klauspost/pgzip (parallel gzip), not only
//     the standard library, because packing must keep up with pigz.
package slug
