package oci_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestExecProcess(t *testing.T) {
	d := webDyno()
	s, err := oci.Spec(d, oci.WithUser(1000, 1001))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := encode(s)
	p, err := oci.ExecProcess(s, formation.ExecSpec{
		Command:  "rails console",
		Env:      []string{"TERM=xterm", "DYNO=run.1", "EXTRA=x"},
		Terminal: &formation.Terminal{Cols: 100},
	})
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := encode(s); after != before {
		t.Error("ExecProcess changed the container's spec")
	}
	if len(p.Args) != 5 || p.Args[0] != "/bin/bash" || p.Args[1] != "-c" || p.Args[4] != "rails console" {
		t.Errorf("args = %q", p.Args)
	}
	// The init's bootstrap, after a wait on fd 3.
	first, rest, _ := strings.Cut(p.Args[2], "\n")
	if !strings.Contains(first, "-u 3") || !strings.Contains(s.Process.Args[2], rest) || !strings.Contains(rest, ".profile.d") {
		t.Errorf("bootstrap %q is not the init's", p.Args[2])
	}
	if p.User.UID != 1000 || p.User.GID != 1001 || p.Cwd != oci.AppDir || !p.NoNewPrivileges {
		t.Errorf("user %+v cwd %q nnp %v", p.User, p.Cwd, p.NoNewPrivileges)
	}
	if !slices.Equal(p.Capabilities.Bounding, s.Process.Capabilities.Bounding) {
		t.Errorf("capabilities %+v", p.Capabilities)
	}
	env := strings.Join(p.Env, " ")
	for _, want := range []string{"PATH=" + oci.DefaultPath, "HOME=/app", "DYNO=run.1", "TERM=xterm", "EXTRA=x"} {
		if !slices.Contains(p.Env, want) {
			t.Errorf("env %s lacks %s", env, want)
		}
	}
	if strings.Count(env, "DYNO=") != 1 {
		t.Errorf("env %s: DYNO twice", env)
	}
	if !p.Terminal || p.ConsoleSize == nil || p.ConsoleSize.Width != 100 || p.ConsoleSize.Height != 24 {
		t.Errorf("terminal %v size %+v", p.Terminal, p.ConsoleSize)
	}

	p, err = oci.ExecProcess(s, formation.ExecSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Args[4] != "bash" || p.Terminal || p.ConsoleSize != nil {
		t.Errorf("empty command: args %q terminal %v", p.Args, p.Terminal)
	}

	for _, bad := range []formation.ExecSpec{
		{Command: "a\x00b"},
		{Env: []string{"NOEQUALS"}},
		{Env: []string{"1X=y"}},
		{Env: []string{"X=a\x00b"}},
		{Terminal: &formation.Terminal{Cols: -1}},
	} {
		if _, err := oci.ExecProcess(s, bad); err == nil {
			t.Errorf("ExecProcess(%+v) succeeded", bad)
		}
	}
	if _, err := oci.ExecProcess(&specs.Spec{}, formation.ExecSpec{}); err == nil {
		t.Error("ExecProcess of a spec without a process succeeded")
	}
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// execIn starts command in d and waits for its exit.
func execIn(t *testing.T, ctx context.Context, d formation.Dyno, command string) (string, formation.Exit) {
	t.Helper()
	var out, errOut formationtest.Buffer
	p, err := d.(formation.Execer).Exec(ctx, formation.ExecSpec{Command: command}, formation.Stdio{Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatalf("Exec(%q): %v", command, err)
	}
	exit, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait(%q): %v", command, err)
	}
	if errOut.String() != "" {
		t.Logf("%q: stderr %q", command, errOut.String())
	}
	return out.String(), exit
}

func waitFor(t *testing.T, b *formationtest.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output %q lacks %q", b.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExecInsideDyno checks that an exec'd process shares the dyno's
// user, namespaces, cgroup and /app.
func TestExecInsideDyno(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		spec := dynoSpec(t, "web.1", `echo written > /app/by-dyno; cat /proc/self/cgroup | sort > /tmp/cgroup; echo up; sleep 30`, nil)
		var dynoOut formationtest.Buffer
		d := f.start(spec, formation.Stdio{Stdout: &dynoOut})
		waitFor(t, &dynoOut, "up\n")

		out, exit := execIn(t, f.ctx, d, `echo "uid=$(id -u) host=$(hostname) pwd=$(pwd) pid1=$(cat /proc/1/comm)"
cat /app/by-dyno
grep -E '^NoNewPrivs:' /proc/self/status | tr -s '\t' ' '
sort /proc/self/cgroup | cmp -s - /tmp/cgroup && echo same-cgroup`)
		want := "uid=65534 host=web.1 pwd=/app pid1=bash\nwritten\nNoNewPrivs: 1\nsame-cgroup\n"
		if exit.Code != 0 || out != want {
			t.Errorf("exec: %+v, output %q, want %q", exit, out, want)
		}
		if _, err := formation.Stop(f.ctx, d, time.Second); err != nil {
			t.Fatal(err)
		}
	})
}

// TestExecSignal checks signals to an exec'd process and its children, and
// how its exit reads.
func TestExecSignal(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		var dynoOut formationtest.Buffer
		d := f.start(dynoSpec(t, "web.1", `echo up; sleep 30`, nil), formation.Stdio{Stdout: &dynoOut})
		waitFor(t, &dynoOut, "up\n")
		ex := d.(formation.Execer)

		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			var out formationtest.Buffer
			// The shell waits for its child, which must get the signal too
			// for the shell to exit.
			p, err := ex.Exec(f.ctx, formation.ExecSpec{Command: `trap 'exit 99' TERM; sleep 30 & echo started; wait`}, formation.Stdio{Stdout: &out})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, &out, "started\n")
			start := time.Now()
			if err := p.Signal(f.ctx, sig); err != nil {
				t.Fatalf("Signal(%v): %v", sig, err)
			}
			exit, err := p.Wait(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := formation.Exit{Code: 99}
			if sig == syscall.SIGKILL {
				want = formation.Exit{Code: 137, Signal: syscall.SIGKILL}
			}
			if exit.Code != want.Code || exit.Signal != want.Signal {
				t.Errorf("%v: exit %+v, want %+v", sig, exit, want)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("%v: the exec took %v to end", sig, time.Since(start))
			}
			// Every caller sees the same exit.
			if again, _ := p.Wait(f.ctx); again != exit {
				t.Errorf("second Wait: %+v, want %+v", again, exit)
			}
			if err := p.Signal(f.ctx, sig); !errors.Is(err, formation.ErrExited) {
				t.Errorf("Signal after the exit: %v, want ErrExited", err)
			}
		}
		// No sleep is left but the dyno's.
		if out, _ := execIn(t, f.ctx, d, `cat /proc/[0-9]*/comm 2>/dev/null | grep -c sleep`); out != "1\n" {
			t.Errorf("%q sleeps in the dyno, want only the dyno's", out)
		}
	})
}

