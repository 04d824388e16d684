package formation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// OneOffRequest asks for a one-off dyno (heroku run).
type OneOffRequest struct {
	App     string
	Release int
	// Type is the one-off's type, "run" when empty: Heroku names the
	// release phase's dyno release.N and Heroku Scheduler's scheduler.N.
	// It must be a valid process type name that the app's formation does
	// not run (a formation's "release" type is the release phase, which
	// the Reconciler never runs).
	Type    string
	Command string
	Env     []string // merged onto the config vars by the SpecFunc
	Size    string
	// Attach connects Stdin, Stdout and Stderr to the dyno, like a
	// terminal; a detached dyno's output goes to Reconciler.Output.
	Attach         bool
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal, with Attach, runs the dyno on a pseudo-terminal
	// (DynoSpec.Terminal); its output all goes to Stdout.
	Terminal *Terminal
	// Name is the dyno's name, "<Type>.N" (from OneOffName for "run",
	// announced before the dyno starts, as heroku run's API answer does);
	// empty picks one. A name an app's dyno has already fails with
	// ErrExists.
	Name string
}

// OneOff is a running one-off dyno. It is never restarted.
type OneOff struct {
	Name string // "run.4821"
	ID   string
	r    *Reconciler
	d    *dynoRec
}

// Wait blocks until the one-off exits and returns its Exit (the exit code
// of an attached `heroku run`).
func (o *OneOff) Wait(ctx context.Context) (Exit, error) {
	select {
	case <-o.d.done:
		return o.d.exit, nil
	case <-ctx.Done():
		return Exit{}, fmt.Errorf("formation: wait %s: %w", o.Name, ctx.Err())
	}
}

// Stop stops the one-off (SIGTERM, Grace, SIGKILL) and waits for it.
func (o *OneOff) Stop(ctx context.Context) (Exit, error) {
	o.r.mu.Lock()
	o.r.stopLocked(o.d)
	o.r.mu.Unlock()
	return o.Wait(ctx)
}

// RunOneOff starts a one-off dyno named run.NNNN. It returns once the
// dyno has started; the dyno is stopped with the others when Run ends.
func (r *Reconciler) RunOneOff(ctx context.Context, req OneOffRequest) (*OneOff, error) {
	if req.App == "" || req.Command == "" {
		return nil, errors.New("formation: one-off: OneOffRequest.App and Command must be set")
	}
	if r.Runtime == nil || r.Spec == nil {
		return nil, errors.New("formation: Reconciler needs Runtime and Spec")
	}
	r.mu.Lock()
	r.defaults()
	if r.stopping {
		r.mu.Unlock()
		return nil, errors.New("formation: one-off: reconciler is shutting down")
	}
	typ := cmp.Or(req.Type, "run")
	if err := r.checkOneOffTypeLocked(req.App, typ); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	name := req.Name
	if name == "" {
		name = r.oneOffNameLocked(req.App, typ)
	} else if !isOneOffName(name, typ) {
		r.mu.Unlock()
		return nil, fmt.Errorf("formation: one-off: Name %q is not %s.N", name, typ)
	} else if r.nameUsedLocked(req.App, name) {
		r.mu.Unlock()
		return nil, fmt.Errorf("formation: one-off %s of %s: %w", name, req.App, ErrExists)
	}
	d := &dynoRec{
		id: r.newDynoIDLocked(req.App, name, req.Release), app: req.App, typ: typ, name: name, size: req.Size,
		release: req.Release, oneOff: true, state: StateStarting, startedAt: time.Now(), done: make(chan struct{}),
	}
	r.dynos[d.id] = d // reserves the name
	r.mu.Unlock()

	fail := func(err error) (*OneOff, error) {
		r.mu.Lock()
		delete(r.dynos, d.id)
		r.mu.Unlock()
		return nil, fmt.Errorf("formation: one-off %s: %w", name, err)
	}
	// The app may be renamed from here on: askSpec and d.app follow it.
	spec, err := r.askSpec(ctx, d, SpecRequest{ID: d.id, Release: req.Release, Type: typ, Name: name, Size: req.Size, Command: req.Command, Env: req.Env})
	if err != nil {
		r.mu.Unlock()
		return fail(err)
	}
	spec.Port = 0 // one-offs never receive HTTP
	var stdio Stdio
	if req.Attach {
		spec.Stdin = req.Stdin
		spec.Terminal = req.Terminal
		stdio = Stdio{Stdout: req.Stdout, Stderr: req.Stderr}
	} else if r.Output != nil {
		stdio = r.Output(d.app, name)
	}
	d.spec = spec
	r.emit(d, Event{Message: msgStarting(spec.Command)})
	r.mu.Unlock()
	dyno, err := r.Runtime.Start(ctx, spec, stdio)
	if err != nil {
		return fail(err)
	}
	r.mu.Lock()
	d.dyno = dyno
	r.setState(d, StateUp)
	r.watchers.Add(1)
	stopped := d.stopping // by Remove, LookupOneOff or shutdown while starting
	if stopped {
		r.watchers.Add(1)
	}
	r.mu.Unlock()
	go func() {
		defer r.watchers.Done()
		exit, _ := dyno.Wait(context.WithoutCancel(ctx))
		r.mu.Lock()
		r.exitedLocked(d, exit)
		r.mu.Unlock()
	}()
	if stopped {
		go func() {
			defer r.watchers.Done()
			r.stop(context.WithoutCancel(ctx), d, dyno)
		}()
	}
	return &OneOff{Name: name, ID: d.id, r: r, d: d}, nil
}

