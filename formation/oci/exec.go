package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/internal/pty"
	"golang.org/x/sys/unix"
)

// Exec runs spec in the running dyno (heroku ps:exec) with `<binary> exec`
// in the foreground: the process is ExecProcess of the dyno's spec (its
// user, environment plus spec.Env, /app and bootstrap), and it joins the
// container's namespaces and cgroup, so it ends when the dyno does. A
// terminal is handled as the dyno's own is: the runtime runs on a
// pseudo-terminal of this package's, which it relays to the container's.
//
// Exec returns once the runtime has written the process's PID. The
// process waits on fd 3 until the host has taken a pidfd of it and read
// its process group, which the runtime makes a session's of its own:
// signals go to that group directly, and what the process leaves in it is
// killed when it exits.
func (d *Dyno) Exec(ctx context.Context, spec formation.ExecSpec, stdio formation.Stdio) (formation.ExecProcess, error) {
	ps, err := ExecProcess(d.spec, spec)
	if err != nil {
		return nil, fmt.Errorf("oci: exec in %s: %w", d.id, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("oci: exec in %s: %w", d.id, err)
	}
	if d.exited() {
		return nil, fmt.Errorf("oci: exec in %s: %w", d.id, formation.ErrExited)
	}
	// The bundle goes away with the dyno, and this directory with it.
	dir, err := os.MkdirTemp(d.bundle, "exec-")
	if err != nil {
		return nil, d.execError(ctx, err)
	}
	var closers []io.Closer // closed on failure
	fail := func(err error) (formation.ExecProcess, error) {
		for _, c := range closers {
			_ = c.Close()
		}
		_ = os.RemoveAll(dir)
		return nil, err
	}
	b, err := encodeJSON(ps)
	if err != nil {
		return fail(fmt.Errorf("oci: exec in %s: encode process.json: %w", d.id, err))
	}
	processPath := filepath.Join(dir, "process.json")
	if err := os.WriteFile(processPath, b, 0o600); err != nil {
		return fail(d.execError(ctx, err))
	}
	// fd 3 in the process: the host writes a line once it knows it.
	holdR, holdW, err := os.Pipe()
	if err != nil {
		return fail(fmt.Errorf("oci: exec in %s: %w", d.id, err))
	}
	closers = append(closers, holdW)
	pidPath, logPath := filepath.Join(dir, "pid"), filepath.Join(dir, "runtime.log")
	cmd := exec.Command(d.bin, "--root="+d.state, "--log="+logPath,
		"exec", "--process="+processPath, "--pid-file="+pidPath, "--preserve-fds=1", d.id)
	cmd.Stdout = stdio.Stdout
	cmd.Stderr = stdio.Stderr
	cmd.ExtraFiles = []*os.File{holdR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Bounds Wait when something in the dyno still holds the output.
	cmd.WaitDelay = 2 * time.Second
	p := &process{dyno: d.id, pidfd: -1, mainDone: make(chan struct{}), done: make(chan struct{})}
	// stdin goes through a pipe of ours, closed when the runtime exits, so
	// that a caller's reader that never returns does not hold Wait.
	var stdinR, stdinW *os.File
	if spec.Terminal != nil {
		t, err := pty.NewRelay(spec.Terminal.Cols, spec.Terminal.Rows)
		if err != nil {
			holdR.Close()
			return fail(fmt.Errorf("oci: exec in %s: %w", d.id, err))
		}
		p.term = t
		cmd.Stdin, cmd.Stdout, cmd.Stderr = t.Slave, t.Slave, t.Slave
		cmd.SysProcAttr = pty.Attr()
	} else if spec.Stdin != nil {
		if stdinR, stdinW, err = os.Pipe(); err != nil {
			holdR.Close()
			return fail(fmt.Errorf("oci: exec in %s: %w", d.id, err))
		}
		cmd.Stdin = stdinR
	}
	err = cmd.Start()
	holdR.Close()
	if stdinR != nil {
		stdinR.Close()
	}
	if err != nil {
		if p.term != nil {
			p.term.Abandon()
		}
		if stdinW != nil {
			stdinW.Close()
		}
		return fail(fmt.Errorf("oci: exec in %s: %s exec: %w", d.id, filepath.Base(d.bin), err))
	}
	if p.term != nil {
		p.term.Started(spec.Stdin, stdio.Stdout)
	}
	if stdinW != nil {
		go func() {
			_, _ = io.Copy(stdinW, spec.Stdin)
			stdinW.Close()
		}()
	}
	runtimeDone := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(runtimeDone)
	}()
	// endIO ends the I/O of a runtime that has exited.
	endIO := func() {
		if stdinW != nil {
			stdinW.Close()
		}
		if p.term != nil {
			p.term.Close(cmd.WaitDelay)
		}
	}

	pid, err := waitPidFile(ctx, pidPath, runtimeDone)
	if err != nil {
		if ctx.Err() != nil {
			// Starting was abandoned: the runtime cannot forward SIGKILL,
			// so kill it and then what it may have started, which waits
			// on fd 3 meanwhile.
			_ = cmd.Process.Kill()
			<-runtimeDone
			if pid, ok := readPidFile(pidPath); ok {
				_ = unix.Kill(pid, syscall.SIGKILL)
			}
			endIO()
			return fail(fmt.Errorf("oci: exec in %s: %w", d.id, ctx.Err()))
		}
		// The runtime exited without starting the process.
		endIO()
		msg := readRuntimeLog(logPath)
		code := -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
		return fail(d.execError(ctx, fmt.Errorf("%s exec exited with status %d: %s", filepath.Base(d.bin), code, msg)))
	}
	// The process waits on fd 3, so it is still there to be looked at.
	p.pid = pid
	if pgid, err := unix.Getpgid(pid); err == nil && pgid != cmd.Process.Pid && pgid != syscall.Getpgrp() {
		p.pgid = pgid
	}
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		select {
		case <-runtimeDone:
			// The runtime was killed: the process may be gone and fd
			// name another one.
			unix.Close(fd)
			close(p.mainDone)
		default:
			p.pidfd = fd
			go p.watch()
		}
	} else {
		// No pidfd (Linux < 5.3): the process is known to have exited
		// once the runtime has.
		go func() {
			<-runtimeDone
			if p.term == nil {
				p.killGroup()
			}
			close(p.mainDone)
		}()
	}
	_, _ = holdW.WriteString("run\n")
	holdW.Close()
	go func() {
		<-runtimeDone
		at := time.Now()
		p.mu.Lock()
		if p.pidfd >= 0 {
			// The runtime waits for the process unless it was itself
			// killed; then the process must not run on unowned.
			_ = unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
		}
		p.mu.Unlock()
		<-p.mainDone
		p.mu.Lock()
		if p.pidfd >= 0 {
			unix.Close(p.pidfd)
			p.pidfd = -1
		}
		p.mu.Unlock()
		if p.term != nil {
			p.killGroup()
		}
		endIO()
		p.exit = exitOf(cmd.ProcessState, at)
		_ = os.RemoveAll(dir)
		close(p.done)
	}()
	return p, nil
}

