package oci_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/oci"
)

// forEachRuntime runs fn with runc and with crun, skipping whichever this
// machine cannot run.
func forEachRuntime(t *testing.T, fn func(t *testing.T, binary string)) {
	t.Run("runc", func(t *testing.T) {
		requireBinary(t, "runc")
		fn(t, "runc")
	})
	t.Run("crun", func(t *testing.T) {
		requireBinary(t, "crun")
		requireCrunLayout(t)
		fn(t, "crun")
	})
}

// fixture is a runtime in a private Dir whose dynos are checked, when the
// test ends, for leftover containers, bundles and cgroups.
type fixture struct {
	t   *testing.T
	rt  *oci.Runtime
	ctx context.Context
}

func newFixture(t *testing.T, binary string) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	f := &fixture{t: t, ctx: ctx, rt: &oci.Runtime{Binary: binary, Dir: t.TempDir()}}
	t.Cleanup(f.checkNoLeftovers)
	return f
}

func (f *fixture) start(spec formation.DynoSpec, stdio formation.Stdio) formation.Dyno {
	f.t.Helper()
	d, err := f.rt.Start(f.ctx, spec, stdio)
	if err != nil {
		f.t.Fatalf("Start: %v", err)
	}
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = formation.Stop(ctx, d, 100*time.Millisecond)
	})
	return d
}

func (f *fixture) wait(d formation.Dyno) formation.Exit {
	f.t.Helper()
	exit, err := d.Wait(f.ctx)
	if err != nil {
		f.t.Fatalf("Wait: %v", err)
	}
	return exit
}

func (f *fixture) checkNoLeftovers() { checkNoLeftovers(f.t, f.rt) }

// checkNoLeftovers fails t if rt's Dir still holds containers or bundles,
// or if a cgroup of one of its dynos remains (they are named
// CgroupParent/<first 4 bytes of sha256(Dir), hex>-<id>).
func checkNoLeftovers(t *testing.T, rt *oci.Runtime) {
	t.Helper()
	state := filepath.Join(rt.Dir, "state")
	if _, err := os.Stat(state); err == nil {
		out, err := exec.Command(rt.Binary, "--root="+state, "list", "-q").CombinedOutput()
		if err != nil {
			t.Errorf("%s list: %v: %s", rt.Binary, err, out)
		} else if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("containers left in %s: %s", state, s)
		}
	}
	if entries, err := os.ReadDir(filepath.Join(rt.Dir, "bundles")); err == nil && len(entries) > 0 {
		t.Errorf("bundles left: %d entries, first %s", len(entries), entries[0].Name())
	}
	sum := sha256.Sum256([]byte(rt.Dir))
	left, err := filepath.Glob("/sys/fs/cgroup/*/dynokit/" + hex.EncodeToString(sum[:4]) + "-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
}

var idSeq = time.Now().UnixNano() % 1e6

func dynoSpec(t *testing.T, name, command string, files map[string]string) formation.DynoSpec {
	t.Helper()
	idSeq++
	typ, _, _ := strings.Cut(name, ".")
	return formation.DynoSpec{
		ID:      fmt.Sprintf("ocitest.%s.%d", name, idSeq),
		App:     "ocitest",
		Name:    name,
		Type:    typ,
		Release: 1,
		Command: command,
		Env:     []string{"DYNO=" + name},
		SlugDir: makeSlug(t, files),
	}
}

