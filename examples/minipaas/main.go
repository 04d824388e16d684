// Command minipaas is a one-binary Heroku for one machine: git push an app
// to it, and drive it with the real heroku CLI.
//
//	go run ./examples/minipaas
//
// serves the apps at http://<app>.localhost:5000 (the router) and the
// Platform API and git on http://127.0.0.1:5001. State lives in -data-dir.
// With -https-addr the router also serves HTTPS, with certificates
// uploaded with heroku certs:add (certs.go), and with -acme-directory too,
// certificates ordered over ACME for the custom domains of apps that turn
// on Automated Certificate Management (heroku certs:auto:enable; tls.go).
// See README.md.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // backup schedules name time zones; not every host has the database

	"github.com/dynokit/dynokit/examples/minipaas/internal/dashboard"
	"github.com/dynokit/dynokit/examples/minipaas/internal/gitpush"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/formation/oci"
	"github.com/dynokit/dynokit/release/sealed"
	"github.com/dynokit/dynokit/router"
	"github.com/dynokit/dynokit/slug"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "minipaas:", err)
		os.Exit(1)
	}
}

// options is what the command line decides, plus what tests inject.
type options struct {
	DataDir      string
	RouterAddr   string
	APIAddr      string
	RunAddr      string // heroku run's TLS rendezvous
	Runtime      string // "local", "oci" or "nomad"
	NomadAddr    string // Nomad HTTP API for -runtime nomad
	ShareGoCache bool
	Verbose      bool
	// EcoIdle is how long an app with eco web dynos may go without a
	// request before its eco dynos sleep; 0 never.
	EcoIdle time.Duration
	// MaxDynoRequests caps the requests in flight to one web dyno (H11
	// past the backlog); 0 no cap.
	MaxDynoRequests int
	// Admin URLs of the servers add-ons are made on (addons.go); empty:
	// that service is not offered.
	PostgresURL, RedisURL string
	// PoolerAddr is where PgBouncer listens for heroku
	// pg:connection-pooling (when -postgres-url is set and pgbouncer is
	// installed); empty: no pooling.
	PoolerAddr string
	// HTTPS with Automated Certificate Management (tls.go): the router's
	// TLS listener, the ACME directory, the account contact, and a PEM
	// file of CAs to trust for the ACME server's own TLS.
	HTTPSAddr, ACMEDirectory, ACMEEmail, ACMECAFile string
	// ConfigKeyFile holds the keys config vars are sealed with at rest
	// (release/sealed); empty: stored in the clear. GenConfigKey prints a
	// new key and exits.
	ConfigKeyFile string
	GenConfigKey  bool
	// ExecAddr is where the SSH server of Heroku Exec listens (exec.go);
	// its port must be 80, which the heroku CLI fixes. Empty: off.
	ExecAddr string

	// Set by tests: listeners already open (so free ports need no guessing),
	// extra build environment, and a shorter dyno stop grace.
	routerListener, apiListener, runListener net.Listener
	buildEnv                                 []string
	stopGrace                                time.Duration
	webhookRetry                             []time.Duration          // sync webhooks' waits between attempts
	backupClock                              func() time.Time         // scheduled backups' clock (nil: time.Now)
	backupTick                               time.Duration            // how often schedules are checked (0: a minute)
	opened                                   func(*platform.Platform) // called once serving
}

