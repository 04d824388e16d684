package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/syslog"
)

// syslogReceiver is a syslog drain endpoint: it reads RFC 6587
// octet-counted frames and parses each as RFC 5424, strictly, so a
// framing or header mistake of the drain fails the test.
type syslogReceiver struct {
	t    *testing.T
	addr string

	mu   sync.Mutex
	msgs []syslog.Message
	open int // connections from the drain
	bad  error
}

func startSyslogReceiver(t *testing.T) *syslogReceiver {
	ln := listenLoopback(t)
	r := &syslogReceiver{t: t, addr: ln.Addr().String()}
	// Registered first, so it runs after ServeConns' cleanup has waited
	// for the connections.
	t.Cleanup(func() {
		if r.bad != nil {
			t.Errorf("syslog drain sent a bad frame or message: %v", r.bad)
		}
	})
	testutil.ServeConns(t, ln, func(c net.Conn) {
		r.mu.Lock()
		r.open++
		r.mu.Unlock()
		defer func() { r.mu.Lock(); r.open--; r.mu.Unlock() }()
		sc := bufio.NewScanner(c)
		sc.Buffer(make([]byte, 0, 64<<10), syslog.DefaultMaxFrame+8)
		sc.Split(syslog.Split)
		for sc.Scan() {
			m, err := syslog.Parse(sc.Bytes())
			r.mu.Lock()
			if err != nil && r.bad == nil {
				r.bad = err
			}
			if err == nil {
				r.msgs = append(r.msgs, m)
			}
			r.mu.Unlock()
		}
		if err := sc.Err(); err != nil && !errors.Is(err, net.ErrClosed) {
			r.mu.Lock()
			if r.bad == nil {
				r.bad = err
			}
			r.mu.Unlock()
		}
	})
	return r
}

func (r *syslogReceiver) messages() []syslog.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]syslog.Message(nil), r.msgs...)
}

func (r *syslogReceiver) openConns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open
}

