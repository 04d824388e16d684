package slug

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FSStore is a content-addressed Store in a directory:
//
//	<Dir>/sha256/<first two hex digits>/<64 hex digits>.tgz   published slugs
//	<Dir>/tmp/                                               uploads in progress
//
// Put writes to a temporary file, fsyncs it, checks the digest and renames
// it into place, then fsyncs the directory: a crash leaves either the whole
// slug or a stray temporary file (which RemoveStaleTemp cleans). Two Puts
// of the same slug both rename identical bytes over the same name, which is
// safe. The zero value is not usable: Dir must be set.
type FSStore struct {
	Dir string
	// MaxSize bounds a slug's size in Put: 0 means
	// DefaultMaxCompressedSize, negative means no limit.
	MaxSize int64
}

var _ Store = (*FSStore)(nil)

func (s *FSStore) path(d Digest) (Digest, string, error) {
	if s.Dir == "" {
		return "", "", errors.New("slug: FSStore.Dir is empty")
	}
	d, err := d.canonical()
	if err != nil {
		return "", "", err
	}
	h := d.Hex()
	return d, filepath.Join(s.Dir, "sha256", h[:2], h+".tgz"), nil
}

// Put implements Store.
func (s *FSStore) Put(ctx context.Context, r io.Reader, want Digest) (Info, error) {
	if s.Dir == "" {
		return Info{}, errors.New("slug: FSStore.Dir is empty")
	}
	if want != "" {
		var err error
		if want, err = want.canonical(); err != nil {
			return Info{}, err
		}
	}
	tmpDir := filepath.Join(s.Dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return Info{}, fmt.Errorf("slug: put: %w", err)
	}
	f, err := os.CreateTemp(tmpDir, "put-*")
	if err != nil {
		return Info{}, fmt.Errorf("slug: put: %w", err)
	}
	tmp := f.Name()
	published := false
	defer func() {
		if !published {
			f.Close()
			os.Remove(tmp)
		}
	}()
	lr := &limitedReader{r: ctxReader{ctx, r}, d: newDigester(), max: pick(s.MaxSize, DefaultMaxCompressedSize), field: "MaxCompressedSize"}
	bufp := copyBufPool.Get().(*[]byte)
	_, err = io.CopyBuffer(writerOnly{f}, lr, *bufp)
	copyBufPool.Put(bufp)
	if err != nil {
		return Info{}, putErr(err)
	}
	got := lr.d.digest()
	if want != "" && got != want {
		return Info{}, &DigestMismatchError{Want: want, Got: got}
	}
	if err := f.Chmod(0o444); err != nil {
		return Info{}, fmt.Errorf("slug: put: %w", err)
	}
	if err := f.Sync(); err != nil {
		return Info{}, fmt.Errorf("slug: put: %w", err)
	}
	if err := f.Close(); err != nil {
		return Info{}, fmt.Errorf("slug: put: %w", err)
	}
	_, final, _ := s.path(got)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return Info{}, fmt.Errorf("slug: put: %w", err)
	}
	// The rename refreshes CreatedAt (the temp file's mtime) for a slug
	// that already existed, which is what the GC grace period needs.
	if err := os.Rename(tmp, final); err != nil {
		return Info{}, fmt.Errorf("slug: put: publishing %s: %w", got, err)
	}
	published = true
	if err := syncDir(filepath.Dir(final)); err != nil {
		return Info{}, fmt.Errorf("slug: put: %w", err)
	}
	fi, err := os.Stat(final)
	if err != nil {
		return Info{}, fmt.Errorf("slug: put: %w", err)
	}
	return Info{Digest: got, Size: lr.n, CreatedAt: fi.ModTime()}, nil
}

// writerOnly hides *os.File's ReadFrom so io.CopyBuffer uses our buffer
// (and our reader's hashing) rather than a splice path.
type writerOnly struct{ io.Writer }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open implements Store. The reader is an *os.File, so it can seek.
func (s *FSStore) Open(ctx context.Context, d Digest) (io.ReadCloser, Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, Info{}, err
	}
	d, p, err := s.path(d)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, notFound(d)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("slug: open %s: %w", d, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, fmt.Errorf("slug: open %s: %w", d, err)
	}
	return f, Info{Digest: d, Size: fi.Size(), CreatedAt: fi.ModTime()}, nil
}

// Stat implements Store.
func (s *FSStore) Stat(ctx context.Context, d Digest) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	d, p, err := s.path(d)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, notFound(d)
	}
	if err != nil {
		return Info{}, fmt.Errorf("slug: stat %s: %w", d, err)
	}
	return Info{Digest: d, Size: fi.Size(), CreatedAt: fi.ModTime()}, nil
}

// Delete implements Store.
func (s *FSStore) Delete(ctx context.Context, d Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, p, err := s.path(d)
	if err != nil {
		return err
	}
	err = os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return notFound(d)
	}
	if err != nil {
		return fmt.Errorf("slug: delete %s: %w", d, err)
	}
	return nil
}

// List implements Store. Files that do not look like slugs are skipped.
func (s *FSStore) List(ctx context.Context) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		if s.Dir == "" {
			yield(Info{}, errors.New("slug: FSStore.Dir is empty"))
			return
		}
		top := filepath.Join(s.Dir, "sha256")
		shards, err := os.ReadDir(top)
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			yield(Info{}, fmt.Errorf("slug: list: %w", err))
			return
		}
		for _, shard := range shards {
			if err := ctx.Err(); err != nil {
				yield(Info{}, err)
				return
			}
			files, err := os.ReadDir(filepath.Join(top, shard.Name()))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if !yield(Info{}, fmt.Errorf("slug: list: %w", err)) {
					return
				}
				continue
			}
			for _, f := range files {
				h, ok := strings.CutSuffix(f.Name(), ".tgz")
				if !ok {
					continue
				}
				d, err := ParseDigest("SHA256:" + h)
				if err != nil || d.Hex() != h || !strings.HasPrefix(h, shard.Name()) {
					continue
				}
				fi, err := f.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted meanwhile
				}
				if err != nil {
					if !yield(Info{}, fmt.Errorf("slug: list: %w", err)) {
						return
					}
					continue
				}
				if !yield(Info{Digest: d, Size: fi.Size(), CreatedAt: fi.ModTime()}, nil) {
					return
				}
			}
		}
	}
}

// RemoveStaleTemp removes upload temporaries older than age, left behind
// by a process that crashed during Put. It returns how many it removed.
func (s *FSStore) RemoveStaleTemp(ctx context.Context, age time.Duration, now time.Time) (int, error) {
	if s.Dir == "" {
		return 0, errors.New("slug: FSStore.Dir is empty")
	}
	dir := filepath.Join(s.Dir, "tmp")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("slug: removing stale uploads: %w", err)
	}
	n := 0
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		fi, err := e.Info()
		if err != nil || !strings.HasPrefix(e.Name(), "put-") || now.Sub(fi.ModTime()) < age {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}
