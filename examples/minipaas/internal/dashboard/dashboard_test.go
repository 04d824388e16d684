package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/router"
)

// fakeSource holds apps in memory; its live log is a channel the test
// feeds. The real platform runs in the end-to-end test of minipaas.
type fakeSource struct {
	apps     []platform.App
	releases map[string][]release.Release
	dynos    map[string][]platform.Dyno
	history  map[string][]logplex.Message
	live     chan logplex.Message

	mu    sync.Mutex
	tails []logplex.TailOptions // every Logs call
	done  chan struct{}         // closed when a following tail ends
}

func (f *fakeSource) Apps(ctx context.Context) ([]platform.App, error) { return f.apps, nil }

func (f *fakeSource) App(ctx context.Context, name string) (platform.App, error) {
	for _, a := range f.apps {
		if a.Name == name {
			return a, nil
		}
	}
	return platform.App{}, fmt.Errorf("fake: app %q: %w", name, platform.ErrNotFound)
}

func (f *fakeSource) Releases(ctx context.Context, app string, opt release.ListOptions) ([]release.Release, error) {
	if _, err := f.App(ctx, app); err != nil {
		return nil, err
	}
	return f.releases[app], nil
}

func (f *fakeSource) Dynos(ctx context.Context, app string) ([]platform.Dyno, error) {
	if _, err := f.App(ctx, app); err != nil {
		return nil, err
	}
	return f.dynos[app], nil
}

func (f *fakeSource) Logs(ctx context.Context, app string, opt logplex.TailOptions) (iter.Seq2[logplex.Message, error], error) {
	if _, err := f.App(ctx, app); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.tails = append(f.tails, opt)
	f.mu.Unlock()
	return func(yield func(logplex.Message, error) bool) {
		if opt.Follow && f.done != nil {
			defer close(f.done)
		}
		h := f.history[app]
		if len(h) > opt.Lines {
			h = h[len(h)-opt.Lines:]
		}
		for _, m := range h {
			if !yield(m, nil) {
				return
			}
		}
		if !opt.Follow {
			return
		}
		for {
			select {
			case m := <-f.live:
				if !yield(m, nil) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}, nil
}

const token = "s3cret-token"

var t0 = time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.UTC)

// newFake has one app whose name, release description, dyno command and
// log lines all carry markup, to check they come out as text.
func newFake() *fakeSource {
	return &fakeSource{
		apps: []platform.App{
			{Name: "demo", WebURL: "http://demo.localhost/", Release: 2, CreatedAt: t0},
			{Name: "empty", WebURL: "http://empty.localhost/", CreatedAt: t0},
		},
		releases: map[string][]release.Release{"demo": {
			{App: "demo", Version: 2, Description: `Set <script>alert("rel")</script> config vars`, Status: release.StatusSucceeded, User: "o@x", CreatedAt: t0},
			{App: "demo", Version: 1, Description: "Deploy 1a2b3c4", Status: release.StatusSucceeded, User: "o@x", CreatedAt: t0},
		}},
		dynos: map[string][]platform.Dyno{"demo": {
			{Name: "web.10", Type: "web", State: formation.StateUp, Release: 2, Command: "./bin/web --greet '<b>hi</b>'", UpdatedAt: t0},
			{Name: "web.2", Type: "web", State: formation.StateStarting, Release: 2, Command: "./bin/web", UpdatedAt: t0},
			{Name: "worker.1", Type: "worker", State: formation.StateCrashed, Release: 1, Command: "./bin/worker", UpdatedAt: t0},
		}},
		history: map[string][]logplex.Message{"demo": {
			{Time: t0, App: "demo", Source: "app", Proc: "web.10", Text: `<img src=x onerror="alert(1)"> & "quoted"`},
			{Time: t0, App: "demo", Source: "heroku", Proc: "router", Text: "at=info path=/"},
		}},
		live: make(chan logplex.Message),
	}
}

func get(t *testing.T, h http.Handler, path string, auth bool) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if auth {
		r.SetBasicAuth("anyone", token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestAuthRequired(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "next") })
	h := &Handler{Source: newFake(), Token: token, Next: next}
	for _, path := range []string{"/dashboard", "/dashboard/", "/dashboard/apps/demo", "/dashboard/apps/demo/logs", "/dashboard/static/dashboard.js", "/dashboard/nope"} {
		for _, tc := range []struct {
			name string
			set  func(*http.Request)
		}{
			{"none", func(*http.Request) {}},
			{"wrong password", func(r *http.Request) { r.SetBasicAuth("x", token+"x") }},
			{"token as user", func(r *http.Request) { r.SetBasicAuth(token, "") }},
			{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }},
		} {
			r := httptest.NewRequest("GET", path, nil)
			tc.set(r)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s with %s: %d, want 401", path, tc.name, w.Code)
			}
			if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
				t.Errorf("%s with %s: WWW-Authenticate %q, want a Basic challenge", path, tc.name, got)
			}
			if strings.Contains(w.Body.String(), "demo") {
				t.Errorf("%s with %s: body leaks app data: %q", path, tc.name, w.Body)
			}
		}
	}

	if w := get(t, h, "/dashboard/", true); w.Code != 200 {
		t.Errorf("basic auth with the token: %d, want 200", w.Code)
	}
	r := httptest.NewRequest("GET", "/dashboard/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("bearer token: %d, want 200", w.Code)
	}
	// Outside the prefix, Next answers (and does its own auth).
	for _, path := range []string{"/apps", "/dashboardx", "/demo.git/info/refs"} {
		if w := get(t, h, path, false); w.Code != 200 || w.Body.String() != "next" {
			t.Errorf("%s: %d %q, want Next's answer", path, w.Code, w.Body)
		}
	}
	// An empty token refuses everyone, even with an empty password.
	empty := &Handler{Source: newFake()}
	r = httptest.NewRequest("GET", "/dashboard/", nil)
	r.SetBasicAuth("x", "")
	w = httptest.NewRecorder()
	empty.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("empty Token: %d, want 401", w.Code)
	}
}

