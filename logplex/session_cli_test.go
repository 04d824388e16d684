package logplex_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/logplex"
)

// herokuCLI finds the heroku CLI: $DYNOKIT_HEROKU_CLI, or heroku on PATH.
// This compatibility check is optional (the CLI needs node and npm), so it
// skips when the CLI is missing even under DYNOKIT_TEST_REQUIRE=1.
func herokuCLI(t *testing.T) string {
	if p := os.Getenv("DYNOKIT_HEROKU_CLI"); p != "" {
		return p
	}
	p, err := exec.LookPath("heroku")
	if err != nil {
		t.Skip("heroku CLI not found: npm install heroku@11.10.0 and put node_modules/.bin on PATH, or set DYNOKIT_HEROKU_CLI")
	}
	return p
}

// The real `heroku logs` (CLI v11) against the two Platform API calls it
// makes and a Sessions handler: the log session is read as SSE and the
// filters and line count are honoured.
func TestHerokuCLILogs(t *testing.T) {
	cli := herokuCLI(t)
	ctx := context.Background()
	logs := &logplex.Buffer{}
	ts := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for i, p := range []struct{ source, proc, text string }{
		{"app", "web.1", "first"}, {"heroku", "router", "at=info status=200"}, {"app", "worker.1", "job"},
		{"app", "web.2", "second"}, {"app", "web.1", "third"},
	} {
		logs.Send(ctx, logplex.Message{Time: ts.Add(time.Duration(i) * time.Second), App: "demo", Source: p.source, Proc: p.proc, Text: p.text})
	}
	sessions := &logplex.Sessions{Source: logs}
	mux := http.NewServeMux()
	mux.Handle("GET /sessions/{id}", sessions)
	mux.HandleFunc("GET /apps/demo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"demo","generation":"cedar"}`))
	})
	mux.HandleFunc("POST /apps/demo/log-sessions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Lines  int    `json:"lines"`
			Tail   bool   `json:"tail"`
			Source string `json:"source"`
			Dyno   string `json:"dyno"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"id":"bad_request","message":"`+err.Error()+`"}`, http.StatusBadRequest)
			return
		}
		sess, err := sessions.Create("demo", logplex.SessionOptions{Lines: req.Lines, Source: req.Source, Dyno: req.Dyno, Tail: req.Tail})
		if err != nil {
			http.Error(w, `{"id":"invalid_params","message":"bad session"}`, http.StatusUnprocessableEntity)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"id": sess.ID, "logplex_url": sess.URL("http://" + r.Host + "/sessions"),
			"created_at": ts.Format(time.RFC3339), "updated_at": ts.Format(time.RFC3339)})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/account" {
			w.Write([]byte(`{"email":"dev@example.com","id":"01234567-89ab-cdef-0123-456789abcdef"}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"id":"not_found","message":"not found: ` + r.Method + ` ` + r.URL.Path + `"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// HEROKU_DISABLE_AUTOUPDATE: otherwise the CLI spawns a detached
	// `heroku update --autoupdate` that outlives the test.
	home := t.TempDir()
	cmdCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cmdCtx, cli, "logs", "-a", "demo", "-n", "2", "--source", "app", "--dyno", "web")
	cmd.Env = append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_CACHE_HOME="+filepath.Join(home, "cache"),
		"XDG_DATA_HOME="+filepath.Join(home, "data"), "HEROKU_HOST="+srv.URL, "HEROKU_API_KEY=dummy",
		"HEROKU_PARTICLEBOARD_URL="+srv.URL, "DISABLE_TELEMETRY=true", "HEROKU_DISABLE_AUTOUPDATE=1", "HEROKU_SKIP_ANALYTICS=1", "HEROKU_ANALYTICS_URL="+srv.URL+"/analytics",
		"PATH="+filepath.Dir(cli)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("heroku logs: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	want := "2026-11-21T12:00:03.000000+00:00 app[web.2]: second\n2026-11-21T12:00:04.000000+00:00 app[web.1]: third\n"
	if got := strings.TrimLeft(string(out), "\n"); got != want {
		t.Fatalf("heroku logs printed:\n%q\nwant:\n%q", got, want)
	}

	// heroku logs --tail: the history line, then a line sent afterwards.
	tail := exec.CommandContext(cmdCtx, cli, "logs", "-a", "demo", "-n", "1", "--tail")
	tail.Env = cmd.Env
	tail.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tail.Cancel = func() error { return syscall.Kill(-tail.Process.Pid, syscall.SIGKILL) }
	stdout, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-tail.Process.Pid, syscall.SIGKILL)
		tail.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasSuffix(sc.Text(), "app[web.1]: third") {
		t.Fatalf("heroku logs --tail first line %q, %v", sc.Text(), sc.Err())
	}
	logs.Send(ctx, logplex.Message{Time: ts.Add(time.Minute), App: "demo", Source: "app", Proc: "web.3", Text: "live"})
	if !sc.Scan() || sc.Text() != "2026-11-21T12:01:00.000000+00:00 app[web.3]: live" {
		t.Fatalf("heroku logs --tail followed line %q, %v", sc.Text(), sc.Err())
	}
}