// defaultDataDir is $XDG_DATA_HOME/dynokit-minipaas, else
// ~/.local/share/dynokit-minipaas, else ./minipaas-data.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "dynokit-minipaas")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "dynokit-minipaas")
	}
	return "minipaas-data"
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("minipaas", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "directory holding all state (apps, releases, slugs, build caches, dynos)")
	fs.StringVar(&o.RouterAddr, "router-addr", "127.0.0.1:5000", "listen address of the router serving http://<app>.localhost")
	fs.StringVar(&o.APIAddr, "api-addr", "127.0.0.1:5001", "listen address of the Platform API and the git server")
	fs.StringVar(&o.RunAddr, "rendezvous-addr", "127.0.0.1:5002", "listen address of the TLS rendezvous that `heroku run` attaches to")
	fs.StringVar(&o.Runtime, "runtime", "local", "dyno runtime: local (processes), oci (runc containers; needs root) or nomad (a Nomad job per dyno; the Nomad client must run on this host with raw_exec enabled)")
	fs.StringVar(&o.NomadAddr, "nomad-addr", defaultNomadAddr(), "Nomad HTTP API for -runtime nomad ($NOMAD_ADDR when set)")
	fs.BoolVar(&o.ShareGoCache, "share-go-cache", true, "let Go builds use this machine's build cache (go env GOCACHE), so they compile warm")
	fs.BoolVar(&o.Verbose, "v", false, "log platform diagnostics to stderr")
	fs.DurationVar(&o.EcoIdle, "eco-idle", 30*time.Minute, "an app whose web dynos are of size eco sleeps after this long without a request; the next request wakes it (0: never)")
	fs.IntVar(&o.MaxDynoRequests, "max-dyno-requests", 50, "requests the router has in flight to one web dyno at most, as Heroku's router; more wait in the app's backlog (as many again per dyno), then get H11 Backlog too deep (0: no cap)")
	fs.StringVar(&o.PostgresURL, "postgres-url", "", "admin URL of a PostgreSQL server for heroku-postgresql add-ons (postgres://user:password@host:port/db)")
	fs.StringVar(&o.RedisURL, "redis-url", "", "admin URL of a Redis 7 server for heroku-redis add-ons (redis://:password@host:port)")
	fs.StringVar(&o.PoolerAddr, "pooler-addr", "127.0.0.1:5003", "listen address of the PgBouncer minipaas runs for heroku pg:connection-pooling, when -postgres-url is set and pgbouncer is installed (off when empty)")
	fs.StringVar(&o.HTTPSAddr, "https-addr", "", "listen address of the router's HTTPS listener, for uploaded certificates and ACME's (off when empty)")
	fs.StringVar(&o.ACMEDirectory, "acme-directory", "", "ACME directory URL certificates come from, e.g. https://acme-v02.api.letsencrypt.org/directory (accepts its terms; off when empty)")
	fs.StringVar(&o.ACMEEmail, "acme-email", "", "contact e-mail of the ACME account (optional)")
	fs.StringVar(&o.ConfigKeyFile, "config-key-file", "", "file of keys that seal config var values, certificate keys, webhook secrets, the ACME cache and database backups at rest (one base64 key per line; the first seals, all open; make one with -gen-config-key). Keep it outside the data dir")
	fs.BoolVar(&o.GenConfigKey, "gen-config-key", false, "print a new key for -config-key-file and exit")
	fs.StringVar(&o.ExecAddr, "exec-addr", "", "listen address of the SSH server heroku ps:exec, ps:forward and ps:socks connect to; the CLI connects to port 80, so HOST:80 (binding it needs root or CAP_NET_BIND_SERVICE); off when empty")
	fs.StringVar(&o.ACMECAFile, "acme-ca-file", "", "PEM file of CA certificates to trust for the ACME server's own HTTPS (a test CA such as Pebble); default: the system roots")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if o.Runtime != "local" && o.Runtime != "oci" && o.Runtime != "nomad" {
		return o, fmt.Errorf("-runtime %q: want local, oci or nomad", o.Runtime)
	}
	if o.DataDir == "" {
		return o, errors.New("-data-dir must not be empty")
	}
	// ACME's only use is HTTPS; HTTPS alone serves uploaded certificates.
	if o.ACMEDirectory != "" && o.HTTPSAddr == "" || o.ACMEDirectory == "" && (o.ACMEEmail != "" || o.ACMECAFile != "") {
		return o, errACMFlags
	}
	return o, nil
}

// run is main without the process: it serves until ctx is done, then stops
// every dyno and closes the state.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	if o.GenConfigKey {
		key, err := sealed.NewKeyText()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, key)
		return err
	}
	return serve(ctx, o, stdout)
}

