package gitpush

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// DefaultMaxPushBytes bounds the body of one push when Handler.MaxPushBytes is
// zero. Heroku caps repositories at about 1 GB; one push cannot be larger.
const DefaultMaxPushBytes int64 = 1 << 30

// Handler serves git smart HTTP for /<app>.git/... by running the real
// git http-backend as a CGI program. See the package documentation for the
// deploy hook protocol. The zero value serves nothing (no Root): set at least
// Root and Token.
type Handler struct {
	// Root holds one bare repository per app, named <app>.git. Required.
	Root string

	// Token is the API key accepted as the HTTP basic auth password (the user
	// name is ignored, as on Heroku). An empty Token refuses every request.
	Token string
	// Authenticate, if set, is asked about a password that is not Token
	// (other API tokens the platform issued).
	Authenticate func(token string) bool

	// AppExists reports whether a push may create the repository of app on
	// first use. Nil allows every valid app name. It is not consulted once
	// the repository exists.
	AppExists func(ctx context.Context, app string) bool

	// Deploy runs for every push that updates refs/heads/main or
	// refs/heads/master, before the ref moves. What it writes to req.Output
	// reaches the pushing client live as "remote:" lines; a non-nil error
	// rejects the push and leaves the ref where it was. Nil accepts every
	// push without deploying.
	Deploy func(ctx context.Context, req DeployRequest) error

	// Git is the git executable; empty means "git" from PATH.
	Git string

	// MaxPushBytes bounds the body of every POST (a push, or a fetch's
	// negotiation); zero means DefaultMaxPushBytes.
	MaxPushBytes int64

	// Logger receives request failures and git http-backend's stderr; nil
	// discards them.
	Logger *slog.Logger

	initOnce   sync.Once
	initErr    error
	gitPath    string
	backend    string
	mu         sync.Mutex
	apps       map[string]*appState
	tokenHash  [sha256.Size]byte
	tokenIsSet bool
}

// appState serialises what must not run concurrently for one app.
type appState struct {
	create sync.Mutex // repository creation
	push   sync.Mutex // one receive-pack (and so one deploy) at a time
}

// DeployRequest describes one push to the deploy branch.
type DeployRequest struct {
	App     string    // app name, validated
	Ref     string    // refs/heads/main or refs/heads/master
	OldRev  string    // previous commit; ZeroRev on the first push
	NewRev  string    // pushed commit (full hex object name)
	RepoDir string    // the bare repository
	Output  io.Writer // streamed to the client as "remote:" lines

	// gitEnv lets git see the pushed objects, which sit in a quarantine
	// directory until the ref update is accepted.
	gitEnv []string
	git    string
}

// ZeroRev is the object name git reports for a ref that does not exist yet.
const ZeroRev = "0000000000000000000000000000000000000000"

// appNameRule is Heroku's app name pattern (Platform API app.name).
var appNameRule = regexp.MustCompile(`^[a-z][a-z0-9-]{1,28}[a-z0-9]$`)

// ValidateAppName checks name against Heroku's app name rule.
func ValidateAppName(name string) error {
	if !appNameRule.MatchString(name) {
		return fmt.Errorf("gitpush: invalid app name %q: must be 3 to 30 characters of lowercase letters, digits and dashes, start with a letter and not end with a dash", name)
	}
	return nil
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) init() error {
	h.initOnce.Do(func() {
		if h.Token != "" {
			h.tokenHash = sha256.Sum256([]byte(h.Token))
			h.tokenIsSet = true
		}
		if h.Root == "" {
			h.initErr = errors.New("gitpush: Handler.Root is empty: set the directory that holds the repositories")
			return
		}
		git := h.Git
		if git == "" {
			git = "git"
		}
		path, err := exec.LookPath(git)
		if err != nil {
			h.initErr = fmt.Errorf("gitpush: git executable %q not found: %w", git, err)
			return
		}
		out, err := exec.Command(path, "--exec-path").Output()
		if err != nil {
			h.initErr = fmt.Errorf("gitpush: %s --exec-path: %w", path, err)
			return
		}
		backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
		if _, err := os.Stat(backend); err != nil {
			h.initErr = fmt.Errorf("gitpush: git http-backend not found: %w", err)
			return
		}
		h.gitPath, h.backend = path, backend
	})
	return h.initErr
}

