package slug

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dynokit/dynokit/internal/copytree"
	"github.com/klauspost/pgzip"
)

// ExtractOptions configures Extract. The zero value extracts with the
// default limits and does not verify the digest.
type ExtractOptions struct {
	Limits Limits
	// Want, when non-empty, is the digest the compressed bytes must have.
	// Extract then fails with a *DigestMismatchError (and leaves nothing
	// behind) if they differ.
	Want Digest
	// Logger receives a line per entry outside "./app" (skipped, as Heroku
	// does) and per stripped setuid/setgid bit; nil discards.
	Logger *slog.Logger
	// Source extracts a source archive (a build's source tarball) rather
	// than a slug: every entry, not only those under "./app", with the
	// same checks and limits. A pax global header (git archive writes one
	// holding the commit) is skipped.
	Source bool
}

// ExtractInfo describes an extracted slug.
type ExtractInfo struct {
	Digest           Digest // SHA-256 of every compressed byte read
	Size             int64  // compressed bytes read
	UncompressedSize int64  // tar bytes read
	Entries          int    // tar entries read, skipped ones included
	Skipped          int    // entries outside "./app" (or pax global headers), ignored as Heroku does
	StrippedSetID    int    // entries whose setuid/setgid bits were cleared
}

// Errors an extraction can match (with errors.Is) besides ErrTooLarge and
// ErrDigestMismatch.
var (
	// ErrInsecurePath: an entry name or link target is absolute, contains
	// "..", passes through a symlink, or a symlink/hard link points out of
	// the tree.
	ErrInsecurePath = errors.New("slug: archive entry escapes the root")
	// ErrUnsupportedEntry: a device file, FIFO or unknown entry type.
	ErrUnsupportedEntry = errors.New("slug: unsupported archive entry")
)

// EntryError reports the archive entry that stopped an extraction.
type EntryError struct {
	Index  int    // 0-based position of the entry in the archive
	Name   string // the entry's name as stored
	Reason string
	Err    error
}

