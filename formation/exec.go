package formation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
)

// Execer is implemented by dynos that can run one more process inside
// themselves while they run, as heroku ps:exec does: the process sees the
// dyno's app directory, environment and limits (formation/local and
// formation/oci implement it). It is neither restarted nor logged, and it
// ends when the dyno does.
type Execer interface {
	// Exec starts spec in the dyno and returns once it runs, or failed
	// to start; ctx bounds starting only. A dyno that has exited answers
	// an error wrapping ErrExited.
	Exec(ctx context.Context, spec ExecSpec, stdio Stdio) (ExecProcess, error)
}

// ExecSpec is what Execer.Exec runs.
type ExecSpec struct {
	// Command runs as a dyno's command does (bash -c, after .profile.d);
	// empty means an interactive bash.
	Command string
	// Env is added to the dyno's environment (later entries win), e.g.
	// TERM for a terminal.
	Env []string
	// Stdin, when non-nil, is connected to the process.
	Stdin io.Reader
	// Terminal, when non-nil, runs the process on a pseudo-terminal of
	// that size, as DynoSpec.Terminal does; a runtime that cannot refuses
	// the spec with an error wrapping ErrNoTerminal.
	Terminal *Terminal
}

// ExecProcess is a process started by Execer.Exec.
type ExecProcess interface {
	// Wait blocks until the process exits (or ctx is done); every caller
	// sees the same Exit.
	Wait(ctx context.Context) (Exit, error)
	// Signal delivers sig to the process and its children.
	Signal(ctx context.Context, sig syscall.Signal) error
	// Resize changes the size of the process's terminal; without one it
	// does nothing.
	Resize(t Terminal) error
}

// ErrNoExec is wrapped by Reconciler.Exec when the dyno's runtime cannot
// run a process inside a running dyno (it does not implement Execer).
var ErrNoExec = errors.New("formation: this runtime cannot run a process in a running dyno")

// Exec runs spec inside the app's running dyno name ("web.1"), for heroku
// ps:exec. A dyno that is not up is ErrExited (ErrUnknown when the app has
// no dyno of that name); a runtime without Execer, ErrNoExec.
func (r *Reconciler) Exec(ctx context.Context, app, name string, spec ExecSpec, stdio Stdio) (ExecProcess, error) {
	if spec.Terminal != nil {
		if err := spec.Terminal.Validate(); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	var dyno Dyno
	known := false
	for _, d := range r.dynos {
		if d.app != app || d.name != name {
			continue
		}
		known = true
		if d.state == StateUp {
			dyno = d.dyno
		}
	}
	r.mu.Unlock()
	switch {
	case !known:
		return nil, fmt.Errorf("formation: exec in %s of %s: %w", name, app, ErrUnknown)
	case dyno == nil:
		return nil, fmt.Errorf("formation: exec in %s of %s: the dyno is not up: %w", name, app, ErrExited)
	}
	ex, ok := dyno.(Execer)
	if !ok {
		return nil, fmt.Errorf("formation: exec in %s of %s: %w", name, app, ErrNoExec)
	}
	p, err := ex.Exec(ctx, spec, stdio)
	if err != nil {
		return nil, fmt.Errorf("formation: exec in %s of %s: %w", name, app, err)
	}
	return p, nil
}