func serve(ctx context.Context, o options, stdout io.Writer) (err error) {
	logger := slog.New(slog.DiscardHandler)
	if o.Verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}

	token, generated := os.Getenv("DYNOKIT_API_TOKEN"), false
	if token == "" {
		if token, err = newToken(); err != nil {
			return err
		}
		generated = true
	}

	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}

	buildEnv := append([]string(nil), o.buildEnv...)
	if o.ShareGoCache {
		if c := hostGoCache(ctx); c != "" {
			buildEnv = append(buildEnv, "GOCACHE="+c)
		}
	}
	// App events go to the webhooks, which need the open platform first.
	var hooks atomic.Pointer[webhookService]
	cfg := platform.Config{
		DataDir:         dataDir,
		BuildEnv:        buildEnv,
		StopGrace:       o.stopGrace,
		EcoIdle:         o.EcoIdle,
		Logger:          logger,
		MaxDynoRequests: o.MaxDynoRequests,
		OnAppEvent: func(e platform.AppEvent) {
			if w := hooks.Load(); w != nil {
				w.onEvent(e)
			}
		},
	}
	if o.EcoIdle <= 0 {
		cfg.EcoIdle = -1 // the platform's 0 is Heroku's 30 minutes
	}
	if o.ConfigKeyFile != "" {
		b, err := os.ReadFile(o.ConfigKeyFile)
		if err != nil {
			return fmt.Errorf("-config-key-file: %w", err)
		}
		if cfg.ConfigKeys, err = sealed.ParseKeys(string(b)); err != nil {
			return fmt.Errorf("-config-key-file %s: %w", o.ConfigKeyFile, err)
		}
	}
	// The same keys seal the other secrets kept at rest: uploaded
	// certificates' private keys, webhook secrets, the ACME cache.
	var box *sealed.Box
	if len(cfg.ConfigKeys) > 0 {
		var err error
		if box, err = sealed.NewBox(cfg.ConfigKeys); err != nil {
			return fmt.Errorf("-config-key-file %s: %w", o.ConfigKeyFile, err)
		}
	}
	if o.Runtime == "oci" {
		cfg.Runtime = &oci.Runtime{Dir: filepath.Join(dataDir, "oci"), Logger: logger}
		if err := reapOrphanContainers(ctx, "runc", filepath.Join(dataDir, "oci"), logger); err != nil {
			return err
		}
	}
	if o.Runtime == "nomad" {
		rt, err := newNomadRuntime(ctx, o.NomadAddr, dataDir, logger)
		if err != nil {
			return err
		}
		cfg.Runtime = rt
	}

	acmeRoots, err := loadCAFile(o.ACMECAFile)
	if err != nil {
		return err
	}
	// Listen before Open, so a busy port fails fast and leaves nothing behind.
	var httpsLn net.Listener
	if o.HTTPSAddr != "" {
		if httpsLn, err = net.Listen("tcp", o.HTTPSAddr); err != nil {
			return fmt.Errorf("router: %w", err)
		}
		// The router closes it when it ran; a second Close is harmless.
		defer httpsLn.Close()
	}
	routerLn, err := listen(o.routerListener, o.RouterAddr)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	apiLn, err := listen(o.apiListener, o.APIAddr)
	if err != nil {
		routerLn.Close()
		return fmt.Errorf("api: %w", err)
	}
	caFile := filepath.Join(dataDir, "rendezvous-ca.pem")
	runTLS, err := rendezvousTLS(caFile)
	if err != nil {
		routerLn.Close()
		apiLn.Close()
		return err
	}
	runLn, err := listen(o.runListener, o.RunAddr)
	if err != nil {
		routerLn.Close()
		apiLn.Close()
		return fmt.Errorf("rendezvous: %w", err)
	}
	runLn = tls.NewListener(runLn, runTLS)
	// The API port answers HTTPS too, with the same certificate, for the
	// heroku CLI's https:// git remotes (sniff.go).
	apiTLS := runTLS.Clone()
	apiTLS.NextProtos = []string{"http/1.1"}
	apiLn = newSniffListener(apiLn, apiTLS)

	p, err := platform.Open(ctx, cfg)
	if err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return fmt.Errorf("open platform: %w", err)
	}
	defer func() {
		if cerr := p.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close platform: %w", cerr)
		}
	}()

	// The slug store's layout is part of platform.Config's documentation.
	slugs := &slug.FSStore{Dir: filepath.Join(dataDir, "slugs")}
	pooler := newPooler(ctx, o, logger)
	poolerAddr := ""
	if pooler != nil {
		poolerAddr = pooler.Addr
	}
	ad, err := openAddons(ctx, p, o.PostgresURL, o.RedisURL, poolerAddr, logger)
	if err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return err
	}
	defer ad.close()
	// App drains (heroku drains:add) run again from their records.
	if err := ad.drains.restore(ctx); err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return err
	}
	var acm *acmService
	if o.ACMEDirectory != "" {
		if acm, err = newACM(ctx, p, dataDir, o.ACMEDirectory, o.ACMEEmail, acmeRoots, box, logger); err != nil {
			routerLn.Close()
			apiLn.Close()
			runLn.Close()
			return err
		}
	}
	git := &gitpush.Handler{
		Root:      filepath.Join(dataDir, "repos"),
		Token:     token,
		AppExists: func(ctx context.Context, app string) bool { _, err := p.App(ctx, app); return err == nil },
		Deploy:    gitDeploy(p, ad.provisionManifest, filepath.Join(dataDir, "tmp"), portOf(routerLn.Addr().String())),
		Logger:    logger,
	}
	rv := newRendezvous(p, logger)
	rv.redis = ad.redisGateway
	apiState := newAPIState(p, routerLn.Addr().String(), slugs, git, rv, runLn.Addr().String(), logger, ad, acm)
	if apiState.sources, err = newSourceBlobs(filepath.Join(dataDir, "sources")); err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return err
	}
	if apiState.webhooks, err = newWebhookService(ctx, p, box, logger, "http://"+apiLn.Addr().String()); err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return err
	}
	if apiState.backups, err = newPGBackups(ctx, p, ad, filepath.Join(dataDir, "backups"), box, logger); err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return err
	}
	apiState.backups.publicBase = "https://" + runLn.Addr().String()
	if o.backupClock != nil {
		apiState.backups.now = o.backupClock
	}
	if o.backupTick > 0 {
		apiState.backups.tick = o.backupTick
	}
	rv.http = apiState.backups.downloads()
	p.Go(apiState.runBackupSchedules)
	apiState.webhooks.appJSON = func(app platform.App) any { return apiState.appJSONAt(apiLn.Addr().String(), app) }
	ad.changed = func(ctx context.Context, ev addonEvent) { apiState.webhooks.onAddon(ctx, apiState, ev) }
	if o.webhookRetry != nil {
		apiState.webhooks.retry = o.webhookRetry
	}
	apiState.webhooks.resume()
	hooks.Store(apiState.webhooks)
	defer apiState.webhooks.close() // ctx ends the deliveries; wait for them
	if apiState.setups, err = newAppSetups(ctx, p, ad.provisionManifest, logger); err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return err
	}
	if apiState.auths, err = newAuthorizations(ctx, p); err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return err
	}
	tokenOK := func(tok string) bool { return platformapi.TokenMatches(tok, token) || apiState.auths.valid(tok) }
	git.Authenticate = apiState.auths.valid
	api := apiState.handler(token)
	execSvc, err := newExecService(p, dataDir, o.ExecAddr, tokenOK, logger)
	var execLn net.Listener
	if err == nil && o.ExecAddr != "" {
		execLn, err = net.Listen("tcp", o.ExecAddr)
	}
	if err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return fmt.Errorf("exec: %w", err)
	}

	apiSrv := &http.Server{
		Handler: &dashboard.Handler{Source: p, Control: dashboardControl{p, apiState}, User: accountEmail, Token: token, Authenticate: apiState.auths.valid,
			RouterPort: portOf(routerLn.Addr().String()), Next: apiMux(api, git, apiState.publicHandler(), execSvc, p, tokenOK), Done: ctx.Done(), Logger: logger},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	routerSrv := &router.Server{Router: p.Router(), Listener: routerLn, Logger: logger, ShutdownTimeout: 10 * time.Second}
	httpsAddr := ""
	if httpsLn != nil {
		routerSrv.TLSListener = httpsLn
		httpsAddr = httpsLn.Addr().String()
	}
	if acm != nil {
		routerSrv.ACME = acm.acme
	}
	// Uploaded certificates (certs.go) are asked first: they win over ACM.
	routerSrv.GetCertificate = apiState.certs.getCertificate
	apiState.certs.box = box
	if err := apiState.certs.start(ctx); err != nil {
		routerLn.Close()
		apiLn.Close()
		runLn.Close()
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	wg.Add(4)
	if pooler != nil {
		// Pooled URLs work once minipaas says it is up.
		ready := make(chan struct{})
		pooler.Ready = func() { close(ready) }
		wg.Add(1)
		go func() { defer wg.Done(); errs <- wrapErr("pgbouncer", pooler.Run(runCtx)) }()
		select {
		case <-ready:
		case err := <-errs:
			errs <- err // stops everything below
		case <-time.After(10 * time.Second):
			logger.Warn("minipaas: pgbouncer is not accepting connections yet", "addr", pooler.Addr)
		}
	}
	go func() { defer wg.Done(); errs <- wrapErr("platform", p.Run(runCtx)) }()
	if ad.postgresLog != nil {
		// Not in errs: the apps' logs go without PostgreSQL's lines
		// rather than the platform stopping.
		wg.Add(1)
		go func() { defer wg.Done(); ad.forwardPostgresLogs(runCtx) }()
	}
	go func() { defer wg.Done(); errs <- wrapErr("rendezvous", rv.serve(runCtx, runLn)) }()
	go func() { defer wg.Done(); errs <- wrapErr("router", routerSrv.Run(runCtx)) }()
	if execLn != nil {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- execSvc.run(runCtx, execLn) }()
	}
	go func() {
		defer wg.Done()
		err := apiSrv.Serve(apiLn)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errs <- wrapErr("api", err)
	}()

	printWelcome(stdout, routerLn.Addr().String(), httpsAddr, apiLn.Addr().String(), dataDir, caFile, token, generated)
	if execLn != nil {
		fmt.Fprintf(stdout, "Heroku Exec: SSH on %s; heroku ps:exec, ps:forward and ps:socks need HEROKU_EXEC_URL=https://%s/ and NODE_EXTRA_CA_CERTS=%s\n",
			execLn.Addr(), apiLn.Addr(), caFile)
	}
	if acm != nil {
		acm.start(runCtx)
	}
	if o.opened != nil {
		o.opened(p)
	}

	// The first failure, or the signal, stops everything.
	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
	}
	fmt.Fprintln(stdout, "minipaas: stopping (dynos get SIGTERM, then SIGKILL after their grace)")
	cancel()
	acm.close()
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 15*time.Second)
	if err := apiSrv.Shutdown(shutCtx); err != nil {
		apiSrv.Close() // log streams that never end; cut them
	}
	shutCancel()
	wg.Wait()
	close(errs)
	for e := range errs {
		if first == nil {
			first = e
		}
	}
	return first
}