func TestPages(t *testing.T) {
	h := &Handler{Source: newFake(), Token: token, RouterPort: "5000"}

	w := get(t, h, "/dashboard", true)
	if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/dashboard/" {
		t.Errorf("/dashboard: %d to %q, want a redirect to /dashboard/", w.Code, w.Header().Get("Location"))
	}

	w = get(t, h, "/dashboard/", true)
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("apps page: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`href="/dashboard/apps/demo"`, `<td class="release">v2</td>`,
		`href="http://demo.localhost:5000/"`, `web.10 up`, `worker.1 crashed`,
		`href="/dashboard/apps/empty"`, "not deployed",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("apps page lacks %q:\n%s", want, body)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	w = get(t, h, "/dashboard/apps/demo", true)
	body = w.Body.String()
	if w.Code != 200 {
		t.Fatalf("app page: %d\n%s", w.Code, body)
	}
	for _, want := range []string{
		`<h1 id="app-name">demo</h1>`, `<span id="current-release">v2</span>`,
		// dynos: type, state and release, web.2 before web.10
		`<td class="name">web.2</td>`, `<span class="state-crashed">crashed</span>`, `<td class="type">worker</td>`,
		`<td class="release">v1</td>`,
		`<td class="version">v2</td>`, "Deploy 1a2b3c4",
		`data-stream="/dashboard/apps/demo/logs"`, `<script src="/dashboard/static/dashboard.js">`,
		"2026-11-22T01:02:03.456789Z", "heroku[router]:",
		// escaped user data
		`Set &lt;script&gt;alert(&#34;rel&#34;)&lt;/script&gt; config vars`,
		`&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &#34;quoted&#34;`,
		`--greet &#39;&lt;b&gt;hi&lt;/b&gt;&#39;`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>hi"} {
		if strings.Contains(body, bad) {
			t.Errorf("app page has unescaped %q", bad)
		}
	}
	if i, j := strings.Index(body, ">web.2<"), strings.Index(body, ">web.10<"); i < 0 || j < 0 || i > j {
		t.Errorf("dynos not in numeric order: web.2 at %d, web.10 at %d", i, j)
	}
	if t.Failed() {
		t.Logf("app page:\n%s", body)
	}

	w = get(t, h, "/dashboard/static/dashboard.js", true)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "EventSource") || !strings.Contains(w.Header().Get("Content-Type"), "javascript") {
		t.Errorf("dashboard.js: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	w = get(t, h, "/dashboard/static/dashboard.css", true)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Errorf("dashboard.css: %d %s", w.Code, w.Header().Get("Content-Type"))
	}

	r := httptest.NewRequest("POST", "/dashboard/apps/demo", nil)
	r.SetBasicAuth("", token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", rec.Code)
	}
}

