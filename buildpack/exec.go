package buildpack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Command is one buildpack script invocation, described as plain data so
// that a CommandRunner other than the local one (an OCI container, a remote
// builder) can run it.
type Command struct {
	// Phase is "detect", "compile" or "release", so a runner can sandbox
	// only the phases that run untrusted code with write access.
	Phase string
	// Path is the program; Args are its arguments (without argv[0]).
	Path string
	Args []string
	// Env is the complete environment (KEY=VALUE); nothing is inherited.
	Env []string
	// Dir is the working directory.
	Dir string
	// Stdout and Stderr receive the output. They may be the same writer.
	Stdout, Stderr io.Writer
}

// CommandRunner runs a Command to completion. It returns the exit code
// (-1 when the process did not exit normally) and an error only when the
// command could not be run or waited for, or ctx ended first. A non-zero
// exit code is not an error at this level: the Builder decides what it
// means (detect uses it as "no").
//
// When ctx is done, an implementation must kill everything the command
// started and return promptly.
type CommandRunner interface {
	Run(ctx context.Context, c Command) (exitCode int, err error)
}

// LocalRunner runs commands as local processes, each in its own process
// group. It is the default CommandRunner. Its zero value is ready to use.
//
// Containment: when the leader exits, or ctx ends, the whole process group
// is killed with SIGKILL, so background processes a script started do not
// outlive its phase. A process that leaves the group (setsid) and keeps the
// output pipe open is cut off after WaitDelay.
type LocalRunner struct {
	// WaitDelay bounds how long output is drained after the script exits
	// or is killed; default 2s.
	WaitDelay time.Duration
}

var _ CommandRunner = (*LocalRunner)(nil)

// Run implements CommandRunner.
func (r *LocalRunner) Run(ctx context.Context, c Command) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // never inherit the platform's environment
	}
	cmd.Dir = c.Dir
	cmd.Stdout = c.Stdout
	cmd.Stderr = c.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = r.WaitDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = 2 * time.Second
	}
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	pid := cmd.Process.Pid

	// Observe the exit without reaping, so the process group ID cannot be
	// reused by an unrelated process while we signal it (go-style §4.2).
	exited := make(chan error, 1)
	go func() { exited <- waitNoReap(pid) }()
	var ctxErr error
	select {
	case err := <-exited:
		if err != nil {
			// Cannot observe the exit: kill and let Wait reap.
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	case <-ctx.Done():
		ctxErr = ctx.Err()
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	// Sweep whatever the script left behind in its group; ESRCH means
	// nothing was left.
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.EPERM) {
		ctxErr = errors.Join(ctxErr, fmt.Errorf("kill process group %d: %w", pid, err))
	}
	waitErr := cmd.Wait()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	if ctxErr != nil {
		return code, ctxErr
	}
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil, errors.As(waitErr, &exitErr):
		return code, nil
	case errors.Is(waitErr, exec.ErrWaitDelay):
		// The script exited but something outside its group held the
		// output open; the output was cut, the exit code stands.
		return code, nil
	default:
		return code, waitErr
	}
}

// waitNoReap blocks until pid has exited, leaving it a zombie.
func waitNoReap(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return os.NewSyscallError("waitid", err)
		}
		return nil
	}
}
