package formation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// SpecRequest is what the platform turns into a DynoSpec: formation does
// not know releases, slugs or config vars.
type SpecRequest struct {
	ID      string // the dyno's ID, as the Reconciler lists it
	App     string
	Release int
	Type    string // "web", "worker", "run"
	Name    string // "web.1", "run.4821"
	Index   int    // 0 for one-offs
	Size    string
	// Command and Env are set for one-off dynos: the command to run and
	// variables to merge onto the config vars. Formation dynos take their
	// command from the release's process types.
	Command string
	Env     []string
}

// SpecFunc builds a dyno's spec. ID, App, Name, Type and Release in the
// result are overwritten by the Reconciler; the rest (Command, Env with
// PORT and DYNO, SlugDir, Port, Resources) is the platform's.
type SpecFunc func(ctx context.Context, req SpecRequest) (DynoSpec, error)

// ReadyFunc reports when a started dyno is up. It blocks until the dyno is
// ready (nil), ctx is done, or the check cannot succeed (error).
type ReadyFunc func(ctx context.Context, spec DynoSpec) error

// HerokuBackoff returns the Common Runtime crash cool-off: the first crash
// restarts at once, later ones wait 20, 40, 60, 180 and then 320 minutes.
func HerokuBackoff() []time.Duration {
	return []time.Duration{0, 20 * time.Minute, 40 * time.Minute, 60 * time.Minute, 180 * time.Minute, 320 * time.Minute}
}

// Heroku's daily dyno cycling.
const (
	HerokuCycle       = 24 * time.Hour
	HerokuCycleJitter = 216 * time.Minute
)

// Reconciler keeps each app's dynos at its Formation, driven by dyno
// events and a periodic full resync. Set desired state with Set, then call
// Run. The zero value needs Runtime and Spec; every other field has a
// Heroku default.
type Reconciler struct {
	Runtime Runtime
	Spec    SpecFunc
	// Output returns where a formation or detached one-off dyno's output
	// goes (typically the app's log stream); nil discards. It is called
	// with the Reconciler's lock held, once per dyno as it starts, with the
	// app's name at that moment: a dyno keeps its writers when the app is
	// renamed (RenameApp), so a log stream is best keyed by something a
	// rename does not change, such as an app ID.
	Output func(app, dyno string) Stdio
	// OnEvent receives every dyno event in order. It is called with the
	// Reconciler's lock held: it must return quickly and not call back into
	// the Reconciler (hand events to a channel or a log).
	OnEvent func(Event)
	// Grace is the time between SIGTERM and SIGKILL (R12). Default 30 s.
	Grace time.Duration
	// BootTimeout is how long a web dyno has to become ready (R10).
	// Default 60 s.
	BootTimeout time.Duration
	// Resync is the period of full reconciliation passes. Default 30 s.
	Resync time.Duration
	// Backoff[i] is the cool-off after the (i+1)th consecutive crash of a
	// dyno slot; the last entry repeats. Default HerokuBackoff.
	Backoff []time.Duration
	// HealthyAfter is how long a dyno must stay up for its slot's crash
	// count to reset. Default 10 minutes.
	HealthyAfter time.Duration
	// Ready decides when a web dyno (Port != 0) is up. Default: the port
	// accepts TCP connections on Host, and when HealthCheckPath is set a
	// GET of it answers below 400. Dynos without a port are up once started.
	Ready ReadyFunc
	// HealthCheckPath, e.g. "/health", gates web dynos on an HTTP check.
	HealthCheckPath string
	// Host is where web dynos listen. Default 127.0.0.1.
	Host string
	// MemoryCheck is how often dynos that report memory (MemoryReader) are
	// polled for R14. Zero means 20 s; negative disables.
	MemoryCheck time.Duration
	// OnMemory, when set, receives every memory reading (each MemoryCheck,
	// for dynos whose runtime reports memory), e.g. for Heroku's
	// log-runtime-metrics samples. It must not block.
	OnMemory func(d DynoStatus, u MemoryUsage)
	// MemoryWarnFraction of the limit triggers R14. Default 0.9: with a
	// hard cgroup limit usage cannot exceed the quota itself.
	MemoryWarnFraction float64
	// Cycle, when set, restarts each formation dyno after it has run for
	// Cycle plus a random part of CycleJitter (Heroku: 24 h + up to 216
	// min, HerokuCycle and HerokuCycleJitter). Zero disables cycling.
	Cycle, CycleJitter time.Duration
	Logger             *slog.Logger

	mu       sync.Mutex
	desired  map[string]Formation
	dynos    map[string]*dynoRec // by ID
	crashes  map[slot]crashCount
	nudge    chan struct{}
	watchers sync.WaitGroup
	stopping bool // Run is shutting down: start nothing more
	running  bool
}

