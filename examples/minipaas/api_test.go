package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// rawAPI makes a Platform API request with the given headers (Accept and
// Authorization are not added) and returns the status, headers and body.
func (m *minipaas) rawAPI(method, path, body string, header map[string]string) (int, http.Header, string) {
	m.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, m.apiURL+path, rd)
	if err != nil {
		m.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func (m *minipaas) authHeaders(extra ...string) map[string]string {
	h := map[string]string{
		"Accept":        "application/vnd.heroku+json; version=3",
		"Authorization": "Bearer " + m.token,
		"Content-Type":  "application/json",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

// expectError checks an API error answer: status and error id.
func (m *minipaas) expectError(method, path, body string, status int, id string) {
	m.t.Helper()
	code, _, got := m.rawAPI(method, path, body, m.authHeaders())
	var e struct{ ID, Message string }
	if err := json.Unmarshal([]byte(got), &e); err != nil || code != status || e.ID != id || e.Message == "" {
		m.t.Errorf("%s %s %s: got %d %s, want %d with id %s", method, path, body, code, got, status, id)
	}
}

type releaseOut struct {
	ID                  string
	Version             int
	Description         string
	Status              string
	Current             bool
	EligibleForRollback bool `json:"eligible_for_rollback"`
	User                struct{ Email string }
	CreatedAt           string `json:"created_at"`
}

// TestPlatformAPI exercises the endpoints the CLI test does not reach, and
// the API's error answers, over plain HTTP.
func TestPlatformAPI(t *testing.T) {
	m := startMinipaas(t)
	const app = "api-demo"

	// Transport conventions and bad input.
	if code, _, _ := m.rawAPI("GET", "/apps", "", map[string]string{"Accept": "application/vnd.heroku+json; version=3"}); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if code, _, _ := m.rawAPI("GET", "/apps", "", map[string]string{"Authorization": "Bearer " + m.token}); code != http.StatusNotAcceptable {
		t.Errorf("no version: %d", code)
	}
	m.expectError("POST", "/apps", `{"name":"Bad_Name"}`, 422, "invalid_params")
	m.expectError("POST", "/apps", `{"name":`, 400, "bad_request")
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	m.expectError("POST", "/apps", `{"name":"`+app+`"}`, 422, "invalid_params")
	m.expectError("GET", "/apps/nothere/config-vars", "", 404, "not_found")
	m.expectError("PATCH", "/apps/"+app+"/formation", `{"updates":[{"type":"web","quantity":"1"}]}`, 422, "invalid_params") // nothing deployed yet

	m.pushHello(newGitClient(t), app)

	// Config vars: set two, unset one with null.
	var vars map[string]string
	if code := m.api("PATCH", "/apps/"+app+"/config-vars", `{"GREETING":"hi","OTHER":"x"}`, &vars); code != 200 || vars["GREETING"] != "hi" || vars["OTHER"] != "x" {
		t.Errorf("set config: %d %v", code, vars)
	}
	vars = nil
	if code := m.api("PATCH", "/apps/"+app+"/config-vars", `{"OTHER":null}`, &vars); code != 200 || len(vars) != 1 || vars["GREETING"] != "hi" {
		t.Errorf("unset config: %d %v", code, vars)
	}
	m.expectError("PATCH", "/apps/"+app+"/config-vars", `{"BAD-NAME":"1"}`, 422, "invalid_params")
	m.waitFor(app, "GREETING=hi", func(status int, body string) bool { return status == 200 && strings.HasPrefix(body, "hi from web.1") })

	// Releases, paged newest first two at a time.
	var versions []int
	var byVersion = map[int]releaseOut{}
	rng := "version ..; max=2, order=desc"
	for pages := 0; rng != ""; pages++ {
		if pages > 3 {
			t.Fatal("Next-Range never ends")
		}
		code, h, body := m.rawAPI("GET", "/apps/"+app+"/releases", "", m.authHeaders("Range", rng))
		var page []releaseOut
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("releases page: %d %s", code, body)
		}
		rng = h.Get("Next-Range")
		if (rng != "") != (code == http.StatusPartialContent) {
			t.Errorf("status %d with Next-Range %q", code, rng)
		}
		for _, r := range page {
			versions = append(versions, r.Version)
			byVersion[r.Version] = r
		}
	}
	if len(versions) != 3 || versions[0] != 3 || versions[2] != 1 {
		t.Fatalf("versions %v, want [3 2 1]", versions)
	}
	if v3, v1 := byVersion[3], byVersion[1]; !v3.Current || v1.Current || !v1.EligibleForRollback || v1.Status != "succeeded" || v3.User.Email != accountEmail || len(v1.ID) != 36 {
		t.Errorf("releases: %+v", byVersion)
	}
	if _, err := time.Parse(time.RFC3339, byVersion[1].CreatedAt); err != nil {
		t.Errorf("created_at: %v", err)
	}
	for _, key := range []string{"v2", "2", byVersion[2].ID} {
		var r releaseOut
		if code := m.api("GET", "/apps/"+app+"/releases/"+key, "", &r); code != 200 || r.Version != 2 {
			t.Errorf("release %s: %d %+v", key, code, r)
		}
	}
	m.expectError("GET", "/apps/"+app+"/releases/99", "", 404, "not_found")
	vars = nil
	if code := m.api("GET", "/apps/"+app+"/releases/v2/config-vars", "", &vars); code != 200 || vars["OTHER"] != "x" || vars["GREETING"] != "hi" {
		t.Errorf("config of v2: %d %v", code, vars)
	}
	var info struct {
		SlugSize int64 `json:"slug_size"`
		RepoSize int64 `json:"repo_size"`
		Owner    struct{ Email string }
	}
	if code := m.api("GET", "/apps/"+app, "", &info); code != 200 || info.SlugSize < 1000 || info.RepoSize < 100 || info.Owner.Email != accountEmail {
		t.Errorf("app info: %d %+v", code, info)
	}

	// Rollback to v1 by id: v4, without GREETING.
	var rolled releaseOut
	if code := m.api("POST", "/apps/"+app+"/releases", `{"release":"`+byVersion[1].ID+`"}`, &rolled); code != http.StatusCreated || rolled.Version != 4 || !rolled.Current {
		t.Errorf("rollback: %d %+v", code, rolled)
	}
	m.waitFor(app, "the rollback", func(status int, body string) bool { return status == 200 && strings.HasPrefix(body, " from web.1") })
	m.expectError("POST", "/apps/"+app+"/releases", `{}`, 422, "invalid_params")

	// Formation: scale one type with a number, then reject bad updates.
	var f struct {
		Type     string
		Quantity int
		Command  string
	}
	if code := m.api("PATCH", "/apps/"+app+"/formation/web", `{"quantity":2}`, &f); code != 200 || f.Quantity != 2 || f.Type != "web" || f.Command == "" {
		t.Errorf("scale web: %d %+v", code, f)
	}
	m.expectError("PATCH", "/apps/"+app+"/formation", `{"updates":[{"type":"web","quantity":"many"}]}`, 422, "invalid_params")
	m.expectError("PATCH", "/apps/"+app+"/formation", `{"updates":[{"type":"web","quantity":-1}]}`, 422, "invalid_params")
	m.expectError("PATCH", "/apps/"+app+"/formation", `{"updates":[{"type":"worker","quantity":1}]}`, 404, "not_found")
	m.waitFor(app, "web.2", func(status int, body string) bool { return status == 200 && strings.Contains(body, "web.2") })
	var dynos []struct{ Name, Type, State, Command, Size string }
	if code := m.api("GET", "/apps/"+app+"/dynos", "", &dynos); code != 200 || len(dynos) != 2 || dynos[0].Name != "web.1" || dynos[1].Name != "web.2" || dynos[0].Command == "" {
		t.Errorf("dynos: %d %+v", code, dynos)
	}
	for _, path := range []string{"/apps/" + app + "/dynos/web.1", "/apps/" + app + "/dynos", "/apps/" + app + "/formations/web"} {
		if code, _, body := m.rawAPI("DELETE", path, "", m.authHeaders()); code != http.StatusAccepted {
			t.Errorf("DELETE %s: %d %s", path, code, body)
		}
	}
	m.expectError("DELETE", "/apps/"+app+"/dynos/worker.9", "", 404, "not_found")

	// ps:stop: a formation dyno or type is replaced, a one-off stops. The
	// restarts above replace web.1; wait until it is up again, or a busy
	// machine finds no dyno of that name yet.
	m.waitDynos(app, "web.1", "web.2")
	for _, path := range []string{"/apps/" + app + "/dynos/web.1/actions/stop", "/apps/" + app + "/formations/web/actions/stop"} {
		if code, _, body := m.rawAPI("POST", path, "", m.authHeaders()); code != http.StatusAccepted {
			t.Errorf("POST %s: %d %s", path, code, body)
		}
	}
	m.expectError("POST", "/apps/"+app+"/dynos/run.1/actions/stop", "", 404, "not_found")
	var detached struct{ Name, Size string }
	if code := m.api("POST", "/apps/"+app+"/dynos", `{"command":"sleep 300","attach":false,"size":"standard-2x","time_to_live":3600}`, &detached); code != 201 || !strings.HasPrefix(detached.Name, "run.") || detached.Size != "standard-2x" {
		t.Fatalf("run:detached --size standard-2x: %d %+v", code, detached)
	}
	for _, body := range []string{
		`{"command":"true","size":"huge"}`,
		`{"command":"true","time_to_live":0}`,
		`{"command":"true","time_to_live":86401}`,
		`{"command":"true","type":"worker"}`,
	} {
		m.expectError("POST", "/apps/"+app+"/dynos", body, 422, "invalid_params")
	}
	hasDyno := func(name string) bool {
		var ds []struct{ Name string }
		m.api("GET", "/apps/"+app+"/dynos", "", &ds)
		return slices.ContainsFunc(ds, func(d struct{ Name string }) bool { return d.Name == name })
	}
	if !hasDyno(detached.Name) {
		t.Fatalf("%s not listed", detached.Name)
	}
	if code, _, body := m.rawAPI("POST", "/apps/"+app+"/dynos/"+detached.Name+"/actions/stop", "", m.authHeaders()); code != http.StatusAccepted {
		t.Errorf("stop %s: %d %s", detached.Name, code, body)
	}
	for deadline := time.Now().Add(30 * time.Second); hasDyno(detached.Name); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still listed after ps:stop", detached.Name)
		}
	}

	// A custom domain is routed to the app.
	var d struct{ Hostname, Kind string }
	if code := m.api("POST", "/apps/"+app+"/domains", `{"hostname":"www.example.test","sni_endpoint":null}`, &d); code != 201 || d.Hostname != "www.example.test" || d.Kind != "custom" {
		t.Errorf("add domain: %d %+v", code, d)
	}
	var domains []struct{ Hostname, Kind string }
	if code := m.api("GET", "/apps/"+app+"/domains", "", &domains); code != 200 || len(domains) != 2 {
		t.Errorf("domains: %d %+v", code, domains)
	}
	m.waitFor("www.example.test", "the custom domain", func(status int, body string) bool { return status == 200 && strings.Contains(body, "from web.") })
	m.expectError("DELETE", "/apps/"+app+"/domains/"+app+".localhost", "", 422, "invalid_params")
	if code := m.api("DELETE", "/apps/"+app+"/domains/WWW.example.test", "", &d); code != 200 || d.Hostname != "www.example.test" {
		t.Errorf("remove domain: %d %+v", code, d)
	}
	m.expectError("DELETE", "/apps/"+app+"/domains/www.example.test", "", 404, "not_found")
	domains = nil
	if code := m.api("GET", "/apps/"+app+"/domains", "", &domains); code != 200 || len(domains) != 1 {
		t.Errorf("domains after remove: %d %+v", code, domains)
	}
	m.waitFor("www.example.test", "the removed domain", func(status int, body string) bool { return status == http.StatusNotFound })

	// Maintenance mode answers for the app, and off again.
	var mode struct{ Maintenance bool }
	if code := m.api("PATCH", "/apps/"+app, `{"maintenance":true}`, &mode); code != 200 || !mode.Maintenance {
		t.Errorf("maintenance on: %d %+v", code, mode)
	}
	m.waitFor(app, "the maintenance page", func(status int, body string) bool { return status == http.StatusServiceUnavailable })
	if code := m.api("PATCH", "/apps/"+app, `{"maintenance":false}`, &mode); code != 200 || mode.Maintenance {
		t.Errorf("maintenance off: %d %+v", code, mode)
	}
	m.waitFor(app, "back from maintenance", func(status int, body string) bool { return status == 200 })

	// A log session is a URL that carries its own credential.
	var sess struct {
		LogplexURL string `json:"logplex_url"`
	}
	if code := m.api("POST", "/apps/"+app+"/log-sessions", `{"lines":200,"tail":false}`, &sess); code != 201 || !strings.HasPrefix(sess.LogplexURL, m.apiURL+"/log-sessions/") {
		t.Fatalf("log session: %d %+v", code, sess)
	}
	resp, err := http.Get(sess.LogplexURL)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("log stream: %d %v", resp.StatusCode, err)
	}
	for _, want := range []string{"app[web.1]: hello listening on", "heroku[router]: ", "app[api]: Deploy ", "by " + accountEmail, "app[api]: Scaled to web@2:Basic by " + accountEmail} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(string(logs), "GREETING=hi") || strings.Contains(string(logs), m.token) {
		t.Error("logs show a config value or the token")
	}
	if code, _, _ := m.rawAPI("GET", "/log-sessions/unknown?secret=x", "", nil); code == 200 {
		t.Error("a made-up log session answered 200")
	}

	// heroku run's rendezvous, spoken by hand: stdin reaches the dyno up
	// to the EOT byte, and a secret works once.
	var run struct {
		Name      string
		AttachURL string `json:"attach_url"`
	}
	if code := m.api("POST", "/apps/"+app+"/dynos", `{"attach":true,"command":"cat; echo \"done $DYNO $TERM\"","env":{"TERM":"xterm","COLUMNS":80}}`, &run); code != 201 || !strings.HasPrefix(run.AttachURL, "rendezvous://"+m.runAddr+"/") {
		t.Fatalf("POST dynos: %d %+v", code, run)
	}
	secret := strings.TrimPrefix(run.AttachURL, "rendezvous://"+m.runAddr+"/")
	// The answer names the dyno before it starts; it starts under that name.
	if got := m.attach(secret, "line one\n\x04"); !strings.HasPrefix(run.Name, "run.") || !strings.HasPrefix(got, "rendezvous\r\nline one\ndone "+run.Name+" ") || !strings.Contains(got, " xterm") {
		t.Errorf("attached output %q (dyno announced as %q)", got, run.Name)
	}
	if got := m.attach(secret, "\x04"); !strings.Contains(got, "unknown or expired") {
		t.Errorf("second use of a secret: %q", got)
	}
	m.expectError("POST", "/apps/"+app+"/dynos", `{"attach":true,"command":" "}`, 422, "invalid_params")

	checkTerminalRun(t, m, app)
	checkHangUp(t, m, app, `"COLUMNS":80,"LINES":24`)
	checkHangUp(t, m, app, ``)
	// With --no-tty (force_no_tty) the input stays piped.
	if code := m.api("POST", "/apps/"+app+"/dynos", `{"attach":true,"force_no_tty":true,"command":"test -t 0 || echo piped; cat","env":{"COLUMNS":100,"LINES":30}}`, &run); code != 201 {
		t.Fatalf("POST dynos --no-tty: %d", code)
	}
	if got := m.attach(strings.TrimPrefix(run.AttachURL, "rendezvous://"+m.runAddr+"/"), "as is\n\x04"); !strings.HasPrefix(got, "rendezvous\r\npiped\nas is\n") {
		t.Errorf("run --no-tty: output %q", got)
	}
}

