// Package formationtest is the conformance suite every formation.Runtime
// backend runs, in the spirit of testing/fstest.
//
// A backend's test calls Run with a constructor:
//
//	func TestConformance(t *testing.T) {
//		formationtest.Run(t, func(t *testing.T) formation.Runtime {
//			return &local.Runtime{BaseDir: t.TempDir()}
//		}, formationtest.Options{MemoryLimits: true})
//	}
//
// Every case builds its own slug directory in t.TempDir() holding small
// shell scripts and runs commands through bash in that directory, so the
// suite works for runtimes whose dynos are processes on this host and for
// runtimes whose dynos are containers (the slug directory becomes /app).
//
// The suite checks processes and goroutines for leaks, so Run must not run
// in parallel with other tests of the same binary.
//
// TestScheduler is the same for formation.Scheduler backends (a Nomad job
// per app, Kubernetes Deployments): API-level cases for every engine, and,
// with SchedulerOptions.RunsDynos, cases that run the suite's own dyno
// program (the test binary, served as a slug by ServeSlug; the backend's
// TestMain calls DynoMain first).
//
// Fake is an in-memory Runtime for unit tests of callers (the Reconciler,
// platforms): its dynos run nothing and are driven by the test. Buffer is a
// concurrency-safe output sink whose content can be awaited.
package formationtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
)

// Options describe what the runtime under test supports.
type Options struct {
	// MemoryLimits is true when the runtime enforces Resources.MemoryBytes
	// and reports an out-of-memory kill in Exit.OOMKilled.
	MemoryLimits bool
	// NoMemoryLimitsReason is the skip message for the OOM case when
	// MemoryLimits is false (for example "no cgroup memory controller").
	NoMemoryLimitsReason string
	// CPUWeight, when set, reads the CPU weight the engine gave a running
	// dyno (its cgroup's cpu.shares, or cpu.weight on cgroup v2); the
	// CPUShares case then checks that Resources.CPUShares orders dynos'
	// weights. Nil skips that case with NoCPUWeightReason.
	CPUWeight         func(ctx context.Context, d formation.Dyno) (int64, error)
	NoCPUWeightReason string
	// Timeout bounds each case; zero means 30 s. Cases normally take well
	// under a second; the bound only stops a hung runtime from hanging go test.
	Timeout time.Duration
}

// Run runs the conformance suite against runtimes made by newRuntime. It is
// called once per case, so cases do not share dynos.
func Run(t *testing.T, newRuntime func(t *testing.T) formation.Runtime, opts Options) {
	t.Helper()
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	before := runtime.NumGoroutine()
	cases := []struct {
		name string
		fn   func(*harness)
	}{
		{"Output", testOutput},
		{"NilStdio", testNilStdio},
		{"ExitCode", testExitCode},
		{"Env", testEnv},
		{"ProfileD", testProfileD},
		{"Stdin", testStdin},
		{"Terminal", testTerminal},
		{"SlugNotModified", testSlugNotModified},
		{"SignalReachesGrandchild", testSignalReachesGrandchild},
		{"StopGraceful", testStopGraceful},
		{"StopIgnoresTERM", testStopIgnoresTERM},
		{"GrandchildHoldsStdout", testGrandchildHoldsStdout},
		{"OOM", testOOM},
		{"NegativeResources", testNegativeResources},
		{"CPUShares", testCPUShares},
		{"StopTwice", testStopTwice},
		{"WaitMany", testWaitMany},
		{"WaitContext", testWaitContext},
		{"SignalAfterExit", testSignalAfterExit},
		{"DuplicateID", testDuplicateID},
		{"Exec", testExec},
		{"ExecTerminal", testExecTerminal},
		{"ExecEndsWithDyno", testExecEndsWithDyno},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &harness{t: t, rt: newRuntime(t), opts: opts}
			ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
			defer cancel()
			h.ctx = ctx
			defer h.cleanup() // deferred: it must also run after t.Fatal
			c.fn(h)
		})
	}
	// Checked here rather than in a subtest, whose own goroutine would count.
	{
		var after int
		deadline := time.Now().Add(5 * time.Second)
		for {
			after = runtime.NumGoroutine()
			if after <= before || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if after > before {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d before the suite, %d after; stacks:\n%s", before, after, buf[:n])
		}
	}
}

