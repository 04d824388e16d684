package formation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DynoSpec describes one dyno to start. It is plain data: everything a
// runtime needs to run the process, and nothing about how to watch it.
type DynoSpec struct {
	// ID is unique within a runtime for the dyno's lifetime (for example
	// "myapp.web.1.v3.k2j4"). Starting a second dyno with a live ID fails
	// with ErrExists.
	ID string
	// App, Name and Type identify the dyno as Heroku does: Name is "web.1",
	// "worker.2" or "run.4821"; Type is the process type ("web", "run").
	App, Name, Type string
	// Release is the release version the dyno runs.
	Release int
	// Command is the shell command from the Procfile (run with bash -c after
	// the slug's .profile.d scripts are sourced).
	Command string
	// Env holds KEY=VALUE pairs: config vars plus PORT, DYNO and the rest of
	// the dyno environment. Later entries win over earlier ones.
	Env []string
	// SlugDir is the extracted slug: the directory that holds the app tree
	// (what a dyno sees as /app). Runtimes must not modify it.
	SlugDir string
	// Port is the port a web dyno must bind (also in Env as PORT); 0 for
	// dynos that receive no HTTP traffic.
	Port int
	// Resources bound the dyno; zero fields mean no limit.
	Resources Resources
	// Stdin, when non-nil, is connected to the process (attached one-off dynos).
	Stdin io.Reader
	// Terminal, when non-nil, runs the process on a pseudo-terminal of its
	// size, as heroku run does for a user at a terminal: the terminal is
	// the process's stdin, stdout, stderr and controlling terminal. Stdin
	// is then the user's keystrokes (a carriage return ends a line, ^C
	// interrupts, ^D at the start of a line ends input; Stdin's own end is
	// not the end of input), the terminal echoes them, and all output,
	// stderr's included, goes to Stdio.Stdout with lines ending in CR LF.
	// Runtimes that cannot give a dyno a terminal fail Start with an error
	// wrapping ErrNoTerminal.
	Terminal *Terminal
}

// Terminal is the size of a dyno's pseudo-terminal; zero fields mean 80
// columns and 24 rows.
type Terminal struct {
	Cols, Rows int
}

// Validate reports a size a terminal cannot have.
func (t Terminal) Validate() error {
	if t.Cols < 0 || t.Rows < 0 || t.Cols > 0xffff || t.Rows > 0xffff {
		return fmt.Errorf("formation: terminal size %dx%d: columns and rows must be 0–65535", t.Cols, t.Rows)
	}
	return nil
}

// ErrNoTerminal is wrapped by Runtime.Start when DynoSpec.Terminal is set
// and the runtime cannot run a dyno on a terminal; callers may start it
// again without one.
var ErrNoTerminal = errors.New("formation: this runtime cannot run a dyno on a terminal")

// Resources are a dyno's limits.
type Resources struct {
	MemoryBytes int64 // memory limit (cgroup memory.limit)
	PIDs        int64 // maximum number of processes and threads
	// CPUShares is the dyno's relative CPU weight in cgroup v1 cpu.shares
	// units (OCI linux.resources.cpu.shares): CPUShareUnit (1024, also the
	// kernel's default weight) is one standard-1X share, 2048 a
	// standard-2X. It matters only when the CPU is contended; nothing caps
	// an idle host's CPU. See the package doc for each backend's mapping.
	CPUShares int64
}

// CPUShareUnit is Resources.CPUShares for one Heroku "1x" CPU share.
const CPUShareUnit = 1024

// Validate reports the first negative field of r, named in the error.
func (r Resources) Validate() error {
	if p := r.problem(); p != "" {
		return errors.New("formation: " + p)
	}
	return nil
}

// problem describes the first negative field of r, or returns "".
func (r Resources) problem() string {
	for _, f := range []struct {
		name string
		v    int64
	}{{"MemoryBytes", r.MemoryBytes}, {"PIDs", r.PIDs}, {"CPUShares", r.CPUShares}} {
		if f.v < 0 {
			return fmt.Sprintf("Resources.%s %d must not be negative", f.name, f.v)
		}
	}
	return ""
}

