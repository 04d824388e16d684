package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
)

// The test binary doubles as the app's web process.
func TestMain(m *testing.M) {
	if os.Getenv("LOCAL_EXAMPLE_HELPER") == "web" {
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s %s\n", os.Getenv("DYNO"), os.Getenv("PORT"), os.Getenv("GREETING"))
		})
		fmt.Println("web listening on", os.Getenv("PORT"))
		_ = http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)
		os.Exit(1)
	}
	if os.Getenv("LOCAL_EXAMPLE_HELPER") == "main" {
		main() // the real command, signal handling included
		return
	}
	os.Exit(m.Run())
}

// The command itself: SIGINT stops every process gracefully and the
// command exits 0.
func TestSIGINT(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := appDir(t, app, "HELPER_BIN="+exe+"\n")
	cmd := exec.Command(exe, "-p", fmt.Sprint(freePort(t)), "-t", "300ms", "web", "stubborn")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LOCAL_EXAMPLE_HELPER=main")
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	waitOutput(t, &out, `web\.1: State changed from starting to up`)
	waitOutput(t, &out, `stubborn\.1 +\| stubborn up`)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("exit after SIGINT: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after SIGINT:\n%s", out.String())
	}
	for _, want := range []string{"web.1: State changed from up to down", "stubborn.1: Stopping process with SIGKILL", "stubborn.1: State changed from up to down"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func appDir(t *testing.T, procfile, env string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if env != "" {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitOutput(t *testing.T, out *testutil.SyncBuffer, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for !rx.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("output never matched %q:\n%s", re, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const app = `web: LOCAL_EXAMPLE_HELPER=web exec "$HELPER_BIN"
worker: echo "worker $DYNO on $PORT says $GREETING"; while :; do sleep 0.05; done
stubborn: trap 'echo ignoring TERM' TERM; echo stubborn up; while :; do sleep 0.05; done
`

// A crashing process ends the run: everything else is stopped (the
// stubborn one with SIGKILL after the grace period) and local exits with
// the crasher's status.
func TestCrashStopsEverything(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := appDir(t, app+"crasher: until [ -e crash-now ]; do sleep 0.02; done; echo boom >&2; exit 3\n", "GREETING=hi\nHELPER_BIN="+exe+"\n")
	base := freePort(t)
	var out testutil.SyncBuffer
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"-p", fmt.Sprint(base), "-t", "300ms"}, dir, &out, &stderr, false)
	}()
	waitOutput(t, &out, `web\.1: State changed from starting to up`)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", base))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := string(body); got != fmt.Sprintf("web.1 %d hi\n", base) {
		t.Errorf("web.1 answered %q", got)
	}
	waitOutput(t, &out, `stubborn\.1 +\| stubborn up`) // its trap is set
	waitOutput(t, &out, `worker\.1 +\| worker`)
	// The crasher runs in place in the app directory, waiting for this file.
	if err := os.WriteFile(filepath.Join(dir, "crash-now"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not end after the crash:\n%s", out.String())
	}
	if code != 3 {
		t.Errorf("exit status %d, want 3 (the crasher's)\nstderr: %s\n%s", code, stderr.String(), out.String())
	}
	o := out.String()
	for _, want := range []string{
		`^\d\d:\d\d:\d\d crasher\.1 +\| boom$`,
		fmt.Sprintf(`^\d\d:\d\d:\d\d worker\.1 +\| worker worker\.1 on %d says hi$`, base+100),
		`system     \| crasher\.1: Process exited with status 3$`,
		`system     \| crasher\.1: State changed from up to crashed$`,
		`system     \| web\.1: Stopping all processes with SIGTERM$`,
		`system     \| web\.1: State changed from up to down$`,
		`stubborn\.1 \| ignoring TERM$`,
		`system     \| stubborn\.1: Error R12 \(Exit timeout\) -> Process failed to exit within 300ms of SIGTERM$`,
		`system     \| stubborn\.1: Process exited with status 137$`,
	} {
		if !regexp.MustCompile(`(?m)` + want).MatchString(o) {
			t.Errorf("output lacks %s:\n%s", want, o)
		}
	}
	if strings.Contains(o, "\x1b[") {
		t.Error("colour codes written to a non-terminal")
	}
}

// Ctrl-C (context cancel) stops everything gracefully and exits 0.
func TestInterrupt(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := appDir(t, app, "HELPER_BIN="+exe+"\n")
	base := freePort(t)
	var out, stderr testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-p", fmt.Sprint(base), "-t", "300ms", "web", "worker=2"}, dir, &out, &stderr, true)
	}()
	waitOutput(t, &out, `web\.1: State changed from starting to up`)
	waitOutput(t, &out, `worker\.2 +\|.* worker worker\.2 on \d+`)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d after Ctrl-C, want 0\n%s%s", code, stderr.String(), out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not end after Ctrl-C")
	}
	o := out.String()
	if strings.Contains(o, "stubborn") {
		t.Error("a process type outside the formation ran")
	}
	for _, d := range []string{"web.1", "worker.1", "worker.2"} {
		if !strings.Contains(o, d+": State changed from up to down") {
			t.Errorf("%s not stopped gracefully:\n%s", d, o)
		}
	}
	if !strings.Contains(o, "\x1b[") {
		t.Error("no colour on a terminal")
	}
	if strings.Contains(o, fmt.Sprintf("on %d ", base+100)) == false || !strings.Contains(o, fmt.Sprintf("on %d ", base+101)) {
		t.Errorf("worker ports are not base+100 and base+101:\n%s", o)
	}
}