func (e *EntryError) Error() string {
	msg := fmt.Sprintf("slug: extract: entry %d %q: %s", e.Index, e.Name, e.Reason)
	if e.Err != nil && !errors.Is(e.Err, ErrInsecurePath) && !errors.Is(e.Err, ErrUnsupportedEntry) {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *EntryError) Unwrap() error { return e.Err }

// Extract unpacks the slug read from r into dir, which must not exist yet:
// the contents of "./app" become the contents of dir. It extracts into a
// temporary directory beside dir and renames it into place only once every
// entry is written and the digest verified, so dir either appears complete
// or not at all; on failure the temporary directory is removed.
func Extract(ctx context.Context, r io.Reader, dir string, opts ExtractOptions) (ExtractInfo, error) {
	dir = filepath.Clean(dir)
	if _, err := os.Lstat(dir); err == nil {
		return ExtractInfo{}, fmt.Errorf("slug: extract: %s: %w", dir, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return ExtractInfo{}, fmt.Errorf("slug: extract: %w", err)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return ExtractInfo{}, fmt.Errorf("slug: extract: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".partial-")
	if err != nil {
		return ExtractInfo{}, fmt.Errorf("slug: extract: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			copytree.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return ExtractInfo{}, fmt.Errorf("slug: extract: %w", err)
	}
	// Without a "./app/" entry the directory keeps MkdirTemp's 0700,
	// which would hide the app from a dyno running as another user.
	info, err := extractRoot(ctx, r, root, opts, 0o755)
	if cerr := root.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("slug: extract: %w", cerr)
	}
	if err != nil {
		return info, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return info, fmt.Errorf("slug: extract: publishing %s: %w", dir, err)
	}
	ok = true
	return info, nil
}

// ExtractRoot unpacks the slug read from r into root, which should be
// empty. Unlike Extract it is not atomic: on error, root holds whatever was
// written so far, and removing it is the caller's job.
func ExtractRoot(ctx context.Context, r io.Reader, root *os.Root, opts ExtractOptions) (ExtractInfo, error) {
	return extractRoot(ctx, r, root, opts, 0)
}

// extractRoot is ExtractRoot; a non-zero defaultRootMode is applied to
// the root when the archive has no "./app/" entry.
func extractRoot(ctx context.Context, r io.Reader, root *os.Root, opts ExtractOptions, defaultRootMode fs.FileMode) (ExtractInfo, error) {
	var info ExtractInfo
	want := opts.Want
	if want != "" {
		var err error
		if want, err = want.canonical(); err != nil {
			return info, err
		}
	}
	lim := opts.Limits
	in := &limitedReader{r: r, d: newDigester(), max: lim.compressed(), field: "MaxCompressedSize"}
	x := &extractor{
		root:       root,
		lim:        lim,
		symlinks:   map[string]bool{},
		logger:     opts.Logger,
		info:       &info,
		maxEntries: lim.entries(),
		source:     opts.Source,
	}
	if defaultRootMode != 0 {
		x.rootMode = &dirMeta{mode: defaultRootMode}
	}
	if x.logger == nil {
		x.logger = slog.New(slog.DiscardHandler)
	}
	err := x.run(ctx, in)
	info.Size = in.n
	if err != nil && want != "" && ctx.Err() == nil && !errors.Is(err, ErrTooLarge) {
		// A damaged slug usually fails as a gzip or tar error first; if the
		// bytes are not the ones expected, that is the error to report.
		io.Copy(io.Discard, in)
		info.Size = in.n
		if got := in.d.digest(); got != want {
			info.Digest = got
			return info, &DigestMismatchError{Want: want, Got: got, Cause: err}
		}
	}
	if err != nil {
		return info, err
	}
	info.Digest = in.d.digest()
	if want != "" && info.Digest != want {
		return info, &DigestMismatchError{Want: want, Got: info.Digest}
	}
	return info, nil
}

type extractor struct {
	root       *os.Root
	lim        Limits
	logger     *slog.Logger
	info       *ExtractInfo
	maxEntries int64
	source     bool            // ExtractOptions.Source
	symlinks   map[string]bool // paths (relative to app) created as symlinks
	dirs       []dirMeta       // applied at the end, deepest first
	rootMode   *dirMeta

	curDir  string // the directory curRoot is open on
	curRoot *os.Root
	buf     []byte
}

type dirMeta struct {
	rel   string
	mode  fs.FileMode
	mtime time.Time
}

func (x *extractor) run(ctx context.Context, in *limitedReader) (err error) {
	zr, err := pgzip.NewReaderN(in, 128<<10, 8)
	if err != nil {
		return fmt.Errorf("slug: extract: not a gzip stream: %w", err)
	}
	defer func() {
		// Close stops the read-ahead goroutine before in is touched again.
		zr.Close()
		if x.curRoot != nil {
			x.curRoot.Close()
		}
	}()
	zr.Multistream(false)
	raw := &limitedReader{r: zr, max: x.lim.uncompressed(), field: "MaxUncompressedSize"}
	tr := tar.NewReader(raw)
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	x.buf = *bufp
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("slug: extract: %w", err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				return le
			}
			return fmt.Errorf("slug: extract: reading entry %d: %w", i, err)
		}
		x.info.Entries++
		if x.maxEntries >= 0 && int64(x.info.Entries) > x.maxEntries {
			return &LimitError{Field: "MaxEntries", Limit: x.maxEntries, Size: int64(x.info.Entries)}
		}
		if err := x.entry(ctx, tr, hdr); err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				return le
			}
			if ee, ok := err.(*EntryError); ok {
				ee.Index = i
				return ee
			}
			return &EntryError{Index: i, Name: hdr.Name, Reason: "writing", Err: err}
		}
	}
	if err := x.finishDirs(); err != nil {
		return err
	}
	// Read the rest: the gzip trailer (its CRC is checked on the way) and
	// anything after it, so that the digest covers every byte.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return le
		}
		return fmt.Errorf("slug: extract: reading past the end of the archive: %w", err)
	}
	x.info.UncompressedSize = raw.n
	zr.Close()
	if _, err := io.Copy(io.Discard, in); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return le
		}
		return fmt.Errorf("slug: extract: %w", err)
	}
	return nil
}

