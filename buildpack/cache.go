package buildpack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dynokit/dynokit/internal/copytree"
)

// Cache keeps each app's build cache (the CACHE_DIR its buildpacks see)
// on local disk between builds. Layout under Dir:
//
//	<app>/lock        flock: shared while restoring, exclusive while saving
//	<app>/current     symlink to the generation of the last successful build
//	<app>/gen-<id>/   a saved generation
//	<app>/work-<id>/  the CACHE_DIR of a build in progress
//
// A build gets a private copy of the current generation; only a
// successful build's copy becomes the new generation (an atomic symlink
// swap), so a failed or killed build never damages the cache. Apps never
// share a directory. Safe for concurrent use, also across processes; when
// two builds of one app finish, the later one's cache wins. Each build
// copies the cache (the price of isolation: a warm Go rebuild spends most
// of its time there). A platform process that dies mid-build leaves its
// work-<id> directory behind; removing those older than the build timeout
// is safe.
type Cache struct {
	// Dir is the root of all apps' caches. Required.
	Dir string
}

// appName restricts app names to one safe path element.
var appName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func (c *Cache) appDir(app string) (string, error) {
	if c == nil || c.Dir == "" {
		return "", errors.New("buildpack: cache: Cache.Dir is empty")
	}
	if !appName.MatchString(app) || app == "." || app == ".." {
		return "", fmt.Errorf("buildpack: cache: app name %q must match %s", app, appName)
	}
	return filepath.Join(c.Dir, app), nil
}

// lock takes the app's flock; how is unix.LOCK_SH or unix.LOCK_EX.
func lockFile(ctx context.Context, dir string, how int) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkout returns a fresh CACHE_DIR for a build of app, filled with a
// copy of the last successful build's cache.
func (c *Cache) checkout(ctx context.Context, app string) (string, error) {
	dir, err := c.appDir(app)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("buildpack: cache: %w", err)
	}
	work := filepath.Join(dir, "work-"+randomID())
	if err := os.Mkdir(work, 0o700); err != nil {
		return "", fmt.Errorf("buildpack: cache: %w", err)
	}
	unlock, err := lockFile(ctx, dir, unix.LOCK_SH)
	if err != nil {
		os.RemoveAll(work)
		return "", fmt.Errorf("buildpack: cache: lock %s: %w", app, err)
	}
	defer unlock()
	gen, err := os.Readlink(filepath.Join(dir, "current"))
	if errors.Is(err, fs.ErrNotExist) {
		return work, nil
	}
	if err != nil {
		os.RemoveAll(work)
		return "", fmt.Errorf("buildpack: cache: %w", err)
	}
	if err := copytree.Copy(ctx, filepath.Join(dir, filepath.Base(gen)), work); err != nil {
		os.RemoveAll(work)
		return "", fmt.Errorf("buildpack: cache: restore %s: %w", app, err)
	}
	return work, nil
}

// commit makes work (from checkout) the app's current cache.
func (c *Cache) commit(ctx context.Context, app, work string) error {
	dir, err := c.appDir(app)
	if err != nil {
		return err
	}
	unlock, err := lockFile(ctx, dir, unix.LOCK_EX)
	if err != nil {
		return fmt.Errorf("buildpack: cache: lock %s: %w", app, err)
	}
	defer unlock()
	gen := "gen-" + randomID()
	if err := os.Rename(work, filepath.Join(dir, gen)); err != nil {
		return fmt.Errorf("buildpack: cache: save %s: %w", app, err)
	}
	cur := filepath.Join(dir, "current")
	old, _ := os.Readlink(cur)
	tmp := filepath.Join(dir, "current.tmp-"+randomID())
	if err := os.Symlink(gen, tmp); err != nil {
		return fmt.Errorf("buildpack: cache: save %s: %w", app, err)
	}
	if err := os.Rename(tmp, cur); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("buildpack: cache: save %s: %w", app, err)
	}
	if old != "" {
		os.RemoveAll(filepath.Join(dir, filepath.Base(old)))
	}
	return nil
}

// discard removes a work dir from checkout.
func (c *Cache) discard(work string) { os.RemoveAll(work) }

// Size reports the bytes of regular files in app's current cache (0 when
// it has none).
func (c *Cache) Size(app string) (int64, error) {
	dir, err := c.appDir(app)
	if err != nil {
		return 0, err
	}
	gen, err := os.Readlink(filepath.Join(dir, "current"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("buildpack: cache: %w", err)
	}
	var total int64
	err = filepath.WalkDir(filepath.Join(dir, filepath.Base(gen)), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("buildpack: cache: size of %s: %w", app, err)
	}
	return total, nil
}

// Purge deletes app's cache; the next build starts cold (Heroku's
// DELETE /apps/{app}/build-cache). Builds in progress are not affected.
func (c *Cache) Purge(ctx context.Context, app string) error {
	dir, err := c.appDir(app)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := lockFile(ctx, dir, unix.LOCK_EX)
	if err != nil {
		return fmt.Errorf("buildpack: cache: lock %s: %w", app, err)
	}
	defer unlock()
	cur := filepath.Join(dir, "current")
	old, err := os.Readlink(cur)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.Remove(cur); err != nil {
		return fmt.Errorf("buildpack: cache: purge %s: %w", app, err)
	}
	return os.RemoveAll(filepath.Join(dir, filepath.Base(old)))
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