func makeSlug(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "slug")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// addHelperBinary copies this test binary into the slug as /app/oci.test.
func addHelperBinary(t testing.TB, slug string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(slug, "oci.test"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestDynoIsolation(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		const script = `echo "uid=$(id -u) groups=$(id -G) host=$(hostname) home=$HOME pwd=$(pwd)"
touch /x 2>/dev/null || echo root-readonly
touch /usr/x 2>/dev/null || echo usr-readonly
{ echo changed > /app/existing.txt; } 2>/dev/null || echo slug-file-kept
echo new > /app/new.txt && cat /app/new.txt
mkdir /app/log && echo app-writable
echo t > /tmp/t && echo tmp-writable
grep -E '^(NoNewPrivs|CapEff):' /proc/self/status | tr -s '\t' ' ' | sort
echo pid1=$(cat /proc/1/comm) nprocs=$(ls -d /proc/[0-9]* | wc -l)
exit 3`
		spec := dynoSpec(t, "web.1", script, map[string]string{"existing.txt": "original\n"})
		var out, errOut formationtest.Buffer
		d := f.start(spec, formation.Stdio{Stdout: &out, Stderr: &errOut})
		exit := f.wait(d)
		if exit.Code != 3 || exit.Signal != 0 || exit.OOMKilled {
			t.Errorf("exit = %+v, want status 3", exit)
		}
		want := `uid=65534 groups=65534 host=web.1 home=/app pwd=/app
root-readonly
usr-readonly
slug-file-kept
new
app-writable
tmp-writable
CapEff: 0000000000000000
NoNewPrivs: 1
`
		if got := out.String(); !strings.HasPrefix(got, want) {
			t.Errorf("output:\n%s\nwant it to start with:\n%s\nstderr: %s", got, want, errOut.String())
		}
		// PID 1 is the init; the namespace holds only this dyno's processes.
		if got := out.String(); !strings.Contains(got, "pid1=bash") {
			t.Errorf("output %q: want bash as PID 1", got)
		}
		if b, err := os.ReadFile(filepath.Join(spec.SlugDir, "existing.txt")); err != nil || string(b) != "original\n" {
			t.Errorf("slug file changed: %q, %v", b, err)
		}
		for _, name := range []string{"new.txt", "log"} {
			if _, err := os.Stat(filepath.Join(spec.SlugDir, name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s appeared in the slug dir (stat: %v)", name, err)
			}
		}

		// A second dyno of the same slug starts from the slug, not from the
		// first dyno's changes.
		spec2 := spec
		spec2.ID += ".b"
		spec2.Command = `ls /app; cat /app/existing.txt`
		var out2 formationtest.Buffer
		d2 := f.start(spec2, formation.Stdio{Stdout: &out2})
		f.wait(d2)
		if got := out2.String(); got != "existing.txt\noriginal\n" {
			t.Errorf("second dyno sees %q, want only the slug", got)
		}
	})
}

func TestCustomUser(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		f.rt.UID, f.rt.GID = 10001, 10002
		var out formationtest.Buffer
		d := f.start(dynoSpec(t, "worker.1", `echo "$(id -u) $(id -G) $(stat -c %u:%g /app)"; touch /app/x /tmp/x && echo writable`, nil),
			formation.Stdio{Stdout: &out})
		if exit := f.wait(d); exit.Code != 0 {
			t.Errorf("exit = %+v", exit)
		}
		if got, want := out.String(), "10001 10002 10001:10002\nwritable\n"; got != want {
			t.Errorf("output = %q, want %q", got, want)
		}
	})
}

// TestNoSupplementaryGroups runs a dyno as a host user that belongs to
// other groups in /etc/group: the dyno must get its gid and nothing else.
func TestNoSupplementaryGroups(t *testing.T) {
	member := groupMember()
	if member == nil {
		t.Skip("no user in /etc/group is a member of another group")
	}
	uid, _ := strconv.ParseUint(member.Uid, 10, 32)
	gid, _ := strconv.ParseUint(member.Gid, 10, 32)
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		f.rt.UID, f.rt.GID = uint32(uid), uint32(gid)
		var out formationtest.Buffer
		d := f.start(dynoSpec(t, "worker.1", "id -G", nil), formation.Stdio{Stdout: &out})
		f.wait(d)
		if got, want := out.String(), member.Gid+"\n"; got != want {
			t.Errorf("groups of %s in the dyno = %q, want only its gid %q", member.Username, got, want)
		}
	})
}

// groupMember finds a non-root user listed as a member in /etc/group.
func groupMember() *user.User {
	b, err := os.ReadFile("/etc/group")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Split(line, ":")
		if len(fields) != 4 || fields[3] == "" {
			continue
		}
		for _, name := range strings.Split(fields[3], ",") {
			u, err := user.Lookup(name)
			if err == nil && u.Uid != "0" && u.Gid != "0" {
				return u
			}
		}
	}
	return nil
}