func TestNotFound(t *testing.T) {
	h := &Handler{Source: newFake(), Token: token}
	for _, path := range []string{
		"/dashboard/apps/nope", "/dashboard/apps/nope/logs", "/dashboard/apps/%3Cscript%3E",
		"/dashboard/nope", "/dashboard/static/nope.js", "/dashboard/apps/demo/nope",
	} {
		w := get(t, h, path, true)
		if w.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, w.Code)
		}
		if strings.Contains(w.Body.String(), "<script>") {
			t.Errorf("%s: unescaped name in %q", path, w.Body)
		}
	}
}

// sseEvents reads message events from an SSE body, sending each data field
// on a channel, and counting comment lines; other fields are errors.
func sseEvents(t *testing.T, body io.Reader, comments *atomic.Int32) <-chan string {
	out := make(chan string, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != nil {
					out <- strings.Join(data, "\n")
					data = nil
				}
			case strings.HasPrefix(line, ":"):
				comments.Add(1)
			case strings.HasPrefix(line, "retry: "):
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			default:
				t.Errorf("unexpected SSE line %q", line)
			}
		}
	}()
	return out
}

func TestLogStream(t *testing.T) {
	f := newFake()
	f.done = make(chan struct{})
	stop := make(chan struct{})
	srv := httptest.NewServer(&Handler{Source: f, Token: token, Heartbeat: 10 * time.Millisecond, Done: stop})
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/dashboard/apps/demo/logs?lines=5&dyno=web", nil)
	req.SetBasicAuth("", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var comments atomic.Int32
	events := sseEvents(t, resp.Body, &comments)
	next := func() logLine {
		t.Helper()
		select {
		case data, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			var l logLine
			if err := json.Unmarshal([]byte(data), &l); err != nil {
				t.Fatalf("event data %q: %v", data, err)
			}
			return l
		case <-ctx.Done():
			t.Fatal("no event")
		}
		return logLine{}
	}

	// History first, then live lines; a line with CR and LF in it stays one
	// event whose text is intact.
	if l := next(); l.Proc != "web.10" || l.Text != `<img src=x onerror="alert(1)"> & "quoted"` || l.Time != "2026-11-22T01:02:03.456789Z" {
		t.Errorf("first event %+v", l)
	}
	if l := next(); l.Proc != "router" {
		t.Errorf("second event %+v", l)
	}
	live := logplex.Message{Time: t0, App: "demo", Source: "app", Proc: "web.2", Text: "one\r\ndata: two\n\nthree"}
	f.live <- live
	if l := next(); l.Text != live.Text || l.Source != "app" || l.Proc != "web.2" {
		t.Errorf("live event %+v", l)
	}
	f.mu.Lock()
	opt := f.tails[len(f.tails)-1]
	f.mu.Unlock()
	if opt != (logplex.TailOptions{Lines: 5, Follow: true, Dyno: "web"}) {
		t.Errorf("tail options %+v", opt)
	}

	// An idle stream gets keep-alive comments.
	for deadline := time.Now().Add(30 * time.Second); comments.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no keep-alive comment in 30 s")
		}
	}

	// Closing Done ends the stream and the tail (no goroutine left behind).
	close(stop)
	for range events {
		t.Error("an event after Done")
	}
	select {
	case <-f.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the tail did not end after Done")
	}
}

func TestLogStreamClientLeaves(t *testing.T) {
	f := newFake()
	f.done = make(chan struct{})
	srv := httptest.NewServer(&Handler{Source: f, Token: token})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/dashboard/apps/demo/logs?lines=0", nil)
	req.SetBasicAuth("", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The headers came, so the tail is open; the client leaving ends it.
	cancel()
	select {
	case <-f.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the tail did not end after the client left")
	}
}

func TestLogStreamBadRequest(t *testing.T) {
	h := &Handler{Source: newFake(), Token: token}
	for _, q := range []string{"lines=-1", "lines=x", "lines=100000"} {
		if w := get(t, h, "/dashboard/apps/demo/logs?"+q, true); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, w.Code)
		}
	}
}

// errSource fails every read, as a platform whose state is closed would.
type errSource struct{ *fakeSource }

func (errSource) Apps(ctx context.Context) ([]platform.App, error) {
	return nil, errors.New("bolt: database not open /secret/path")
}