// TestExecLeavesNothing checks that what an exec'd process leaves behind
// is killed when it exits, rather than holding its output open.
func TestExecLeavesNothing(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		var dynoOut formationtest.Buffer
		d := f.start(dynoSpec(t, "web.1", `echo up; sleep 30`, nil), formation.Stdio{Stdout: &dynoOut})
		waitFor(t, &dynoOut, "up\n")
		for _, term := range []*formation.Terminal{nil, {Cols: 80, Rows: 24}} {
			start := time.Now()
			var out formationtest.Buffer
			p, err := d.(formation.Execer).Exec(f.ctx, formation.ExecSpec{Command: `sleep 60 & echo left`, Terminal: term}, formation.Stdio{Stdout: &out})
			if err != nil {
				t.Fatal(err)
			}
			exit, err := p.Wait(f.ctx)
			// crun may drop the last output of a process on a terminal
			// that something else still holds when it exits.
			if err != nil || exit.Code != 0 || (term == nil || binary == "runc") && !strings.Contains(out.String(), "left") {
				t.Errorf("terminal %v: %+v %v, output %q", term != nil, exit, err, out.String())
			}
			if el := time.Since(start); el > 1500*time.Millisecond {
				t.Errorf("terminal %v: the exec took %v to end", term != nil, el)
			}
			if out, _ := execIn(t, f.ctx, d, `cat /proc/[0-9]*/comm 2>/dev/null | grep -c sleep`); out != "1\n" {
				t.Errorf("terminal %v: %q sleeps in the dyno, want only the dyno's", term != nil, out)
			}
		}
	})
}

