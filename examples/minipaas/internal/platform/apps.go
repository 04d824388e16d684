package platform

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/release"
)

// App is what the platform knows about one app.
type App struct {
	ID        string
	Name      string
	WebURL    string // http://<name>.<BaseDomain>/
	CreatedAt time.Time
	UpdatedAt time.Time
	// Release is the current (newest succeeded) release version, 0 before
	// the first release.
	Release     int
	Formation   map[string]formation.Process
	Domains     []string
	Maintenance bool
}

// appNameRule is Heroku's: lowercase letter first, then lowercase letters,
// digits and dashes, ending with a letter or digit, 3 to 30 characters.
var appNameRule = regexp.MustCompile(`^[a-z][a-z0-9-]{1,28}[a-z0-9]$`)

// NameError is an app name that breaks Heroku's naming rule.
type NameError struct {
	Name string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("platform: app name %q is invalid: it must start with a lowercase letter, contain only lowercase letters, digits and dashes, end with a letter or digit, and be 3 to 30 characters long", e.Name)
}

// ValidateAppName checks name against Heroku's app-name rule.
func ValidateAppName(name string) error {
	if !appNameRule.MatchString(name) {
		return &NameError{Name: name}
	}
	return nil
}

// CreateApp creates an app with no release. A taken name is ErrConflict.
func (p *Platform) CreateApp(ctx context.Context, name string) (App, error) {
	if err := ValidateAppName(name); err != nil {
		return App{}, err
	}
	now := time.Now().UTC()
	rec := appRecord{ID: newID(), Name: name, CreatedAt: now, UpdatedAt: now, Formation: map[string]formation.Process{}}
	p.mu.Lock()
	if _, ok := p.apps[name]; ok {
		p.mu.Unlock()
		return App{}, fmt.Errorf("platform: create app %q: name is already taken: %w", name, ErrConflict)
	}
	if err := insertApp(ctx, p.kv, rec); err != nil {
		p.mu.Unlock()
		if errors.Is(err, store.ErrExists) {
			return App{}, fmt.Errorf("platform: create app %q: name is already taken: %w", name, ErrConflict)
		}
		return App{}, fmt.Errorf("platform: create app %q: %w", name, err)
	}
	p.apps[name] = &appEntry{rec: rec}
	p.byID[rec.ID] = name
	p.mu.Unlock()
	// The router now knows the host: it answers H14 (no web dynos) rather
	// than "no such app" until the first deploy.
	if err := p.restoreRoutes(rec); err != nil {
		return App{}, fmt.Errorf("platform: create app %q: %w", name, err)
	}
	p.emitApp(ctx, rec, ActionCreate, "")
	return p.appView(rec, 0), nil
}

// App returns one app, or an error wrapping ErrNotFound.
func (p *Platform) App(ctx context.Context, name string) (App, error) {
	_, rec, err := p.entry(name)
	if err != nil {
		return App{}, err
	}
	return p.appView(rec, p.currentVersion(ctx, rec.ID)), nil
}

// AppByID returns the app with ID id, or an error wrapping ErrNotFound.
// Records kept outside the platform name apps by ID, which a rename keeps.
func (p *Platform) AppByID(ctx context.Context, id string) (App, error) {
	name, ok := p.appName(id)
	if !ok {
		return App{}, fmt.Errorf("platform: app with ID %q: %w", id, ErrNotFound)
	}
	return p.App(ctx, name)
}

// Apps lists every app, sorted by name.
func (p *Platform) Apps(ctx context.Context) ([]App, error) {
	p.mu.Lock()
	recs := make([]appRecord, 0, len(p.apps))
	for _, e := range p.apps {
		recs = append(recs, e.rec.clone())
	}
	p.mu.Unlock()
	slices.SortFunc(recs, func(a, b appRecord) int { return strings.Compare(a.Name, b.Name) })
	out := make([]App, 0, len(recs))
	for _, r := range recs {
		out = append(out, p.appView(r, p.currentVersion(ctx, r.ID)))
	}
	return out, nil
}

func (p *Platform) currentVersion(ctx context.Context, id string) int {
	cur, err := p.relsDB.Current(ctx, id) // the version only
	if err != nil {
		return 0
	}
	return cur.Version
}