func (h *Handler) app(name string) *appState {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.apps == nil {
		h.apps = map[string]*appState{}
	}
	st := h.apps[name]
	if st == nil {
		st = new(appState)
		h.apps[name] = st
	}
	return st
}

// authorized compares the basic auth password with Token in constant time;
// hashing first keeps the comparison independent of the token's length.
func (h *Handler) authorized(r *http.Request) bool {
	_, password, ok := r.BasicAuth()
	if !ok || password == "" {
		return false
	}
	got := sha256.Sum256([]byte(password))
	if h.tokenIsSet && subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) == 1 {
		return true
	}
	return h.Authenticate != nil && h.Authenticate(password)
}

// httpError answers in text/plain: git shows such bodies to the user as
// "remote: <message>".
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// splitRepoPath splits "/<app>.git/<rest>" into app and rest.
func splitRepoPath(p string) (app, rest string, ok bool) {
	p = strings.TrimPrefix(p, "/")
	first, rest, _ := strings.Cut(p, "/")
	app, found := strings.CutSuffix(first, ".git")
	if !found || rest == "" {
		return "", "", false
	}
	return app, rest, true
}

// RepoDir returns the directory of app's bare repository under Root.
func (h *Handler) RepoDir(app string) string {
	return filepath.Join(h.Root, app+".git")
}

// MoveRepo renames app old's repository to new's, for an app rename: the
// app's history stays, and a clone of the old URL finds nothing. It waits
// for a push to either name to end. An app without a repository (never
// pushed) is no error; a repository already at new's place, left by a
// destroyed app, is replaced.
func (h *Handler) MoveRepo(old, new string) error {
	if old == new {
		return nil
	}
	unlock := h.lockApps(old, new)
	defer unlock()
	from, to := h.RepoDir(old), h.RepoDir(new)
	if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.RemoveAll(to); err != nil {
		return fmt.Errorf("gitpush: move repository of %s to %s: %w", old, new, err)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("gitpush: move repository of %s to %s: %w", old, new, err)
	}
	return nil
}

// RemoveRepo deletes app's repository, for a destroyed app: an app created
// later under the same name starts with none. It waits for a push to end.
func (h *Handler) RemoveRepo(app string) error {
	unlock := h.lockApps(app)
	defer unlock()
	if err := os.RemoveAll(h.RepoDir(app)); err != nil {
		return fmt.Errorf("gitpush: remove repository of %s: %w", app, err)
	}
	return nil
}