func TestWebDynoServesHTTP(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		spec := dynoSpec(t, "web.1", "exec ./oci.test", nil)
		addHelperBinary(t, spec.SlugDir)
		spec.Port = freePort(t)
		spec.Env = append(spec.Env, helperVar+"=http")
		spec.Resources.MemoryBytes = 256 << 20
		var out, errOut formationtest.Buffer
		d := f.start(spec, formation.Stdio{Stdout: &out, Stderr: &errOut})
		if err := out.WaitFor(f.ctx, "listening"); err != nil {
			t.Fatalf("%v; stderr: %s", err, errOut.String())
		}
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(spec.Port) + "/")
		if err != nil {
			t.Fatalf("GET from the host: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got, want := string(body), "hello from web.1 uid 65534 pid "; !strings.HasPrefix(got, want) {
			t.Errorf("body = %q, want %q", got, want)
		}

		// The dyno's identity, as a router verifies it: its own port yes,
		// a port another process listens on no.
		lc, ok := d.(formation.ListenChecker)
		if !ok {
			t.Fatal("oci dynos should implement formation.ListenChecker")
		}
		if ok, err := lc.Listens(spec.Port); !ok || err != nil {
			t.Errorf("Listens(%d) = %v, %v for the dyno's own port; want true", spec.Port, ok, err)
		}
		other, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if ok, err := lc.Listens(other.Addr().(*net.TCPAddr).Port); ok || err != nil {
			t.Errorf("Listens on a port another process listens on = %v, %v; want false", ok, err)
		}

		// The dyno's cgroup is where checkNoLeftovers looks, with the limit set.
		sum := sha256.Sum256([]byte(f.rt.Dir))
		cg := "/dynokit/" + hex.EncodeToString(sum[:4]) + "-" + spec.ID
		if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil { // cgroup v1
			if b, err := os.ReadFile("/sys/fs/cgroup/memory" + cg + "/memory.limit_in_bytes"); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(256<<20) {
				t.Errorf("memory.limit_in_bytes of %s = %q, %v; want %d", cg, b, err, 256<<20)
			}
		}

		mr, ok := d.(formation.MemoryReader)
		if !ok {
			t.Fatal("oci dynos should implement formation.MemoryReader")
		}
		mem, err := mr.Memory(f.ctx)
		if err != nil {
			t.Fatalf("Memory: %v", err)
		}
		if mem.LimitBytes != 256<<20 || mem.UsedBytes <= 0 || mem.UsedBytes > mem.LimitBytes {
			t.Errorf("Memory = %+v, want usage within a 256 MiB limit", mem)
		}

		exit, err := formation.Stop(f.ctx, d, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if exit.Code != 0 || exit.Signal != 0 {
			t.Errorf("exit = %+v, want 0: the server shuts down cleanly on SIGTERM", exit)
		}
		if !strings.Contains(out.String(), "got SIGTERM") {
			t.Errorf("output %q: the server did not see SIGTERM", out.String())
		}
		if _, err := mr.Memory(f.ctx); !errors.Is(err, formation.ErrExited) {
			t.Errorf("Memory after exit: err = %v, want ErrExited", err)
		}
	})
}

func TestPIDsLimit(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		spec := dynoSpec(t, "worker.1", "./oci.test", nil)
		addHelperBinary(t, spec.SlugDir)
		spec.Env = append(spec.Env, helperVar+"=spawn", "SPAWN=64")
		spec.Resources.PIDs = 32
		var out formationtest.Buffer
		d := f.start(spec, formation.Stdio{Stdout: &out, Stderr: &out})
		if exit := f.wait(d); exit.Code != 0 {
			t.Fatalf("exit = %+v; output %q", exit, out.String())
		}
		var started, asked int
		if _, err := fmt.Sscanf(out.String(), "started %d of %d", &started, &asked); err != nil {
			t.Fatalf("output %q: %v", out.String(), err)
		}
		// Init, the helper and its threads count too, so fewer than 32 sleeps fit.
		if started <= 0 || started >= 32 {
			t.Errorf("started %d of %d children under a 32-process limit", started, asked)
		}
		if !strings.Contains(out.String(), "resource temporarily unavailable") {
			t.Errorf("output %q: want fork to fail with EAGAIN", out.String())
		}

		// Without a limit all of them start.
		spec2 := spec
		spec2.ID += ".nolimit"
		spec2.Resources.PIDs = 0
		var out2 formationtest.Buffer
		d2 := f.start(spec2, formation.Stdio{Stdout: &out2})
		f.wait(d2)
		if got := out2.String(); !strings.HasPrefix(got, "started 64 of 64") {
			t.Errorf("without a limit: %q", got)
		}
	})
}

func TestStartErrors(t *testing.T) {
	requireBinary(t, "runc")
	f := newFixture(t, "runc")
	valid := dynoSpec(t, "web.1", "true", nil)

	missing := valid
	missing.SlugDir = filepath.Join(t.TempDir(), "nope")
	if _, err := f.rt.Start(f.ctx, missing, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), "slug dir") {
		t.Errorf("missing slug: err = %v", err)
	}

	invalid := valid
	invalid.ID = "bad/id"
	if _, err := f.rt.Start(f.ctx, invalid, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), `ID "bad/id"`) {
		t.Errorf("invalid ID: err = %v", err)
	}

	cancelled, cancel := context.WithCancel(f.ctx)
	cancel()
	if _, err := f.rt.Start(cancelled, valid, formation.Stdio{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err = %v, want context.Canceled", err)
	}

	// A start abandoned half-way takes the container down again.
	short, cancelShort := context.WithTimeout(f.ctx, 5*time.Millisecond)
	abandoned := dynoSpec(t, "web.2", "sleep 30", nil)
	_, err := f.rt.Start(short, abandoned, formation.Stdio{})
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("start outliving its ctx: err = %v, want DeadlineExceeded", err)
	}
	checkNoLeftovers(t, f.rt)

	noBinary := &oci.Runtime{Binary: "/nonexistent/runc", Dir: t.TempDir()}
	if _, err := noBinary.Start(f.ctx, valid, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), `runtime binary "/nonexistent/runc"`) {
		t.Errorf("missing binary: err = %v", err)
	}

	// The OCI runtime's own failure comes back with its message, and
	// nothing is left behind.
	badRoot := &oci.Runtime{Binary: "runc", Dir: t.TempDir(), Rootfs: filepath.Join(t.TempDir(), "no-such-stack")}
	var stderr formationtest.Buffer
	_, err = badRoot.Start(f.ctx, valid, formation.Stdio{Stderr: &stderr})
	if err == nil || !strings.Contains(err.Error(), "runc run exited with status 1") || !strings.Contains(err.Error(), "no-such-stack") {
		t.Errorf("missing stack rootfs: err = %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(badRoot.Dir, "bundles")); len(entries) > 0 {
		t.Errorf("failed start left a bundle")
	}
	out, _ := exec.Command("runc", "--root="+filepath.Join(badRoot.Dir, "state"), "list", "-q").CombinedOutput()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("failed start left containers: %s", s)
	}

	// After the failures, the ID is free and the dyno starts.
	d := f.start(valid, formation.Stdio{})
	if exit := f.wait(d); exit.Code != 0 {
		t.Errorf("exit = %+v", exit)
	}
}