// checkTerminalRun attaches to a run as a CLI on a terminal does: it sends
// its size (COLUMNS and LINES) and relays raw keystrokes, so the dyno runs
// on a terminal of that size whose line discipline turns the carriage
// return into the end of a line and echoes it.
func checkTerminalRun(t *testing.T, m *minipaas, app string) {
	t.Helper()
	var run struct {
		AttachURL string `json:"attach_url"`
	}
	const onTerminal = `stty size; test -t 0 && test -t 1 && echo on-a-terminal; read -r x; echo "got:$x"`
	if code := m.api("POST", "/apps/"+app+"/dynos", `{"attach":true,"command":"`+strings.ReplaceAll(onTerminal, `"`, `\"`)+`","env":{"TERM":"xterm","COLUMNS":100,"LINES":30}}`, &run); code != 201 {
		t.Fatalf("POST dynos from a terminal: %d", code)
	}
	got := m.attach(strings.TrimPrefix(run.AttachURL, "rendezvous://"+m.runAddr+"/"), "hello\r")
	for _, want := range []string{"30 100\r\n", "on-a-terminal\r\n", "hello\r\n", "got:hello\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("run from a terminal: output %q lacks %q", got, want)
		}
	}
}

// attach connects to the rendezvous as the CLI does, trusting the CA
// minipaas wrote, and returns everything the dyno sent.
func (m *minipaas) attach(secret, input string) string {
	m.t.Helper()
	conn, br, first := m.attachConn(secret)
	defer conn.Close()
	if _, err := io.WriteString(conn, input); err != nil {
		m.t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		m.t.Fatalf("rendezvous: %v", err)
	}
	return first + string(rest)
}

