package formationtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/formation"
)

// Fake is an in-memory formation.Runtime for unit tests of callers (the
// Reconciler, platforms). Its dynos run nothing: tests make them exit with
// Exit, and mark web dynos ready with MarkReady (use Fake.Ready as the
// Reconciler's ReadyFunc). SIGTERM and SIGKILL end a fake dyno (status 143
// and 137) unless IgnoreTERM was set; other signals are only recorded.
type Fake struct {
	// StartErr, when set, is called by Start; a non-nil result fails it.
	StartErr func(spec formation.DynoSpec) error

	mu      sync.Mutex
	live    map[string]*FakeDyno
	started []*FakeDyno
	changed chan struct{}
}

var _ formation.Runtime = (*Fake)(nil)

// FakeDyno is a dyno of a Fake runtime.
type FakeDyno struct {
	Spec  formation.DynoSpec
	Stdio formation.Stdio

	f          *Fake
	memory     *formation.MemoryUsage
	ignoreTERM bool
	signals    []syscall.Signal
	ready      chan struct{}
	done       chan struct{}
	exit       formation.Exit
}

var (
	_ formation.Dyno         = (*FakeDyno)(nil)
	_ formation.MemoryReader = (*FakeDyno)(nil)
)

func (f *Fake) notifyLocked() {
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

// Start records the dyno as running.
func (f *Fake) Start(ctx context.Context, spec formation.DynoSpec, stdio formation.Stdio) (formation.Dyno, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.StartErr != nil {
		if err := f.StartErr(spec); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.live == nil {
		f.live = map[string]*FakeDyno{}
	}
	if _, ok := f.live[spec.ID]; ok {
		return nil, fmt.Errorf("fake: start %s: %w", spec.ID, formation.ErrExists)
	}
	d := &FakeDyno{Spec: spec, Stdio: stdio, f: f, ready: make(chan struct{}), done: make(chan struct{})}
	f.live[spec.ID] = d
	f.started = append(f.started, d)
	f.notifyLocked()
	return d, nil
}

// Started returns every dyno started so far, in order.
func (f *Fake) Started() []*FakeDyno {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.started)
}

// Live returns the dynos that have not exited, in start order.
func (f *Fake) Live() []*FakeDyno {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*FakeDyno
	for _, d := range f.started {
		if f.live[d.Spec.ID] == d {
			out = append(out, d)
		}
	}
	return out
}

// LiveNamed returns the live dyno with the given name ("web.1") and
// release, or nil.
func (f *Fake) LiveNamed(name string, release int) *FakeDyno {
	for _, d := range f.Live() {
		if d.Spec.Name == name && d.Spec.Release == release {
			return d
		}
	}
	return nil
}

// WaitFor blocks until cond (called with no lock held) is true or ctx is
// done; it re-checks whenever a dyno starts or exits.
func (f *Fake) WaitFor(ctx context.Context, what string, cond func() bool) error {
	for {
		f.mu.Lock()
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		ch := f.changed
		f.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fake: waiting for %s: %w", what, ctx.Err())
		}
	}
}

// Ready is a formation.ReadyFunc: it returns once the dyno is marked ready.
func (f *Fake) Ready(ctx context.Context, spec formation.DynoSpec) error {
	f.mu.Lock()
	d := f.live[spec.ID]
	f.mu.Unlock()
	if d == nil {
		return fmt.Errorf("fake: ready %s: no such dyno", spec.ID)
	}
	select {
	case <-d.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ID returns the spec's ID.
func (d *FakeDyno) ID() string { return d.Spec.ID }

// MarkReady makes Fake.Ready return for this dyno (it has bound its port).
func (d *FakeDyno) MarkReady() {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	select {
	case <-d.ready:
	default:
		close(d.ready)
	}
}

// IgnoreTERM makes SIGTERM have no effect, like a process that traps it.
func (d *FakeDyno) IgnoreTERM() {
	d.f.mu.Lock()
	d.ignoreTERM = true
	d.f.mu.Unlock()
}

// Signals returns the signals delivered so far.
func (d *FakeDyno) Signals() []syscall.Signal {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	return slices.Clone(d.signals)
}

// SetMemory makes Memory report u (before, Memory fails as for a dyno
// without a memory controller).
func (d *FakeDyno) SetMemory(u formation.MemoryUsage) {
	d.f.mu.Lock()
	d.memory = &u
	d.f.mu.Unlock()
}

// Memory implements formation.MemoryReader.
func (d *FakeDyno) Memory(ctx context.Context) (formation.MemoryUsage, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	if d.memory == nil {
		return formation.MemoryUsage{}, fmt.Errorf("fake: memory %s: not reported", d.Spec.ID)
	}
	return *d.memory, nil
}

// ExitWith ends the dyno with e (for example an OOM kill).
func (d *FakeDyno) ExitWith(e formation.Exit) bool {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	return d.exitLocked(e)
}

// Exit ends the dyno with the given status, as if its process exited.
// It reports false if the dyno had already exited.
func (d *FakeDyno) Exit(code int) bool {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	return d.exitLocked(formation.Exit{Code: code})
}

func (d *FakeDyno) exitLocked(e formation.Exit) bool {
	select {
	case <-d.done:
		return false
	default:
	}
	e.At = time.Now()
	d.exit = e
	if d.f.live[d.Spec.ID] == d {
		delete(d.f.live, d.Spec.ID)
	}
	close(d.done)
	d.f.notifyLocked()
	return true
}

// Signal records sig; TERM (unless ignored) and KILL end the dyno.
func (d *FakeDyno) Signal(ctx context.Context, sig syscall.Signal) error {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	select {
	case <-d.done:
		return fmt.Errorf("fake: signal %s: %w", d.Spec.ID, formation.ErrExited)
	default:
	}
	d.signals = append(d.signals, sig)
	d.f.notifyLocked()
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM && !d.ignoreTERM {
		d.exitLocked(formation.Exit{Code: 128 + int(sig), Signal: sig})
	}
	return nil
}

// Wait blocks until the dyno exits or ctx is done.
func (d *FakeDyno) Wait(ctx context.Context) (formation.Exit, error) {
	select {
	case <-d.done:
		return d.exit, nil
	case <-ctx.Done():
		return formation.Exit{}, ctx.Err()
	}
}
