package platform

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/release"
)

// crashChildEnv names the data dir of a child process that deploys an app
// and is then killed by TestCrashKeepsCommittedState.
const crashChildEnv = "MINIPAAS_PLATFORM_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		if err := crashChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild creates, configures, deploys and scales an app, prints READY
// once its dynos are up, and waits to be killed.
func crashChild(dir string) error {
	ctx := context.Background()
	p, err := Open(ctx, Config{DataDir: dir, BuildEnv: []string{"GOCACHE=" + os.Getenv("GOCACHE"), "GOPROXY=off"}})
	if err != nil {
		return err
	}
	go func() { _ = p.Run(ctx) }()
	if _, err := p.CreateApp(ctx, "crashy"); err != nil {
		return err
	}
	if _, err := p.SetConfig(ctx, "crashy", map[string]string{"GREETING": "survived"}, nil); err != nil {
		return err
	}
	if _, err := p.Deploy(ctx, "crashy", "testdata/hello", "", nil); err != nil {
		return err
	}
	if err := p.Scale(ctx, "crashy", map[string]int{"web": 2}); err != nil {
		return err
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ds, _ := p.Dynos(ctx, "crashy")
		up := 0
		for _, d := range ds {
			if d.State == formation.StateUp {
				up++
			}
		}
		if up == 2 {
			fmt.Println("READY")
			select {} // until SIGKILL
		}
	}
	return fmt.Errorf("dynos not up in time")
}

// TestCrashKeepsCommittedState SIGKILLs a platform process with two dynos
// running: reopening its data dir brings back the app, its releases,
// config and formation, kills the orphaned dynos, and serves again.
func TestCrashKeepsCommittedState(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go app in a child process")
	}
	dataDir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dataDir, "GOCACHE="+goCache(t))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "READY" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatal("child exited before READY")
		}
	case <-time.After(120 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("child not READY within 120 s")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	orphans := dynoProcesses(t, dataDir, "crashy")
	t.Cleanup(func() { // if Open failed to reap them, do not leave them running
		for _, o := range orphans {
			pid, oldCwd, _ := strings.Cut(o, " in ")
			if cwd, err := os.Readlink("/proc/" + pid + "/cwd"); err == nil && strings.HasPrefix(cwd, oldCwd) {
				if n, err := strconv.Atoi(pid); err == nil {
					_ = syscall.Kill(n, syscall.SIGKILL)
				}
			}
		}
	})
	if len(orphans) == 0 {
		t.Error("expected the killed platform's dynos to outlive it (the case Open must clean up)")
	}

	p := start(t, dataDir)
	defer p.stop(t)
	// Open has killed the orphans (SIGKILL); init reaps them shortly.
	for _, o := range orphans {
		pid, oldCwd, _ := strings.Cut(o, " in ")
		deadline := time.Now().Add(10 * time.Second)
		for {
			cwd, err := os.Readlink("/proc/" + pid + "/cwd")
			if err != nil || !strings.HasPrefix(cwd, oldCwd) {
				break // gone (or the pid now belongs to another process)
			}
			if time.Now().After(deadline) {
				t.Errorf("orphan dyno process %s still running after reopen", o)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ctx := context.Background()
	app, err := p.App(ctx, "crashy")
	if err != nil {
		t.Fatal(err)
	}
	if app.Release != 2 || app.Formation["web"].Quantity != 2 {
		t.Errorf("after the crash: release v%d, formation %+v; want v2 and web=2", app.Release, app.Formation)
	}
	rels, err := p.Releases(ctx, "crashy", release.ListOptions{})
	if err != nil || len(rels) != 2 || rels[0].Status != release.StatusSucceeded {
		t.Errorf("releases after the crash: %+v, %v", rels, err)
	}
	seen := map[string]bool{}
	p.waitFor(t, "crashy", "after the crash", func(status int, body string) bool {
		if status == 200 && strings.HasPrefix(body, "survived from ") {
			seen[strings.TrimSpace(strings.TrimPrefix(body, "survived from "))] = true
		}
		return seen["web.1"] && seen["web.2"]
	})
}
