package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/buildpack/builtin"
	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/autoscale"
	"github.com/dynokit/dynokit/formation/local"
	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/internal/store/boltkv"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/boltstore"
	"github.com/dynokit/dynokit/release/sealed"
	"github.com/dynokit/dynokit/router"
	"github.com/dynokit/dynokit/slug"
)

// Errors callers branch on (an API maps them to not_found and conflict).
var (
	ErrNotFound = errors.New("platform: not found")
	ErrConflict = errors.New("platform: conflict")
	// ErrNoRelease is returned for operations that need a deployed slug.
	ErrNoRelease = errors.New("platform: app has no deployed release yet")
)

// Config configures a Platform. Only DataDir is required.
type Config struct {
	// DataDir holds all state: platform.db (apps, formation, domains,
	// maintenance), releases.db (release history with config vars), slugs/,
	// the build cache, extracted slugs and the dynos' directories.
	DataDir string
	// Runtime runs dynos; nil means formation/local with its dyno
	// directories under DataDir/dynos.
	Runtime formation.Runtime
	// BaseDomain: app "foo" is served at "foo.<BaseDomain>". Default "localhost".
	BaseDomain string
	// Strategy replaces dynos on a new release. Default formation.RestartAll.
	Strategy formation.Strategy
	// ConfigKeys, when set, seal config var values in releases.db
	// (release/sealed): the first key seals, every key opens, so a key is
	// rotated by putting a new one first. Once sealed, Open refuses to run
	// without keys (ErrConfigKeysNeeded). Plaintext written before stays
	// readable.
	ConfigKeys []sealed.Key
	// StopGrace is the SIGTERM → SIGKILL grace of dynos; 0 means Heroku's 30 s.
	StopGrace time.Duration
	// BootTimeout bounds a web dyno's boot (R10); 0 means Heroku's 60 s.
	BootTimeout time.Duration
	// BuildEnv is added to the environment of buildpack scripts (for example
	// GOCACHE or GOPROXY for the whole platform). PATH comes from this
	// process unless set here.
	BuildEnv []string
	// BuildTimeout bounds one build; 0 means buildpack's 15 minutes.
	BuildTimeout time.Duration
	// MaxSourceSize bounds the gzipped source tarball of a build by API
	// (CreateBuild); 0 means slug.DefaultMaxCompressedSize (1 GiB), the
	// compressed-slug limit, negative no limit.
	MaxSourceSize int64
	// MetricsEvery is how often dynos' memory is read, for R14 warnings
	// and the log-runtime-metrics samples; 0 means Heroku's 20 s.
	MetricsEvery time.Duration
	// SlugGCEvery is how often slugs nothing refers to any more are
	// deleted (CollectSlugs); 0 means daily, negative never. SlugGrace
	// protects slugs younger than it; 0 means slug.DefaultGCGrace (an hour).
	SlugGCEvery, SlugGrace time.Duration
	// EcoIdle is how long an app whose web dynos are of size eco may go
	// without a request before its eco dynos sleep (the next request
	// wakes them); 0 means Heroku's 30 minutes, negative never.
	EcoIdle time.Duration
	// MaxDynoRequests caps the requests in flight to one web dyno; more
	// wait in the app's backlog, and past that get H11 (router.Config).
	// 0 means no cap.
	MaxDynoRequests int
	// HTTPClient fetches the source tarballs of builds by API; nil means
	// one with a 30 s limit on connecting and on the response header.
	HTTPClient *http.Client
	// Router, when set, is used instead of a default one; its LogSink should
	// then be Platform.RouterLogSink, its Wake Platform.WakeApp and its
	// VerifyDyno Platform.VerifyDyno. Nil
	// makes one with BaseDomain.
	Router *router.Router
	// OnAppEvent, when set, receives every AppEvent (releases, builds,
	// formation changes, dyno state changes, domains, the app's own
	// creation, rename, maintenance switch and destruction), for webhooks. It is called
	// synchronously, sometimes with the app's or the Reconciler's lock
	// held, so it must not block or call the Platform.
	OnAppEvent func(AppEvent)
	// OnDeployed, when set, receives the timings of every successful deploy
	// (for benchmarks and metrics). It must not block.
	OnDeployed func(DeployStats)
	// User is recorded on releases made without a user in the context
	// (see WithUser). Default "platform".
	User string
	// Logger receives diagnostics; nil discards.
	Logger *slog.Logger
}