// Stdio receives a dyno's output. Writers are called from runtime-owned
// goroutines; a nil writer discards.
type Stdio struct {
	Stdout, Stderr io.Writer
}

// Runtime starts dynos. Implementations: formation/local (processes on this
// host) and formation/oci (OCI containers through runc or crun).
type Runtime interface {
	// Start returns once the dyno is running or has failed to start.
	// ctx bounds starting only: cancelling it later does not stop the dyno.
	Start(ctx context.Context, spec DynoSpec, stdio Stdio) (Dyno, error)
}

// Dyno is a running (or exited) dyno.
type Dyno interface {
	ID() string
	// Signal delivers sig to every process in the dyno. Once the dyno has
	// exited it returns an error wrapping ErrExited.
	Signal(ctx context.Context, sig syscall.Signal) error
	// Wait blocks until the dyno exits or ctx is done. Any number of callers
	// may wait, before or after the exit; all see the same Exit.
	Wait(ctx context.Context) (Exit, error)
}

// Exit is how a dyno ended.
type Exit struct {
	Code      int            // exit status; 128+n when killed by signal n
	Signal    syscall.Signal // non-zero when killed by a signal
	OOMKilled bool           // killed for exceeding its memory limit (R15): any of its processes, which ends the dyno
	At        time.Time
}

func (e Exit) String() string {
	switch {
	case e.OOMKilled:
		return fmt.Sprintf("killed for exceeding its memory limit (status %d)", e.Code)
	case e.Signal != 0:
		return fmt.Sprintf("killed by %s (status %d)", unix.SignalName(e.Signal), e.Code)
	default:
		return fmt.Sprintf("exited with status %d", e.Code)
	}
}

// Stopper is implemented by dynos whose backend has a native graceful stop.
// Stop uses it when present.
type Stopper interface {
	Stop(ctx context.Context, grace time.Duration) (Exit, error)
}

var (
	// ErrExists is returned by Start when a live dyno already has the ID.
	// The Reconciler wraps it for a one-off name, or (RenameApp) an app
	// name, already in use.
	ErrExists = errors.New("formation: dyno already exists")
	// ErrExited is wrapped by Signal once the dyno has exited.
	ErrExited = errors.New("formation: dyno already exited")
)

// DefaultGrace is Heroku's shutdown grace period between SIGTERM and SIGKILL.
const DefaultGrace = 30 * time.Second

// Stop stops d the way Heroku does: SIGTERM to every process in the dyno,
// up to grace for them to exit, then SIGKILL. A grace of 0 means
// DefaultGrace. It returns how the dyno exited; stopping an exited dyno
// returns its Exit.
func Stop(ctx context.Context, d Dyno, grace time.Duration) (Exit, error) {
	if grace <= 0 {
		grace = DefaultGrace
	}
	if s, ok := d.(Stopper); ok {
		return s.Stop(ctx, grace)
	}
	if err := d.Signal(ctx, syscall.SIGTERM); err != nil && !errors.Is(err, ErrExited) {
		return Exit{}, fmt.Errorf("formation: stop %s: %w", d.ID(), err)
	}
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	exit, err := d.Wait(graceCtx)
	cancel()
	if err == nil {
		return exit, nil
	}
	if ctx.Err() != nil {
		return Exit{}, fmt.Errorf("formation: stop %s: %w", d.ID(), ctx.Err())
	}
	if err := d.Signal(ctx, syscall.SIGKILL); err != nil && !errors.Is(err, ErrExited) {
		return Exit{}, fmt.Errorf("formation: stop %s: kill: %w", d.ID(), err)
	}
	exit, err = d.Wait(ctx)
	if err != nil {
		return Exit{}, fmt.Errorf("formation: stop %s: %w", d.ID(), err)
	}
	return exit, nil
}