type slot struct {
	app, typ string
	index    int
}

type crashCount struct {
	release int
	n       int
}

type dynoRec struct {
	id, app, typ, name string
	size               string // the dyno size it was started with
	index, release     int
	oneOff             bool
	state              State
	stopping           bool
	dyno               Dyno
	spec               DynoSpec
	addr               string
	startedAt, upAt    time.Time
	restartAt          time.Time // crashed formation dynos
	cancel             context.CancelFunc
	done               chan struct{} // one-offs: closed on exit
	exit               Exit          // one-offs, once done
}

// DynoStatus is a snapshot of one dyno for listing (heroku ps).
type DynoStatus struct {
	ID, App, Name, Type string
	Release             int
	State               State
	Command             string
	Addr                string
	StartedAt           time.Time
	// RestartAt is when a crashed dyno will be restarted.
	RestartAt time.Time
	// OneOff marks a one-off dyno (RunOneOff), whatever its Type.
	OneOff bool
	// Size is the dyno size it was started with ("" = unsized).
	Size string
}

func (r *Reconciler) defaults() {
	if r.desired == nil {
		r.desired = map[string]Formation{}
		r.dynos = map[string]*dynoRec{}
		r.crashes = map[slot]crashCount{}
		r.nudge = make(chan struct{}, 1)
	}
}

func (r *Reconciler) grace() time.Duration       { return cmp.Or(r.Grace, DefaultGrace) }
func (r *Reconciler) bootTimeout() time.Duration { return cmp.Or(r.BootTimeout, 60*time.Second) }
func (r *Reconciler) resync() time.Duration      { return cmp.Or(r.Resync, 30*time.Second) }
func (r *Reconciler) healthyAfter() time.Duration {
	return cmp.Or(r.HealthyAfter, 10*time.Minute)
}
func (r *Reconciler) host() string { return cmp.Or(r.Host, "127.0.0.1") }

func (r *Reconciler) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Set records f as the app's desired formation and wakes the loop. A new
// Release replaces the app's dynos according to f.Strategy.
func (r *Reconciler) Set(f Formation) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.Processes = cloneProcesses(f.Processes)
	r.mu.Lock()
	r.defaults()
	r.desired[f.App] = f
	r.mu.Unlock()
	r.wake()
	return nil
}

// Validate checks a formation's fields.
func (f Formation) Validate() error {
	if f.App == "" {
		return errors.New("formation: Formation.App must not be empty")
	}
	if f.Release < 0 {
		return fmt.Errorf("formation: app %s: Formation.Release %d must not be negative", f.App, f.Release)
	}
	if f.Strategy < RestartAll || f.Strategy > Rolling {
		return fmt.Errorf("formation: app %s: unknown %v", f.App, f.Strategy)
	}
	for typ, p := range f.Processes {
		if err := validateProcess(f.App, typ, p.Quantity); err != nil {
			return err
		}
	}
	return nil
}

// validateProcess checks a process type's name and quantity, for
// Formation and Deployment alike.
func validateProcess(app, typ string, quantity int) error {
	if typ == "" || typ == "run" {
		return fmt.Errorf("formation: app %s: process type %q is reserved or empty", app, typ)
	}
	for _, c := range typ {
		if !isTypeRune(c) {
			return fmt.Errorf("formation: app %s: process type %q contains %q (allowed: letters, digits, '_', '-')", app, typ, c)
		}
	}
	if quantity < 0 || quantity > MaxQuantity {
		return fmt.Errorf("formation: app %s: %s quantity %d must be from 0 to %d", app, typ, quantity, MaxQuantity)
	}
	return nil
}