// waitMessage waits (generously) for a message match accepts, calling
// poke between looks (to make the platform log something).
func (r *syslogReceiver) waitMessage(what string, match func(syslog.Message) bool, poke func()) syslog.Message {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, m := range r.messages() {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			all := r.messages()
			r.t.Fatalf("syslog drain: no %s within 60 s; got %d messages, the last: %+v", what, len(all), all[max(0, len(all)-3):])
		}
		if poke != nil {
			poke()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type drainOut struct {
	ID    string
	URL   string
	Token string
	Addon *struct {
		ID, Name string
		App      struct{ Name string }
	}
	App struct{ Name string }
}

func (m *minipaas) drains(app string) []drainOut {
	m.t.Helper()
	var out []drainOut
	if code := m.api("GET", "/apps/"+app+"/log-drains", "", &out); code != http.StatusOK {
		m.t.Fatalf("GET log-drains of %s: %d", app, code)
	}
	return out
}

// waitHistory waits until the app's log history holds a line containing
// text: the platform has logged it, and so handed it to every drain.
func (m *minipaas) waitHistory(app, text string) {
	m.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		lines, err := m.p.Logs(ctx, app, logplex.TailOptions{Lines: 1500})
		if err != nil {
			cancel()
			m.t.Fatal(err)
		}
		found := false
		for l, err := range lines {
			if err == nil && strings.Contains(l.Text, text) {
				found = true
				break
			}
		}
		cancel()
		if found {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: no log line with %q within 60 s", app, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cliDrains adds a syslog drain to app (which has a worker printing a
// line every 200 ms) with the CLI, checks what reaches it and how it is
// framed, and removes it.
func cliDrains(t *testing.T, m *minipaas, cli *herokucli.CLI, app string) {
	start := time.Now()
	defer func() { t.Logf("drains: %v", time.Since(start).Round(time.Millisecond)) }()
	heroku := herokuFunc(t, cli)
	recv := startSyslogReceiver(t)
	drainURL := "syslog://" + recv.addr
	expectIn(t, heroku("drains:add", drainURL, "-a", app), "Successfully added drain "+drainURL)
	list := m.drains(app)
	if len(list) != 1 || list[0].URL != drainURL || !strings.HasPrefix(list[0].Token, "d.") || list[0].Addon != nil || list[0].App.Name != app {
		t.Fatalf("log-drains of %s: %+v", app, list)
	}
	token := list[0].Token
	expectIn(t, heroku("drains", "-a", app), "=== Drains", drainURL+" ("+token+")")

	// A request through the router, and the worker's own lines, arrive
	// as Heroku frames them: HOSTNAME the drain token, APP-NAME the
	// source, PROCID the process.
	probe := "/drain-probe-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	router := recv.waitMessage("router line for "+probe, func(sm syslog.Message) bool {
		return sm.AppName == "heroku" && sm.ProcID == "router" && strings.Contains(sm.Text, `path="`+probe+`"`)
	}, func() { _, _, _ = m.getPath(app, probe) })
	tick := recv.waitMessage("worker line", func(sm syslog.Message) bool {
		return sm.AppName == "app" && strings.HasPrefix(sm.ProcID, "worker.") && strings.HasPrefix(sm.Text, "worker tick ")
	}, nil)
	for _, sm := range []syslog.Message{router, tick} {
		if sm.Hostname != token || sm.Time.IsZero() || sm.Priority != syslog.PriorityFor(sm.Logplex(app)) {
			t.Errorf("drained message %+v: want HOSTNAME %s, a timestamp and Logplex's priority", sm, token)
		}
	}
	for _, sm := range recv.messages() {
		if sm.Hostname != token {
			t.Errorf("drained message with HOSTNAME %q, want %q", sm.Hostname, token)
			break
		}
	}

	// The same URL twice is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := cli.Run(ctx, "drains:add", drainURL, "-a", app)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || !strings.Contains(res.Stdout+res.Stderr, "Url has already been taken") {
		t.Errorf("drains:add of the same URL again: want an error, got %s", res)
	}

	expectIn(t, heroku("drains:remove", drainURL, "-a", app), "Successfully removed drain "+drainURL)
	if list := m.drains(app); len(list) != 0 {
		t.Errorf("log-drains of %s after drains:remove: %+v", app, list)
	}
	// Removal stopped the drain before answering: a line logged after it
	// never arrives, and the drain hung up.
	n := len(recv.messages())
	after := "/after-remove-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, _, err := m.getPath(app, after); err != nil {
		t.Errorf("GET %s: %v", after, err)
	}
	m.waitHistory(app, after)
	for _, sm := range recv.messages()[n:] {
		if strings.Contains(sm.Text, after) || strings.HasPrefix(sm.Text, "worker tick") {
			t.Errorf("a removed drain still delivers: %+v", sm)
			break
		}
	}
	for deadline := time.Now().Add(30 * time.Second); recv.openConns() > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the removed drain's connection is still open")
			break
		}
	}
}

