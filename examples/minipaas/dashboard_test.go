package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/dashboard"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/logplex"
)

// The real platform is what the dashboard reads.
var _ dashboard.Source = (*platform.Platform)(nil)

// chromiumPath is Debian's chromium; the test skips without it, unless
// DYNOKIT_TEST_REQUIRE=1.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatal("chromium not found in PATH (DYNOKIT_TEST_REQUIRE=1; apt-get install chromium)")
		}
		t.Skip("chromium not found in PATH")
	}
	return path
}

// chromiumCmd is headless chromium with a throw-away profile and nothing
// that reaches the network on its own. Its process group is killed when
// ctx ends, renderers included.
func chromiumCmd(ctx context.Context, t *testing.T, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--no-default-browser-check", "--user-data-dir=" + t.TempDir(),
	}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// dumpDOM loads url and returns the DOM chromium serialises after load.
func dumpDOM(t *testing.T, bin, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := chromiumCmd(ctx, t, bin, "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// devtools drives a page over the Chrome DevTools Protocol on the pipe
// chromium opens with --remote-debugging-pipe: JSON messages, each ended
// by a NUL byte, commands on fd 3 and answers and events on fd 4.
type devtools struct {
	w       io.WriteCloser
	mu      sync.Mutex
	id      int
	waiting map[int]chan json.RawMessage
	session string
}

type cdpMessage struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// startBrowser runs chromium on url and attaches to its page. Chromium is
// stopped when the test ends (before the platform, which was started
// first, so its log streams end with it).
func startBrowser(t *testing.T, bin, url string) *devtools {
	t.Helper()
	toBrowser, cmdIn, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmdOut, fromBrowser, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := chromiumCmd(ctx, t, bin, "--remote-debugging-pipe", url)
	cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	toBrowser.Close()
	fromBrowser.Close()
	d := &devtools{w: cmdIn, waiting: map[int]chan json.RawMessage{}}
	readDone := make(chan struct{})
	go d.read(cmdOut, readDone)
	t.Cleanup(func() {
		cancel() // kills the process group
		_ = cmd.Wait()
		cmdIn.Close()
		<-readDone
		cmdOut.Close()
		if t.Failed() {
			t.Logf("chromium stderr:\n%s", stderr.String())
		}
	})

	// The page target of url appears shortly after start.
	deadline := time.Now().Add(30 * time.Second)
	for d.session == "" {
		var targets struct {
			TargetInfos []struct {
				TargetID string `json:"targetId"`
				Type     string `json:"type"`
			} `json:"targetInfos"`
		}
		if err := d.call("Target.getTargets", nil, &targets); err != nil {
			t.Fatal(err)
		}
		for _, ti := range targets.TargetInfos {
			if ti.Type == "page" {
				var att struct {
					SessionID string `json:"sessionId"`
				}
				if err := d.call("Target.attachToTarget", map[string]any{"targetId": ti.TargetID, "flatten": true}, &att); err != nil {
					t.Fatal(err)
				}
				d.session = att.SessionID
				break
			}
		}
		if d.session == "" {
			if time.Now().After(deadline) {
				t.Fatal("chromium has no page target after 30 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return d
}

// read hands each answer to the call waiting for its id; events are
// dropped.
func (d *devtools) read(r io.Reader, done chan<- struct{}) {
	defer close(done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		b, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(b[:len(b)-1], &m) != nil || m.ID == 0 {
			continue
		}
		d.mu.Lock()
		ch := d.waiting[m.ID]
		delete(d.waiting, m.ID)
		d.mu.Unlock()
		if ch != nil {
			ch <- b[:len(b)-1]
		}
	}
}

// call sends one command (to the attached page once there is one) and
// decodes its result.
func (d *devtools) call(method string, params, result any) error {
	d.mu.Lock()
	d.id++
	id := d.id
	ch := make(chan json.RawMessage, 1)
	d.waiting[id] = ch
	d.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if d.session != "" {
		msg["sessionId"] = d.session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := d.w.Write(append(b, 0)); err != nil {
		return fmt.Errorf("devtools %s: %w", method, err)
	}
	select {
	case raw := <-ch:
		var m cdpMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("devtools %s: %w", method, err)
		}
		if m.Error != nil {
			return fmt.Errorf("devtools %s: %s", method, m.Error.Message)
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(m.Result, result)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("devtools %s: no answer in 30 s", method)
	}
}

// eval evaluates a JavaScript expression in the page and returns its value
// as a string.
func (d *devtools) eval(t *testing.T, expr string) string {
	t.Helper()
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := d.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		t.Fatal(err)
	}
	if res.ExceptionDetails != nil {
		return "exception: " + res.ExceptionDetails.Text
	}
	return fmt.Sprint(res.Result.Value)
}

// waitEval polls expr until ok accepts its value, or fails after 30 s.
func (d *devtools) waitEval(t *testing.T, what, expr string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := d.eval(t, expr)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s is %q after 30 s", what, expr, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDashboard pushes an app to the real platform and reads it back in
// headless chromium: the app list, the app page's dynos and releases, and
// a log line written after the page loaded, which only the live stream can
// have brought.
func TestDashboard(t *testing.T) {
	bin := chromiumPath(t)
	m := startMinipaas(t)
	if status := m.api("POST", "/apps", `{"name":"dash"}`, nil); status != http.StatusCreated {
		t.Fatalf("create app: %d", status)
	}
	m.pushHello(newGitClient(t), "dash")
	start := time.Now()
	ctx := context.Background()
	app, err := m.p.App(ctx, "dash")
	if err != nil {
		t.Fatal(err)
	}
	release := fmt.Sprintf("v%d", app.Release)
	base := "http://" + m.apiAddr + "/dashboard/"
	authed := "http://anyone:" + m.token + "@" + m.apiAddr + "/dashboard/"

	// Without the token chromium gets the 401 (headless, it shows nothing),
	// not the app. (Wrong tokens are the unit tests' business.)
	if dom := dumpDOM(t, bin, base); strings.Contains(dom, "apps/dash") {
		t.Errorf("%s shows the app:\n%s", base, dom)
	}

	dom := dumpDOM(t, bin, authed)
	for _, want := range []string{`href="/dashboard/apps/dash"`, `<td class="release">` + release + `</td>`, "web.1 up"} {
		if !strings.Contains(dom, want) {
			t.Errorf("apps page lacks %q:\n%s", want, dom)
		}
	}

	d := startBrowser(t, bin, authed+"apps/dash")
	d.waitEval(t, "log stream", `document.getElementById("log-status").textContent`, func(v string) bool { return v == "live" })
	dynos := d.eval(t, `Array.from(document.querySelectorAll("#dynos tbody tr")).map(r => Array.from(r.cells).slice(0, 4).map(c => c.textContent.trim()).join(" ")).join("\n")`)
	if want := "web.1 web up " + release; !strings.Contains(dynos, want) {
		t.Errorf("dynos table %q lacks %q", dynos, want)
	}
	releases := d.eval(t, `Array.from(document.querySelectorAll("#releases tbody tr")).map(r => r.cells[0].textContent + " " + r.cells[1].textContent + " " + r.cells[2].textContent).join("\n")`)
	if want := release + " Deploy "; !strings.Contains(releases, want) || !strings.Contains(releases, "succeeded") {
		t.Errorf("releases table %q lacks %q, succeeded", releases, want)
	}
	if v := d.eval(t, `document.getElementById("app-name").textContent`); v != "dash" {
		t.Errorf("app name %q", v)
	}

	// A line written now reaches the open page; its markup stays text.
	mark := fmt.Sprintf("<b>dashboard-probe-%d</b>", time.Now().UnixNano())
	if v := d.eval(t, `document.getElementById("log").textContent`); strings.Contains(v, mark) {
		t.Fatal("the probe line is in the page before it was written")
	}
	if _, err := m.p.RunDetached(ctx, "dash", "echo '"+mark+"'", platform.OneOffLimits{}); err != nil {
		t.Fatal(err)
	}
	// (The platform's "Starting process with command" line has it too.)
	d.waitEval(t, "probe line", `Array.from(document.querySelectorAll("#log .line")).map(l => l.textContent).filter(s => s.includes(" app[run.")).join("\n")`,
		func(v string) bool { return strings.Contains(v, "]: "+mark) })
	if v := d.eval(t, `String(document.querySelectorAll("#log b").length)`); v != "0" {
		t.Errorf("log markup became %s elements", v)
	}
	// A form changes the app: chromium posts it (same origin, with the
	// credentials it remembers, under the page's CSP) and lands back on the
	// page, which shows the outcome.
	if v := d.eval(t, `(function () {
		var f = document.querySelector('tr.process[data-type="web"] form.scale');
		f.elements.quantity.value = "2";
		f.requestSubmit();
		return "sent";
	})()`); v != "sent" {
		t.Fatalf("submit the scale form: %s", v)
	}
	// Evaluations fail while the page navigates; poll until the new one.
	var flash string
	for deadline := time.Now().Add(30 * time.Second); flash != "Scaled to web@2."; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the scale form the flash is %q", flash)
		}
		var res struct {
			Result struct {
				Value any `json:"value"`
			} `json:"result"`
		}
		if d.call("Runtime.evaluate", map[string]any{"expression": `(document.getElementById("flash") || {}).textContent || document.title`, "returnByValue": true}, &res) == nil {
			flash = fmt.Sprint(res.Result.Value)
		}
	}
	m.waitDynos("dash", "web.1", "web.2")
	t.Logf("dashboard checks after the push took %v", time.Since(start).Round(time.Millisecond))

	// An open log stream does not hold up a stop: Handler.Done ends it,
	// where http.Server.Shutdown would wait 15 s and then cut it.
	stopStart := time.Now()
	m.stop()
	if took := time.Since(stopStart); took > 12*time.Second {
		t.Errorf("stopping with the dashboard open took %v", took)
	} else {
		t.Logf("stop with the dashboard open: %v", took.Round(time.Millisecond))
	}
}

// The dashboard changes apps with the API's calls.
var _ dashboard.Control = dashboardControl{}

var dashFlash = regexp.MustCompile(`<p id="flash" class="flash flash-(ok|error)" role="status">([^<]*)</p>`)

// dashSubmit posts the app page's form action, as dashPost does.
func (m *minipaas) dashSubmit(app, action string, form url.Values, hdr map[string]string) (status int, level, text string) {
	m.t.Helper()
	status, _, level, text = m.dashPost("/dashboard/apps/"+app+"/"+action, form, hdr)
	return status, level, text
}

// TestDashboardActions: changes made on the dashboard are the API's: the
// same release descriptions, user and log lines, seen through the API.
func TestDashboardActions(t *testing.T) {
	m := startMinipaas(t)
	if status := m.api("POST", "/apps", `{"name":"dacts"}`, nil); status != http.StatusCreated {
		t.Fatalf("create app: %d", status)
	}
	type releaseJSON struct {
		Version     int    `json:"version"`
		Description string `json:"description"`
		User        struct {
			Email string `json:"email"`
		} `json:"user"`
	}
	newest := func() releaseJSON {
		var rels []releaseJSON
		if status := m.api("GET", "/apps/dacts/releases", "", &rels); status >= 300 || len(rels) == 0 {
			t.Fatalf("releases: %d %+v", status, rels)
		}
		return rels[len(rels)-1]
	}

	// A config var set on the dashboard and one set with the API make the
	// same kind of release.
	if status, level, text := m.dashSubmit("dacts", "config", url.Values{"name": {"FROM_DASH"}, "value": {"1"}}, nil); status != http.StatusSeeOther || level != "ok" || text != "Released v1: Set FROM_DASH config vars." {
		t.Errorf("dashboard config set: %d %s %q", status, level, text)
	}
	dash := newest()
	if status := m.api("PATCH", "/apps/dacts/config-vars", `{"FROM_API":"2"}`, nil); status != http.StatusOK {
		t.Fatalf("API config set: %d", status)
	}
	api := newest()
	if dash.Version != 1 || dash.Description != "Set FROM_DASH config vars" || dash.User.Email != accountEmail ||
		api.Version != 2 || api.Description != "Set FROM_API config vars" || api.User.Email != dash.User.Email {
		t.Errorf("releases: dashboard %+v, API %+v", dash, api)
	}
	var vars map[string]string
	if m.api("GET", "/apps/dacts/config-vars", "", &vars); vars["FROM_DASH"] != "1" || vars["FROM_API"] != "2" {
		t.Errorf("config vars %v", vars)
	}
	ctx := context.Background()
	seq, err := m.p.Logs(ctx, "dacts", logplex.TailOptions{Lines: 100})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for msg, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, msg.Source+"["+msg.Proc+"]: "+msg.Text)
	}
	for _, want := range []string{"app[api]: Release v1 created by " + accountEmail, "app[api]: Release v2 created by " + accountEmail} {
		if !slices.Contains(lines, want) {
			t.Errorf("log lacks %q: %q", want, lines)
		}
	}

	// Maintenance mode set on the dashboard is the API's.
	if _, level, _ := m.dashSubmit("dacts", "maintenance", url.Values{"maintenance": {"on"}}, nil); level != "ok" {
		t.Errorf("maintenance on: %s", level)
	}
	var app struct {
		Maintenance bool `json:"maintenance"`
	}
	if m.api("GET", "/apps/dacts", "", &app); !app.Maintenance {
		t.Error("the API says maintenance is off after the dashboard turned it on")
	}

	// Errors are shown, not 500s: no process types before a deploy, no
	// rollback to a release without a slug.
	if status, level, text := m.dashSubmit("dacts", "formation", url.Values{"type": {"web"}, "quantity": {"2"}}, nil); status != http.StatusSeeOther || level != "error" || !strings.Contains(text, "deploy it first") {
		t.Errorf("scale before a deploy: %d %s %q", status, level, text)
	}
	if status, level, text := m.dashSubmit("dacts", "rollback", url.Values{"version": {"1"}}, nil); status != http.StatusSeeOther || level != "error" || !strings.Contains(text, "only a succeeded release with a slug") {
		t.Errorf("rollback to a config release: %d %s %q", status, level, text)
	}

	// Another site's form is refused and changes nothing.
	if status, _, _ := m.dashSubmit("dacts", "config", url.Values{"name": {"EVIL"}, "value": {"1"}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); status != http.StatusForbidden {
		t.Errorf("cross-origin config set: %d, want 403", status)
	}
	if rel := newest(); rel.Version != 2 {
		t.Errorf("after the refused POST the newest release is v%d %q", rel.Version, rel.Description)
	}
}