func cloneProcesses(m map[string]Process) map[string]Process {
	out := make(map[string]Process, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Formation returns the app's desired formation.
func (r *Reconciler) Formation(app string) (Formation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.desired[app]
	f.Processes = cloneProcesses(f.Processes)
	return f, ok
}

// Remove forgets the app: its dynos are stopped, one-offs included.
func (r *Reconciler) Remove(app string) {
	r.mu.Lock()
	delete(r.desired, app)
	for _, d := range r.dynos {
		if d.app == app && d.oneOff {
			r.stopLocked(d) // formation dynos: the next pass stops them
		}
	}
	r.mu.Unlock()
	r.wake()
}

// RenameApp re-keys app old as new without touching its dynos: nothing is
// stopped or restarted (heroku apps:rename). The desired Formation (its
// App becomes new), every dyno record, formation and one-off, attached or
// detached, and each slot's crash count move to new, so from its return
// Formation, Dynos, Restart, Remove, LookupOneOff and OneOffName answer
// for new and know nothing of old, every later Event of those dynos
// carries App new, and dynos started later (scale-ups, restarts,
// replacements after a crash) are asked for with SpecRequest.App new. A
// dyno whose spec is being built meanwhile is asked for again under new.
//
// What a dyno was started with stays: its DynoSpec's environment, the
// Output writers asked for under old, and its ID, which is opaque and may
// still begin with old.
//
// new must be non-empty and differ from old; old must have a formation or
// a dyno (else the error wraps ErrUnknown), and new neither (else it wraps
// ErrExists).
func (r *Reconciler) RenameApp(old, new string) error {
	switch {
	case new == "":
		return fmt.Errorf("formation: rename app %q to %q: the new name must not be empty", old, new)
	case new == old:
		return fmt.Errorf("formation: rename app %q to %q: the new name must differ from the current one", old, new)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.defaults()
	if !r.knownLocked(old) {
		return fmt.Errorf("formation: rename app %q to %q: %q has no formation and no dynos: %w", old, new, old, ErrUnknown)
	}
	if r.knownLocked(new) {
		return fmt.Errorf("formation: rename app %q to %q: %q already has a formation or dynos: %w", old, new, new, ErrExists)
	}
	if f, ok := r.desired[old]; ok {
		f.App = new
		r.desired[new] = f
		delete(r.desired, old)
	}
	for _, d := range r.dynos {
		if d.app != old {
			continue
		}
		d.app = new
		if d.spec.App != "" {
			d.spec.App = new
		}
	}
	moved := map[slot]crashCount{}
	for k, c := range r.crashes {
		switch k.app {
		case new: // left by an app of that name since removed
			delete(r.crashes, k)
		case old:
			delete(r.crashes, k)
			k.app = new
			moved[k] = c
		}
	}
	for k, c := range moved {
		r.crashes[k] = c
	}
	return nil
}

// knownLocked reports whether app has a formation or a dyno.
func (r *Reconciler) knownLocked(app string) bool {
	if _, ok := r.desired[app]; ok {
		return true
	}
	for _, d := range r.dynos {
		if d.app == app {
			return true
		}
	}
	return false
}

// status describes d; r.mu is held.
func (d *dynoRec) status() DynoStatus {
	return DynoStatus{ID: d.id, App: d.app, Name: d.name, Type: d.typ, Release: d.release,
		State: d.state, Command: d.spec.Command, Addr: d.addr, StartedAt: d.startedAt, RestartAt: d.restartAt, OneOff: d.oneOff, Size: d.size}
}

// Dynos lists the app's dynos (formation and one-off), sorted by name.
func (r *Reconciler) Dynos(app string) []DynoStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []DynoStatus
	for _, d := range r.dynos {
		if d.app != app {
			continue
		}
		out = append(out, d.status())
	}
	slices.SortFunc(out, func(a, b DynoStatus) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(dynoIndex(a.Name), dynoIndex(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func dynoIndex(name string) int {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			n, _ := strconv.Atoi(name[i+1:])
			return n
		}
	}
	return 0
}

// Restart replaces the app's formation dynos (heroku restart) and resets
// their crash back-off: those of the given process types (heroku restart
// web), or all of them when no type is given.
func (r *Reconciler) Restart(app string, types ...string) {
	selected := func(typ string) bool { return len(types) == 0 || slices.Contains(types, typ) }
	r.mu.Lock()
	r.defaults()
	for k := range r.crashes {
		if k.app == app && selected(k.typ) {
			delete(r.crashes, k)
		}
	}
	for _, d := range r.dynos {
		if d.app != app || d.oneOff || !selected(d.typ) {
			continue
		}
		if d.state == StateCrashed {
			delete(r.dynos, d.id)
			continue
		}
		r.stopLocked(d)
	}
	r.mu.Unlock()
	r.wake()
}

// DynoListens reports whether the running dyno id has a process listening
// on port, for a router verifying that a new connection reaches that dyno.
// ok is true, with no check made, when the dyno's runtime cannot tell (it
// does not implement ListenChecker); a dyno that is not running is
// ErrExited.
func (r *Reconciler) DynoListens(id string, port int) (listens bool, err error) {
	r.mu.Lock()
	d := r.dynos[id]
	var dyno Dyno
	if d != nil && (d.state == StateStarting || d.state == StateUp) {
		dyno = d.dyno
	}
	r.mu.Unlock()
	if dyno == nil {
		return false, fmt.Errorf("formation: dyno %s: %w", id, ErrExited)
	}
	lc, ok := dyno.(ListenChecker)
	if !ok {
		return true, nil
	}
	return lc.Listens(port)
}

// RestartDyno replaces one formation dyno of app, by name ("web.2"; heroku
// ps:restart web.2) and resets its crash back-off; the app's other dynos
// keep running. It reports whether the app has a formation dyno of that
// name.
func (r *Reconciler) RestartDyno(app, name string) bool {
	r.mu.Lock()
	r.defaults()
	found := false
	for _, d := range r.dynos {
		if d.app != app || d.oneOff || d.name != name {
			continue
		}
		found = true
		delete(r.crashes, slot{app, d.typ, d.index})
		if d.state == StateCrashed {
			delete(r.dynos, d.id)
			continue
		}
		r.stopLocked(d)
	}
	r.mu.Unlock()
	if found {
		r.wake()
	}
	return found
}

func (r *Reconciler) wake() {
	r.mu.Lock()
	r.defaults()
	ch := r.nudge
	r.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx is done, then stops every dyno it started
// (SIGTERM, Grace, SIGKILL) and returns once they have exited.
func (r *Reconciler) Run(ctx context.Context) error {
	if r.Runtime == nil || r.Spec == nil {
		return errors.New("formation: Reconciler needs Runtime and Spec")
	}
	r.mu.Lock()
	r.defaults()
	if r.running {
		r.mu.Unlock()
		return errors.New("formation: Reconciler.Run called twice")
	}
	r.running, r.stopping = true, false
	nudge := r.nudge
	r.mu.Unlock()

	ticker := time.NewTicker(r.resync())
	defer ticker.Stop()
	backoff := time.NewTimer(time.Hour)
	defer backoff.Stop()
	for {
		next := r.reconcileAll(ctx)
		if !next.IsZero() {
			backoff.Reset(max(time.Until(next), 0))
		}
		select {
		case <-ctx.Done():
			r.shutdown()
			return nil
		case <-nudge:
		case <-ticker.C:
		case <-backoff.C:
		}
	}
}

func (r *Reconciler) shutdown() {
	r.mu.Lock()
	r.stopping = true
	for _, d := range r.dynos {
		if d.state == StateCrashed {
			delete(r.dynos, d.id)
			continue
		}
		r.stopLocked(d)
	}
	r.mu.Unlock()
	r.watchers.Wait()
	r.mu.Lock()
	r.running = false
	r.mu.Unlock()
}

// reconcileAll plans every app and returns the earliest crashed-dyno
// restart time (zero if none).
func (r *Reconciler) reconcileAll(ctx context.Context) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	apps := map[string]bool{}
	for app := range r.desired {
		apps[app] = true
	}
	for _, d := range r.dynos {
		apps[d.app] = true
	}
	now := time.Now()
	var next time.Time
	for _, app := range slices.Sorted(mapsKeys(apps)) {
		desired, ok := r.desired[app]
		if !ok {
			desired = Formation{App: app}
		}
		// A slot scaled away forgets its crash back-off: scaling to 0 and
		// back up starts the dynos afresh, as on Heroku.
		for k := range r.crashes {
			if k.app == app && k.index > desired.Processes[k.typ].Quantity {
				delete(r.crashes, k)
			}
		}
		var observed []Instance
		for _, d := range r.dynos {
			if d.app != app || d.oneOff || d.stopping {
				continue
			}
			if d.state == StateCrashed && !d.restartAt.After(now) && d.release == desired.Release && ok {
				delete(r.dynos, d.id) // back-off over: Plan restarts the slot
				continue
			}
			observed = append(observed, Instance{ID: d.id, Type: d.typ, Index: d.index, Release: d.release, State: d.state})
		}
		for _, a := range Plan(desired, observed) {
			switch a.Kind {
			case ActionStop:
				if d := r.dynos[a.ID]; d != nil {
					if d.state == StateCrashed {
						delete(r.dynos, d.id)
					} else {
						r.stopLocked(d)
					}
				}
			case ActionStart:
				r.startLocked(ctx, desired, a)
			}
		}
		for _, d := range r.dynos {
			if d.app == app && d.state == StateCrashed && (next.IsZero() || d.restartAt.Before(next)) {
				next = d.restartAt
			}
		}
	}
	return next
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (r *Reconciler) emit(d *dynoRec, e Event) {
	e.Time = time.Now()
	e.App, e.Dyno, e.DynoID, e.Type, e.Release = d.app, d.name, d.id, d.typ, d.release
	if e.State == "" {
		e.State = d.state
	}
	if e.Addr == "" {
		e.Addr = d.addr
	}
	if e.Kind == 0 {
		e.Kind = EventLog
	}
	r.logger().Debug("dyno event", "app", d.app, "dyno", d.name, "msg", e.Message)
	if r.OnEvent != nil {
		r.OnEvent(e)
	}
}

func (r *Reconciler) setState(d *dynoRec, to State) {
	from := d.state
	d.state = to
	if from == to {
		return
	}
	r.emit(d, Event{Kind: EventState, Prev: from, State: to, Message: msgStateChanged(from, to)})
}

// newDynoIDLocked returns an ID no dyno has (after a rename, IDs made
// under an app's old name live on beside those of a new app of that name).
func (r *Reconciler) newDynoIDLocked(app, name string, release int) string {
	for {
		id := fmt.Sprintf("%s.%s.v%d.%08x", app, name, release, rand.Uint32())
		if _, ok := r.dynos[id]; !ok {
			return id
		}
	}
}

func (r *Reconciler) startLocked(ctx context.Context, f Formation, a Action) {
	if r.stopping {
		return
	}
	name := DynoName(a.Type, a.Index)
	d := &dynoRec{
		id: r.newDynoIDLocked(f.App, name, a.Release), app: f.App, typ: a.Type, name: name, size: f.Processes[a.Type].Size,
		index: a.Index, release: a.Release, state: StateStarting, startedAt: time.Now(),
	}
	r.dynos[d.id] = d
	if c := r.crashes[slot{f.App, a.Type, a.Index}]; c.n > 0 && c.release == a.Release {
		r.emit(d, Event{Kind: EventState, Prev: StateCrashed, State: StateStarting, Message: msgStateChanged(StateCrashed, StateStarting)})
	}
	req := SpecRequest{ID: d.id, Release: a.Release, Type: a.Type, Name: name, Index: a.Index, Size: f.Processes[a.Type].Size}
	r.launchLocked(context.WithoutCancel(ctx), d, req)
}

// launchLocked starts the dyno's watcher goroutine, which owns Start,
// the readiness check, the memory poll and the one Wait.
func (r *Reconciler) launchLocked(ctx context.Context, d *dynoRec, req SpecRequest) {
	wctx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	r.watchers.Add(1)
	go func() {
		defer r.watchers.Done()
		defer cancel()
		r.watch(wctx, d, req)
	}()
}

// askSpec asks the SpecFunc for d's spec under the app's current name,
// again if the app is renamed while it answers, and stamps the spec with
// d's identity. It returns with r.mu held.
func (r *Reconciler) askSpec(ctx context.Context, d *dynoRec, req SpecRequest) (DynoSpec, error) {
	r.mu.Lock()
	for {
		req.App = d.app
		r.mu.Unlock()
		spec, err := r.Spec(ctx, req)
		r.mu.Lock()
		if d.app != req.App {
			continue // renamed meanwhile: the spec may be the old name's
		}
		if err == nil {
			spec.ID, spec.App, spec.Name, spec.Type, spec.Release = d.id, d.app, d.name, d.typ, d.release
		}
		return spec, err
	}
}

func (r *Reconciler) watch(ctx context.Context, d *dynoRec, req SpecRequest) {
	spec, err := r.askSpec(ctx, d, req)
	var stdio Stdio
	if err == nil {
		d.spec = spec
		if spec.Port != 0 {
			d.addr = net.JoinHostPort(r.host(), strconv.Itoa(spec.Port))
		}
		if r.Output != nil {
			stdio = r.Output(d.app, d.name)
		}
		r.emit(d, Event{Message: msgStarting(spec.Command)})
	}
	r.mu.Unlock()
	var dyno Dyno
	if err == nil {
		dyno, err = r.Runtime.Start(ctx, spec, stdio)
	}
	if err != nil {
		r.mu.Lock()
		r.emit(d, Event{Message: "Error starting process: " + err.Error()})
		r.exitedLocked(d, Exit{Code: -1, At: time.Now()})
		r.mu.Unlock()
		return
	}
	r.mu.Lock()
	d.dyno = dyno
	if d.stopping {
		r.mu.Unlock()
		r.stop(context.WithoutCancel(ctx), d, dyno)
	} else {
		r.mu.Unlock()
	}

	exited := make(chan Exit, 1)
	go func() {
		exit, _ := dyno.Wait(context.WithoutCancel(ctx))
		exited <- exit
	}()
	r.awaitUp(ctx, d, dyno, spec, exited)
	r.pollMemory(ctx, d, dyno, exited)
}

// awaitUp runs the readiness check under the boot timeout, then records
// the dyno as up, or kills it (R10).
func (r *Reconciler) awaitUp(ctx context.Context, d *dynoRec, dyno Dyno, spec DynoSpec, exited chan Exit) {
	ready := make(chan error, 1)
	readyCtx, cancel := context.WithTimeout(ctx, r.bootTimeout())
	defer cancel()
	if spec.Port == 0 || d.oneOff {
		ready <- nil
	} else {
		check := r.Ready
		if check == nil {
			check = r.defaultReady
		}
		go func() { ready <- check(readyCtx, spec) }()
	}
	select {
	case err := <-ready:
		r.mu.Lock()
		defer r.mu.Unlock()
		if err == nil {
			if d.state == StateStarting && !d.stopping {
				d.upAt = time.Now()
				r.setState(d, StateUp)
				r.nudgeLocked() // preboot and rolling wait for this
			}
			return
		}
		if d.stopping || ctx.Err() != nil {
			return
		}
		// Boot timeout (or a check that can never pass): R10.
		r.emit(d, Event{Message: msgR10(r.bootTimeout())})
		r.emit(d, Event{Message: msgStopKILL})
		_ = dyno.Signal(context.WithoutCancel(ctx), syscall.SIGKILL)
	case exit := <-exited:
		cancel()
		<-ready
		exited <- exit // for pollMemory
	}
}

func (r *Reconciler) pollMemory(ctx context.Context, d *dynoRec, dyno Dyno, exited chan Exit) {
	mr, ok := dyno.(MemoryReader)
	interval := cmp.Or(r.MemoryCheck, 20*time.Second)
	var tick <-chan time.Time
	if ok && interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	frac := cmp.Or(r.MemoryWarnFraction, 0.9)
	var cycle <-chan time.Time
	if r.Cycle > 0 && !d.oneOff {
		life := r.Cycle
		if r.CycleJitter > 0 {
			life += rand.N(r.CycleJitter)
		}
		t := time.NewTimer(life - time.Since(d.startedAt))
		defer t.Stop()
		cycle = t.C
	}
	for {
		select {
		case <-cycle:
			r.mu.Lock()
			if !d.stopping {
				r.emit(d, Event{Message: "Cycling"})
				r.stopLocked(d) // the slot's replacement starts at once
				r.nudgeLocked()
			}
			r.mu.Unlock()
		case exit := <-exited:
			r.mu.Lock()
			r.exitedLocked(d, exit)
			r.mu.Unlock()
			return
		case <-tick:
			u, err := mr.Memory(ctx)
			if err == nil && r.OnMemory != nil {
				r.mu.Lock()
				st := d.status()
				r.mu.Unlock()
				r.OnMemory(st, u)
			}
			if err == nil && u.LimitBytes > 0 && float64(u.UsedBytes) >= frac*float64(u.LimitBytes) {
				r.mu.Lock()
				r.emit(d, Event{Message: msgMemory(u)})
				r.emit(d, Event{Message: msgR14})
				r.mu.Unlock()
			}
		}
	}
}

func (r *Reconciler) defaultReady(ctx context.Context, spec DynoSpec) error {
	addr := net.JoinHostPort(r.host(), strconv.Itoa(spec.Port))
	var dialer net.Dialer
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for {
		c, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			if r.HealthCheckPath == "" || httpHealthy(ctx, client, "http://"+addr+r.HealthCheckPath) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func httpHealthy(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode < 400
}

// exitedLocked records a dyno's exit: a stopped dyno goes down, a one-off
// completes, anything else crashed and is restarted after its back-off.
func (r *Reconciler) exitedLocked(d *dynoRec, exit Exit) {
	if d.cancel != nil {
		d.cancel()
	}
	if exit.OOMKilled {
		r.emit(d, Event{Message: msgR15})
		r.emit(d, Event{Message: msgStopKILL})
	}
	if exit.Code >= 0 {
		e := exit
		r.emit(d, Event{Message: msgExited(exit), Exit: &e})
	}
	switch {
	case d.oneOff:
		r.setState(d, StateComplete)
		delete(r.dynos, d.id)
		d.exit = exit
		close(d.done)
	case d.stopping:
		r.setState(d, StateDown)
		delete(r.dynos, d.id)
	default:
		now := time.Now()
		k := slot{d.app, d.typ, d.index}
		c := r.crashes[k]
		if c.release != d.release || (!d.upAt.IsZero() && now.Sub(d.upAt) >= r.healthyAfter()) {
			c = crashCount{release: d.release}
		}
		backoff := r.Backoff
		if backoff == nil {
			backoff = HerokuBackoff()
		}
		var delay time.Duration
		if len(backoff) > 0 {
			delay = backoff[min(c.n, len(backoff)-1)]
		}
		c.n++
		r.crashes[k] = c
		d.restartAt = now.Add(delay)
		d.dyno = nil
		r.setState(d, StateCrashed)
	}
	r.nudgeLocked()
}

func (r *Reconciler) nudgeLocked() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// stopLocked starts stopping d (once).
func (r *Reconciler) stopLocked(d *dynoRec) {
	if d.stopping {
		return
	}
	d.stopping = true
	if d.cancel != nil {
		d.cancel() // ends the readiness check
	}
	if d.dyno == nil {
		return // still starting: the watcher stops it once Start returns
	}
	dyno := d.dyno
	r.watchers.Add(1)
	go func() {
		defer r.watchers.Done()
		r.stop(context.Background(), d, dyno)
	}()
}

// stop is Heroku's shutdown with its log lines: SIGTERM to every process,
// Grace, then R12 and SIGKILL.
func (r *Reconciler) stop(ctx context.Context, d *dynoRec, dyno Dyno) {
	r.mu.Lock()
	r.emit(d, Event{Message: msgStopTERM})
	r.mu.Unlock()
	if err := dyno.Signal(ctx, syscall.SIGTERM); errors.Is(err, ErrExited) {
		return
	}
	graceCtx, cancel := context.WithTimeout(ctx, r.grace())
	_, err := dyno.Wait(graceCtx)
	cancel()
	if err == nil {
		return
	}
	r.mu.Lock()
	r.emit(d, Event{Message: msgR12(r.grace())})
	r.emit(d, Event{Message: msgStopKILL})
	r.mu.Unlock()
	_ = dyno.Signal(ctx, syscall.SIGKILL)
}