func (p *Platform) appView(r appRecord, version int) App {
	r = r.clone()
	return App{
		ID: r.ID, Name: r.Name, WebURL: "http://" + r.Name + "." + p.cfg.BaseDomain + "/",
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Release: version,
		Formation: r.Formation, Domains: r.Domains, Maintenance: r.Maintenance,
	}
}

// DestroyApp stops every dyno of the app and waits for them to exit, stops
// routing to it (its hosts answer "no such app"), and deletes its record,
// build cache and extracted slugs. Its release history and log stream are
// keyed by the app's ID, which dies with it: they become unreachable, and
// an app created later under the same name starts at v1 with empty logs
// (release.Store and logplex.Buffer have no deletion, so the old records
// stay in releases.db, and the old lines in memory until the next start).
func (p *Platform) DestroyApp(ctx context.Context, name string) error {
	e, rec, err := p.lockApp(name)
	if err != nil {
		return err
	}
	defer func() {
		// After the unlock: a round of the autoscaler may be waiting
		// for the app's lock to scale it, and Disable waits for rounds.
		if e.gone {
			p.autoscaler.Disable(name)
		}
	}()
	defer e.op.Unlock()
	e.gone = true
	if err := deleteApp(ctx, p.kv, name); err != nil {
		return fmt.Errorf("platform: destroy app %q: %w", name, err)
	}
	p.emitApp(ctx, rec, ActionDestroy, "")
	// Forget the app first, so events of its stopping dynos no longer reach
	// the router or the logs.
	p.mu.Lock()
	delete(p.apps, name)
	delete(p.byID, rec.ID)
	p.mu.Unlock()
	p.cancelBuilds(rec.ID)
	p.rec.Remove(name)
	p.router.RemoveApp(name)
	p.routeMu.Lock()
	delete(p.web, name)
	p.routeMu.Unlock()
	if err := p.waitNoDynos(ctx, name); err != nil {
		return fmt.Errorf("platform: destroy app %q: %w", name, err)
	}
	var errs []error
	errs = append(errs, deleteAppRecords(ctx, p.kv, rec.ID))
	errs = append(errs, p.build.Cache.Purge(ctx, rec.ID))
	errs = append(errs, os.RemoveAll(filepath.Join(p.cfg.DataDir, "apps", rec.ID)))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("platform: destroy app %q: remove files: %w", name, err)
	}
	return nil
}

// RenameApp gives the app a new name, as heroku apps:rename does. The
// app keeps its ID, and so its releases, config vars, builds, slugs and
// logs; its dynos keep running (the Reconciler's and the router's keys
// move under them); <new>.<BaseDomain> and its custom domains route to it
// from the moment RenameApp returns, and the old host answers "no such
// app". A new name that is invalid is a *NameError, one that is taken
// ErrConflict. Dynos see the new name in DYNO metadata
// (HEROKU_APP_NAME) when they next start. An autoscaling policy carries
// over, with its history reset.
func (p *Platform) RenameApp(ctx context.Context, old, name string) (App, error) {
	if err := ValidateAppName(name); err != nil {
		return App{}, err
	}
	e, rec, err := p.lockApp(old)
	if err != nil {
		return App{}, err
	}
	if name == old {
		e.op.Unlock()
		return p.appView(rec, p.currentVersion(ctx, rec.ID)), nil
	}
	renamed, err := p.renameLocked(ctx, e, rec, name)
	e.op.Unlock()
	if err != nil {
		return App{}, err
	}
	// After the unlock, as in DestroyApp: Disable waits for an autoscaling
	// round, which may be waiting for the app's lock.
	if p.autoscaler.Disable(old) && renamed.Autoscaling != nil {
		if err := p.autoscaler.Enable(WithUser(ctx, AutoscalerUser), name, *renamed.Autoscaling); err != nil {
			p.log.Warn("platform: autoscaling not resumed after a rename", "app", name, "err", err)
		}
	}
	p.log.Info("platform: app renamed", "app", name, "was", old)
	p.emitApp(ctx, renamed, ActionUpdate, old)
	return p.appView(renamed, p.currentVersion(ctx, renamed.ID)), nil
}

