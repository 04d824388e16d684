package local

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/internal/pty"
	"golang.org/x/sys/unix"
)

// Exec runs spec in the running dyno (heroku ps:exec): with the dyno's
// shell bootstrap (.profile.d, then bash -c), in its app directory, with
// its environment plus spec.Env and in its cgroup when it has one. The
// process gets a session of its own, whose processes are killed when it
// exits and when the dyno ends.
func (d *Dyno) Exec(ctx context.Context, spec formation.ExecSpec, stdio formation.Stdio) (formation.ExecProcess, error) {
	if spec.Terminal != nil {
		if err := spec.Terminal.Validate(); err != nil {
			return nil, fmt.Errorf("local: exec in %s: %w", d.id, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("local: exec in %s: %w", d.id, err)
	}
	command := spec.Command
	if command == "" {
		command = "bash"
	}
	cmd := exec.Command(d.shell, "-c", d.joinLines+bootstrap, d.name, command, d.appDir)
	cmd.Dir = d.appDir
	cmd.Env = append(append(make([]string, 0, len(d.env)+len(spec.Env)), d.env...), spec.Env...)
	var stdin io.WriteCloser
	if spec.Stdin != nil && spec.Terminal == nil {
		// Fed by a goroutine Wait does not wait for: a session's input
		// (an SSH channel) need not end when the process does, and
		// os/exec would hold Wait for WaitDelay on it.
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return nil, fmt.Errorf("local: exec in %s: %w", d.id, err)
		}
	}
	cmd.Stdout = nonNil(stdio.Stdout)
	cmd.Stderr = nonNil(stdio.Stderr)
	// A session of its own, terminal or not: an interactive shell puts
	// each job in a process group of its own, and the session is what
	// holds them all (killSession).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = d.waitDelay
	p := &process{dyno: d.id, done: make(chan struct{})}
	if spec.Terminal != nil {
		t, err := pty.NewRelay(spec.Terminal.Cols, spec.Terminal.Rows)
		if err != nil {
			return nil, fmt.Errorf("local: exec in %s: %w", d.id, err)
		}
		p.term = t
		cmd.Stdin, cmd.Stdout, cmd.Stderr = t.Slave, t.Slave, t.Slave
		cmd.SysProcAttr = pty.Attr()
	}
	abandon := func() {
		if p.term != nil {
			p.term.Abandon()
		}
	}
	// Started under d.mu: either the dyno's end (which takes d.mu) finds
	// the process in d.execs and kills it, or Exec finds the dyno ended.
	d.mu.Lock()
	if d.leaderDone {
		d.mu.Unlock()
		abandon()
		return nil, fmt.Errorf("local: exec in %s: %w", d.id, formation.ErrExited)
	}
	if d.cgroup != nil {
		joined, err := d.cgroup.prepareExec(cmd.SysProcAttr)
		if err != nil {
			d.mu.Unlock()
			abandon()
			return nil, fmt.Errorf("local: exec in %s: %w", d.id, err)
		}
		defer joined()
	}
	if err := cmd.Start(); err != nil {
		d.mu.Unlock()
		abandon()
		return nil, fmt.Errorf("local: exec in %s: %w", d.id, err)
	}
	p.pgid = cmd.Process.Pid
	if d.execs == nil {
		d.execs = make(map[*process]struct{})
	}
	d.execs[p] = struct{}{}
	d.mu.Unlock()
	if p.term != nil {
		p.term.Started(spec.Stdin, stdio.Stdout)
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(stdin, spec.Stdin)
			stdin.Close()
		}()
	}
	go func() {
		// What it left behind goes, while the leader is not yet reaped
		// (so its id, the session's, cannot be another's yet).
		for {
			var info unix.Siginfo
			if err := unix.Waitid(unix.P_PID, p.pgid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != unix.EINTR {
				break
			}
		}
		killSession(p.pgid)
		_ = cmd.Wait()
		if p.term != nil {
			p.term.Close(cmd.WaitDelay)
		}
		p.exit = exitOf(cmd)
		d.mu.Lock()
		delete(d.execs, p)
		d.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// process is a process started by Dyno.Exec.
type process struct {
	dyno string
	pgid int
	term *pty.Relay // nil without a terminal
	done chan struct{}
	exit formation.Exit
}

func (p *process) Wait(ctx context.Context) (formation.Exit, error) {
	select {
	case <-p.done:
		return p.exit, nil
	case <-ctx.Done():
		return formation.Exit{}, fmt.Errorf("local: wait for exec in %s: %w", p.dyno, ctx.Err())
	}
}

func (p *process) Signal(ctx context.Context, sig syscall.Signal) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: signal exec in %s: %w", p.dyno, err)
	}
	select {
	case <-p.done:
		return fmt.Errorf("local: signal exec in %s: %w", p.dyno, formation.ErrExited)
	default:
	}
	if err := syscall.Kill(-p.pgid, sig); err != nil {
		return fmt.Errorf("local: signal exec in %s: %w", p.dyno, err)
	}
	return nil
}

// killSession sends SIGKILL to every process of session sid (found in
// /proc), whatever process group it is in.
func killSession(sid int) {
	for _, pid := range procsWhere(func(_, s int) bool { return s == sid }) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (p *process) Resize(t formation.Terminal) error {
	if p.term == nil {
		return nil
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("local: resize exec in %s: %w", p.dyno, err)
	}
	return p.term.Resize(t.Cols, t.Rows)
}

// exitOf is how a waited-for command ended.
func exitOf(cmd *exec.Cmd) formation.Exit {
	exit := formation.Exit{At: time.Now()}
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			exit.Signal = ws.Signal()
			exit.Code = 128 + int(exit.Signal)
		} else {
			exit.Code = ps.ExitCode()
		}
	}
	return exit
}