// cleanEntryName splits a tar entry name into path elements, rejecting
// absolute names and "..". It drops "." and empty elements, so "./app/x",
// "app//x" and "app/./x" are the same.
func cleanEntryName(name string) ([]string, error) {
	if name == "" {
		return nil, errors.New("empty name")
	}
	if strings.HasPrefix(name, "/") {
		return nil, errors.New("absolute name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return nil, errors.New("name contains a NUL byte")
	}
	elems := strings.Split(name, "/")
	out := elems[:0]
	for _, e := range elems {
		switch e {
		case "", ".":
			continue
		case "..":
			return nil, errors.New(`name contains ".."`)
		}
		out = append(out, e)
	}
	return out, nil
}

// rel maps a tar name to a path relative to the extracted tree (./app,
// or the archive's root for a source archive); ok is false for entries
// outside it.
func (x *extractor) rel(name string) (rel string, ok bool, err error) {
	elems, err := cleanEntryName(name)
	if err != nil {
		return "", false, err
	}
	if x.source {
		return strings.Join(elems, "/"), true, nil
	}
	if len(elems) == 0 || elems[0] != "app" {
		return "", false, nil
	}
	return strings.Join(elems[1:], "/"), true, nil
}

// tree names the extracted tree in error messages.
func (x *extractor) tree() string {
	if x.source {
		return "the archive"
	}
	return "./app"
}

func (x *extractor) insecure(hdr *tar.Header, reason string) error {
	return &EntryError{Name: hdr.Name, Reason: reason, Err: ErrInsecurePath}
}

// throughSymlink returns the first parent of rel that this extraction
// created as a symlink, or "". Entries below a symlink are refused: tar
// writers never produce them, and they would make the lexical link checks
// meaningless.
func (x *extractor) throughSymlink(rel string) string {
	if len(x.symlinks) == 0 {
		return ""
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && x.symlinks[rel[:i]] {
			return rel[:i]
		}
	}
	return ""
}

func (x *extractor) entry(ctx context.Context, tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		x.info.Skipped++
		return nil
	}
	rel, inApp, err := x.rel(hdr.Name)
	if err != nil {
		return x.insecure(hdr, err.Error())
	}
	if !inApp {
		x.info.Skipped++
		x.logger.Debug("slug: skipping entry outside ./app", "name", hdr.Name)
		return nil
	}
	if s := x.throughSymlink(rel); s != "" {
		if !x.source {
			s = "app/" + s
		}
		return x.insecure(hdr, fmt.Sprintf("path passes through the symlink %q", s))
	}
	mode := fs.FileMode(hdr.Mode & 0o777)
	if hdr.Mode&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	if hdr.Mode&0o6000 != 0 {
		x.info.StrippedSetID++
		x.logger.Warn("slug: clearing setuid/setgid bits", "name", hdr.Name, "mode", fmt.Sprintf("%o", hdr.Mode))
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return &EntryError{Name: hdr.Name, Reason: "the root of " + x.tree() + " must be a directory", Err: ErrUnsupportedEntry}
		}
		x.rootMode = &dirMeta{mode: mode, mtime: hdr.ModTime}
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(hdr, rel, mode)
	case tar.TypeReg: // archive/tar reports old-style TypeRegA entries as TypeReg or TypeDir
		return x.writeFile(ctx, tr, hdr, rel, mode)
	case tar.TypeSymlink:
		if reason := symlinkEscapes(rel, hdr.Linkname); reason != "" {
			return x.insecure(hdr, fmt.Sprintf("symlink to %q %s", hdr.Linkname, reason))
		}
		if strings.IndexByte(hdr.Linkname, 0) >= 0 {
			return x.insecure(hdr, "symlink target contains a NUL byte")
		}
		d, base, err := x.parent(rel)
		if err != nil {
			return err
		}
		if err := x.replace(d, base); err != nil {
			return err
		}
		if err := d.Symlink(hdr.Linkname, base); err != nil {
			return err
		}
		x.symlinks[rel] = true
		return nil
	case tar.TypeLink:
		target, inApp, err := x.rel(hdr.Linkname)
		if err != nil || !inApp || target == "" {
			return x.insecure(hdr, fmt.Sprintf("hard link to %q, which is not a file inside %s", hdr.Linkname, x.tree()))
		}
		if s := x.throughSymlink(target); s != "" || x.symlinks[target] {
			return x.insecure(hdr, fmt.Sprintf("hard link to %q goes through a symlink", hdr.Linkname))
		}
		fi, err := x.root.Lstat(target)
		if err != nil || !fi.Mode().IsRegular() {
			return x.insecure(hdr, fmt.Sprintf("hard link to %q, which is not a regular file extracted earlier", hdr.Linkname))
		}
		d, base, err := x.parent(rel)
		if err != nil {
			return err
		}
		if err := x.replace(d, base); err != nil {
			return err
		}
		delete(x.symlinks, rel)
		return x.root.Link(target, rel)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return &EntryError{Name: hdr.Name, Reason: "device files and FIFOs are not allowed in " + x.tree(), Err: ErrUnsupportedEntry}
	default:
		return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("unsupported entry type %q", hdr.Typeflag), Err: ErrUnsupportedEntry}
	}
}

// parent returns a Root open on rel's parent directory (creating it if the
// archive had no entry for it) and rel's last element.
func (x *extractor) parent(rel string) (*os.Root, string, error) {
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return x.root, base, nil
	}
	if x.curRoot != nil && x.curDir == dir {
		return x.curRoot, base, nil
	}
	if x.curRoot != nil {
		x.curRoot.Close()
		x.curRoot = nil
	}
	r, err := x.root.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = x.root.MkdirAll(dir, 0o755); err == nil {
			r, err = x.root.OpenRoot(dir)
		}
	}
	if err != nil {
		return nil, "", err
	}
	x.curRoot, x.curDir = r, dir
	return r, base, nil
}