func TestSourceError(t *testing.T) {
	h := &Handler{Source: errSource{newFake()}, Token: token}
	w := get(t, h, "/dashboard/", true)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "/secret/path") {
		t.Errorf("%d %q: want a 500 that does not show the error", w.Code, w.Body)
	}
}

// metricsSource adds the router's metrics to a fake Source.
type metricsSource struct {
	*fakeSource
	rt *router.Router
}

func (m metricsSource) RouterStats(app string) (router.AppStats, bool) { return m.rt.Stats(app) }

// TestRouterMetrics: an app's page shows what a real router counted for
// it: requests, status classes, router errors and service times.
func TestRouterMetrics(t *testing.T) {
	dyno := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	defer dyno.Close()
	rt := router.New(router.Config{})
	if err := rt.SetBackends("demo", []router.Dyno{{ID: "d1", Name: "web.1", Addr: dyno.Listener.Addr().String()}}); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Source: metricsSource{newFake(), rt}, Token: token}

	if body := get(t, h, "/dashboard/apps/demo", true).Body.String(); strings.Contains(body, `id="metrics"`) {
		t.Error("metrics shown before any request")
	}
	for _, path := range []string{"/", "/", "/boom"} {
		rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://demo.localhost"+path, nil))
	}
	if err := rt.SetMaintenance("demo", true); err != nil {
		t.Fatal(err)
	}
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://demo.localhost/", nil))

	body := get(t, h, "/dashboard/apps/demo", true).Body.String()
	for _, want := range []string{
		`<td class="requests">4</td>`, `<td data-class="2xx">2</td>`, `<td data-class="5xx">2</td>`,
		`<td data-code="H80">1</td>`, `<td class="service">&lt;1ms · `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("app page:\n%s", body)
	}
}

// recentSource adds metrics over a window to metricsSource: those counted
// since the snapshot prev, as *platform.Platform reports them.
type recentSource struct {
	metricsSource
	prev router.AppStats
	span time.Duration
}

func (m recentSource) RecentRouterStats(app string) (router.AppStats, time.Duration, bool) {
	st, ok := m.rt.Stats(app)
	return st.Sub(m.prev), m.span, ok
}

// TestRecentRouterMetrics: with RecentRouterMetrics the page shows the
// window's metrics above those since the router started.
func TestRecentRouterMetrics(t *testing.T) {
	dyno := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer dyno.Close()
	rt := router.New(router.Config{})
	if err := rt.SetBackends("demo", []router.Dyno{{ID: "d1", Name: "web.1", Addr: dyno.Listener.Addr().String()}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://demo.localhost/", nil))
	}
	prev, _ := rt.Stats("demo")
	src := recentSource{metricsSource{newFake(), rt}, prev, 9*time.Minute + 50*time.Second}
	if err := rt.SetMaintenance("demo", true); err != nil {
		t.Fatal(err)
	}
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://demo.localhost/", nil))

	body := get(t, &Handler{Source: src, Token: token}, "/dashboard/apps/demo", true).Body.String()
	recent, since, ok := strings.Cut(body, `<table id="metrics">`)
	if !ok {
		t.Fatalf("no metrics since the router started:\n%s", body)
	}
	_, recent, ok = strings.Cut(recent, `<table id="recent-metrics">`)
	if !ok {
		t.Fatalf("no recent metrics before those since the router started:\n%s", body)
	}
	if !strings.Contains(body, `<p class="meta">The last 10 min.</p>`) {
		t.Error("the window's span is not shown")
	}
	for _, want := range []string{`<td class="requests">1</td>`, `<td data-class="5xx">1</td>`, `<td data-code="H80">1</td>`, `<td class="service">none</td>`} {
		if !strings.Contains(recent, want) {
			t.Errorf("recent metrics lack %q", want)
		}
	}
	if strings.Contains(recent, `data-class="2xx"`) {
		t.Error("recent metrics count requests made before the window")
	}
	for _, want := range []string{`<td class="requests">4</td>`, `<td data-class="2xx">3</td>`, `<td class="service">&lt;1ms · `} {
		if !strings.Contains(since, want) {
			t.Errorf("metrics since the router started lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("app page:\n%s", body)
	}
}

var (
	_ RouterMetrics       = (*platform.Platform)(nil) // minipaas's Source has the metrics
	_ RecentRouterMetrics = (*platform.Platform)(nil)
)
