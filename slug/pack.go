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
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/pgzip"
)

// DefaultModTime is the modification time Pack writes for every entry unless
// PackOptions.KeepModTimes is set: a fixed time makes the same tree pack to
// the same bytes.
func DefaultModTime() time.Time { return time.Unix(0, 0).UTC() }

const (
	// gzipBlockSize is fixed (not derived from the machine) because pgzip's
	// output depends on it: the same tree must give the same bytes on every
	// host.
	gzipBlockSize = 1 << 20
	// prefetchMax is the largest file read ahead of the tar writer by the
	// reader goroutines; larger files are streamed by the writer itself.
	prefetchMax = 256 << 10
	// copyBufSize is the size of the pooled buffers used to stream files.
	copyBufSize = 1 << 20
)

// PackOptions configures Pack. The zero value packs with the default limits,
// reads .slugignore from the build directory and refuses symlinks that
// point out of the tree.
type PackOptions struct {
	Limits Limits
	// SoftCompressedSize is the size above which PackInfo.Warning carries
	// Heroku's soft-limit warning. 0 means DefaultSoftCompressedSize;
	// negative disables the warning.
	SoftCompressedSize int64
	// Ignore overrides the build directory's .slugignore when non-nil;
	// &Ignore{} excludes nothing. Heroku deletes .slugignore'd files
	// before the build runs: do that with RemoveIgnored, then pass
	// &Ignore{} here. Left nil, Pack applies the patterns when packing,
	// so files the build itself creates that match are left out too.
	Ignore *Ignore
	// SkipEscapingSymlinks leaves out symlinks whose target is absolute or
	// leaves the tree, listing them in PackInfo.SkippedSymlinks, instead of
	// failing. Such links would dangle (or worse, point at the host) once
	// the slug is extracted elsewhere.
	SkipEscapingSymlinks bool
	// KeepAbsoluteSymlinks turns off rewriting symlinks whose target is
	// absolute inside /app (the path a slug runs at) into the equivalent
	// relative target; such links are then refused (or skipped) like any
	// other absolute link.
	KeepAbsoluteSymlinks bool
	// KeepModTimes writes each file's real modification time instead of
	// DefaultModTime. Output is then no longer reproducible.
	KeepModTimes bool
	// Level is the gzip compression level (1..9); 0 means the default (6).
	Level int
	// Progress, when set, is called from Pack's goroutine as entries are
	// written: after each MiB of content or so, and once at the end.
	Progress func(Progress)
	// Logger receives a line for each skipped symlink; nil discards.
	Logger *slog.Logger
}

// Progress reports how far Pack has come. Totals are known up front because
// Pack walks the tree before writing.
type Progress struct {
	Entries, TotalEntries int
	Bytes, TotalBytes     int64 // file content bytes
}

// PackInfo describes a packed slug.
type PackInfo struct {
	Digest           Digest // SHA-256 of the compressed bytes written
	Size             int64  // compressed size
	UncompressedSize int64  // size of the tar stream
	Entries          int    // tar entries, the "./app/" directory included
	Ignored          int    // paths left out by .slugignore (a directory counts once)
	SkippedSymlinks  []string
	// Warning is Heroku's soft-limit warning when Size exceeds
	// PackOptions.SoftCompressedSize, else "".
	Warning string
}

// PathError reports a file in the build directory that cannot be packed.
type PathError struct {
	Path   string // relative to the build directory, slash-separated
	Reason string
	Err    error // underlying error, if any
}

func (e *PathError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("slug: pack %q: %s: %v", e.Path, e.Reason, e.Err)
	}
	return fmt.Sprintf("slug: pack %q: %s", e.Path, e.Reason)
}

func (e *PathError) Unwrap() error { return e.Err }

// ErrEscapingSymlink is matched by errors for symlinks whose target is
// absolute or leaves the tree (in Pack) or the extraction root (in Extract).
var ErrEscapingSymlink = errors.New("symlink target leaves the tree")

// packEntry is one file, directory or symlink found by the walk.
type packEntry struct {
	rel     string // slash-separated, "" for the top directory
	mode    fs.FileMode
	size    int64
	modTime time.Time
	link    string

	// For prefetched regular files: filled by a reader goroutine before
	// done is closed.
	done chan struct{}
	data *[]byte
	err  error
}