// Platform is one host's PaaS: apps, builds, releases, dynos, routing and
// logs wired together. Open it, call Run in a goroutine, and serve Router.
type Platform struct {
	cfg Config
	log *slog.Logger
	kv  store.DB
	// rels is relsDB, sealed with Config.ConfigKeys. Reads that need no
	// config var values (versions, slugs, process types) go to relsDB,
	// which does not open them.
	relsDB *boltstore.Store
	rels   release.Store
	mgr    *release.Manager
	slugs  *slug.FSStore
	build  *buildpack.Builder
	bps    []buildpack.Buildpack
	rec    *formation.Reconciler
	router *router.Router
	logs   *logplex.Buffer
	sess   *logplex.Sessions

	mu   sync.Mutex // guards apps and byID; never held while calling rec
	apps map[string]*appEntry
	byID map[string]string // app ID → name, for stores keyed by ID

	routeMu sync.Mutex // guards web; taken inside rec's OnEvent
	web     map[string]*webApp

	extractMu sync.Mutex // serialises slug extraction (once per slug)

	runOnce sync.Once

	autoscaler *autoscale.Autoscaler

	statsMu sync.Mutex               // guards stats
	stats   map[string][]statsSample // router metrics snapshots, oldest first

	// noTerminals: the runtime refused a terminal (formation.ErrNoTerminal).
	noTerminals atomic.Bool

	http      *http.Client
	buildsMu  sync.Mutex            // guards runs and phases
	runs      map[string]*buildRun  // running builds by ID
	phases    map[string]*outputLog // running release phases by app ID/version
	urlSecret []byte                // authorises the URLs served without the API token (urlToken)

	schedulerNudge chan struct{}   // jobs changed (scheduler.go)
	bgCtx          context.Context // builds by API run under it
	stopBG         context.CancelFunc
	// stopping is closed when Run's context ends: the dynos are being
	// stopped, which a build's release phase or a one-off may see first.
	stopping chan struct{}
	bg       sync.WaitGroup // builds by API
}

// appEntry is an app in memory. op serialises operations that change the
// app (deploy, config, scale, rollback, destroy); it may be held while
// calling the Reconciler because event callbacks never take it.
type appEntry struct {
	op   sync.Mutex
	gone bool      // destroyed; guarded by op
	rec  appRecord // guarded by Platform.mu
}

