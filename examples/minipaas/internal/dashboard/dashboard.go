package dashboard

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/router"
)

// Source is what the dashboard reads; *platform.Platform satisfies it.
// Errors for an unknown app must wrap platform.ErrNotFound.
type Source interface {
	Apps(ctx context.Context) ([]platform.App, error)
	App(ctx context.Context, name string) (platform.App, error)
	Releases(ctx context.Context, app string, opt release.ListOptions) ([]release.Release, error)
	Dynos(ctx context.Context, app string) ([]platform.Dyno, error)
	Logs(ctx context.Context, app string, opt logplex.TailOptions) (iter.Seq2[logplex.Message, error], error)
}

// RouterMetrics is an optional capability of a Source: the router's
// per-app metrics, shown on the app page. *platform.Platform has it.
type RouterMetrics interface {
	RouterStats(app string) (router.AppStats, bool)
}

// RecentRouterMetrics is an optional capability of a Source with
// RouterMetrics: an app's router metrics over the last span (0 when there
// are none yet), shown beside those since the router started.
// *platform.Platform has it.
type RecentRouterMetrics interface {
	RecentRouterStats(app string) (st router.AppStats, span time.Duration, ok bool)
}

// BuildHistory is an optional capability of a Source: the app's builds
// (git pushes and builds by API), listed on the app page with a link to
// each one's output, which the dashboard serves, following a running
// build. *platform.Platform has it.
type BuildHistory interface {
	Builds(ctx context.Context, app string) ([]platform.Build, error)
	BuildOutput(ctx context.Context, appID, id, token string) (io.ReadCloser, error)
}

// shownBuilds is how many of the newest builds the app page lists.
const shownBuilds = 10

// Defaults of the Handler's optional fields.
const (
	DefaultPrefix    = "/dashboard"
	DefaultLogLines  = 100
	DefaultReleases  = 20
	DefaultHeartbeat = 20 * time.Second
	// maxLogLines bounds ?lines= of the log stream.
	maxLogLines = 1500
)

// Handler serves the dashboard under Prefix, to clients that give Token as
// the password of HTTP basic auth (any user name, as git push does). Without
// Control it only reads and answers GET and HEAD only; with Control its
// forms POST changes, and cross-origin POSTs are refused. Set the fields
// before the first request and do not change them afterwards.
type Handler struct {
	// Source is the platform read. Required.
	Source Source
	// Control, when set, makes the pages' forms work: create an app; on an
	// app's page scale, restart, config vars, rollback, maintenance mode,
	// custom domains and destroying the app; with the optional ACM,
	// Buildpacks, Addons and Drains capabilities, also Automatic
	// Certificate Management, the app's buildpacks, add-ons and log drains.
	// Nil keeps the dashboard read-only.
	Control Control
	// User is who changes made here are recorded as (platform.WithUser):
	// on releases and in the app[api] log lines. Empty leaves the platform's
	// default.
	User string
	// Token is the API token; an empty Token refuses every request.
	Token string
	// Authenticate, if set, is asked about a token that is not Token
	// (other API tokens the platform issued).
	Authenticate func(token string) bool
	// Prefix is the path the dashboard is mounted at, without a trailing
	// slash. Default DefaultPrefix.
	Prefix string
	// RouterPort is the router's port, added to apps' web URLs (the
	// platform's URLs have none). Empty or "80" keeps them as they are.
	RouterPort string
	// Next, when set, serves every request outside Prefix, so the dashboard
	// can front another handler on one listener.
	Next http.Handler
	// LogLines is how many recent lines the app page and a new log stream
	// start with. Default DefaultLogLines.
	LogLines int
	// Heartbeat is the interval of the comment lines that keep an idle log
	// stream open through proxies. Default DefaultHeartbeat.
	Heartbeat time.Duration
	// Done, when closed, ends every log stream: give it the server's stop
	// signal, so that http.Server.Shutdown need not wait for streams that
	// would otherwise last as long as their browser tabs.
	Done <-chan struct{}
	// Logger receives diagnostics; nil discards.
	Logger *slog.Logger

	once  sync.Once
	mux   http.Handler
	pages map[string]*template.Template
	log   *slog.Logger
	// cop refuses cross-origin POSTs: the browser sends the basic-auth
	// credentials it remembers with any site's form.
	cop *http.CrossOriginProtection
	// flashKey signs flash messages (flashSig).
	flashKey []byte
}

