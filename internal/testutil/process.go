package testutil

import (
	"net"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// Process is a server child of the test binary, started by [Start].
type Process struct {
	*os.Process
	exited chan struct{}
}

// Start starts cmd from a goroutine that stays locked to its OS thread
// until the child exits. The caller sets the parent-death signal
// (SysProcAttr.Pdeathsig) so a dying test binary takes its servers along;
// Linux sends it when the thread that forked the child exits, and the Go
// runtime may retire unlocked threads at any time.
func Start(cmd *exec.Cmd) (*Process, error) {
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(exited)
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return &Process{Process: cmd.Process, exited: exited}, nil
}

// Exited is closed once the child has exited and been waited for.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop sends sig and waits for the child to exit, killing it when it is
// still running after grace. Stopping a nil Process does nothing.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	if p == nil {
		return
	}
	_ = p.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.Kill()
		<-p.exited
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a server that must be told its port on the command line.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