// harness is one case's state: the runtime, the dynos started and the
// tokens used to find their processes in /proc.
type harness struct {
	t      *testing.T
	ctx    context.Context
	rt     formation.Runtime
	opts   Options
	dynos  []formation.Dyno
	tokens []string
}

const tokenVar = "FORMATIONTEST_TOKEN"

func newToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "ft" + hex.EncodeToString(b)
}

// slug writes files (name → content; names ending in .sh or under bin/ are
// executable) into a fresh directory.
func (h *harness) slug(files map[string]string) string {
	h.t.Helper()
	dir := filepath.Join(h.t.TempDir(), "slug")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			h.t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") || strings.HasPrefix(name, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			h.t.Fatal(err)
		}
	}
	return dir
}

func (h *harness) spec(name, command string, files map[string]string) formation.DynoSpec {
	tok := newToken()
	h.tokens = append(h.tokens, tok)
	typ, _, _ := strings.Cut(name, ".")
	return formation.DynoSpec{
		ID:      "formationtest." + name + "." + tok,
		App:     "formationtest",
		Name:    name,
		Type:    typ,
		Release: 1,
		Command: command,
		Env:     []string{"DYNO=" + name, tokenVar + "=" + tok},
		SlugDir: h.slug(files),
	}
}

func (h *harness) start(spec formation.DynoSpec, stdio formation.Stdio) formation.Dyno {
	h.t.Helper()
	d, err := h.rt.Start(h.ctx, spec, stdio)
	if err != nil {
		h.t.Fatalf("Start(%q): %v", spec.Command, err)
	}
	if d.ID() != spec.ID {
		h.t.Errorf("ID() = %q, want %q", d.ID(), spec.ID)
	}
	h.dynos = append(h.dynos, d)
	return d
}

func (h *harness) wait(d formation.Dyno) formation.Exit {
	h.t.Helper()
	exit, err := d.Wait(h.ctx)
	if err != nil {
		h.t.Fatalf("Wait: %v", err)
	}
	return exit
}