//go:embed templates static
var files embed.FS

// setSecurityHeaders goes on every dashboard answer: scripts and styles
// come only from the dashboard's own static files (no inline code, so an
// escaping slip cannot run), forms post only to the dashboard, and no other
// site may frame it. Referrers go to the dashboard's own origin only: with
// no-referrer a browser would send "Origin: null" on the dashboard's own
// POSTs, which an Origin check must refuse.
func setSecurityHeaders(hdr http.Header) {
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("Cache-Control", "no-store")
}

func (h *Handler) init() {
	h.log = h.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.Prefix == "" {
		h.Prefix = DefaultPrefix
	}
	h.Prefix = strings.TrimSuffix(h.Prefix, "/")
	if h.LogLines <= 0 {
		h.LogLines = DefaultLogLines
	}
	if h.LogLines > maxLogLines {
		h.LogLines = maxLogLines
	}
	if h.Heartbeat <= 0 {
		h.Heartbeat = DefaultHeartbeat
	}
	h.cop = http.NewCrossOriginProtection()
	h.flashKey = make([]byte, 32)
	_, _ = rand.Read(h.flashKey) // never fails (crypto/rand)

	// The templates are part of the binary: a parse error is a bug that
	// every test catches, so Must is the right failure.
	funcs := template.FuncMap{
		"path": h.path,
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05 MST")
		},
		"iso":          func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"rollbackable": rollbackable,
		"add1":         func(i int) int { return i + 1 },
		"bytes":        byteSize,
		"slug":         func(s string) string { return strings.ReplaceAll(s, " ", "-") },
	}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html"))
	h.pages = map[string]*template.Template{}
	for _, name := range []string{"apps", "app", "error"} {
		t := template.Must(layout.Clone())
		h.pages[name] = template.Must(t.ParseFS(files, "templates/"+name+".html"))
	}

	static, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.appsPage)
	mux.HandleFunc("GET /apps/{app}", h.appPage)
	mux.HandleFunc("GET /apps/{app}/logs", h.logStream)
	if _, ok := h.Source.(BuildHistory); ok {
		mux.HandleFunc("GET /apps/{app}/builds/{build}", h.buildOutput)
	}
	if h.Control != nil {
		mux.HandleFunc("POST /apps", h.createApp)
		mux.HandleFunc("POST /apps/{app}/destroy", h.destroyApp)
		mux.HandleFunc("POST /apps/{app}/rename", h.renameApp)
		mux.Handle("POST /apps/{app}/domains", h.post("add domain", h.addDomain))
		mux.Handle("POST /apps/{app}/domains/remove", h.post("remove domain", h.removeDomain))
		mux.Handle("POST /apps/{app}/formation", h.post("scale", h.scale))
		mux.Handle("POST /apps/{app}/restart", h.post("restart", h.restart))
		mux.Handle("POST /apps/{app}/config", h.post("config set", h.setConfig))
		mux.Handle("POST /apps/{app}/config/unset", h.post("config unset", h.unsetConfig))
		mux.Handle("POST /apps/{app}/rollback", h.post("rollback", h.rollback))
		mux.Handle("POST /apps/{app}/maintenance", h.post("maintenance", h.maintenance))
		mux.Handle("POST /apps/{app}/acm", h.post("acm", h.acm))
		mux.Handle("POST /apps/{app}/buildpacks", h.post("add buildpack", h.addBuildpack))
		mux.Handle("POST /apps/{app}/buildpacks/remove", h.post("remove buildpack", h.removeBuildpack))
		mux.Handle("POST /apps/{app}/buildpacks/clear", h.post("clear buildpacks", h.clearBuildpacks))
		mux.Handle("POST /apps/{app}/addons", h.post("create add-on", h.createAddon))
		mux.Handle("POST /apps/{app}/addons/destroy", h.post("destroy add-on", h.destroyAddon))
		mux.Handle("POST /apps/{app}/addons/plan", h.post("change add-on plan", h.changeAddonPlan))
		mux.Handle("POST /apps/{app}/addons/attach", h.post("attach add-on", h.attachAddon))
		mux.Handle("POST /apps/{app}/addons/detach", h.post("detach add-on", h.detachAddon))
		mux.Handle("POST /apps/{app}/drains", h.post("add drain", h.addDrain))
		mux.Handle("POST /apps/{app}/scheduler", h.post("schedule job", h.addJob))
		mux.Handle("POST /apps/{app}/scheduler/remove", h.post("remove job", h.removeJob))
		mux.Handle("POST /apps/{app}/drains/remove", h.post("remove drain", h.removeDrain))
		mux.Handle("POST /apps/{app}/autoscaling", h.post("autoscaling", h.autoscaling))
		mux.Handle("POST /apps/{app}/backups", h.post("capture backup", h.captureBackup))
		mux.HandleFunc("GET /apps/{app}/backups/{backup}", h.downloadBackup)
	}
	mux.Handle("GET /static/", http.StripPrefix("/static", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusNotFound, "No such page.")
	})
	h.mux = http.StripPrefix(h.Prefix, mux)
}