// Open opens (or creates) the platform in cfg.DataDir and brings back every
// app: its routes, domains, maintenance flag and formation. Dynos start when
// Run is called.
func Open(ctx context.Context, cfg Config) (*Platform, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("platform: open: Config.DataDir is required")
	}
	if cfg.BaseDomain == "" {
		cfg.BaseDomain = "localhost"
	}
	if cfg.User == "" {
		cfg.User = "platform"
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("platform: open: data dir: %w", err)
	}
	cfg.DataDir = dir
	// builds/ and tmp/ hold only what a running deploy uses: whatever is
	// there now was left by a process that died mid-build.
	for _, sub := range []string{"builds", "tmp"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return nil, fmt.Errorf("platform: open: clean %s: %w", sub, err)
		}
	}
	for _, sub := range []string{"", "slugs", "cache", "apps", "builds", "buildpacks", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("platform: open: %w", err)
		}
	}
	p := &Platform{
		cfg:    cfg,
		log:    cfg.Logger,
		logs:   &logplex.Buffer{},
		apps:   map[string]*appEntry{},
		byID:   map[string]string{},
		web:    map[string]*webApp{},
		runs:   map[string]*buildRun{},
		phases: map[string]*outputLog{},

		schedulerNudge: make(chan struct{}, 1),
		http:           cfg.HTTPClient,
		stopping:       make(chan struct{}),
	}
	p.bgCtx, p.stopBG = context.WithCancel(context.WithoutCancel(ctx))
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.http == nil {
		p.http = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	if p.kv, err = boltkv.Open(filepath.Join(dir, "platform.db"), boltkv.Options{}); err != nil {
		return nil, fmt.Errorf("platform: open state: %w", err)
	}
	if err := store.Migrate(ctx, p.kv, stateComponent, stateMigrations); err != nil {
		return nil, fmt.Errorf("platform: open state: %w", err)
	}
	if err := failInterruptedBuilds(ctx, p.kv); err != nil {
		return nil, fmt.Errorf("platform: open builds: %w", err)
	}
	if p.urlSecret, err = loadURLSecret(ctx, p.kv); err != nil {
		return nil, fmt.Errorf("platform: open: %w", err)
	}
	if p.relsDB, err = boltstore.Open(ctx, filepath.Join(dir, "releases.db"), boltstore.Options{}); err != nil {
		return nil, fmt.Errorf("platform: open releases: %w", err)
	}
	if p.rels, err = sealReleases(ctx, p.kv, p.relsDB, cfg.ConfigKeys); err != nil {
		return nil, err
	}
	p.slugs = &slug.FSStore{Dir: filepath.Join(dir, "slugs")}
	// A crash during a Put leaves a temporary; no Put is running yet.
	if _, err := p.slugs.RemoveStaleTemp(ctx, 0, time.Now()); err != nil {
		p.log.Warn("platform: removing stale slug uploads", "err", err)
	}
	if p.bps, err = builtin.WriteAll(filepath.Join(dir, "buildpacks")); err != nil {
		return nil, fmt.Errorf("platform: open: write builtin buildpacks: %w", err)
	}
	p.build = &buildpack.Builder{
		Cache:   &buildpack.Cache{Dir: filepath.Join(dir, "cache")},
		TempDir: filepath.Join(dir, "tmp"),
		Timeout: cfg.BuildTimeout,
		Env:     buildEnv(cfg.BuildEnv, filepath.Join(dir, "tmp")),
		Logger:  p.log,
	}
	p.mgr = &release.Manager{Store: p.rels, RunPhase: p.runReleasePhase, Logger: p.log}
	p.sess = &logplex.Sessions{Source: p.logs}

	p.router = cfg.Router
	if p.router == nil {
		p.router = router.New(router.Config{BaseDomain: cfg.BaseDomain, LogSink: p.RouterLogSink(), Logger: p.log, Wake: p.WakeApp,
			MaxDynoRequests: cfg.MaxDynoRequests, VerifyDyno: p.VerifyDyno})
	}
	p.autoscaler = &autoscale.Autoscaler{Metrics: p.router, Scaler: platformScaler{p}, Logger: p.log}
	rt := cfg.Runtime
	if rt == nil {
		base := filepath.Join(dir, "dynos")
		reapOrphanDynos(base, p.log)
		rt = &local.Runtime{BaseDir: base, Logger: p.log}
	}
	p.rec = &formation.Reconciler{
		Runtime:     rt,
		Spec:        p.dynoSpec,
		Output:      p.dynoOutput,
		OnEvent:     p.onDynoEvent,
		OnMemory:    p.onDynoMemory,
		MemoryCheck: cfg.MetricsEvery,
		Grace:       cfg.StopGrace,
		BootTimeout: cfg.BootTimeout,
		Logger:      p.log,
	}

	recs, err := loadApps(ctx, p.kv)
	if err != nil {
		return nil, fmt.Errorf("platform: open: load apps: %w", err)
	}
	for _, r := range recs {
		p.apps[r.Name] = &appEntry{rec: r}
		p.byID[r.ID] = r.Name
		if err := p.restoreRoutes(r); err != nil {
			return nil, fmt.Errorf("platform: open: app %s: %w", r.Name, err)
		}
		cur, err := p.relsDB.Current(ctx, r.ID)
		if errors.Is(err, release.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("platform: open: app %s: current release: %w", r.Name, err)
		}
		if err := p.setFormation(r, cur); err != nil {
			return nil, fmt.Errorf("platform: open: app %s: %w", r.Name, err)
		}
	}
	ok = true
	return p, nil
}

// buildEnv is the base environment of buildpack scripts: PATH from this
// process and a HOME of their own, then the configured extras (which win).
func buildEnv(extra []string, tmp string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = local.DefaultPath
	}
	return append([]string{"PATH=" + path, "HOME=" + tmp}, extra...)
}

