package pty

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Open opens a new pseudo-terminal of cols × rows characters (80 × 24 for
// zero values) with the kernel's default terminal settings (canonical
// input, echo, ^C and ^D as interrupt and end of input, CR read as NL, NL
// written as CR NL). Both files are close-on-exec; the caller closes both.
func Open(cols, rows int) (master, slave *os.File, err error) {
	if cols < 0 || rows < 0 || cols > 0xffff || rows > 0xffff {
		return nil, nil, fmt.Errorf("pty: size %dx%d: columns and rows must be 0–65535", cols, rows)
	}
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("pty: open: %w", err)
	}
	fail := func(what string, err error) (*os.File, *os.File, error) {
		m.Close()
		return nil, nil, fmt.Errorf("pty: %s: %w", what, err)
	}
	rc, err := m.SyscallConn()
	if err != nil {
		return fail("open", err)
	}
	var n int
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioErr != nil {
			return
		}
		n, ioErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
	}); err != nil || ioErr != nil {
		return fail("unlock", errors.Join(err, ioErr))
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fail("open terminal end", err)
	}
	if err := SetSize(s, cols, rows); err != nil {
		s.Close()
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// SetSize sets the terminal's size (80 × 24 for zero values); its
// foreground process group gets SIGWINCH.
func SetSize(f *os.File, cols, rows int) error {
	if cols == 0 {
		cols = 80
	}
	if rows == 0 {
		rows = 24
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("pty: set size: %w", err)
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
	}); err != nil || ioErr != nil {
		return fmt.Errorf("pty: set size %dx%d: %w", cols, rows, errors.Join(err, ioErr))
	}
	return nil
}

// Attr makes a started process the leader of a new session with the
// terminal end as its controlling terminal; that end must be the
// process's standard input (descriptor 0).
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
}

// Relay is a pseudo-terminal that a started process runs on while the
// caller's reader and writer stand in for the user's keyboard and screen.
type Relay struct {
	// Slave is the terminal end to give the process (with Attr).
	Slave   *os.File
	master  *os.File
	outDone chan struct{}
}

// NewRelay opens a terminal of cols × rows for a process about to start.
func NewRelay(cols, rows int) (*Relay, error) {
	m, s, err := Open(cols, rows)
	if err != nil {
		return nil, err
	}
	return &Relay{Slave: s, master: m, outDone: make(chan struct{})}, nil
}

// Started runs once the process has started: the caller's copy of the
// terminal end is closed (so the output ends when the process's side is
// gone), and in is copied to the terminal as keystrokes and its output to
// out (nil discards it). The input copy ends at in's end or at the first
// write after Close; like os/exec's, it may wait in in.Read until the
// caller closes in.
func (r *Relay) Started(in io.Reader, out io.Writer) {
	r.Slave.Close()
	if out == nil {
		out = io.Discard
	}
	go func() {
		defer close(r.outDone)
		// Reading the master end fails with EIO once no process holds the
		// terminal: that is the end of the output, not an error.
		_, _ = io.Copy(out, r.master)
	}()
	if in != nil {
		go func() { _, _ = io.Copy(r.master, in) }()
	}
}

// Close ends the terminal after the process has exited: the output left
// in it is copied out first, waiting up to wait for other processes that
// still hold the terminal.
func (r *Relay) Close(wait time.Duration) {
	select {
	case <-r.outDone:
	case <-time.After(wait):
	}
	r.master.Close()
	<-r.outDone
}

// Resize changes the terminal's size; its foreground process group gets
// SIGWINCH.
func (r *Relay) Resize(cols, rows int) error { return SetSize(r.master, cols, rows) }

// Abandon closes both ends when the process could not be started.
func (r *Relay) Abandon() {
	r.Slave.Close()
	r.master.Close()
}
