package local_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/local"
)

// The test binary doubles as a web server dyno: with LOCAL_TEST_HELPER=web
// it serves on $PORT until SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("LOCAL_TEST_HELPER") == "web" {
		srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s\n", os.Getenv("DYNO"))
		})}
		fmt.Println("listening")
		_ = srv.ListenAndServe()
		os.Exit(0)
	}
	if os.Getenv("LOCAL_TEST_HELPER") == "subreaper" {
		if err := subreaperScenario(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// subreaperScenario runs in its own process (the subreaper setting is
// process-wide): a dyno orphans a short-lived process, which must be
// reparented here and reaped when the dyno ends.
func subreaperScenario() error {
	dir, err := os.MkdirTemp("", "subreaper")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	slug := filepath.Join(dir, "slug")
	if err := os.Mkdir(slug, 0o755); err != nil {
		return err
	}
	rt := &local.Runtime{BaseDir: filepath.Join(dir, "dynos"), Subreaper: true}
	var out formationtest.Buffer
	d, err := rt.Start(context.Background(), formation.DynoSpec{ID: "orphans", SlugDir: slug,
		Command: `(sleep 0.05 & echo "orphan=$!"); sleep 5`}, formation.Stdio{Stdout: &out})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := out.WaitFor(ctx, "\n"); err != nil {
		return err
	}
	var pid int
	if _, err := fmt.Sscanf(out.String(), "orphan=%d", &pid); err != nil {
		return fmt.Errorf("output %q: %v", out.String(), err)
	}
	// The orphan exits while the dyno runs and waits, a zombie, for its new
	// parent: this process.
	statPath := fmt.Sprintf("/proc/%d/stat", pid)
	for {
		stat, err := os.ReadFile(statPath)
		if err != nil {
			return fmt.Errorf("orphan %d vanished: was it reparented elsewhere and reaped? %v", pid, err)
		}
		// stat: pid (comm) state ppid ...
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if f[0] == "Z" {
			if f[1] != fmt.Sprint(os.Getpid()) {
				return fmt.Errorf("zombie orphan's parent is %s, not this subreaper %d", f[1], os.Getpid())
			}
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("orphan %d never exited: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := formation.Stop(ctx, d, time.Second); err != nil {
		return err
	}
	if stat, err := os.ReadFile(statPath); err == nil {
		return fmt.Errorf("orphan %d not reaped: %s", pid, stat)
	}
	fmt.Println("reaped")
	return nil
}

func TestSubreaper(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOCAL_TEST_HELPER=subreaper")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "reaped" {
		t.Fatalf("subreaper scenario: %v\n%s", err, out)
	}
}

func slugDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStartValidation(t *testing.T) {
	rt := &local.Runtime{BaseDir: t.TempDir()}
	slug := slugDir(t, nil)
	tests := []struct {
		name string
		spec formation.DynoSpec
		want string
	}{
		{"empty ID", formation.DynoSpec{Command: "true", SlugDir: slug}, "DynoSpec.ID must not be empty"},
		{"ID with slash", formation.DynoSpec{ID: "a/b", Command: "true", SlugDir: slug}, `contains '/'`},
		{"dot dot", formation.DynoSpec{ID: "..", Command: "true", SlugDir: slug}, "not allowed"},
		{"no command", formation.DynoSpec{ID: "x", SlugDir: slug}, "DynoSpec.Command must not be empty"},
		{"missing slug", formation.DynoSpec{ID: "x", Command: "true", SlugDir: filepath.Join(slug, "nope")}, "DynoSpec.SlugDir"},
		{"base inside slug", formation.DynoSpec{ID: "x", Command: "true", SlugDir: filepath.Dir(rt.BaseDir)}, "must not be inside DynoSpec.SlugDir"},
	}
	for _, tt := range tests {
		_, err := rt.Start(context.Background(), tt.spec, formation.Stdio{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rt.Start(ctx, formation.DynoSpec{ID: "x", Command: "true", SlugDir: slug}, formation.Stdio{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err = %v", err)
	}
}

func TestEphemeralDirRemoved(t *testing.T) {
	base := t.TempDir()
	rt := &local.Runtime{BaseDir: base}
	var out formationtest.Buffer
	d, err := rt.Start(context.Background(), formation.DynoSpec{ID: "eph", Command: `echo "$HOME"; touch "$TMPDIR/scratch"`, SlugDir: slugDir(t, map[string]string{"a": "x"})}, formation.Stdio{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	home := strings.TrimSpace(out.String())
	if !strings.HasPrefix(home, base) {
		t.Errorf("HOME %q is not under BaseDir %q", home, base)
	}
	if entries, _ := os.ReadDir(base); len(entries) != 0 {
		t.Errorf("dyno directory left behind: %v", entries)
	}
}

func TestCgroupContainsSetsidEscape(t *testing.T) {
	rt := &local.Runtime{BaseDir: t.TempDir(), RequireLimits: true}
	requireCgroups(t, rt)
	marker := fmt.Sprintf("escape%d", time.Now().UnixNano())
	var out formationtest.Buffer
	spec := formation.DynoSpec{ID: "escape", Command: "setsid bash -c 'exec -a " + marker + " sleep 30' & sleep 0.1; echo started; sleep 30",
		SlugDir: slugDir(t, nil), Resources: formation.Resources{MemoryBytes: 256 << 20, PIDs: 64}}
	d, err := rt.Start(context.Background(), spec, formation.Stdio{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = formation.Stop(context.Background(), d, time.Second) })
	if err := out.WaitFor(context.Background(), "started"); err != nil {
		t.Fatal(err)
	}
	m, ok := d.(formation.MemoryReader)
	if !ok {
		t.Fatal("local dyno does not implement MemoryReader")
	}
	if u, err := m.Memory(context.Background()); err != nil || u.LimitBytes != 256<<20 || u.UsedBytes <= 0 || u.RSSBytes <= 0 || u.RSSBytes > u.UsedBytes {
		t.Errorf("Memory = %+v, %v; want usage, the limit and resident memory within the usage", u, err)
	}
	for wait := time.Now().Add(5 * time.Second); len(findCmdline(marker)) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("the setsid process is not running")
		}
	}
	if _, err := formation.Stop(context.Background(), d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Memory(context.Background()); !errors.Is(err, formation.ErrExited) {
		t.Errorf("Memory after exit: %v, want ErrExited", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		found := findCmdline(marker)
		if len(found) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a process that left the process group survived the dyno: %v", found)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A process that left the group survives its dyno's natural end only
// without a cgroup: with one it is killed too.
func TestCgroupKillsEscapeOnExit(t *testing.T) {
	rt := &local.Runtime{BaseDir: t.TempDir(), RequireLimits: true}
	requireCgroups(t, rt)
	marker := fmt.Sprintf("escape%d", time.Now().UnixNano())
	spec := formation.DynoSpec{ID: "escape-exit", Command: "setsid bash -c 'exec -a " + marker + " sleep 30' & sleep 0.2; exit 4",
		SlugDir: slugDir(t, nil), Resources: formation.Resources{MemoryBytes: 256 << 20}}
	d, err := rt.Start(context.Background(), spec, formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	exit, err := d.Wait(context.Background())
	if err != nil || exit.Code != 4 {
		t.Fatalf("Wait = %+v, %v", exit, err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("Wait took %v", took)
	}
	if found := findCmdline(marker); len(found) > 0 {
		t.Errorf("setsid process survived the dyno: %v", found)
	}
}

// requireCgroups skips without usable cgroups (not root, no memory
// controller), or fails when DYNOKIT_TEST_REQUIRE=1.
func requireCgroups(t *testing.T, rt *local.Runtime) {
	t.Helper()
	if ok, why := rt.MemoryLimits(); !ok {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("cgroups required: %v", why)
		}
		t.Skip(why)
	}
}

func findCmdline(marker string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(b), marker) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestPIDsLimit(t *testing.T) {
	rt := &local.Runtime{BaseDir: t.TempDir(), RequireLimits: true}
	requireCgroups(t, rt)
	var out formationtest.Buffer
	// The dyno reads its own pids cgroup's limit (v1 layout on this machine,
	// the unified file on v2).
	spec := formation.DynoSpec{ID: "pids", Command: `p=$(grep -E '^[0-9]+:pids:' /proc/self/cgroup | cut -d: -f3)
if [ -n "$p" ]; then cat "/sys/fs/cgroup/pids$p/pids.max"; else cat "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/pids.max"; fi`,
		SlugDir: slugDir(t, nil), Resources: formation.Resources{PIDs: 8}}
	d, err := rt.Start(context.Background(), spec, formation.Stdio{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "8" {
		t.Errorf("pids.max seen by the dyno = %q, want 8", got)
	}
}

// TestReconcilerWithLocalRuntime runs a real web dyno through the
// Reconciler: it binds $PORT, comes up, serves, and is stopped with SIGTERM.
// A second web type that never binds its port hits R10.
func TestReconcilerWithLocalRuntime(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	port, port2 := freePort(t), freePort(t)
	slug := slugDir(t, nil)
	rt := &local.Runtime{BaseDir: t.TempDir()}
	var mu sync.Mutex
	var lines []string
	rec := &formation.Reconciler{
		Runtime: rt,
		Spec: func(ctx context.Context, req formation.SpecRequest) (formation.DynoSpec, error) {
			spec := formation.DynoSpec{SlugDir: slug, Port: port, Env: []string{"DYNO=" + req.Name, "PORT=" + fmt.Sprint(port), "LOCAL_TEST_HELPER=web"}}
			spec.Command = "exec " + exe
			if req.Type == "web" && req.Release == 2 {
				// Never binds: R10. Its own port, as every dyno needs one.
				spec.Command, spec.Port = "sleep 30", port2
			}
			return spec, nil
		},
		OnEvent: func(e formation.Event) {
			mu.Lock()
			lines = append(lines, e.Dyno+": "+e.Message)
			mu.Unlock()
		},
		Grace:       5 * time.Second,
		BootTimeout: 3 * time.Second, // generous: the helper is a -race test binary on a loaded machine
		Backoff:     []time.Duration{time.Hour},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	defer stop()
	if err := rec.Set(formation.Formation{App: "app", Release: 1, Processes: map[string]formation.Process{"web": {Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, rec, "web.1", formation.StateUp)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 100)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	if got := string(body[:n]); got != "hello from web.1\n" {
		t.Errorf("body = %q", got)
	}
	// Release 2's web never binds: R10, crashed (and the old one was
	// replaced, restart-all).
	if err := rec.Set(formation.Formation{App: "app", Release: 2, Processes: map[string]formation.Process{"web": {Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, rec, "web.1", formation.StateCrashed)
	stop()
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{
		"web.1: State changed from starting to up",
		"web.1: Stopping all processes with SIGTERM",
		"web.1: Process exited with status 143",
		"web.1: State changed from up to down",
		"web.1: Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 3 seconds of launch",
		"web.1: Process exited with status 137",
		"web.1: State changed from starting to crashed",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("events lack %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

func waitState(t *testing.T, rec *formation.Reconciler, name string, want formation.State) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, d := range rec.Dynos("app") {
			if d.Name == name && d.State == want {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never reached %s: %+v", name, want, rec.Dynos("app"))
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

// TestChildOOMEndsDyno: when the kernel kills a process of the dyno for
// exceeding the memory limit, the dyno ends as out-of-memory (R15, then
// the Reconciler restarts it) even though its main process survived, as
// with a web server whose worker was killed.
func TestChildOOMEndsDyno(t *testing.T) {
	rt := &local.Runtime{BaseDir: t.TempDir(), RequireLimits: true}
	requireCgroups(t, rt)
	spec := formation.DynoSpec{ID: "child-oom", Command: "head -c 1G /dev/zero | tail; sleep 60",
		SlugDir: slugDir(t, nil), Resources: formation.Resources{MemoryBytes: 64 << 20}}
	d, err := rt.Start(context.Background(), spec, formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exit, err := d.Wait(ctx)
	if err != nil {
		d.Signal(context.Background(), syscall.SIGKILL)
		t.Fatalf("the dyno outlived its child's OOM kill: %v", err)
	}
	if !exit.OOMKilled || exit.Signal != syscall.SIGKILL || exit.Code != 137 {
		t.Errorf("exit = %+v, want OOMKilled by SIGKILL (137)", exit)
	}
	if took := time.Since(begin); took > 20*time.Second {
		t.Errorf("the dyno ended %v after start", took)
	}
}

// TestListens: the dyno's processes hold the listening socket on its port,
// and not on a port some other process listens on; with cgroups and
// without (the process group's processes).
func TestListens(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, limits := range []bool{false, true} {
		t.Run(fmt.Sprintf("cgroup=%v", limits), func(t *testing.T) {
			rt := &local.Runtime{BaseDir: t.TempDir()}
			spec := formation.DynoSpec{ID: fmt.Sprintf("listens-%v", limits), SlugDir: slugDir(t, nil), Command: "exec " + exe}
			if limits {
				rt.RequireLimits = true
				requireCgroups(t, rt)
				spec.Resources.MemoryBytes = 256 << 20
			}
			port := freePort(t)
			spec.Env = []string{"PORT=" + fmt.Sprint(port), "LOCAL_TEST_HELPER=web", "DYNO=web.1"}
			var out formationtest.Buffer
			d, err := rt.Start(context.Background(), spec, formation.Stdio{Stdout: &out, Stderr: &out})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				d.Signal(context.Background(), syscall.SIGKILL)
				d.Wait(context.Background())
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := out.WaitFor(ctx, "listening"); err != nil {
				t.Fatal(err)
			}
			lc := d.(formation.ListenChecker)
			var ok bool
			for deadline := time.Now().Add(10 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if ok, err = lc.Listens(port); err != nil {
					t.Fatal(err)
				}
			}
			if !ok {
				t.Errorf("Listens(%d) = false for the dyno's own port", port)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if ok, err := lc.Listens(ln.Addr().(*net.TCPAddr).Port); ok || err != nil {
				t.Errorf("Listens on a port another process listens on = %v, %v; want false", ok, err)
			}
		})
	}
}