// Pack writes the directory dir as a slug to w: a gzip-compressed tar whose
// entries are "./app/" and "./app/<path>". See the package documentation for
// what is kept and what is refused.
func Pack(ctx context.Context, w io.Writer, dir string, opts PackOptions) (PackInfo, error) {
	var info PackInfo
	lim := opts.Limits
	ign := opts.Ignore
	if ign == nil {
		data, err := os.ReadFile(filepath.Join(dir, IgnoreFile))
		switch {
		case err == nil:
			if ign, err = ParseIgnore(data); err != nil {
				return info, err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return info, fmt.Errorf("slug: reading %s: %w", IgnoreFile, err)
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	w2 := &walker{ctx: ctx, root: dir, ign: ign, opts: &opts, logger: logger, info: &info}
	if err := w2.walk(); err != nil {
		return info, err
	}
	entries := w2.entries
	if max := lim.entries(); max >= 0 && int64(len(entries)) > max {
		return info, &LimitError{Field: "MaxEntries", Limit: max, Size: int64(len(entries))}
	}
	var totalBytes, tarEstimate int64
	for _, e := range entries {
		totalBytes += e.size
		tarEstimate += 512 + (e.size+511)&^511
	}
	if max := lim.uncompressed(); max >= 0 && tarEstimate > max {
		// Fail before compressing anything: headers and padding are
		// counted, so this is a lower bound of the tar size.
		return info, &LimitError{Field: "MaxUncompressedSize", Limit: max, Size: tarEstimate}
	}

	level := opts.Level
	if level == 0 {
		level = pgzip.DefaultCompression
	}
	out := &limitedWriter{w: w, d: newDigester(), max: lim.compressed(), field: "MaxCompressedSize"}
	sticky := &stickyWriter{w: out}
	zw, err := pgzip.NewWriterLevel(sticky, level)
	if err != nil {
		return info, fmt.Errorf("slug: gzip level %d: %w", level, err)
	}
	// The gzip header must not vary: no name, no time; pgzip writes OS=255.
	zw.ModTime = time.Unix(0, 0) // encodes as 0: "no time"
	if err := zw.SetConcurrency(gzipBlockSize, 2*runtime.GOMAXPROCS(0)); err != nil {
		return info, fmt.Errorf("slug: gzip: %w", err)
	}
	raw := &limitedWriter{w: zw, d: nil, max: lim.uncompressed(), field: "MaxUncompressedSize"}
	tw := tar.NewWriter(raw)

	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel() // releases the prefetchers if we stop early
		wg.Wait()
	}()
	ordered := startPrefetch(pctx, &wg, dir, entries)

	prog := Progress{TotalEntries: len(entries), TotalBytes: totalBytes}
	var sinceReport int64
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	// fail stops compression without letting anything more reach w.
	fail := func(err error) (PackInfo, error) {
		sticky.abandon()
		zw.Close()
		return info, err
	}
	for e := range ordered {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("slug: pack: %w", err))
		}
		if err := sticky.err(); err != nil {
			return fail(packWriteErr(err))
		}
		if err := writeEntry(tw, dir, e, opts.KeepModTimes, *bufp); err != nil {
			return fail(err)
		}
		prog.Entries++
		prog.Bytes += e.size
		sinceReport += e.size
		if opts.Progress != nil && sinceReport >= 1<<20 {
			sinceReport = 0
			opts.Progress(prog)
		}
	}
	// The prefetcher stops early only when ctx is done; never finish a
	// truncated archive as if it were whole.
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("slug: pack: %w", err))
	}
	if prog.Entries != len(entries) {
		return fail(fmt.Errorf("slug: pack: wrote %d of %d entries", prog.Entries, len(entries)))
	}
	if err := tw.Close(); err != nil {
		return fail(packWriteErr(err))
	}
	if err := zw.Close(); err != nil {
		return info, packWriteErr(err)
	}
	if err := sticky.err(); err != nil {
		return info, packWriteErr(err)
	}
	if opts.Progress != nil {
		opts.Progress(prog)
	}
	info.Digest = out.d.digest()
	info.Size = out.n
	info.UncompressedSize = raw.n
	info.Entries = len(entries)
	soft := opts.SoftCompressedSize
	if soft == 0 {
		soft = DefaultSoftCompressedSize
	}
	info.Warning = SoftLimitWarning(info.Size, soft)
	return info, nil
}

