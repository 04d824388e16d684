// Package copytree copies a directory tree on the local filesystem: the
// build's private copy of an app's source, a buildpack's private copy of
// itself, the restore of a build cache, a test's copy of testdata.
//
// Vocabulary: the tree is what [Copy] finds below src — directories,
// regular files and symbolic links. Links are copied as links and never
// followed, so a tree cannot make Copy read outside src. Sockets, fifos and
// devices are not content anyone builds from, and are left out.
//
// Lifecycle: Copy is one call; on error (or cancellation) it stops and
// leaves what it has copied for the caller to remove. [RemoveAll] removes
// a tree even when it holds read-only directories, as extracted archives
// may.
//
// Why not os.CopyFS: it creates files 0666 plus the source's execute bits
// (a 0600 secret in a build cache would come back world-readable under a
// permissive umask), cannot leave out a subtree such as .git, and does not
// stop on a cancelled context.
//
// What is left: no reflink or hard-link mode; io.Copy already uses
// copy_file_range, which shares extents where the filesystem can.
package copytree