// execError wraps err from starting an exec, as ErrExited when the dyno has
// exited or its container is gone or stopped.
func (d *Dyno) execError(ctx context.Context, err error) error {
	if d.exited() {
		return fmt.Errorf("oci: exec in %s: %w", d.id, formation.ErrExited)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if status, serr := d.runtimeState(sctx); (serr != nil && sctx.Err() == nil) || status == "stopped" {
		return fmt.Errorf("oci: exec in %s: %w (%v)", d.id, formation.ErrExited, err)
	}
	return fmt.Errorf("oci: exec in %s: %w", d.id, err)
}

// waitPidFile waits for the runtime to write the process's PID, which it
// does once the process runs.
func waitPidFile(ctx context.Context, path string, runtimeDone <-chan struct{}) (int, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if pid, ok := readPidFile(path); ok {
			return pid, nil
		}
		select {
		case <-runtimeDone:
			if pid, ok := readPidFile(path); ok {
				return pid, nil
			}
			return 0, errors.New("the runtime exited before the process started")
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

func readPidFile(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// encodeJSON is v as the runtime reads it, without HTML escapes.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// process is a process started by Dyno.Exec.
type process struct {
	dyno string
	pid  int // in the host's PID namespace
	// pgid is the group of the process's own session, which the runtime
	// made (runc makes the process its leader; crun an intermediate
	// process that is gone), or 0 if that is not what it is in.
	pgid int
	term *pty.Relay

	mu    sync.Mutex
	pidfd int // -1 when none or closed

	mainDone chan struct{} // the process has exited
	done     chan struct{} // and the runtime too; exit is set
	exit     formation.Exit
}

// watch waits for the process to exit, then kills what it left in its
// group: at once without a terminal, since the runtime may wait for all
// that holds the output. On a terminal, the kernel hangs up the process's
// foreground group as the session ends, and a kill before the runtime
// has relayed the last output may lose it (crun), so what is left is
// killed once the runtime has exited.
func (p *process) watch() {
	defer close(p.mainDone)
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			break
		}
	}
	if p.term == nil {
		p.killGroup()
	}
}

// killGroup kills what the exited process left in its group.
func (p *process) killGroup() {
	if p.pgid > 0 {
		_ = unix.Kill(-p.pgid, unix.SIGKILL)
	}
}

func (p *process) Wait(ctx context.Context) (formation.Exit, error) {
	select {
	case <-p.done:
		return p.exit, nil
	case <-ctx.Done():
		return formation.Exit{}, fmt.Errorf("oci: wait for exec in %s: %w", p.dyno, ctx.Err())
	}
}

func (p *process) Signal(ctx context.Context, sig syscall.Signal) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oci: signal exec in %s: %w", p.dyno, err)
	}
	select {
	case <-p.mainDone:
		return fmt.Errorf("oci: signal exec in %s: %w", p.dyno, formation.ErrExited)
	default:
	}
	var err error
	p.mu.Lock()
	switch {
	case p.pgid > 0:
		err = unix.Kill(-p.pgid, sig)
	case p.pidfd >= 0:
		err = unix.PidfdSendSignal(p.pidfd, sig, nil, 0)
	default:
		err = unix.Kill(p.pid, sig)
	}
	p.mu.Unlock()
	if errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("oci: signal exec in %s: %w", p.dyno, formation.ErrExited)
	}
	if err != nil {
		return fmt.Errorf("oci: signal exec in %s: %w", p.dyno, err)
	}
	return nil
}