// LookupOneOff finds app's running one-off dyno named name ("run.4821"),
// so it can be stopped by name (heroku ps:stop run.4821).
func (r *Reconciler) LookupOneOff(app, name string) (*OneOff, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.dynos {
		if d.oneOff && d.app == app && d.name == name {
			return &OneOff{Name: d.name, ID: d.id, r: r, d: d}, true
		}
	}
	return nil, false
}

// OneOffName picks a name ("run.N") no dyno of app has now, for a
// OneOffRequest made later; until then it is not reserved.
func (r *Reconciler) OneOffName(app string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.oneOffNameLocked(app, "run")
}

// oneOffNumber is the syntax of the number in a one-off's name.
var oneOffNumber = regexp.MustCompile(`^[1-9][0-9]{0,8}$`)

// isOneOffName reports whether name is typ.N.
func isOneOffName(name, typ string) bool {
	n, ok := strings.CutPrefix(name, typ+".")
	return ok && oneOffNumber.MatchString(n)
}

// checkOneOffTypeLocked refuses a one-off type that is not a process type
// name, or that the app's formation runs: its dynos would share names
// and Restart(type) would reach the one-off.
func (r *Reconciler) checkOneOffTypeLocked(app, typ string) error {
	if typ == "run" {
		return nil
	}
	for _, c := range typ {
		if !isTypeRune(c) {
			return fmt.Errorf("formation: one-off of %s: type %q contains %q (allowed: letters, digits, '_', '-')", app, typ, c)
		}
	}
	if _, ok := r.desired[app].Processes[typ]; ok {
		return fmt.Errorf("formation: one-off of %s: type %q is a process type of the app's formation", app, typ)
	}
	return nil
}

func (r *Reconciler) nameUsedLocked(app, name string) bool {
	for _, d := range r.dynos {
		if d.app == app && d.name == name {
			return true
		}
	}
	return false
}

// oneOffNameLocked picks an unused typ.NNNN (four digits, like Heroku).
func (r *Reconciler) oneOffNameLocked(app, typ string) string {
	used := map[string]bool{}
	for _, d := range r.dynos {
		if d.app == app {
			used[d.name] = true
		}
	}
	for n := 9000; ; n *= 10 { // widen if four digits are nearly used up
		for range 64 {
			name := typ + "." + strconv.Itoa(n/9+rand.IntN(n))
			if !used[name] {
				return name
			}
		}
	}
}