// Run runs the dynos until ctx is done, then stops every dyno (SIGTERM,
// grace, SIGKILL) and returns once they have exited. Call it once.
func (p *Platform) Run(ctx context.Context) error {
	err := errors.New("platform: run: already called")
	p.runOnce.Do(func() {
		defer context.AfterFunc(ctx, func() { close(p.stopping) })()
		// The metrics sampler, the autoscaler, the Eco idle watch, the
		// scheduler and the slug collector run beside the reconciler and
		// stop with it.
		sctx, stopSide := context.WithCancel(ctx)
		var side sync.WaitGroup
		for _, run := range []func(context.Context){
			p.sampleStats, p.watchIdle, p.runScheduler, p.collectSlugs,
			func(ctx context.Context) {
				p.resumeAutoscaling(ctx)
				_ = p.autoscaler.Run(ctx)
			},
		} {
			side.Go(func() { run(sctx) })
		}
		err = p.rec.Run(ctx)
		stopSide()
		side.Wait()
		p.stopBuilds()
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("platform: run: %w", err)
	}
	return nil
}

// Stopping is closed once Run's context has ended: the platform is
// stopping its dynos, so a one-off or a release phase that fails now may
// have been cut by the stop rather than have failed.
func (p *Platform) Stopping() <-chan struct{} { return p.stopping }

// appNames lists the apps' names.
func (p *Platform) appNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Collect(maps.Keys(p.apps))
}

// every calls fn with the time of each tick of period until ctx ends.
func every(ctx context.Context, period time.Duration, fn func(now time.Time)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fn(now)
		}
	}
}

// Go runs fn in the background for the platform's lifetime, as builds by
// API run: its ctx ends once Run has stopped the dynos (or at Close), and
// Close waits for fn to return. For a front end's work that outlives a
// request, such as a promotion whose release phase the client follows.
func (p *Platform) Go(fn func(ctx context.Context)) {
	p.bg.Go(func() { fn(p.bgCtx) })
}

// stopBuilds cancels the builds by API and waits for them to end.
func (p *Platform) stopBuilds() {
	p.stopBG()
	p.bg.Wait()
}

// Close closes the state files. Call it after Run has returned.
func (p *Platform) Close() error {
	p.stopBuilds()
	var errs []error
	if p.relsDB != nil {
		errs = append(errs, p.relsDB.Close())
	}
	if p.kv != nil {
		errs = append(errs, p.kv.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("platform: close: %w", err)
	}
	return nil
}

// Router is the HTTP handler that serves every app at <app>.<BaseDomain>
// and its custom domains; serve it with router.Server or any http.Server.
func (p *Platform) Router() *router.Router { return p.router }

// RouterStats returns the router's metrics of app (requests, status
// classes, router errors, service-time percentiles) since it started; see
// RecentRouterStats for those of the last minutes.
func (p *Platform) RouterStats(app string) (router.AppStats, bool) { return p.router.Stats(app) }

// Reconciler exposes the formation reconciler (for dashboards and tests).
func (p *Platform) Reconciler() *formation.Reconciler { return p.rec }

type userKey struct{}

// WithUser returns a context whose operations are recorded as made by user
// (an e-mail or id): release records and "Deploy … by user" log lines.
func WithUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// UserOf returns the user WithUser put in ctx, or "".
func UserOf(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

func (p *Platform) userOf(ctx context.Context) string {
	if u := UserOf(ctx); u != "" {
		return u
	}
	return p.cfg.User
}

// entry returns the app's in-memory entry, or ErrNotFound.
func (p *Platform) entry(name string) (*appEntry, appRecord, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.apps[name]
	if !ok {
		return nil, appRecord{}, fmt.Errorf("platform: app %q: %w", name, ErrNotFound)
	}
	return e, e.rec.clone(), nil
}

// lockApp returns the app's entry with its op lock held, or ErrNotFound;
// an app destroyed or renamed while the caller waited for the lock is not
// found by that name, so no change can write its record back under it.
func (p *Platform) lockApp(name string) (*appEntry, appRecord, error) {
	e, _, err := p.entry(name)
	if err != nil {
		return nil, appRecord{}, err
	}
	e.op.Lock()
	p.mu.Lock()
	rec := e.rec.clone()
	p.mu.Unlock()
	if e.gone || rec.Name != name { // destroyed or renamed meanwhile
		e.op.Unlock()
		return nil, appRecord{}, fmt.Errorf("platform: app %q: %w", name, ErrNotFound)
	}
	return e, rec, nil
}

// appID maps a name to the ID the release store and the logs are keyed by.
func (p *Platform) appID(name string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.apps[name]
	if !ok {
		return "", false
	}
	return e.rec.ID, true
}

func (p *Platform) appName(id string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.byID[id]
	return n, ok
}

// discard is an io.Writer for nil outputs.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