// Resize resizes the runtime's terminal and the container's. runc, getting
// SIGWINCH, would copy the size over itself, but crun does not, so the
// container's terminal (the process's controlling terminal) is resized
// from here too; it then has its new size when Resize returns.
func (p *process) Resize(t formation.Terminal) error {
	if p.term == nil {
		return nil
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("oci: resize exec in %s: %w", p.dyno, err)
	}
	select {
	case <-p.mainDone:
		return nil // nothing left to resize
	default:
	}
	if err := p.term.Resize(t.Cols, t.Rows); err != nil {
		return fmt.Errorf("oci: resize exec in %s: %w", p.dyno, err)
	}
	if err := resizeControllingTerminal(p.pid, t.Cols, t.Rows); err != nil {
		select {
		case <-p.mainDone:
			return nil
		default:
		}
		return fmt.Errorf("oci: resize exec in %s: %w", p.dyno, err)
	}
	return nil
}

// resizeControllingTerminal sets the size of pid's controlling terminal, a
// pseudo-terminal in its own /dev/pts, which it reaches through
// /proc/<pid>/root.
func resizeControllingTerminal(pid, cols, rows int) error {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return err
	}
	// Fields after the command name, which is in parentheses and may hold
	// anything: state ppid pgrp session tty_nr...
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 5 {
		return fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	dev, err := strconv.ParseUint(fields[4], 10, 64)
	if err != nil {
		return fmt.Errorf("cannot parse /proc/%d/stat: %w", pid, err)
	}
	// Unix98 pseudo-terminal slaves: major 136, minor the number in
	// /dev/pts.
	if unix.Major(dev) != 136 {
		return fmt.Errorf("process %d has no pseudo-terminal as its controlling terminal", pid)
	}
	// The path is resolved inside the container's root with no symlinks
	// (the container controls that tree: a link there must not lead this
	// process, root on the host, to a host file), and only a character
	// device of that number is opened for writing.
	root, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the root of process %d: %w", pid, err)
	}
	defer unix.Close(root)
	name := "dev/pts/" + strconv.FormatUint(uint64(unix.Minor(dev)), 10)
	pathFD, err := unix.Openat2(root, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("open /%s of process %d: %w", name, pid, err)
	}
	defer unix.Close(pathFD)
	var st unix.Stat_t
	if err := unix.Fstat(pathFD, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != dev {
		return fmt.Errorf("/%s is not the controlling terminal of process %d", name, pid)
	}
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(pathFD), os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return pty.SetSize(f, cols, rows)
}

// exitOf is how an exec ended, from the runtime's status: it exits with the
// process's, 128+n for a process killed by signal n.
func exitOf(ps *os.ProcessState, at time.Time) formation.Exit {
	code := -1
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		} else {
			code = ps.ExitCode()
		}
	}
	exit := formation.Exit{Code: code, At: at}
	if code > 128 && code <= 128+64 {
		exit.Signal = syscall.Signal(code - 128)
	}
	return exit
}