// attachConn connects to the rendezvous and reads the first line.
func (m *minipaas) attachConn(secret string) (net.Conn, *bufio.Reader, string) {
	m.t.Helper()
	pemCA, err := os.ReadFile(filepath.Join(m.dataDir, "rendezvous-ca.pem"))
	if err != nil {
		m.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		m.t.Fatal("no certificate in rendezvous-ca.pem")
	}
	host, port, _ := net.SplitHostPort(m.runAddr)
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(host, port), &tls.Config{RootCAs: pool})
	if err != nil {
		m.t.Fatalf("rendezvous: %v", err)
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(conn, secret+"\r\n"); err != nil {
		m.t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	first, err := br.ReadString('\n')
	if err != nil {
		m.t.Fatalf("rendezvous first line: %q %v", first, err)
	}
	return conn, br, first
}

// checkHangUp starts a long run, then drops the connection as a CLI whose
// user closed the terminal does: the dyno is stopped.
func checkHangUp(t *testing.T, m *minipaas, app, env string) {
	t.Helper()
	var run struct {
		Name      string
		AttachURL string `json:"attach_url"`
	}
	if code := m.api("POST", "/apps/"+app+"/dynos", `{"attach":true,"command":"echo started; sleep 1000","env":{`+env+`}}`, &run); code != 201 {
		t.Fatalf("POST dynos: %d", code)
	}
	conn, br, _ := m.attachConn(strings.TrimPrefix(run.AttachURL, "rendezvous://"+m.runAddr+"/"))
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "started") {
		conn.Close()
		t.Fatalf("run %s: %q %v", run.Name, line, err)
	}
	conn.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var dynos []struct{ Name string }
		m.api("GET", "/apps/"+app+"/dynos", "", &dynos)
		if !slices.ContainsFunc(dynos, func(d struct{ Name string }) bool { return d.Name == run.Name }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s (env %s) still there 30 s after its CLI went away: %+v", run.Name, env, dynos)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