// lockApps holds the creation and push locks of apps, taken in name
// order so two callers never wait on each other.
func (h *Handler) lockApps(apps ...string) (unlock func()) {
	slices.Sort(apps)
	var held []*appState
	for _, a := range apps {
		st := h.app(a)
		st.create.Lock()
		st.push.Lock()
		held = append(held, st)
	}
	return func() {
		for _, st := range held {
			st.push.Unlock()
			st.create.Unlock()
		}
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.init(); err != nil {
		h.logger().Error("gitpush: not configured", "err", err)
		httpError(w, http.StatusInternalServerError, "git server is misconfigured")
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="dynokit git"`)
		httpError(w, http.StatusUnauthorized, "authentication required: use your API key as the password")
		return
	}
	app, rest, ok := splitRepoPath(r.URL.Path)
	if !ok {
		httpError(w, http.StatusNotFound, fmt.Sprintf("not a repository path: %q (want /<app>.git/...)", r.URL.Path))
		return
	}
	if err := ValidateAppName(app); err != nil {
		httpError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "gitpush: "))
		return
	}
	pushing := r.URL.Query().Get("service") == "git-receive-pack" || rest == "git-receive-pack"
	if err := h.ensureRepo(r.Context(), app, pushing); err != nil {
		if errors.Is(err, errNoSuchApp) {
			httpError(w, http.StatusNotFound, fmt.Sprintf("app %q not found", app))
			return
		}
		h.logger().Error("gitpush: preparing repository", "app", app, "err", err)
		httpError(w, http.StatusInternalServerError, "cannot prepare the repository of "+app)
		return
	}
	if r.Method == http.MethodPost {
		cleanup, ok := h.boundBody(w, r, app)
		if !ok {
			return
		}
		defer cleanup()
		if rest == "git-receive-pack" {
			h.receivePack(w, r, app)
			return
		}
	}
	h.runBackend(w, r, nil)
}

var errNoSuchApp = errors.New("no such app")

// ensureRepo makes sure app's repository exists with receive-pack enabled and
// the current hook installed; only pushes may create it.
func (h *Handler) ensureRepo(ctx context.Context, app string, create bool) error {
	st := h.app(app)
	st.create.Lock()
	defer st.create.Unlock()
	dir := h.RepoDir(app)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		if create {
			return installHook(dir)
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("gitpush: stat repository %s: %w", dir, err)
	}
	if !create || (h.AppExists != nil && !h.AppExists(ctx, app)) {
		return errNoSuchApp
	}
	if err := os.MkdirAll(h.Root, 0o750); err != nil {
		return fmt.Errorf("gitpush: create root %s: %w", h.Root, err)
	}
	// Build in a temporary directory and rename, so that a crash never
	// leaves a half-initialised repository behind.
	tmp, err := os.MkdirTemp(h.Root, "."+app+".init-")
	if err != nil {
		return fmt.Errorf("gitpush: create repository of %s: %w", app, err)
	}
	defer os.RemoveAll(tmp)
	for _, args := range [][]string{
		{"init", "--quiet", "--bare", "--initial-branch=main", tmp},
		{"-C", tmp, "config", "http.receivepack", "true"},
		// Belt and braces: the hook already refuses to delete the
		// deploy branch; git then refuses to delete the one HEAD names.
		{"-C", tmp, "config", "receive.denyDeleteCurrent", "refuse"},
	} {
		if out, err := h.git(ctx, nil, args...); err != nil {
			return fmt.Errorf("gitpush: git %s: %w: %s", args[0], err, bytes.TrimSpace(out))
		}
	}
	if err := installHook(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("gitpush: publish repository %s: %w", dir, err)
	}
	return nil
}

func (h *Handler) git(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, h.gitPath, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// runBackend runs git http-backend for r; extraEnv reaches the hooks.
func (h *Handler) runBackend(w http.ResponseWriter, r *http.Request, extraEnv []string) {
	stderr := &logWriter{log: h.logger()}
	defer stderr.flush()
	backend := &cgi.Handler{
		Path: h.backend,
		Dir:  h.Root,
		Env: append([]string{
			"GIT_PROJECT_ROOT=" + h.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			// The user name is not an identity (any name works with the
			// key), so reflogs get a fixed one.
			"REMOTE_USER=dynokit",
			"GIT_CONFIG_NOSYSTEM=1",
		}, extraEnv...),
		InheritEnv: []string{"HOME", "TMPDIR"},
		Logger:     log.New(stderr, "gitpush: cgi: ", 0),
		Stderr:     stderr,
	}
	backend.ServeHTTP(flushWriter{w}, r)
}

// flushWriter flushes after every write: net/http/cgi copies the program's
// output without flushing, which would hold back the side-band messages
// (live deploy output) until the end of the push.
type flushWriter struct{ http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.ResponseWriter.Write(p)
	if err == nil {
		err = http.NewResponseController(f.ResponseWriter).Flush()
	}
	return n, err
}

func (f flushWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// logWriter turns git http-backend's stderr into log records, one per line.
type logWriter struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.log.Warn("gitpush: git http-backend", "stderr", string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 4096 {
		l.log.Warn("gitpush: git http-backend", "stderr", string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

func (l *logWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.log.Warn("gitpush: git http-backend", "stderr", string(l.buf))
		l.buf = nil
	}
}