// TestExecStdinLeftOpen checks that a caller's stdin that never ends does
// not hold Wait once the process has exited.
func TestExecStdinLeftOpen(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		var dynoOut formationtest.Buffer
		d := f.start(dynoSpec(t, "web.1", `echo up; sleep 30`, nil), formation.Stdio{Stdout: &dynoOut})
		waitFor(t, &dynoOut, "up\n")
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		var out formationtest.Buffer
		p, err := d.(formation.Execer).Exec(f.ctx, formation.ExecSpec{Command: `read -r l; echo "got:$l"`, Stdin: struct{ *os.File }{r}}, formation.Stdio{Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteString("x\n"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		exit, err := p.Wait(f.ctx)
		if err != nil || exit.Code != 0 || out.String() != "got:x\n" {
			t.Errorf("%+v %v, output %q", exit, err, out.String())
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("Wait took %v", el)
		}
	})
}

// TestExecContext checks that a done ctx stops Exec and leaves nothing.
func TestExecContext(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		var dynoOut formationtest.Buffer
		d := f.start(dynoSpec(t, "web.1", `echo up; sleep 30`, nil), formation.Stdio{Stdout: &dynoOut})
		waitFor(t, &dynoOut, "up\n")
		ctx, cancel := context.WithCancel(f.ctx)
		cancel()
		if _, err := d.(formation.Execer).Exec(ctx, formation.ExecSpec{Command: "sleep 60"}, formation.Stdio{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Exec with a canceled ctx: %v", err)
		}
		// A ctx that ends while the runtime starts the process.
		ctx, cancel = context.WithTimeout(f.ctx, 2*time.Millisecond)
		defer cancel()
		if p, err := d.(formation.Execer).Exec(ctx, formation.ExecSpec{Command: "sleep 60"}, formation.Stdio{}); err == nil {
			t.Log("the exec started before ctx ended")
			_ = p.Signal(f.ctx, syscall.SIGKILL)
			_, _ = p.Wait(f.ctx)
		}
		time.Sleep(100 * time.Millisecond)
		if out, _ := execIn(t, f.ctx, d, `cat /proc/[0-9]*/comm 2>/dev/null | grep -c sleep`); out != "1\n" {
			t.Errorf("%q sleeps in the dyno, want only the dyno's", out)
		}
	})
}

// TestExecEndsWithDynoExit checks that an exec'd process that ignores
// signals still ends when the dyno's command exits by itself: it is in
// the dyno's PID namespace, which ends with the init.
func TestExecEndsWithDynoExit(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		var dynoOut formationtest.Buffer
		d := f.start(dynoSpec(t, "web.1", `echo up; sleep 1`, nil), formation.Stdio{Stdout: &dynoOut})
		waitFor(t, &dynoOut, "up\n")
		var out formationtest.Buffer
		p, err := d.(formation.Execer).Exec(f.ctx, formation.ExecSpec{Command: `trap '' TERM HUP INT; echo started; sleep 60 & wait`}, formation.Stdio{Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, &out, "started\n")
		if exit := f.wait(d); exit.Code != 0 {
			t.Errorf("dyno: %+v", exit)
		}
		ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
		defer cancel()
		exit, err := p.Wait(ctx)
		if err != nil || exit.Signal != syscall.SIGKILL {
			t.Errorf("exec: %+v %v, want killed", exit, err)
		}
	})
}