// TestLogDrainsAPI covers the API's refusals and that app drains outlive a
// restart and go with their app.
func TestLogDrainsAPI(t *testing.T) {
	m := startMinipaas(t)
	const app = "drainapi"
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("create app: %d", code)
	}
	m.expectError("GET", "/apps/nosuchapp/log-drains", "", 404, "not_found")
	m.expectError("POST", "/apps/nosuchapp/log-drains", `{"url":"syslog://127.0.0.1:1"}`, 404, "not_found")
	m.expectError("GET", "/apps/"+app+"/log-drains/d.nosuchtoken", "", 404, "not_found")
	m.expectError("POST", "/apps/"+app+"/log-drains", `{"url":""}`, 422, "invalid_params")

	// Bad URLs are refused without echoing their credentials.
	for _, bad := range []string{
		"ftp://alice:s3cret-pw@example.invalid/x",
		"syslog://alice:s3cret-pw@example.invalid",  // no port
		"https://alice:s3cret-pw@/no-host",          // no host
		"alice:s3cret-pw@example.invalid:514 %zz",   // not a URL
		"syslog+tcp://alice:s3cret-pw@example:6514", // not a drain scheme
	} {
		code, _, body := m.rawAPI("POST", "/apps/"+app+"/log-drains", `{"url":"`+bad+`"}`, m.authHeaders())
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "invalid_params") {
			t.Errorf("POST drain %q: %d %s", bad, code, body)
		}
		if strings.Contains(body, "s3cret") || strings.Contains(body, "alice") {
			t.Errorf("POST drain %q: the answer echoes credentials: %s", bad, body)
		}
	}
	code, _, body := m.rawAPI("DELETE", "/apps/"+app+"/log-drains/"+url.PathEscape("https://alice:s3cret-pw@example.invalid/x"), "", m.authHeaders())
	if code != http.StatusNotFound || strings.Contains(body, "s3cret") || strings.Contains(body, "alice") {
		t.Errorf("DELETE an unknown drain URL: %d %s", code, body)
	}
	if strings.Contains(m.out.String(), "s3cret") {
		t.Errorf("minipaas output echoes a drain URL's credentials:\n%s", m.out.String())
	}

	// Five drains; a sixth, and a duplicate, are refused.
	recv := startSyslogReceiver(t)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	urls := []string{"syslog://" + recv.addr}
	for i := range 4 {
		u, _ := url.Parse(sink.URL)
		u.User = url.UserPassword("user", "pw"+strconv.Itoa(i))
		u.Path = "/logs/" + strconv.Itoa(i)
		urls = append(urls, u.String())
	}
	added := map[string]drainOut{}
	for _, u := range urls {
		var d drainOut
		if code := m.api("POST", "/apps/"+app+"/log-drains", `{"url":"`+u+`"}`, &d); code != http.StatusCreated || d.URL != u || d.ID == "" || !strings.HasPrefix(d.Token, "d.") {
			t.Fatalf("POST drain %s: %d %+v", u, code, d)
		}
		added[d.ID] = d
	}
	m.expectError("POST", "/apps/"+app+"/log-drains", `{"url":"`+sink.URL+`/sixth"}`, 422, "invalid_params")
	m.expectError("POST", "/apps/"+app+"/log-drains", `{"url":"`+urls[1]+`"}`, 422, "invalid_params")
	// The syslog drain, which later checks delivery after a restart.
	var first drainOut
	for _, d := range m.drains(app) {
		if d.URL == urls[0] {
			first = d
		}
	}
	for _, key := range []string{first.ID, first.Token, url.PathEscape(first.URL)} {
		var d drainOut
		if code := m.api("GET", "/apps/"+app+"/log-drains/"+key, "", &d); code != http.StatusOK || d.ID != first.ID {
			t.Errorf("GET drain by %s: %d %+v", key, code, d)
		}
	}
	// Removing and adding a URL again gives it a new token.
	var removed, readded drainOut
	m.api("DELETE", "/apps/"+app+"/log-drains/"+added[first.ID].Token, "", &removed)
	if removed.ID != first.ID {
		t.Errorf("DELETE by token removed %+v, want %s", removed, first.ID)
	}
	if code := m.api("POST", "/apps/"+app+"/log-drains", `{"url":"`+first.URL+`"}`, &readded); code != http.StatusCreated || readded.Token == first.Token {
		t.Errorf("re-added drain: %d %+v (old token %s)", code, readded, first.Token)
	}
	delete(added, first.ID)
	added[readded.ID] = readded

	// A restart keeps the drains, with their tokens, and runs them.
	m.stop()
	m = startMinipaasWith(t, m.dataDir, m.token)
	list := m.drains(app)
	if len(list) != len(added) {
		t.Fatalf("after a restart: %d drains, want %d: %+v", len(list), len(added), list)
	}
	for _, d := range list {
		if a, ok := added[d.ID]; !ok || a.Token != d.Token || a.URL != d.URL {
			t.Errorf("after a restart: drain %+v, want one of %+v", d, added)
		}
	}
	syslogToken := readded.Token
	probe := "/after-restart-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	recv.waitMessage("router line after the restart", func(sm syslog.Message) bool {
		return sm.Hostname == syslogToken && strings.Contains(sm.Text, probe)
	}, func() { _, _, _ = m.getPath(app, probe) })

	// Destroying the app removes its drains, records included: an app
	// made again under its name starts with none.
	if code := m.api("DELETE", "/apps/"+app, "", nil); code != http.StatusOK {
		t.Fatalf("destroy: %d", code)
	}
	if recs, err := m.p.Records(context.Background(), platform.LogDrainRecords); err != nil || len(recs) != 0 {
		t.Errorf("log drain records after apps:destroy: %v %v", recs, err)
	}
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("create app again: %d", code)
	}
	if list := m.drains(app); len(list) != 0 {
		t.Errorf("drains of a new app under an old name: %+v", list)
	}
}