func (h *Handler) path(elem ...string) string {
	return h.Prefix + "/" + strings.Join(elem, "/")
}

// ServeHTTP serves the dashboard, or hands the request to Next when it is
// outside Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(h.init)
	p := r.URL.Path
	if p != h.Prefix && !strings.HasPrefix(p, h.Prefix+"/") {
		if h.Next != nil {
			h.Next.ServeHTTP(w, r)
		} else {
			http.NotFound(w, r)
		}
		return
	}
	setSecurityHeaders(w.Header())
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="minipaas dashboard", charset="UTF-8"`)
		http.Error(w, "401 unauthorized: give the API token as the basic auth password", http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
	case r.Method == http.MethodPost && h.Control != nil:
		if err := h.cop.Check(r); err != nil {
			h.log.Warn("dashboard: cross-origin request refused", "path", p, "origin", r.Header.Get("Origin"), "sec-fetch-site", r.Header.Get("Sec-Fetch-Site"))
			h.errorPage(w, r, http.StatusForbidden, "Cross-origin request refused: changes can only be made from the dashboard's own pages.")
			return
		}
	case h.Control != nil:
		w.Header().Set("Allow", "GET, HEAD, POST")
		h.errorPage(w, r, http.StatusMethodNotAllowed, "The dashboard answers GET, HEAD and POST only.")
		return
	default:
		w.Header().Set("Allow", "GET, HEAD")
		h.errorPage(w, r, http.StatusMethodNotAllowed, "The dashboard only reads.")
		return
	}
	if p == h.Prefix {
		http.Redirect(w, r, h.Prefix+"/", http.StatusMovedPermanently)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized accepts the token as the basic auth password, the user name
// being anything, like the git server; or as a bearer token, like the API.
func (h *Handler) authorized(r *http.Request) bool {
	tok, ok := platformapi.BearerOrBasic(r)
	return ok && (platformapi.TokenMatches(tok, h.Token) || h.Authenticate != nil && h.Authenticate(tok))
}

// webURL is the app's URL with the router's port.
func (h *Handler) webURL(a platform.App) string {
	u := a.WebURL
	if h.RouterPort == "" || h.RouterPort == "80" || u == "" {
		return u
	}
	return strings.TrimSuffix(u, "/") + ":" + h.RouterPort + "/"
}

type appRow struct {
	platform.App
	URL   string
	Dynos []platform.Dyno
}

func (h *Handler) appsPage(w http.ResponseWriter, r *http.Request) {
	apps, err := h.Source.Apps(r.Context())
	if err != nil {
		h.fail(w, r, "list apps", err)
		return
	}
	rows := make([]appRow, 0, len(apps))
	for _, a := range apps {
		dynos, err := h.Source.Dynos(r.Context(), a.Name)
		if errors.Is(err, platform.ErrNotFound) {
			continue // destroyed since the list was made
		}
		if err != nil {
			h.fail(w, r, "dynos of "+a.Name, err)
			return
		}
		rows = append(rows, appRow{App: a, URL: h.webURL(a), Dynos: dynos})
	}
	h.render(w, r, http.StatusOK, "apps", map[string]any{"Title": "Apps", "Apps": rows, "Control": h.Control != nil, "Flash": h.readFlash(r, "")})
}

// buildOutput streams one build's output as text, following it while the
// build runs.
func (h *Handler) buildOutput(w http.ResponseWriter, r *http.Request) {
	name, id := r.PathValue("app"), r.PathValue("build")
	bh := h.Source.(BuildHistory)
	builds, err := bh.Builds(r.Context(), name)
	if err != nil {
		h.fail(w, r, "builds of "+name, err)
		return
	}
	i := slices.IndexFunc(builds, func(b platform.Build) bool { return b.ID == id })
	if i < 0 {
		h.errorPage(w, r, http.StatusNotFound, "No build "+id+" of "+name+".")
		return
	}
	b := builds[i]
	out, err := bh.BuildOutput(r.Context(), b.AppID, b.ID, b.OutputToken)
	if err != nil {
		h.fail(w, r, "output of build "+id, err)
		return
	}
	defer out.Close()
	platform.ServeOutput(w, r, out)
}

// logTimeFormat is the time of Heroku's log display, in microseconds.
const logTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// logLine is a log message as the page and the stream show it.
type logLine struct {
	Time   string `json:"time"`
	Source string `json:"source"`
	Proc   string `json:"proc"`
	Text   string `json:"text"`
}

func toLine(m logplex.Message) logLine {
	return logLine{Time: m.Time.UTC().Format(logTimeFormat), Source: m.Source, Proc: m.Proc, Text: m.Text}
}

func (h *Handler) appPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("app")
	ctx := r.Context()
	app, err := h.Source.App(ctx, name)
	if err != nil {
		h.fail(w, r, "app "+name, err)
		return
	}
	rels, err := h.Source.Releases(ctx, name, release.ListOptions{Max: DefaultReleases})
	if err != nil {
		h.fail(w, r, "releases of "+name, err)
		return
	}
	dynos, err := h.Source.Dynos(ctx, name)
	if err != nil {
		h.fail(w, r, "dynos of "+name, err)
		return
	}
	dynos = slices.Clone(dynos) // the Source's slice is not ours to reorder
	sort.SliceStable(dynos, func(i, j int) bool { return dynoLess(dynos[i].Name, dynos[j].Name) })
	// The recent lines are in the page for readers without JavaScript; the
	// script replaces them with the stream, which starts with the same.
	recent, err := h.recentLogs(ctx, name)
	if err != nil {
		h.fail(w, r, "logs of "+name, err)
		return
	}
	data := map[string]any{
		"Title":    app.Name,
		"App":      app,
		"URL":      h.webURL(app),
		"Releases": rels,
		"Dynos":    dynos,
		"Logs":     recent,
		"Stream":   h.path("apps", app.Name, "logs"),
		"Flash":    h.readFlash(r, app.Name),
	}
	if bh, ok := h.Source.(BuildHistory); ok {
		builds, err := bh.Builds(ctx, name)
		if err != nil {
			h.fail(w, r, "builds of "+name, err)
			return
		}
		slices.Reverse(builds) // newest first, as releases are
		data["Builds"] = builds[:min(len(builds), shownBuilds)]
		data["BuildHistory"] = true
	}
	if m, ok := h.Source.(RouterMetrics); ok {
		if st, ok := m.RouterStats(name); ok && st.Requests > 0 {
			data["Metrics"] = metricsView(st)
			if m, ok := h.Source.(RecentRouterMetrics); ok {
				if st, span, ok := m.RecentRouterStats(name); ok && span >= time.Minute {
					recent := metricsView(st)
					recent.Minutes = int(span.Round(time.Minute) / time.Minute)
					data["Recent"] = recent
				}
			}
		}
	}
	if h.Control != nil {
		f, err := h.Control.Formation(ctx, name)
		if err != nil {
			h.fail(w, r, "formation of "+name, err)
			return
		}
		vars, err := h.Control.Config(ctx, name)
		if err != nil {
			h.fail(w, r, "config of "+name, err)
			return
		}
		config := make([]configVar, 0, len(vars))
		for _, k := range vars.Names() {
			config = append(config, configVar{Name: k, Value: vars[k]})
		}
		domains, err := h.Control.Domains(ctx, name)
		if err != nil {
			h.fail(w, r, "domains of "+name, err)
			return
		}
		if err := h.settingsData(ctx, name, domains, data); err != nil {
			h.fail(w, r, "settings of "+name, err)
			return
		}
		if err := h.resourcesData(ctx, name, data); err != nil {
			h.fail(w, r, "add-ons and drains of "+name, err)
			return
		}
		if err := h.autoscaleData(ctx, name, f, data); err != nil {
			h.fail(w, r, "autoscaling of "+name, err)
			return
		}
		if err := h.schedulerData(ctx, name, data); err != nil {
			h.fail(w, r, "scheduled jobs of "+name, err)
			return
		}
		data["Control"] = true
		data["DNSTarget"] = dnsTarget(app)
		data["Formation"] = f
		data["Config"] = config
		data["Sizes"] = sizeNames()
		data["MaxQuantity"] = formation.MaxQuantity
	}
	h.render(w, r, http.StatusOK, "app", data)
}

// configVar is one config var as the page shows it.
type configVar struct{ Name, Value string }

// dynoLess orders web.2 before web.10.
func dynoLess(a, b string) bool {
	at, an, _ := strings.Cut(a, ".")
	bt, bn, _ := strings.Cut(b, ".")
	if at != bt {
		return at < bt
	}
	if len(an) != len(bn) {
		return len(an) < len(bn)
	}
	return an < bn
}

// recentLogs reads the history of the app's log stream, without following.
func (h *Handler) recentLogs(ctx context.Context, app string) ([]logLine, error) {
	seq, err := h.Source.Logs(ctx, app, logplex.TailOptions{Lines: h.LogLines})
	if err != nil {
		return nil, err
	}
	var lines []logLine
	for m, err := range seq {
		if err != nil {
			return lines, err
		}
		lines = append(lines, toLine(m))
	}
	return lines, nil
}

// fail answers a Source error: 404 for an unknown app, else 500 with the
// detail logged, not shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, platform.ErrNotFound) {
		h.errorPage(w, r, http.StatusNotFound, "No such app.")
		return
	}
	h.log.Warn("dashboard: "+what+" failed", "err", err)
	h.errorPage(w, r, http.StatusInternalServerError, "The platform could not answer; see its log.")
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", map[string]any{"Title": http.StatusText(status), "Status": status, "Message": msg})
}

// render executes the page into a buffer first, so a template error becomes
// a 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data map[string]any) {
	data["Prefix"] = h.Prefix
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout.html", data); err != nil {
		h.log.Error("dashboard: render "+page+" failed", "err", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// metrics is an app's router metrics as the app page shows them.
type metrics struct {
	Minutes       int  // the span of recent metrics
	Timed         bool // some requests reached a dyno: the percentiles mean something
	Requests      int64
	Classes       []classCount // 2xx…5xx with a count
	Errors        []codeCount  // router errors (H-codes), by code
	P50, P95, P99 string       // shown
}

type classCount struct {
	Class string
	N     int64
}

type codeCount struct {
	Code string
	N    int64
}

// shown rounds an estimated service time to what its estimate is worth:
// the router's percentiles are within a quarter of the true value from
// 4 ms up, and within the millisecond below.
func shown(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "<1ms"
	case d < 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func metricsView(st router.AppStats) metrics {
	m := metrics{Requests: st.Requests, Timed: st.Timed() > 0, P50: shown(st.P50), P95: shown(st.P95), P99: shown(st.P99)}
	for c := 1; c < len(st.ByClass); c++ {
		if n := st.ByClass[c]; n > 0 {
			m.Classes = append(m.Classes, classCount{strconv.Itoa(c) + "xx", n})
		}
	}
	for _, code := range slices.Sorted(maps.Keys(st.ByCode)) {
		m.Errors = append(m.Errors, codeCount{code, st.ByCode[code]})
	}
	return m
}