// renameLocked is RenameApp's work under the app's op lock. Lock order:
// routeMu, then mu; the Reconciler is called with neither held, because
// its OnEvent takes both.
func (p *Platform) renameLocked(ctx context.Context, e *appEntry, rec appRecord, name string) (appRecord, error) {
	old := rec.Name
	renamed := rec.clone()
	renamed.Name = name
	renamed.UpdatedAt = time.Now().UTC()

	p.routeMu.Lock()
	p.mu.Lock()
	unlock := func() {
		p.mu.Unlock()
		p.routeMu.Unlock()
	}
	if _, taken := p.apps[name]; taken {
		unlock()
		return appRecord{}, fmt.Errorf("platform: rename app %q to %q: name is already taken: %w", old, name, ErrConflict)
	}
	if err := p.router.RenameApp(old, name); err != nil {
		unlock()
		return appRecord{}, fmt.Errorf("platform: rename app %q: %w", old, err)
	}
	if err := moveApp(ctx, p.kv, old, renamed); err != nil {
		if rerr := p.router.RenameApp(name, old); rerr != nil {
			p.log.Error("platform: router rename not undone", "app", old, "err", rerr)
		}
		unlock()
		if errors.Is(err, store.ErrExists) {
			return appRecord{}, fmt.Errorf("platform: rename app %q to %q: name is already taken: %w", old, name, ErrConflict)
		}
		return appRecord{}, fmt.Errorf("platform: rename app %q: %w", old, err)
	}
	// Both names find the entry until the Reconciler has moved the
	// dynos: its events may still carry the old name. The ID gives the
	// new one, which is what routing uses (onDynoEvent).
	e.rec = renamed.clone()
	p.apps[name] = e
	p.byID[rec.ID] = name
	p.mu.Unlock()
	if w, ok := p.web[old]; ok {
		p.web[name] = w
		delete(p.web, old)
	}
	p.routeMu.Unlock()

	// An app without a release has no formation and no dynos: ErrUnknown.
	if err := p.rec.RenameApp(old, name); err != nil && !errors.Is(err, formation.ErrUnknown) {
		p.log.Error("platform: reconciler rename", "app", name, "was", old, "err", err)
	}
	p.mu.Lock()
	delete(p.apps, old)
	p.mu.Unlock()
	p.statsMu.Lock()
	if st, ok := p.stats[old]; ok {
		p.stats[name] = st
		delete(p.stats, old)
	}
	p.statsMu.Unlock()
	return renamed, nil
}

// waitNoDynos waits until the Reconciler lists no dyno of app.
func (p *Platform) waitNoDynos(ctx context.Context, app string) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for len(p.rec.Dynos(app)) > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for dynos to stop: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// updateApp applies change to the app's record, persists it, and returns
// the new record. Callers hold e.op.
func (p *Platform) updateApp(ctx context.Context, e *appEntry, change func(*appRecord) error) (appRecord, error) {
	p.mu.Lock()
	rec := e.rec.clone()
	p.mu.Unlock()
	if err := change(&rec); err != nil {
		return appRecord{}, err
	}
	rec.UpdatedAt = time.Now().UTC()
	if err := putApp(ctx, p.kv, rec); err != nil {
		return appRecord{}, err
	}
	p.mu.Lock()
	e.rec = rec.clone()
	p.mu.Unlock()
	return rec, nil
}

// newID returns a random UUID (version 4), the form Heroku gives app IDs.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NameUUID derives a stable UUID-shaped id from parts (SHA-256, with the
// version and variant bits of an RFC 4122 name-based UUID), for objects
// kept by name or number: releases, formation entries, dynos.
func NameUUID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// DynoUUID is the id of the dyno the Reconciler lists as dynoID, of the
// app with ID appID, in the Platform API and in HEROKU_DYNO_ID.
func DynoUUID(appID, dynoID string) string { return NameUUID("dyno", appID, dynoID) }

// releaseOf rewrites a stored release (keyed by app ID) for callers, who
// know apps by name.
func releaseOf(r release.Release, name string) release.Release {
	r = r.Clone()
	r.App = name
	return r
}