// replace removes what an earlier entry of the same name left, so that the
// later entry wins as with tar(1). A non-empty directory is not removed.
func (x *extractor) replace(d *os.Root, base string) error {
	if _, err := d.Lstat(base); err != nil {
		return nil
	}
	if err := d.Remove(base); err != nil {
		return err
	}
	if d != x.curRoot && x.curRoot != nil {
		// d is the top directory, and the cached directory may have been
		// the one just removed.
		x.curRoot.Close()
		x.curRoot = nil
	}
	return nil
}

func (x *extractor) mkdir(hdr *tar.Header, rel string, mode fs.FileMode) error {
	d, base, err := x.parent(rel)
	if err != nil {
		return err
	}
	if err := d.Mkdir(base, 0o700); err != nil {
		fi, lerr := d.Lstat(base)
		if lerr != nil || !fi.IsDir() {
			if rerr := x.replace(d, base); rerr != nil {
				return err
			}
			if d, base, err = x.parent(rel); err != nil {
				return err
			}
			if err := d.Mkdir(base, 0o700); err != nil {
				return err
			}
		}
	}
	delete(x.symlinks, rel)
	// Owner write and search stay on until the end so later entries can be
	// created inside; the real mode is applied by finishDirs.
	x.dirs = append(x.dirs, dirMeta{rel: rel, mode: mode, mtime: hdr.ModTime})
	return nil
}

func (x *extractor) writeFile(ctx context.Context, tr *tar.Reader, hdr *tar.Header, rel string, mode fs.FileMode) error {
	d, base, err := x.parent(rel)
	if err != nil {
		return err
	}
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	f, err := d.OpenFile(base, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if err := x.replace(d, base); err != nil {
			return err
		}
		if d, base, err = x.parent(rel); err != nil {
			return err
		}
		f, err = d.OpenFile(base, flags, 0o600)
	}
	if err != nil {
		return err
	}
	delete(x.symlinks, rel)
	var written int64
	for {
		if err := ctx.Err(); err != nil {
			f.Close()
			return err
		}
		n, rerr := tr.Read(x.buf)
		if n > 0 {
			if _, err := f.Write(x.buf[:n]); err != nil {
				f.Close()
				return err
			}
			written += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Close()
			var le *LimitError
			if errors.As(rerr, &le) {
				return le
			}
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("reading content (%d of %d bytes)", written, hdr.Size), Err: rerr}
		}
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if !hdr.ModTime.IsZero() {
		return d.Chtimes(base, hdr.ModTime, hdr.ModTime)
	}
	return nil
}

// finishDirs applies directory modes and times, deepest first, so that
// read-only directories are made read-only after their contents exist and
// creating children does not disturb a parent's time.
func (x *extractor) finishDirs() error {
	if x.curRoot != nil {
		x.curRoot.Close()
		x.curRoot = nil
	}
	slices.SortStableFunc(x.dirs, func(a, b dirMeta) int {
		return strings.Count(b.rel, "/") - strings.Count(a.rel, "/")
	})
	if x.rootMode != nil {
		m := *x.rootMode
		m.rel = "."
		x.dirs = append(x.dirs, m)
	}
	for _, d := range x.dirs {
		if x.throughSymlink(d.rel) != "" || x.symlinks[d.rel] {
			continue // replaced by a later entry
		}
		if err := x.root.Chmod(d.rel, d.mode); err != nil {
			return fmt.Errorf("slug: extract: setting mode of %q: %w", d.rel, err)
		}
		if !d.mtime.IsZero() {
			if err := x.root.Chtimes(d.rel, d.mtime, d.mtime); err != nil {
				return fmt.Errorf("slug: extract: setting time of %q: %w", d.rel, err)
			}
		}
	}
	return nil
}

// limitedReader counts and optionally hashes what passes, failing with a
// LimitError once more than max bytes (max < 0: unlimited) were read.
type limitedReader struct {
	r     io.Reader
	d     *digester
	n     int64
	max   int64
	field string
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.max >= 0 {
		if l.n > l.max {
			return 0, &LimitError{Field: l.field, Limit: l.max, Size: l.n}
		}
		// Read at most one byte past the limit: enough to know it was
		// exceeded without hashing a bomb.
		if rest := l.max - l.n + 1; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	n, err := l.r.Read(p)
	if l.d != nil {
		l.d.Write(p[:n])
	}
	l.n += int64(n)
	if l.max >= 0 && l.n > l.max {
		return n, &LimitError{Field: l.field, Limit: l.max, Size: l.n}
	}
	return n, err
}