func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func listen(ln net.Listener, addr string) (net.Listener, error) {
	if ln != nil {
		return ln, nil
	}
	return net.Listen("tcp", addr)
}

// newToken makes a 32-byte random API key.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate API token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// hostGoCache is `go env GOCACHE`, or "" when go is missing.
func hostGoCache(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOCACHE").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if !filepath.IsAbs(c) {
		return "" // "off" or unset
	}
	return c
}

// apiMux sends git smart HTTP (/<app>.git/...) to the git server, log
// session streams (which the CLI opens without API headers) to the
// platform's log sessions, build and release output and source and slug
// blobs (whose URLs carry their own secret) to public, and everything else
// to the Platform API.
func apiMux(api, git, public, exec http.Handler, p *platform.Platform, tokenOK func(string) bool) http.Handler {
	logs := http.StripPrefix(logSessionsPath, p.LogSessions())
	metrics := p.Router().MetricsHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case isGitPath(r.URL.Path):
			git.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, logSessionsPath+"/"):
			logs.ServeHTTP(w, r)
		case r.URL.Path == execAPIPath || strings.HasPrefix(r.URL.Path, execAPIPath+"/"):
			exec.ServeHTTP(w, r) // the exec manager (HEROKU_EXEC_URL)
		case strings.HasPrefix(r.URL.Path, buildOutputPath), strings.HasPrefix(r.URL.Path, releaseOutputPath),
			strings.HasPrefix(r.URL.Path, sourceBlobsPath), strings.HasPrefix(r.URL.Path, slugBlobsPath):
			public.ServeHTTP(w, r)
		case r.URL.Path == metricsPath:
			// Prometheus scrapes with the API token as its bearer token
			// (authorization.credentials in a scrape config).
			if tok, ok := platformapi.BearerOrBasic(r); !ok || !tokenOK(tok) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="minipaas"`)
				http.Error(w, "the API token is required", http.StatusUnauthorized)
				return
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			metrics.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

const logSessionsPath = "/log-sessions"

// metricsPath serves the router's metrics in Prometheus's text format.
const metricsPath = "/metrics"

// isGitPath reports whether path is under /<something>.git/.
func isGitPath(path string) bool {
	first, _, found := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return found && strings.HasSuffix(first, ".git")
}

// gitDeploy turns a push into a platform deploy of the pushed revision.
func gitDeploy(p *platform.Platform, provision addonProvisioner, tmpRoot, routerPort string) func(context.Context, gitpush.DeployRequest) error {
	return func(ctx context.Context, req gitpush.DeployRequest) error {
		// Whoever holds the token is the account (see api.go).
		ctx = platform.WithUser(ctx, accountEmail)
		if err := os.MkdirAll(tmpRoot, 0o700); err != nil {
			return fmt.Errorf("deploy %s: %w", req.App, err)
		}
		src, err := os.MkdirTemp(tmpRoot, "push-"+req.App+"-")
		if err != nil {
			return fmt.Errorf("deploy %s: %w", req.App, err)
		}
		defer os.RemoveAll(src)
		if err := req.Export(ctx, src); err != nil {
			fmt.Fprintf(req.Output, " !     Could not check out %s\n", req.NewRev)
			return fmt.Errorf("deploy %s: %w", req.App, err)
		}
		// On failure the platform has explained it in the build output, and
		// gitpush reports the error as the push's rejection. A first deploy
		// with an app.json sets the app up from it (appjson.go).
		if err := deployApp(ctx, p, provision, req.App, src, req.NewRev, req.Output); err != nil {
			return err
		}
		// The platform has printed "Released vN" and the app's URL.
		if routerPort != "80" {
			// The platform's URL has no port; give the one that works.
			fmt.Fprintf(req.Output, "       Open http://%s.localhost:%s/\n", req.App, routerPort)
		}
		return nil
	}
}

func printWelcome(w io.Writer, routerAddr, httpsAddr, apiAddr, dataDir, caFile, token string, generated bool) {
	routerPort := portOf(routerAddr)
	apiURL := "http://" + apiAddr
	tokenRef := "$DYNOKIT_API_TOKEN"
	fmt.Fprintf(w, "minipaas is running\n")
	fmt.Fprintf(w, "  apps:         http://<app>.localhost:%s  (router on %s)\n", routerPort, routerAddr)
	if httpsAddr != "" {
		fmt.Fprintf(w, "  HTTPS:        https://<custom domain>:%s  (router TLS on %s; heroku certs:add, certs:auto:enable)\n", portOf(httpsAddr), httpsAddr)
	}
	fmt.Fprintf(w, "  API and git:  %s\n", apiURL)
	fmt.Fprintf(w, "  dashboard:    %s/dashboard/  (any user, the API token as password)\n", apiURL)
	fmt.Fprintf(w, "  metrics:      %s%s  (router metrics for Prometheus; the API token as bearer token)\n", apiURL, metricsPath)
	fmt.Fprintf(w, "  state:        %s\n", dataDir)
	if generated {
		fmt.Fprintf(w, "  API token:    %s  (generated; set DYNOKIT_API_TOKEN to choose one)\n", token)
		fmt.Fprintf(w, "\nexport DYNOKIT_API_TOKEN=%s\n", token)
	} else {
		fmt.Fprintf(w, "  API token:    from DYNOKIT_API_TOKEN\n")
	}
	fmt.Fprintf(w, "\nDeploy a first app (from a git repository of a Go, Node.js or static app):\n")
	fmt.Fprintf(w, "  curl -sf -X POST -H 'Accept: application/vnd.heroku+json; version=3' -H \"Authorization: Bearer %s\" -H 'Content-Type: application/json' -d '{\"name\":\"demo\"}' %s/apps\n", tokenRef, apiURL)
	fmt.Fprintf(w, "  git push http://:%s@%s/demo.git main\n", tokenRef, apiAddr)
	fmt.Fprintf(w, "  curl http://demo.localhost:%s/\n", routerPort)
	fmt.Fprintf(w, "\nOr with the heroku CLI:\n")
	fmt.Fprintf(w, "  HEROKU_HOST=%s HEROKU_API_KEY=%s heroku apps:create demo\n", apiURL, tokenRef)
	fmt.Fprintf(w, "  (heroku run also needs NODE_EXTRA_CA_CERTS=%s)\n", caFile)
	fmt.Fprintf(w, "  (the CLI's https:// git remotes need: git config --global http.https://%s/.sslCAInfo %s\n", apiAddr, caFile)
	fmt.Fprintf(w, "   and the token in ~/.netrc: machine %s login heroku password <token>)\n", hostOf(apiAddr))
	fmt.Fprintf(w, "\nStop with Ctrl-C (dynos are stopped; state stays in the data dir).\n")
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return port
}