// drainAddonProvider stands in for a logging add-on's provider (like
// Papertrail's, outside this machine): its resources are a drain URL.
type drainAddonProvider struct{ url string }

func (p drainAddonProvider) Provision(_ context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	return addons.Resource{ID: "res-" + req.ID, Plan: req.Plan, Config: addons.Config{"LOGSINK_URL": p.url}, LogDrainURL: p.url}, nil
}

func (drainAddonProvider) Deprovision(context.Context, string) error { return nil }

// TestAddonDrainListed: an add-on's drain is listed with its add-on and
// cannot be removed as an app drain; it goes with the add-on.
func TestAddonDrainListed(t *testing.T) {
	m := startMinipaas(t)
	const app = "addondrained"
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("create app: %d", code)
	}
	recv := startSyslogReceiver(t)
	drainURL := "syslog://" + recv.addr
	// A second API on the same platform, with a catalog holding the
	// logging service (the running minipaas offers only its flags').
	log := slog.New(slog.DiscardHandler)
	ad, err := newAddonService(m.p, "", "", "", log)
	if err != nil {
		t.Fatal(err)
	}
	defer ad.close()
	plans := []addons.Plan{{Name: "basic"}}
	ad.m.Catalog = addons.Catalog{Services: []addons.Service{{Name: "logsink", ConfigPrefix: "LOGSINK", Plans: plans, Provider: drainAddonProvider{drainURL}}}}
	srv := httptest.NewServer(newAPI(m.p, m.token, m.routerAddr, nil, nil, nil, "", log, ad, nil))
	defer srv.Close()
	api := &minipaas{t: t, apiURL: srv.URL, token: m.token}

	var created struct{ ID, Name string }
	if code := api.api("POST", "/apps/"+app+"/addons", `{"plan":"logsink:basic"}`, &created); code != http.StatusCreated {
		t.Fatalf("create add-on: %d", code)
	}
	list := api.drains(app)
	if len(list) != 1 || list[0].URL != drainURL || list[0].Addon == nil || list[0].Addon.Name != created.Name || list[0].Addon.ID != created.ID || list[0].Addon.App.Name != app {
		t.Fatalf("drains with an add-on's: %+v (add-on %+v)", list, created)
	}
	token := list[0].Token
	probe := "/addon-drain-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	recv.waitMessage("router line", func(sm syslog.Message) bool {
		return sm.Hostname == token && strings.Contains(sm.Text, probe)
	}, func() { _, _, _ = m.getPath(app, probe) })

	code, _, body := api.rawAPI("DELETE", "/apps/"+app+"/log-drains/"+token, "", api.authHeaders())
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "removing the add-on") || !strings.Contains(body, created.Name) {
		t.Errorf("DELETE an add-on's drain: %d %s", code, body)
	}
	api.expectError("POST", "/apps/"+app+"/log-drains", `{"url":"`+drainURL+`"}`, 422, "invalid_params")

	if code := api.api("DELETE", "/apps/"+app+"/addons/"+created.Name, "", nil); code != http.StatusOK {
		t.Fatalf("destroy add-on: %d", code)
	}
	if list := api.drains(app); len(list) != 0 {
		t.Errorf("drains after the add-on went: %+v", list)
	}
}
