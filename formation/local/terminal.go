package local

import (
	"io"
	"os"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/internal/pty"
)

// terminal is a dyno's pseudo-terminal (DynoSpec.Terminal): the process
// gets slave as stdin, stdout, stderr and controlling terminal; input is
// copied to master and master's output to the dyno's Stdout.
type terminal struct {
	master, slave *os.File
	outDone       chan struct{} // closed when the output copy has ended
}

func openTerminal(size formation.Terminal) (*terminal, error) {
	m, s, err := pty.Open(size.Cols, size.Rows)
	if err != nil {
		return nil, err
	}
	return &terminal{master: m, slave: s, outDone: make(chan struct{})}, nil
}

// started runs once the process has started: the parent's copy of the
// terminal end goes (so the output ends when the dyno's processes are
// gone), and the copies start. The input copy ends at in's end or at the
// first write after close; like os/exec's, it may wait in in.Read until
// the caller closes in.
func (t *terminal) started(in io.Reader, out io.Writer) {
	t.slave.Close()
	if out == nil {
		out = io.Discard
	}
	go func() {
		defer close(t.outDone)
		// Reading master fails with EIO once no process holds the
		// terminal: that is the end of the output, not an error.
		_, _ = io.Copy(out, t.master)
	}()
	if in != nil {
		go func() { _, _ = io.Copy(t.master, in) }()
	}
}

// close ends the terminal after the dyno's main process has exited: the
// output left in the terminal is copied out, waiting up to wait for
// processes outside the dyno's process group that still hold it.
func (t *terminal) close(wait time.Duration) {
	select {
	case <-t.outDone:
	case <-time.After(wait):
	}
	t.master.Close()
	<-t.outDone
}

// abandon closes both ends when the process could not be started.
func (t *terminal) abandon() {
	t.slave.Close()
	t.master.Close()
}