func TestErrExistsAcrossRuntimes(t *testing.T) {
	requireBinary(t, "runc")
	f := newFixture(t, "runc")
	spec := dynoSpec(t, "web.1", "echo ready; sleep 30", nil)
	var out formationtest.Buffer
	d := f.start(spec, formation.Stdio{Stdout: &out})
	if err := out.WaitFor(f.ctx, "ready"); err != nil {
		t.Fatal(err)
	}
	// Another Runtime value on the same Dir sees the live container.
	other := &oci.Runtime{Binary: "runc", Dir: f.rt.Dir}
	if _, err := other.Start(f.ctx, spec, formation.Stdio{}); !errors.Is(err, formation.ErrExists) {
		t.Errorf("second runtime, same Dir and ID: err = %v, want ErrExists", err)
	}
	// A runtime on another Dir may use the same ID: its state and cgroup differ.
	elsewhere := newFixture(t, "runc")
	d2 := elsewhere.start(spec, formation.Stdio{})
	if err := d2.Signal(f.ctx, syscall.SIGKILL); err != nil {
		t.Errorf("Signal: %v", err)
	}
	if exit := elsewhere.wait(d2); exit.Code != 137 || exit.Signal != syscall.SIGKILL {
		t.Errorf("exit = %+v, want SIGKILL", exit)
	}
	if exit, err := formation.Stop(f.ctx, d, 5*time.Second); err != nil || exit.Signal != syscall.SIGTERM {
		t.Errorf("Stop = %+v, %v; the first dyno should have been untouched until now", exit, err)
	}
}

func TestConcurrentDynos(t *testing.T) {
	requireBinary(t, "runc")
	f := newFixture(t, "runc")
	const n = 8
	slug := makeSlug(t, nil)
	dynos := make([]formation.Dyno, n)
	outs := make([]formationtest.Buffer, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			spec := formation.DynoSpec{
				ID: fmt.Sprintf("ocitest.conc.%d.%d", idSeq, i), Name: fmt.Sprintf("worker.%d", i+1),
				Command: fmt.Sprintf("echo $DYNO; exit %d", 10+i), SlugDir: slug,
			}
			d, err := f.rt.Start(f.ctx, spec, formation.Stdio{Stdout: &outs[i]})
			dynos[i] = d
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for i, d := range dynos {
		if d == nil {
			continue
		}
		exit := f.wait(d)
		if exit.Code != 10+i {
			t.Errorf("dyno %d: exit = %+v, want status %d", i, exit, 10+i)
		}
		if got, want := outs[i].String(), fmt.Sprintf("worker.%d\n", i+1); got != want {
			t.Errorf("dyno %d: output %q, want %q", i, got, want)
		}
	}
}

// TestChildOOMEndsDyno: when the kernel kills a process of the container
// for exceeding the memory limit, the dyno ends as out-of-memory (R15, then
// a restart) even though its main process survived.
func TestChildOOMEndsDyno(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		spec := dynoSpec(t, "worker.1", "head -c 1G /dev/zero | tail; sleep 60", nil)
		spec.Resources.MemoryBytes = 64 << 20
		begin := time.Now()
		d := f.start(spec, formation.Stdio{})
		exit := f.wait(d)
		if !exit.OOMKilled || exit.Code != 137 {
			t.Errorf("exit = %+v, want OOMKilled with status 137", exit)
		}
		if took := time.Since(begin); took > 30*time.Second {
			t.Errorf("the dyno ended %v after start, not at its child's OOM kill", took)
		}
		f.checkNoLeftovers()
	})
}