func packWriteErr(err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	return fmt.Errorf("slug: pack: writing: %w", err)
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
var smallBufPool = sync.Pool{New: func() any { b := make([]byte, 0, prefetchMax); return &b }}

// startPrefetch returns the entries in order, each one's content ready when
// it is received if it is a small regular file. A few goroutines read ahead
// so that open/read/close of many small files overlaps with compression;
// the channel's capacity bounds the memory held.
func startPrefetch(ctx context.Context, wg *sync.WaitGroup, dir string, entries []*packEntry) <-chan *packEntry {
	const readers = 4
	ordered := make(chan *packEntry, 256)
	work := make(chan *packEntry, 256)
	wg.Add(1 + readers)
	go func() {
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		for _, e := range entries {
			if e.mode.IsRegular() && e.size < prefetchMax {
				e.done = make(chan struct{})
				select {
				case work <- e:
				case <-ctx.Done():
					return
				}
			}
			select {
			case ordered <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range readers {
		go func() {
			defer wg.Done()
			for e := range work {
				e.data, e.err = readSmall(filepath.Join(dir, filepath.FromSlash(e.rel)), e.size)
				close(e.done)
			}
		}()
	}
	return ordered
}

func readSmall(name string, size int64) (*[]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bp := smallBufPool.Get().(*[]byte)
	// One byte more than expected, to notice a file that grew.
	b := (*bp)[:size+1]
	n, err := io.ReadFull(f, b)
	switch {
	case err != nil && err != io.EOF && err != io.ErrUnexpectedEOF:
		smallBufPool.Put(bp)
		return nil, err
	case int64(n) > size:
		smallBufPool.Put(bp)
		return nil, fmt.Errorf("file grew while packing (was %d bytes)", size)
	case int64(n) < size:
		smallBufPool.Put(bp)
		return nil, fmt.Errorf("file shrank while packing (was %d bytes, read %d)", size, n)
	}
	*bp = b[:size]
	return bp, nil
}

func writeEntry(tw *tar.Writer, dir string, e *packEntry, keepModTimes bool, buf []byte) error {
	hdr := &tar.Header{
		Name:    "./app/" + e.rel,
		ModTime: DefaultModTime(),
		Mode:    int64(e.mode.Perm()),
	}
	if e.mode&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	if keepModTimes {
		hdr.ModTime = e.modTime.Truncate(time.Second)
	}
	switch {
	case e.mode.IsDir():
		hdr.Typeflag = tar.TypeDir
		if e.rel != "" {
			hdr.Name += "/"
		}
	case e.mode&fs.ModeSymlink != 0:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = e.link
		hdr.Mode = 0o777
	default:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = e.size
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return packWriteErr(err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	if e.done != nil {
		<-e.done
		if e.err != nil {
			return &PathError{Path: e.rel, Reason: "reading", Err: e.err}
		}
		_, err := tw.Write(*e.data)
		smallBufPool.Put(e.data)
		e.data = nil
		if err != nil {
			return packWriteErr(err)
		}
		return nil
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(e.rel)))
	if err != nil {
		return &PathError{Path: e.rel, Reason: "opening", Err: err}
	}
	defer f.Close()
	var written int64
	for written < e.size {
		chunk := buf
		if rest := e.size - written; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		n, rerr := io.ReadFull(f, chunk)
		if n > 0 {
			if _, err := tw.Write(chunk[:n]); err != nil {
				return packWriteErr(err)
			}
			written += int64(n)
		}
		if rerr != nil {
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				return &PathError{Path: e.rel, Reason: fmt.Sprintf("file shrank while packing (was %d bytes, read %d)", e.size, written)}
			}
			return &PathError{Path: e.rel, Reason: "reading", Err: rerr}
		}
	}
	if n, _ := f.Read(buf[:1]); n > 0 {
		return &PathError{Path: e.rel, Reason: fmt.Sprintf("file grew while packing (was %d bytes)", e.size)}
	}
	return nil
}

// walker lists the tree in a fixed order: depth first, names sorted
// bytewise, so that the same tree always gives the same archive.
type walker struct {
	ctx     context.Context
	root    string
	ign     *Ignore
	opts    *PackOptions
	logger  *slog.Logger
	info    *PackInfo
	entries []*packEntry
	elems   []string
}

func (w *walker) walk() error {
	fi, err := os.Stat(w.root)
	if err != nil {
		return fmt.Errorf("slug: pack: build directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("slug: pack: build directory %s is not a directory", w.root)
	}
	w.entries = append(w.entries, &packEntry{rel: "", mode: fi.Mode(), modTime: fi.ModTime()})
	return w.walkDir("")
}

func (w *walker) walkDir(rel string) error {
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("slug: pack: %w", err)
	}
	des, err := os.ReadDir(filepath.Join(w.root, filepath.FromSlash(rel)))
	if err != nil {
		return &PathError{Path: rel, Reason: "reading directory", Err: err}
	}
	for _, de := range des {
		name := de.Name()
		childRel := name
		if rel != "" {
			childRel = rel + "/" + name
		}
		w.elems = append(w.elems[:0], strings.Split(childRel, "/")...)
		if w.ign.matchExact(w.elems, de.IsDir()) {
			w.info.Ignored++
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return &PathError{Path: childRel, Reason: "stat", Err: err}
		}
		e := &packEntry{rel: childRel, mode: fi.Mode(), modTime: fi.ModTime()}
		switch typ := fi.Mode().Type(); {
		case typ == 0:
			e.size = fi.Size()
		case typ == fs.ModeDir:
		case typ == fs.ModeSymlink:
			target, err := os.Readlink(filepath.Join(w.root, filepath.FromSlash(childRel)))
			if err != nil {
				return &PathError{Path: childRel, Reason: "reading symlink", Err: err}
			}
			if rewritten, ok := appAbsoluteToRelative(childRel, target); ok && !w.opts.KeepAbsoluteSymlinks {
				target = rewritten
			}
			if reason := symlinkEscapes(childRel, target); reason != "" {
				if !w.opts.SkipEscapingSymlinks {
					return &PathError{Path: childRel, Reason: fmt.Sprintf("symlink to %q %s", target, reason), Err: ErrEscapingSymlink}
				}
				w.info.SkippedSymlinks = append(w.info.SkippedSymlinks, childRel)
				w.logger.Warn("slug: skipping symlink that leaves the tree", "path", childRel, "target", target)
				continue
			}
			e.link = target
		default:
			return &PathError{Path: childRel, Reason: fmt.Sprintf("unsupported file type %s: a slug holds only regular files, directories and symlinks", typeName(typ))}
		}
		w.entries = append(w.entries, e)
		if e.mode.IsDir() {
			if err := w.walkDir(childRel); err != nil {
				return err
			}
		}
	}
	return nil
}

// symlinkEscapes returns why a symlink at rel (relative to the tree's top)
// with the given target may resolve outside the tree, or "" if it cannot.
//
// A purely lexical check ("clean the joined path, look for a leading ..")
// is not enough: with d/l -> "..", the target "d/l/../.." cleans to "."
// yet resolves above the top, because the kernel follows l before
// applying the "..". So ".." is allowed only at the start of a target,
// and no more of them than the link's depth. Given that no parent of rel is
// itself a symlink (true for Pack's walk; Extract refuses such entries),
// resolution then stays inside: the leading ".." climb real directories,
// and every link met while descending obeys the same rule.
func symlinkEscapes(rel, target string) string {
	switch {
	case target == "":
		return "has an empty target"
	case strings.HasPrefix(target, "/"):
		return "is absolute (only relative targets inside the tree are kept)"
	}
	up, named := 0, false
	for _, e := range strings.Split(target, "/") {
		switch e {
		case "", ".":
		case "..":
			if named {
				return `has ".." after a name (only leading ".." are allowed, since a ".." after a symlink climbs from the link's target)`
			}
			up++
		default:
			named = true
		}
	}
	depth := 0
	if dir := path.Dir(rel); dir != "." {
		depth = strings.Count(dir, "/") + 1
	}
	if up > depth {
		return "points outside the tree"
	}
	return ""
}

// appAbsoluteToRelative rewrites an absolute symlink target inside /app,
// the path a slug runs at (buildpacks write such links, e.g.
// bin/node -> /app/.heroku/node/bin/node), as the equivalent relative
// target from rel. ok is false for other targets.
func appAbsoluteToRelative(rel, target string) (string, bool) {
	t := path.Clean(target)
	if t != "/app" && !strings.HasPrefix(t, "/app/") {
		return "", false
	}
	inner := strings.TrimPrefix(strings.TrimPrefix(t, "/app"), "/")
	from := path.Dir(rel)
	var up []string
	if from != "." {
		for range strings.Split(from, "/") {
			up = append(up, "..")
		}
	}
	// The climb to the top stays explicit rather than being shortened
	// against inner, so the target has the leading-".." form that
	// symlinkEscapes accepts.
	parts := up
	if inner != "" {
		parts = append(parts, inner)
	}
	if len(parts) == 0 {
		return ".", true
	}
	return strings.Join(parts, "/"), true
}

func typeName(t fs.FileMode) string {
	switch {
	case t&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	}
	return t.String()
}

// limitedWriter counts and optionally hashes what passes, failing with a
// LimitError once more than max bytes (max < 0: unlimited) were written.
type limitedWriter struct {
	w     io.Writer
	d     *digester
	n     int64
	max   int64
	field string
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.max >= 0 && l.n+int64(len(p)) > l.max {
		return 0, &LimitError{Field: l.field, Limit: l.max, Size: l.n + int64(len(p))}
	}
	n, err := l.w.Write(p)
	if l.d != nil {
		l.d.Write(p[:n])
	}
	l.n += int64(n)
	return n, err
}

// stickyWriter sits between pgzip and everything after it. pgzip v1.3.0
// leaks its output goroutine when its writer fails (Close returns early
// without releasing it), so failures are never reported to pgzip: the
// first error is kept, later bytes are dropped, and Pack checks err
// itself. abandon drops everything from then on (used when Pack gives up,
// so a caller's writer does not receive a stray gzip trailer).
type stickyWriter struct {
	w  io.Writer
	mu sync.Mutex
	e  error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e == nil {
		if _, err := s.w.Write(p); err != nil {
			s.e = err
		}
	}
	return len(p), nil
}

func (s *stickyWriter) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.e
}

func (s *stickyWriter) abandon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e == nil {
		s.e = errAbandoned
	}
}

var errAbandoned = errors.New("abandoned")
