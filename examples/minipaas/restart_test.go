//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation/formationtest"
)

// childArgsEnv carries the command-line of a minipaas child process (a JSON
// array). The test binary re-executes itself with it set, so the child runs
// the real program (flags, signals, exit) without a separate go build.
const childArgsEnv = "DYNOKIT_MINIPAAS_CHILD_ARGS"

// TestMinipaasChild is not a test: it is the body of the child process of
// TestRestartSafety, which runs it as main would.
func TestMinipaasChild(t *testing.T) {
	raw := os.Getenv(childArgsEnv)
	if raw == "" {
		t.Skip("runs only as the child process of TestRestartSafety")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatalf("%s: %v", childArgsEnv, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	// As startMinipaas: the test apps have no dependencies.
	o.buildEnv = []string{"GOFLAGS=-mod=mod", "GOPROXY=off"}
	o.stopGrace = 3 * time.Second
	if err := serve(ctx, o, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// child is one minipaas process started by the test.
type child struct {
	cmd    *exec.Cmd
	out    *formationtest.Buffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startChild runs minipaas in a new process on free ports with dataDir,
// token and extra flags, and waits until it prints where it listens. The
// returned minipaas has no *platform.Platform: the test only talks to it
// over HTTP and git.
func startChild(t *testing.T, dataDir, token string, extra ...string) (*minipaas, *child) {
	t.Helper()
	args, err := json.Marshal(append([]string{"-data-dir", dataDir,
		"-router-addr", "127.0.0.1:0", "-api-addr", "127.0.0.1:0", "-rendezvous-addr", "127.0.0.1:0"}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMinipaasChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(args), "DYNOKIT_API_TOKEN="+token)
	// Should this test process die (a go test timeout), the child stops
	// as on Ctrl-C rather than running on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, out: &formationtest.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = c.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 1)
	go func() {
		// "  apps:         http://<app>.localhost:P  (router on ADDR)" and
		// "  API and git:  http://ADDR" are the welcome's lines to read.
		var router, api string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(c.out, line)
			if _, after, ok := strings.Cut(line, "(router on "); ok {
				router = strings.TrimSuffix(after, ")")
			}
			if _, after, ok := strings.Cut(line, "API and git:  http://"); ok {
				api = strings.TrimSpace(after)
			}
			if router != "" && api != "" {
				addrs <- [2]string{router, api}
				router, api = "", ""
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { c.err = cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		// A test that failed half-way must not leave a platform running.
		select {
		case <-c.exited:
		default:
			_ = cmd.Process.Kill()
			<-c.exited
		}
	})

	m := &minipaas{t: t, token: token, dataDir: dataDir, out: c.out}
	select {
	case a := <-addrs:
		m.routerAddr, m.apiAddr = a[0], a[1]
	case <-c.exited:
		t.Fatalf("minipaas exited at start: %v\n%s", c.err, c.out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("minipaas did not start within 60 s:\n%s", c.out.String())
	}
	m.apiURL = "http://" + m.apiAddr
	return m, c
}

// signal sends sig and waits for the process to exit.
func (c *child) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("minipaas did not exit within 60 s of %v:\n%s", sig, c.out.String())
	}
	if sig == syscall.SIGTERM && c.err != nil {
		t.Errorf("minipaas after SIGTERM: %v\n%s", c.err, c.out.String())
	}
}

// dynoProcesses lists the live processes whose working directory is under
// dataDir/dynos: the local runtime's dynos.
func dynoProcesses(t *testing.T, dataDir string) []int {
	t.Helper()
	prefix := filepath.Join(dataDir, "dynos") + string(filepath.Separator)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("needs /proc: %v", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// A zombie has no cwd link, and is not running.
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && strings.HasPrefix(cwd, prefix) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestRestartSafety (Linux: it finds dynos through /proc) stops the whole program with SIGTERM and then with
// SIGKILL, restarting it on the same data dir each time: the app, its
// releases, config vars and formation come back, and its dynos answer again.
func TestRestartSafety(t *testing.T) {
	requireTools(t)
	if testing.Short() {
		t.Skip("starts minipaas three times")
	}
	if _, err := os.Stat("/proc/self/cwd"); err != nil {
		t.Skip("needs /proc to find dyno processes")
	}
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	const app = "keep"

	m, c := startChild(t, dataDir, token)
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("POST /apps: %d", code)
	}
	m.pushHello(newGitClient(t), app)
	if code := m.api("PATCH", "/apps/"+app+"/config-vars", `{"GREETING":"kept"}`, nil); code != http.StatusOK {
		t.Fatalf("PATCH config-vars: %d", code)
	}
	if code := m.api("PATCH", "/apps/"+app+"/formation", `{"updates":[{"type":"web","quantity":2}]}`, nil); code != http.StatusOK {
		t.Fatalf("PATCH formation: %d", code)
	}
	type rel struct {
		Version     int
		Description string
		Current     bool
	}
	var before []rel
	if code := m.api("GET", "/apps/"+app+"/releases", "", &before); code != http.StatusOK || len(before) != 2 {
		t.Fatalf("releases: %d %+v", code, before)
	}

	// expectApp checks the state and that both web dynos answer with the
	// config var through the router.
	expectApp := func(m *minipaas, when string) {
		t.Helper()
		seen := map[string]bool{}
		m.waitFor(app, when+": both web dynos with GREETING", func(status int, body string) bool {
			if status == http.StatusOK && strings.HasPrefix(body, "kept from ") {
				seen[strings.TrimSpace(strings.TrimPrefix(body, "kept from "))] = true
			}
			return seen["web.1"] && seen["web.2"]
		})
		var cfg map[string]string
		if code := m.api("GET", "/apps/"+app+"/config-vars", "", &cfg); code != http.StatusOK || cfg["GREETING"] != "kept" {
			t.Errorf("%s: config vars: %d, GREETING set %v", when, code, cfg["GREETING"] == "kept")
		}
		var form []struct {
			Type     string
			Quantity int
		}
		if code := m.api("GET", "/apps/"+app+"/formation", "", &form); code != http.StatusOK || len(form) != 1 || form[0].Type != "web" || form[0].Quantity != 2 {
			t.Errorf("%s: formation: %d %+v", when, code, form)
		}
		var rels []rel
		if code := m.api("GET", "/apps/"+app+"/releases", "", &rels); code != http.StatusOK || !reflect.DeepEqual(rels, before) {
			t.Errorf("%s: releases: %d %+v, want %+v", when, code, rels, before)
		}
	}
	expectApp(m, "before any restart")

	// SIGTERM: the dynos are stopped with the program.
	c.signal(t, syscall.SIGTERM)
	if pids := dynoProcesses(t, dataDir); len(pids) > 0 {
		t.Errorf("dyno processes %v still running after SIGTERM", pids)
	}
	m, c = startChild(t, dataDir, token)
	expectApp(m, "after SIGTERM and restart")

	// SIGKILL: the dynos outlive the program; the next start reaps them.
	c.signal(t, syscall.SIGKILL)
	t.Logf("dyno processes left running by the killed platform: %v", dynoProcesses(t, dataDir))
	m, c = startChild(t, dataDir, token)
	expectApp(m, "after SIGKILL and restart")

	c.signal(t, syscall.SIGTERM)
	// Processes left by the SIGKILL were reaped at the start, and those of
	// the last run stopped with it (serve returns once they have exited).
	if pids := dynoProcesses(t, dataDir); len(pids) > 0 {
		t.Errorf("dyno processes %v still running after the final stop", pids)
	}
}