// cleanup kills what a failed case left behind, then checks that no
// process carrying one of the case's tokens survives.
func (h *harness) cleanup() {
	h.t.Helper()
	for _, d := range h.dynos {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = formation.Stop(ctx, d, 50*time.Millisecond)
		cancel()
	}
	for _, tok := range h.tokens {
		if pids := waitNoProcess(tok, 5*time.Second); len(pids) > 0 {
			h.t.Errorf("processes of a finished dyno still running (token %s): %v", tok, pids)
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// waitNoProcess polls /proc until no process has token in its environment
// and returns the pids still found at the deadline.
func waitNoProcess(token string, within time.Duration) []int {
	deadline := time.Now().Add(within)
	for {
		pids := processesWithToken(token)
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func processesWithToken(token string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	needle := []byte(tokenVar + "=" + token)
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid <= 0 {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, needle) {
			continue
		}
		// A zombie has an empty environ, so anything found here is alive.
		pids = append(pids, pid)
	}
	return pids
}

// Buffer is an io.Writer safe for concurrent use whose content can be
// awaited. Tests of callers may use it for dyno output.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor blocks until the output contains s or ctx is done.
func (b *Buffer) WaitFor(ctx context.Context, s string) error {
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), s) {
			b.mu.Unlock()
			return nil
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q in output %q: %w", s, b.String(), ctx.Err())
		}
	}
}

func (h *harness) waitOutput(b *Buffer, s string) {
	h.t.Helper()
	if err := b.WaitFor(h.ctx, s); err != nil {
		h.t.Fatal(err)
	}
}

func testOutput(h *harness) {
	var out, errOut Buffer
	d := h.start(h.spec("web.1", "echo to-stdout; echo to-stderr >&2", nil), formation.Stdio{Stdout: &out, Stderr: &errOut})
	exit := h.wait(d)
	if exit.Code != 0 || exit.Signal != 0 || exit.OOMKilled {
		h.t.Errorf("exit = %+v, want status 0", exit)
	}
	if exit.At.IsZero() {
		h.t.Error("Exit.At is zero")
	}
	if got := out.String(); got != "to-stdout\n" {
		h.t.Errorf("stdout = %q, want %q", got, "to-stdout\n")
	}
	if got := errOut.String(); got != "to-stderr\n" {
		h.t.Errorf("stderr = %q, want %q", got, "to-stderr\n")
	}
}

func testNilStdio(h *harness) {
	d := h.start(h.spec("worker.1", "echo discarded; echo discarded >&2; exit 4", nil), formation.Stdio{})
	if exit := h.wait(d); exit.Code != 4 {
		h.t.Errorf("exit = %+v, want status 4", exit)
	}
}

func testExitCode(h *harness) {
	for _, code := range []int{0, 1, 3, 42, 255} {
		d := h.start(h.spec("worker.1", fmt.Sprintf("exit %d", code), nil), formation.Stdio{})
		exit := h.wait(d)
		if exit.Code != code || exit.Signal != 0 {
			h.t.Errorf("exit %d: got %+v", code, exit)
		}
	}
	// A process killed by a signal reports 128+n and the signal.
	d := h.start(h.spec("worker.2", "kill -USR1 $$", nil), formation.Stdio{})
	exit := h.wait(d)
	if exit.Code != 128+int(syscall.SIGUSR1) || exit.Signal != syscall.SIGUSR1 {
		h.t.Errorf("killed by SIGUSR1: got %+v, want status %d", exit, 128+int(syscall.SIGUSR1))
	}
}

func testEnv(h *harness) {
	var out Buffer
	spec := h.spec("web.3", `printf 'PORT=%s DYNO=%s FOO=%s\n' "$PORT" "$DYNO" "$FOO"
[ "$(pwd -P)" = "$(cd "$HOME" && pwd -P)" ] && echo cwd-is-home
[ -f "$HOME/marker.txt" ] && echo slug-in-home
[ -n "$PATH" ] && command -v ls >/dev/null && echo path-ok
[ -w "${TMPDIR:-/tmp}" ] && echo tmp-writable`, map[string]string{"marker.txt": "x"})
	spec.Port = 5123
	spec.Env = append(spec.Env, "PORT=5123", "FOO=first", "FOO=bar")
	d := h.start(spec, formation.Stdio{Stdout: &out})
	if exit := h.wait(d); exit.Code != 0 {
		h.t.Errorf("exit = %+v", exit)
	}
	want := "PORT=5123 DYNO=web.3 FOO=bar\ncwd-is-home\nslug-in-home\npath-ok\ntmp-writable\n"
	if got := out.String(); got != want {
		h.t.Errorf("output = %q, want %q", got, want)
	}
}

func testProfileD(h *harness) {
	var out Buffer
	spec := h.spec("web.1", `echo "$A|$B|$C|$FROM_CONFIG|$DEFAULTED"`, map[string]string{
		// Lexical order: a.sh runs before b.sh, which sees A.
		".profile.d/b.sh":        "export B=\"b-after-$A\"\n",
		".profile.d/a.sh":        "export A=a\nexport FROM_CONFIG=\"profile-saw-$FROM_CONFIG\"\n",
		".profile.d/c.sh":        "export DEFAULTED=\"${DEFAULTED:-default}\"\n",
		".profile.d/ignored.sh~": "export A=wrong\n",
		".profile":               "export C=\"profile-$B\"\n",
	})
	spec.Env = append(spec.Env, "FROM_CONFIG=config", "DEFAULTED=set-by-config")
	d := h.start(spec, formation.Stdio{Stdout: &out})
	if exit := h.wait(d); exit.Code != 0 {
		h.t.Errorf("exit = %+v", exit)
	}
	want := "a|b-after-a|profile-b-after-a|profile-saw-config|set-by-config\n"
	if got := out.String(); got != want {
		h.t.Errorf("output = %q, want %q", got, want)
	}
}

func testStdin(h *harness) {
	var out Buffer
	spec := h.spec("run.1234", `read -r line; echo "got:$line"; cat`, nil)
	spec.Stdin = strings.NewReader("hello\nrest\n")
	d := h.start(spec, formation.Stdio{Stdout: &out})
	if exit := h.wait(d); exit.Code != 0 {
		h.t.Errorf("exit = %+v", exit)
	}
	if got := out.String(); got != "got:hello\nrest\n" {
		h.t.Errorf("output = %q", got)
	}
}

// testTerminal runs a dyno on a terminal, or expects ErrNoTerminal: the
// process sees a terminal of the size asked on all three streams, a
// carriage return ends its input line, ^C interrupts it, and everything
// comes out on Stdout.
func testTerminal(h *harness) {
	var out, errOut Buffer
	spec := h.spec("run.1235", `stty size; test -t 0 && test -t 1 && test -t 2 && echo on-a-terminal
read -r line; echo "got:$line"; echo to-stderr >&2
trap 'echo interrupted; exit 7' INT; echo ready; for ((i = 0; i < 200; i++)); do sleep 0.1; done; echo not-interrupted`, nil)
	inR, inW := io.Pipe()
	defer inW.Close()
	spec.Stdin = inR
	spec.Terminal = &formation.Terminal{Cols: 100, Rows: 30}
	d, err := h.rt.Start(h.ctx, spec, formation.Stdio{Stdout: &out, Stderr: &errOut})
	if errors.Is(err, formation.ErrNoTerminal) {
		h.t.Skipf("runtime without terminals: %v", err)
	}
	if err != nil {
		h.t.Fatalf("start: %v", err)
	}
	h.dynos = append(h.dynos, d)
	h.waitOutput(&out, "on-a-terminal\r\n")
	if _, err := io.WriteString(inW, "hello\r"); err != nil {
		h.t.Fatal(err)
	}
	h.waitOutput(&out, "ready")
	if _, err := io.WriteString(inW, "\x03"); err != nil {
		h.t.Fatal(err)
	}
	if exit := h.wait(d); exit.Code != 7 {
		h.t.Errorf("exit = %+v, want code 7 from the INT trap", exit)
	}
	got := out.String()
	for _, want := range []string{"30 100\r\n", "hello\r\n", "got:hello\r\n", "to-stderr\r\n", "interrupted\r\n"} {
		if !strings.Contains(got, want) {
			h.t.Errorf("output %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "not-interrupted") || errOut.String() != "" {
		h.t.Errorf("output %q, stderr %q: want no not-interrupted and nothing on Stderr", got, errOut.String())
	}
}

func testSlugNotModified(h *harness) {
	spec := h.spec("web.1", `echo new > "$HOME/written.txt" 2>/dev/null; echo changed > "$HOME/existing.txt" 2>/dev/null; rm -f "$HOME/remove.txt" 2>/dev/null; true`,
		map[string]string{"existing.txt": "original\n", "remove.txt": "keep\n"})
	d := h.start(spec, formation.Stdio{})
	h.wait(d)
	if _, err := os.Stat(filepath.Join(spec.SlugDir, "written.txt")); !errors.Is(err, os.ErrNotExist) {
		h.t.Errorf("a file the dyno wrote appeared in the slug dir (stat: %v)", err)
	}
	if b, err := os.ReadFile(filepath.Join(spec.SlugDir, "existing.txt")); err != nil || string(b) != "original\n" {
		h.t.Errorf("slug file modified by the dyno: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(spec.SlugDir, "remove.txt")); err != nil {
		h.t.Errorf("slug file removed by the dyno: %v", err)
	}
}

// grandchildScript starts a background subshell that reports SIGTERM, then
// waits in the main shell, which reports it too.
const grandchildScript = `bash -c 'trap "echo grandchild-got-TERM; exit 0" TERM; echo grandchild-ready; while :; do sleep 0.02; done' &
trap 'echo main-got-TERM; wait; exit 0' TERM
echo main-ready
wait`

func testSignalReachesGrandchild(h *harness) {
	var out Buffer
	d := h.start(h.spec("worker.1", grandchildScript, nil), formation.Stdio{Stdout: &out})
	h.waitOutput(&out, "main-ready")
	h.waitOutput(&out, "grandchild-ready")
	if err := d.Signal(h.ctx, syscall.SIGTERM); err != nil {
		h.t.Fatalf("Signal: %v", err)
	}
	exit := h.wait(d)
	if exit.Code != 0 {
		h.t.Errorf("exit = %+v, want status 0 (both trapped TERM)", exit)
	}
	for _, s := range []string{"main-got-TERM", "grandchild-got-TERM"} {
		if !strings.Contains(out.String(), s) {
			h.t.Errorf("output %q lacks %q: the signal did not reach every process", out.String(), s)
		}
	}
}

func testStopGraceful(h *harness) {
	var out Buffer
	d := h.start(h.spec("web.1", "echo ready; sleep 30", nil), formation.Stdio{Stdout: &out})
	h.waitOutput(&out, "ready")
	begin := time.Now()
	exit, err := formation.Stop(h.ctx, d, 10*time.Second)
	if err != nil {
		h.t.Fatalf("Stop: %v", err)
	}
	if exit.Code != 143 || exit.Signal != syscall.SIGTERM {
		h.t.Errorf("exit = %+v, want status 143 (SIGTERM)", exit)
	}
	if took := time.Since(begin); took > 5*time.Second {
		h.t.Errorf("Stop took %v for a process that exits on SIGTERM", took)
	}
}

func testStopIgnoresTERM(h *harness) {
	var out Buffer
	d := h.start(h.spec("web.1", `trap '' TERM; echo ready; while :; do sleep 0.02; done`, nil), formation.Stdio{Stdout: &out})
	h.waitOutput(&out, "ready")
	const grace = 300 * time.Millisecond
	begin := time.Now()
	exit, err := formation.Stop(h.ctx, d, grace)
	took := time.Since(begin)
	if err != nil {
		h.t.Fatalf("Stop: %v", err)
	}
	if exit.Code != 137 || exit.Signal != syscall.SIGKILL {
		h.t.Errorf("exit = %+v, want status 137 (SIGKILL)", exit)
	}
	if took < grace {
		h.t.Errorf("Stop returned after %v, before the %v grace period", took, grace)
	}
	if took > grace+10*time.Second {
		h.t.Errorf("Stop took %v, far beyond the %v grace period", took, grace)
	}
}

func testGrandchildHoldsStdout(h *harness) {
	var out Buffer
	// The orphaned sleep keeps the dyno's stdout open after the main process
	// exits; the dyno is over when its main process is.
	d := h.start(h.spec("worker.1", "sleep 30 & sleep 30 & echo forked; exit 7", nil), formation.Stdio{Stdout: &out})
	begin := time.Now()
	exit := h.wait(d)
	if took := time.Since(begin); took > 10*time.Second {
		h.t.Errorf("Wait took %v: grandchildren holding stdout delayed it", took)
	}
	if exit.Code != 7 {
		h.t.Errorf("exit = %+v, want status 7", exit)
	}
	if !strings.Contains(out.String(), "forked") {
		h.t.Errorf("output %q lacks the main process's output", out.String())
	}
	if pids := waitNoProcess(h.tokens[len(h.tokens)-1], 5*time.Second); len(pids) > 0 {
		h.t.Errorf("grandchildren survive the dyno: %v", pids)
	}
}

func testOOM(h *harness) {
	if !h.opts.MemoryLimits {
		reason := h.opts.NoMemoryLimitsReason
		if reason == "" {
			reason = "runtime does not enforce memory limits"
		}
		h.t.Skip(reason)
	}
	spec := h.spec("worker.1", "echo allocating; dd if=/dev/zero of=/dev/null bs=256M count=1", nil)
	spec.Resources.MemoryBytes = 32 << 20
	var out Buffer
	d := h.start(spec, formation.Stdio{Stdout: &out})
	exit := h.wait(d)
	if !exit.OOMKilled {
		h.t.Errorf("exit = %+v, want OOMKilled", exit)
	}
	if exit.Code != 137 {
		h.t.Errorf("exit status = %d, want 137", exit.Code)
	}
	// Within the limit the same dyno runs fine.
	spec = h.spec("worker.2", "dd if=/dev/zero of=/dev/null bs=1M count=1 2>/dev/null", nil)
	spec.Resources.MemoryBytes = 64 << 20
	d = h.start(spec, formation.Stdio{})
	if exit := h.wait(d); exit.Code != 0 || exit.OOMKilled {
		h.t.Errorf("within the limit: exit = %+v", exit)
	}
}

// A negative limit is refused at Start with an error naming the field, and
// leaves nothing behind: the ID is free for a valid dyno.
func testNegativeResources(h *harness) {
	for _, tc := range []struct {
		field string
		res   formation.Resources
	}{
		{"MemoryBytes", formation.Resources{MemoryBytes: -1}},
		{"PIDs", formation.Resources{PIDs: -1}},
		{"CPUShares", formation.Resources{CPUShares: -1024}},
	} {
		spec := h.spec("worker.1", "exit 7", nil)
		spec.Resources = tc.res
		if d, err := h.rt.Start(h.ctx, spec, formation.Stdio{}); err == nil {
			h.dynos = append(h.dynos, d)
			h.t.Errorf("Start with Resources %+v succeeded", tc.res)
			continue
		} else if !strings.Contains(err.Error(), "Resources."+tc.field) {
			h.t.Errorf("Start with Resources %+v: %v, want an error naming Resources.%s", tc.res, err, tc.field)
		}
		spec.Resources = formation.Resources{}
		if exit := h.wait(h.start(spec, formation.Stdio{})); exit.Code != 7 {
			h.t.Errorf("the same ID after the refused Start: exit = %+v, want status 7", exit)
		}
	}
}

// Resources.CPUShares reaches the engine as a weight: more shares weigh
// more, equal shares the same.
func testCPUShares(h *harness) {
	if h.opts.CPUWeight == nil {
		reason := h.opts.NoCPUWeightReason
		if reason == "" {
			reason = "no Options.CPUWeight to read a dyno's CPU weight"
		}
		h.t.Skip(reason)
	}
	weights := make([]int64, 3)
	for i, shares := range []int64{512, 2048, 2048} {
		spec := h.spec(fmt.Sprintf("worker.%d", i+1), "echo ready; exec sleep 30", nil)
		spec.Resources.CPUShares = shares
		var out Buffer
		d := h.start(spec, formation.Stdio{Stdout: &out})
		h.waitOutput(&out, "ready")
		w, err := h.opts.CPUWeight(h.ctx, d)
		if err != nil {
			h.t.Fatalf("CPUWeight of the dyno with %d shares: %v", shares, err)
		}
		weights[i] = w
	}
	if weights[0] <= 0 || weights[0] >= weights[1] || weights[1] != weights[2] {
		h.t.Errorf("weights for 512, 2048 and 2048 shares = %v, want 0 < w1 < w2 = w3", weights)
	}
}

func testStopTwice(h *harness) {
	var out Buffer
	d := h.start(h.spec("web.1", "echo ready; sleep 30", nil), formation.Stdio{Stdout: &out})
	h.waitOutput(&out, "ready")
	first, err := formation.Stop(h.ctx, d, 5*time.Second)
	if err != nil {
		h.t.Fatalf("first Stop: %v", err)
	}
	second, err := formation.Stop(h.ctx, d, 5*time.Second)
	if err != nil {
		h.t.Fatalf("second Stop: %v", err)
	}
	if first != second {
		h.t.Errorf("second Stop = %+v, first = %+v", second, first)
	}
}

func testWaitMany(h *harness) {
	var out Buffer
	d := h.start(h.spec("worker.1", "sleep 0.2; exit 5", nil), formation.Stdio{Stdout: &out})
	const n = 16
	exits := make([]formation.Exit, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exits[i], errs[i] = d.Wait(h.ctx)
		}()
	}
	wg.Wait()
	late := h.wait(d) // after the exit, too
	for i := range n {
		if errs[i] != nil {
			h.t.Errorf("waiter %d: %v", i, errs[i])
		} else if exits[i] != late || exits[i].Code != 5 {
			h.t.Errorf("waiter %d saw %+v, late Wait saw %+v", i, exits[i], late)
		}
	}
}

func testWaitContext(h *harness) {
	var out Buffer
	d := h.start(h.spec("worker.1", "echo ready; sleep 30", nil), formation.Stdio{Stdout: &out})
	h.waitOutput(&out, "ready")
	ctx, cancel := context.WithTimeout(h.ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := d.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		h.t.Errorf("Wait with an expiring context on a running dyno: err = %v, want DeadlineExceeded", err)
	}
	// The dyno still runs and can be stopped normally.
	if err := d.Signal(h.ctx, syscall.SIGKILL); err != nil {
		h.t.Errorf("Signal after an abandoned Wait: %v", err)
	}
	if exit := h.wait(d); exit.Signal != syscall.SIGKILL {
		h.t.Errorf("exit = %+v, want SIGKILL", exit)
	}
}

func testSignalAfterExit(h *harness) {
	d := h.start(h.spec("worker.1", "exit 0", nil), formation.Stdio{})
	h.wait(d)
	err := d.Signal(h.ctx, syscall.SIGTERM)
	if !errors.Is(err, formation.ErrExited) {
		h.t.Errorf("Signal after exit: err = %v, want one wrapping ErrExited", err)
	}
	exit, err := formation.Stop(h.ctx, d, time.Second)
	if err != nil || exit.Code != 0 {
		h.t.Errorf("Stop after exit = %+v, %v; want the original exit", exit, err)
	}
}

func testDuplicateID(h *harness) {
	var out Buffer
	spec := h.spec("web.1", "echo ready; sleep 30", nil)
	d := h.start(spec, formation.Stdio{Stdout: &out})
	h.waitOutput(&out, "ready")
	if d2, err := h.rt.Start(h.ctx, spec, formation.Stdio{}); !errors.Is(err, formation.ErrExists) {
		if err == nil {
			h.dynos = append(h.dynos, d2)
		}
		h.t.Fatalf("second Start with a live ID: err = %v, want ErrExists", err)
	}
	if _, err := formation.Stop(h.ctx, d, 5*time.Second); err != nil {
		h.t.Fatalf("Stop: %v", err)
	}
	// Once the dyno has exited, its ID may be used again.
	spec.Command = "exit 9"
	d = h.start(spec, formation.Stdio{})
	if exit := h.wait(d); exit.Code != 9 {
		h.t.Errorf("reused ID: exit = %+v, want status 9", exit)
	}
}

// execer returns d's Execer, or skips the case for runtimes without one.
func (h *harness) execer(d formation.Dyno) formation.Execer {
	h.t.Helper()
	ex, ok := d.(formation.Execer)
	if !ok {
		h.t.Skip("runtime without formation.Execer")
	}
	return ex
}

// testExec runs processes in a running dyno: they see its directory,
// environment and .profile.d, get their own stdin and output, and their
// exit code comes back; after the dyno ends, Exec is ErrExited.
func testExec(h *harness) {
	spec := h.spec("web.1", `echo up; sleep 30`, map[string]string{
		"marker.txt":      "x",
		".profile.d/a.sh": "export FROM_PROFILE=yes\n",
	})
	spec.Env = append(spec.Env, "FOO=config")
	var dynoOut Buffer
	d := h.start(spec, formation.Stdio{Stdout: &dynoOut})
	h.waitOutput(&dynoOut, "up\n")
	ex := h.execer(d)

	var out, errOut Buffer
	p, err := ex.Exec(h.ctx, formation.ExecSpec{
		Command: `printf '%s %s %s %s\n' "$DYNO" "$FOO" "$FROM_PROFILE" "$EXTRA"; [ -f marker.txt ] && echo in-app-dir; read -r l; echo "got:$l"; echo oops >&2; exit 3`,
		Env:     []string{"EXTRA=exec"},
		Stdin:   strings.NewReader("line\n"),
	}, formation.Stdio{Stdout: &out, Stderr: &errOut})
	if err != nil {
		h.t.Fatalf("Exec: %v", err)
	}
	exit, err := p.Wait(h.ctx)
	if err != nil || exit.Code != 3 {
		h.t.Errorf("Wait = %+v, %v; want code 3", exit, err)
	}
	if got, want := out.String(), "web.1 config yes exec\nin-app-dir\ngot:line\n"; got != want {
		h.t.Errorf("exec output %q, want %q", got, want)
	}
	if got := errOut.String(); got != "oops\n" {
		h.t.Errorf("exec stderr %q, want %q", got, "oops\n")
	}
	if strings.Contains(dynoOut.String(), "oops") || strings.Contains(dynoOut.String(), "got:") {
		h.t.Errorf("exec output reached the dyno's own stdio: %q", dynoOut.String())
	}
	if err := p.Signal(h.ctx, syscall.SIGTERM); !errors.Is(err, formation.ErrExited) {
		h.t.Errorf("Signal after the exit: %v, want ErrExited", err)
	}

	// An empty command is a shell reading its input.
	out = Buffer{}
	p, err = ex.Exec(h.ctx, formation.ExecSpec{Stdin: strings.NewReader("echo from-shell\n")}, formation.Stdio{Stdout: &out})
	if err != nil {
		h.t.Fatalf("Exec of a shell: %v", err)
	}
	if exit, err := p.Wait(h.ctx); err != nil || exit.Code != 0 || out.String() != "from-shell\n" {
		h.t.Errorf("shell: %+v %v, output %q", exit, err, out.String())
	}

	if _, err := formation.Stop(h.ctx, d, time.Second); err != nil {
		h.t.Fatal(err)
	}
	if _, err := ex.Exec(h.ctx, formation.ExecSpec{Command: "true"}, formation.Stdio{}); !errors.Is(err, formation.ErrExited) {
		h.t.Errorf("Exec after the dyno ended: %v, want ErrExited", err)
	}
}

// testExecTerminal runs a process in a dyno on a terminal of its own,
// resized while it runs.
func testExecTerminal(h *harness) {
	var dynoOut Buffer
	d := h.start(h.spec("web.1", `echo up; sleep 30`, nil), formation.Stdio{Stdout: &dynoOut})
	h.waitOutput(&dynoOut, "up\n")
	ex := h.execer(d)
	var out Buffer
	inR, inW := io.Pipe()
	defer inW.Close()
	p, err := ex.Exec(h.ctx, formation.ExecSpec{
		Command:  `stty size; test -t 0 && test -t 1 && echo on-a-terminal; read -r l; stty size; echo "got:$l"`,
		Stdin:    inR,
		Terminal: &formation.Terminal{Cols: 90, Rows: 20},
	}, formation.Stdio{Stdout: &out})
	if errors.Is(err, formation.ErrNoTerminal) {
		h.t.Skipf("runtime without terminals: %v", err)
	}
	if err != nil {
		h.t.Fatalf("Exec: %v", err)
	}
	h.waitOutput(&out, "on-a-terminal\r\n")
	if err := p.Resize(formation.Terminal{Cols: 120, Rows: 40}); err != nil {
		h.t.Errorf("Resize: %v", err)
	}
	if _, err := io.WriteString(inW, "hi\r"); err != nil {
		h.t.Fatal(err)
	}
	if exit, err := p.Wait(h.ctx); err != nil || exit.Code != 0 {
		h.t.Errorf("Wait = %+v, %v", exit, err)
	}
	got := out.String()
	for _, want := range []string{"20 90\r\n", "40 120\r\n", "got:hi\r\n"} {
		if !strings.Contains(got, want) {
			h.t.Errorf("output %q lacks %q", got, want)
		}
	}
}

// testExecEndsWithDyno checks that a process started in a dyno does not
// outlive it.
func testExecEndsWithDyno(h *harness) {
	var dynoOut Buffer
	spec := h.spec("web.1", `echo up; sleep 30`, nil)
	if h.opts.MemoryLimits {
		spec.Resources.MemoryBytes = 256 << 20 // the process joins the dyno's limits
	}
	d := h.start(spec, formation.Stdio{Stdout: &dynoOut})
	h.waitOutput(&dynoOut, "up\n")
	ex := h.execer(d)
	var out Buffer
	// set -m: the job gets a process group of its own, as in an
	// interactive shell; it must end with the dyno all the same (the
	// suite's cleanup finds any process left with the dyno's token).
	p, err := ex.Exec(h.ctx, formation.ExecSpec{Command: `set -m; sleep 60 & echo started; wait`}, formation.Stdio{Stdout: &out})
	if err != nil {
		h.t.Fatalf("Exec: %v", err)
	}
	h.waitOutput(&out, "started\n")
	if _, err := formation.Stop(h.ctx, d, 200*time.Millisecond); err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if _, err := p.Wait(ctx); err != nil {
		h.t.Errorf("the exec'd process outlived its dyno: %v", err)
	}
}
