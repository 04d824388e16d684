package buildpacktest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/buildpack"
)

// RunnerSuite checks a CommandRunner: exit codes are returned (not
// errors), the environment is exactly Command.Env, the working directory
// is Command.Dir, stdout and stderr arrive, and cancelling ctx kills the
// command and the processes it started, promptly, even when one of them
// holds the output open. It needs bash and sleep on PATH.
func RunnerSuite(t *testing.T, newRunner func() buildpack.CommandRunner) {
	bash := "/bin/bash"
	if _, err := os.Stat(bash); err != nil {
		t.Skip("buildpacktest: /bin/bash not found")
	}
	path := "PATH=" + os.Getenv("PATH")
	run := func(t *testing.T, ctx context.Context, script string, env []string, dir string) (int, string, string, error) {
		var stdout, stderr bytes.Buffer
		code, err := newRunner().Run(ctx, buildpack.Command{
			Phase: buildpack.PhaseCompile, Path: bash, Args: []string{"-c", script},
			Env: env, Dir: dir, Stdout: &stdout, Stderr: &stderr,
		})
		return code, stdout.String(), stderr.String(), err
	}

	t.Run("ExitCodes", func(t *testing.T) {
		for _, want := range []int{0, 1, 7, 100} {
			code, _, _, err := run(t, context.Background(), "exit "+strconv.Itoa(want), []string{path}, "")
			if err != nil || code != want {
				t.Errorf("exit %d: got code %d, err %v", want, code, err)
			}
		}
	})
	t.Run("EnvDirOutput", func(t *testing.T) {
		dir := t.TempDir()
		code, out, errOut, err := run(t, context.Background(), `echo "$FOO|$(pwd)"; env | cut -d= -f1 | sort | tr '\n' ' '; echo oops >&2`,
			[]string{path, "FOO=bar baz"}, dir)
		if err != nil || code != 0 {
			t.Fatalf("code %d, err %v", code, err)
		}
		real, _ := filepath.EvalSymlinks(dir)
		if first, _, _ := strings.Cut(out, "\n"); first != "bar baz|"+real && first != "bar baz|"+dir {
			t.Errorf("stdout first line = %q, want FOO and the working dir", first)
		}
		// bash adds PWD, SHLVL and _ itself; nothing else may appear.
		for _, name := range strings.Fields(strings.SplitN(out, "\n", 2)[1]) {
			switch name {
			case "PATH", "FOO", "PWD", "SHLVL", "_":
			default:
				t.Errorf("unexpected variable %s in the command's environment", name)
			}
		}
		if errOut != "oops\n" {
			t.Errorf("stderr = %q", errOut)
		}
	})
	t.Run("CancelKillsGroup", func(t *testing.T) {
		dir := t.TempDir()
		pidFile := filepath.Join(dir, "child.pid")
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for ctx.Err() == nil {
				if _, err := os.Stat(pidFile); err == nil {
					time.Sleep(50 * time.Millisecond)
					cancel()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		start := time.Now()
		_, _, _, err := run(t, ctx, `sleep 300 & echo $! > child.pid; sleep 300`, []string{path}, dir)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("Run took %s after cancel", d)
		}
		assertDead(t, pidFile)
	})
	t.Run("GrandchildHoldingOutput", func(t *testing.T) {
		dir := t.TempDir()
		pidFile := filepath.Join(dir, "child.pid")
		start := time.Now()
		code, _, _, err := run(t, context.Background(), `sleep 300 & echo $! > child.pid; echo done`, []string{path}, dir)
		if err != nil || code != 0 {
			t.Errorf("code %d, err %v", code, err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("Run waited %s for a background process", d)
		}
		assertDead(t, pidFile)
	})
}

// assertDead fails when the pid recorded in file is still running.
func assertDead(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	AssertProcessGone(t, pid)
}

// AssertProcessGone waits up to 10 s for pid to exit (or become a zombie)
// and fails the test otherwise, killing it so it does not leak.
func AssertProcessGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("process %d is still running", pid)
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// Field 3, after the parenthesised command name, is the state.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
