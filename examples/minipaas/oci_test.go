//go:build linux

package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireOCI skips unless runc can run containers here: it needs root (the
// oci runtime makes cgroups and mounts), unless DYNOKIT_TEST_REQUIRE=1.
func requireOCI(t *testing.T) string {
	t.Helper()
	runc, err := exec.LookPath("runc")
	why := ""
	switch {
	case err != nil:
		why = "runc is not on PATH"
	case os.Geteuid() != 0:
		why = "-runtime oci needs root"
	}
	if why != "" {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("DYNOKIT_TEST_REQUIRE=1: %s", why)
		}
		t.Skip(why)
	}
	return runc
}

// containers lists the containers runc knows in the runtime's state dir.
func containers(t *testing.T, runc, dataDir string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// runc list fails when a container's state goes away while it reads
	// the state dir (a dyno being stopped): ask again.
	var out []byte
	var err error
	for try := 0; ; try++ {
		out, err = exec.CommandContext(ctx, runc, "--root", filepath.Join(dataDir, "oci", "state"), "list", "--format", "json").Output()
		if err == nil {
			break
		}
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		if try == 4 || ctx.Err() != nil {
			t.Fatalf("runc list: %v: %s", err, stderr)
		}
		t.Logf("runc list: %v: %s (trying again)", err, stderr)
		time.Sleep(100 * time.Millisecond)
	}
	var list []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if s := strings.TrimSpace(string(out)); s != "" && s != "null" {
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatalf("runc list: %v: %s", err, out)
		}
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID+" "+c.Status)
	}
	return ids
}

// TestOCIRuntime runs minipaas with -runtime oci: a git push, the app
// through the router, a config change, three web dynos and back to one, a
// one-off dyno,
// and apps:destroy, after which runc knows no container and no bundle is
// left; the same after stopping the platform with dynos running.
func TestOCIRuntime(t *testing.T) {
	runc := requireOCI(t)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	m := startMinipaasWith(t, dataDir, token, "-runtime", "oci")
	const app = "boxed"
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("create app: %d", code)
	}
	g := newGitClient(t)
	m.pushHello(g, app)
	if ids := containers(t, runc, dataDir); len(ids) != 1 || !strings.HasPrefix(ids[0], app+".web.1.") || !strings.HasSuffix(ids[0], " running") {
		t.Errorf("runc list after the push: %q", ids)
	}

	if code := m.api("PATCH", "/apps/"+app+"/config-vars", `{"GREETING":"contained"}`, nil); code != http.StatusOK {
		t.Fatalf("config-vars: %d", code)
	}
	if code := m.api("PATCH", "/apps/"+app+"/formation", `{"updates":[{"type":"web","quantity":3}]}`, nil); code != http.StatusOK {
		t.Fatalf("scale: %d", code)
	}
	seen := map[string]bool{}
	m.waitFor(app, "three web containers with the new config", func(status int, body string) bool {
		if status == 200 && strings.HasPrefix(body, "contained from web.") {
			seen[strings.TrimSpace(strings.TrimPrefix(body, "contained from "))] = true
		}
		return len(seen) == 3
	})
	if ids := containers(t, runc, dataDir); len(ids) != 3 {
		t.Errorf("runc list with web=3: %q", ids)
	}
	// Scaling down removes the containers of the dynos that go.
	if code := m.api("PATCH", "/apps/"+app+"/formation", `{"updates":[{"type":"web","quantity":1}]}`, nil); code != http.StatusOK {
		t.Fatalf("scale: %d", code)
	}
	deadline := time.Now().Add(60 * time.Second)
	for ids := containers(t, runc, dataDir); len(ids) != 1; ids = containers(t, runc, dataDir) {
		if time.Now().After(deadline) {
			t.Fatalf("runc list 60 s after scaling to web=1: %q", ids)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A one-off dyno is a container too, with the app's config.
	if got := m.dynoEnv(app, "GREETING"); got != "contained" {
		t.Errorf("one-off dyno: GREETING=%q", got)
	}
	// heroku run from a terminal: the container runs on a terminal.
	checkTerminalRun(t, m, app)

	if code := m.api("DELETE", "/apps/"+app, "", nil); code != http.StatusOK {
		t.Fatalf("destroy: %d", code)
	}
	if ids := containers(t, runc, dataDir); len(ids) != 0 {
		t.Errorf("containers after apps:destroy: %q", ids)
	}
	if code, body, err := m.get(app); err != nil || code != http.StatusNotFound {
		t.Errorf("router after destroy: %d %q %v", code, body, err)
	}

	// Stopping the platform stops the containers of the apps left.
	if code := m.api("POST", "/apps", `{"name":"boxed2"}`, nil); code != http.StatusCreated {
		t.Fatalf("create app: %d", code)
	}
	m.pushHello(g, "boxed2")
	m.stop()
	if ids := containers(t, runc, dataDir); len(ids) != 0 {
		t.Errorf("containers after the platform stopped: %q", ids)
	}
	bundles, err := os.ReadDir(filepath.Join(dataDir, "oci", "bundles"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(bundles) != 0 {
		t.Errorf("%d bundles left after the platform stopped", len(bundles))
	}

	// A platform killed with SIGKILL leaves its containers running (their
	// runc processes outlive it); the next start removes them before
	// starting the app's dynos again.
	dataDir2 := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() {
		// Whatever a failure left running (before TempDir's removal).
		if err := reapOrphanContainers(context.Background(), runc, filepath.Join(dataDir2, "oci"), slog.New(slog.DiscardHandler)); err != nil {
			t.Error(err)
		}
	})
	m2, c := startChild(t, dataDir2, token, "-runtime", "oci")
	if code := m2.api("POST", "/apps", `{"name":"boxed3"}`, nil); code != http.StatusCreated {
		t.Fatalf("create app: %d", code)
	}
	m2.pushHello(g, "boxed3")
	c.signal(t, syscall.SIGKILL)
	left := containers(t, runc, dataDir2)
	t.Logf("containers left by the killed platform: %q", left)
	m2, c = startChild(t, dataDir2, token, "-runtime", "oci")
	m2.waitFor("boxed3", "the app after the restart", func(status int, body string) bool { return status == 200 })
	if ids := containers(t, runc, dataDir2); len(ids) != 1 || (len(left) == 1 && ids[0] == left[0]) {
		t.Errorf("containers after the restart: %q (left before: %q)", ids, left)
	}
	c.signal(t, syscall.SIGTERM)
	if ids := containers(t, runc, dataDir2); len(ids) != 0 {
		t.Errorf("containers after the final stop: %q", ids)
	}
}
