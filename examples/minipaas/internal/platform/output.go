package platform

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/release"
)

// outputLog is output being recorded to a file (a build's, a release
// phase's) that readers can follow while it is written: every write closes
// wake and makes a new one.
type outputLog struct {
	log *slog.Logger

	mu   sync.Mutex
	f    *os.File
	wake chan struct{}
	done bool
}

// createOutputLog creates the file at path (which must not exist) for an
// outputLog, with its directory.
func createOutputLog(path string, log *slog.Logger) (*outputLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &outputLog{log: log, f: f, wake: make(chan struct{})}, nil
}

// Write records b. It never fails: the output of a build or release phase
// is worth less than the build, so a full disk is logged, not fatal.
func (o *outputLog) Write(b []byte) (int, error) {
	o.mu.Lock()
	if _, err := o.f.Write(b); err != nil {
		o.log.Warn("platform: recording output", "file", o.f.Name(), "err", err)
	}
	w := o.wake
	o.wake = make(chan struct{})
	o.mu.Unlock()
	close(w)
	return len(b), nil
}

// close ends the output; followers read to its end and stop.
func (o *outputLog) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done = true
	close(o.wake)
	if err := o.f.Close(); err != nil {
		o.log.Warn("platform: recording output", "file", o.f.Name(), "err", err)
	}
}

// followOutput opens the output file at path from its beginning; while
// live (nil: ended) is being written, reads wait at the end for more. Read
// returns ctx's error when ctx ends first.
func followOutput(ctx context.Context, path string, live *outputLog) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &outputFollower{ctx: ctx, f: f, live: live}, nil
}

type outputFollower struct {
	ctx  context.Context
	f    *os.File
	live *outputLog
}

func (o *outputFollower) Read(b []byte) (int, error) {
	for {
		var wake chan struct{}
		done := true
		if o.live != nil {
			// Taken before reading, so a write after the read closes it.
			o.live.mu.Lock()
			wake, done = o.live.wake, o.live.done
			o.live.mu.Unlock()
		}
		n, err := o.f.Read(b)
		if n > 0 || err != io.EOF || done {
			return n, err
		}
		select {
		case <-wake:
		case <-o.ctx.Done():
			return 0, o.ctx.Err()
		}
	}
}

func (o *outputFollower) Close() error { return o.f.Close() }

// ServeOutput answers r with out (from BuildOutput or ReleaseOutput) as
// plain text, flushed as it comes, until it ends or the client goes.
func ServeOutput(w http.ResponseWriter, r *http.Request, out io.Reader) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := out.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return // io.EOF: the output ended; else the client went away
		}
	}
}

// Release phase output: each release phase's output is kept in
// apps/<id>/releases/v<N>.log, readable while it runs (heroku
// releases:output). Its URL is authorised by a token derived from a
// secret kept in platform.db, so it needs no record per release.

const metaNS = "minipaas.meta"

// loadURLSecret returns the platform's secret for URL tokens,
// making it on first use.
func loadURLSecret(ctx context.Context, db store.DB) ([]byte, error) {
	var secret []byte
	err := db.Update(ctx, func(tx store.Tx) error {
		v, err := tx.Get(metaNS, []byte("url-secret"))
		if err == nil {
			secret = slices.Clone(v)
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
		return tx.Put(metaNS, []byte("url-secret"), secret)
	})
	return secret, err
}

func (p *Platform) releaseOutputPath(appID string, version int) string {
	return filepath.Join(p.cfg.DataDir, "apps", appID, "releases", "v"+strconv.Itoa(version)+".log")
}

// ReleaseOutputToken is the token that authorises reading the release
// phase output of version of the app with ID appID (ReleaseOutput).
func (p *Platform) ReleaseOutputToken(appID string, version int) string {
	return p.urlToken("release-output", appID, strconv.Itoa(version))
}

// urlToken is an unguessable token for a URL served without the API
// token, derived from the platform's secret and what the URL names.
func (p *Platform) urlToken(parts ...string) string {
	m := hmac.New(sha256.New, p.urlSecret)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// ReleaseOutput returns the release phase output of version of the app
// with ID appID, following it while the phase runs. A wrong token, or a
// release whose phase has not started (or that has none), is ErrNotFound.
func (p *Platform) ReleaseOutput(ctx context.Context, appID string, version int, token string) (io.ReadCloser, error) {
	if !hmac.Equal([]byte(token), []byte(p.ReleaseOutputToken(appID, version))) {
		return nil, fmt.Errorf("platform: release output v%d: %w", version, ErrNotFound)
	}
	p.buildsMu.Lock()
	live := p.phases[appID+"/"+strconv.Itoa(version)]
	p.buildsMu.Unlock()
	rc, err := followOutput(ctx, p.releaseOutputPath(appID, version), live)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("platform: release output v%d: %w", version, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("platform: release output v%d: %w", version, err)
	}
	return rc, nil
}

type phaseStartedKey struct{}

// WithPhaseStarted returns ctx with fn to call when the release phase of
// a release made under ctx (a deploy, promotion, config change, …)
// starts: fn gets the pending release, whose output ReleaseOutput follows
// from then on. A release without a release phase does not call it. fn
// must not block.
func WithPhaseStarted(ctx context.Context, fn func(release.Release)) context.Context {
	return context.WithValue(ctx, phaseStartedKey{}, fn)
}

// recordPhase returns out teed to the recorded output of release r's
// phase, and a func to call when the phase ends. Output that cannot be
// recorded is logged; the phase runs anyway.
func (p *Platform) recordPhase(r release.Release, out io.Writer) (io.Writer, func()) {
	log, err := createOutputLog(p.releaseOutputPath(r.App, r.Version), p.log)
	if err != nil {
		p.log.Warn("platform: cannot record release phase output", "app", r.App, "release", r.Version, "err", err)
		return out, func() {}
	}
	key := r.App + "/" + strconv.Itoa(r.Version)
	p.buildsMu.Lock()
	p.phases[key] = log
	p.buildsMu.Unlock()
	return io.MultiWriter(log, out), func() {
		log.close()
		p.buildsMu.Lock()
		delete(p.phases, key)
		p.buildsMu.Unlock()
	}
}