func TestBadInput(t *testing.T) {
	dir := appDir(t, "web: true\nworker: true\n", "")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"web=x"}, 2, `quantity "x" for web must be an integer`},
		{[]string{"clock=1"}, 2, `process type "clock" is not in the Procfile (types: web, worker)`},
		{[]string{"-f", "Nope"}, 1, "read Procfile"},
		{[]string{"-e", "missing.env"}, 1, "read env file"},
		{[]string{"-p", "0"}, 2, "port must be from 1 to 65535"},
		{[]string{"-p", "65500", "worker=1"}, 2, "above 65535"},
		{[]string{"web=1", "web"}, 2, `process type "web" given twice`},
		{[]string{"-t", "0s"}, 2, "grace period must be positive"},
	}
	for _, tt := range tests {
		var out, stderr testutil.SyncBuffer
		code := run(context.Background(), tt.args, dir, &out, &stderr, false)
		if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
	empty := appDir(t, "# nothing\n", "")
	var stderr testutil.SyncBuffer
	if code := run(context.Background(), nil, empty, io.Discard, &stderr, false); code != 1 || !strings.Contains(stderr.String(), "defines no process types") {
		t.Errorf("empty Procfile: %d %q", code, stderr.String())
	}
}

func TestPrefixer(t *testing.T) {
	var out bytes.Buffer
	p := newPrefixer(&out, false, []string{"web.1", "worker.10"})
	p.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	w := p.writer("web.1")
	fmt.Fprint(w, "hello\nwor")
	fmt.Fprint(w, "ld\r\npartial")
	p.system("web.1", "State changed from starting to up")
	p.flush()
	want := "03:04:05 web.1     | hello\n03:04:05 web.1     | world\n03:04:05 system    | web.1: State changed from starting to up\n03:04:05 web.1     | partial\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	p = newPrefixer(&out, true, []string{"web.1"})
	p.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	fmt.Fprintln(p.writer("web.1"), "x")
	if want := "\x1b[36m03:04:05 web.1  |\x1b[0m x\n"; out.String() != want {
		t.Errorf("coloured: %q, want %q", out.String(), want)
	}
}

// The README's first command: the demo app starts, its web process answers
// with the greeting from .env, and cancelling (Ctrl-C) exits 0.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo app")
	}
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-C", "demo", "-p", fmt.Sprint(port), "-t", "2s"}, ".", &out, &out, false)
	}()

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(2 * time.Minute) // go run compiles the web process first
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		select {
		case code := <-done:
			t.Fatalf("local exited with %d before the web process answered:\n%s", code, out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if want := "Hello from a dynokit dyno (served by web.1)\n"; body != want {
		t.Fatalf("GET %s = %q, want %q\noutput:\n%s", url, body, want, out.String())
	}
	waitOutput(t, &out, `worker\.1 +\| worker: Hello from a dynokit dyno at`)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit status after Ctrl-C = %d, want 0\n%s", code, out.String())
	}
}
