package formation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
)

// count returns how many events were recorded so far.
func (e *events) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.all)
}

// since returns the events recorded after the first n.
func (e *events) since(n int) []formation.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.all[n:])
}

// checkApp reports every event not of app, and no events at all.
func checkApp(t *testing.T, evs []formation.Event, app string) {
	t.Helper()
	if len(evs) == 0 {
		t.Errorf("no events, want some of %s", app)
	}
	for _, e := range evs {
		if e.App != app {
			t.Errorf("event of app %q, want %q: %s", e.App, app, e)
		}
	}
}

// specLog records the SpecRequests and Output calls of a Reconciler.
type specLog struct {
	mu      sync.Mutex
	reqs    []formation.SpecRequest
	outputs []string // "app dyno"
	// block, when set, is called (without the lock) by every Spec call.
	block func(formation.SpecRequest)
}

// wrap makes r's Spec and Output record into l.
func (l *specLog) wrap(r *formation.Reconciler) {
	inner := r.Spec
	r.Spec = func(ctx context.Context, req formation.SpecRequest) (formation.DynoSpec, error) {
		l.mu.Lock()
		l.reqs = append(l.reqs, req)
		block := l.block
		l.mu.Unlock()
		if block != nil {
			block(req)
		}
		return inner(ctx, req)
	}
	r.Output = func(app, dyno string) formation.Stdio {
		l.mu.Lock()
		l.outputs = append(l.outputs, app+" "+dyno)
		l.mu.Unlock()
		return formation.Stdio{}
	}
}

func (l *specLog) requests() []formation.SpecRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

func (l *specLog) outputCalls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.outputs)
}

func liveByID(f *fixture, id string) *formationtest.FakeDyno {
	for _, d := range f.fake.Live() {
		if d.Spec.ID == id {
			return d
		}
	}
	return nil
}

// A rename moves a running formation and its one-offs, attached and
// detached, to the new name without stopping or restarting anything; the
// old name is then free.
func TestReconcilerRenameApp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		ctx := context.Background()
		f.set(1, formation.Preboot, map[string]int{"web": 2, "worker": 1})
		f.readyAll()
		attached, err := f.rec.RunOneOff(ctx, formation.OneOffRequest{App: "app", Release: 1, Command: "bash", Attach: true})
		if err != nil {
			t.Fatal(err)
		}
		detached, err := f.rec.RunOneOff(ctx, formation.OneOffRequest{App: "app", Release: 1, Command: "sleep 9"})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		before := f.rec.Dynos("app")
		live := f.fake.Live()
		started := len(f.fake.Started())
		if len(before) != 5 || len(live) != 5 {
			t.Fatalf("before the rename: %d dynos listed, %d live, want 5", len(before), len(live))
		}
		mark := f.ev.count()

		if err := f.rec.RenameApp("app", "shop"); err != nil {
			t.Fatalf("RenameApp: %v", err)
		}
		synctest.Wait()

		// Nothing stopped or started.
		if n := len(f.fake.Started()); n != started {
			t.Errorf("%d dynos started by the rename", n-started)
		}
		if got := f.fake.Live(); !slices.Equal(got, live) {
			t.Errorf("live dynos changed: %d live, want the same %d", len(got), len(live))
		}
		for _, d := range live {
			if sigs := d.Signals(); len(sigs) != 0 {
				t.Errorf("%s signalled by the rename: %v", d.Spec.Name, sigs)
			}
		}
		if evs := f.ev.since(mark); len(evs) != 0 {
			t.Errorf("the rename emitted events: %v", evs)
		}

		// The same dynos, IDs and states, under the new name only.
		want := slices.Clone(before)
		for i := range want {
			want[i].App = "shop"
		}
		if got := f.rec.Dynos("shop"); !slices.Equal(got, want) {
			t.Errorf("Dynos(shop) =\n%+v\nwant\n%+v", got, want)
		}
		if got := f.rec.Dynos("app"); len(got) != 0 {
			t.Errorf("Dynos(app) after the rename = %+v, want none", got)
		}
		if _, ok := f.rec.Formation("app"); ok {
			t.Error("Formation(app) still known after the rename")
		}
		if fm, ok := f.rec.Formation("shop"); !ok || fm.App != "shop" || fm.Release != 1 || fm.Strategy != formation.Preboot ||
			fm.Processes["web"].Quantity != 2 || fm.Processes["worker"].Quantity != 1 {
			t.Fatalf("Formation(shop) = %+v, %v", fm, ok)
		}

		// One-offs are found under the new name and keep their names.
		for _, o := range []*formation.OneOff{attached, detached} {
			if found, ok := f.rec.LookupOneOff("shop", o.Name); !ok || found.ID != o.ID {
				t.Errorf("LookupOneOff(shop, %s) = %+v, %v", o.Name, found, ok)
			}
			if _, ok := f.rec.LookupOneOff("app", o.Name); ok {
				t.Errorf("LookupOneOff(app, %s) found it after the rename", o.Name)
			}
			if _, err := f.rec.RunOneOff(ctx, formation.OneOffRequest{App: "shop", Release: 1, Command: "x", Name: o.Name}); !errors.Is(err, formation.ErrExists) {
				t.Errorf("a second one-off of shop named %s: %v, want ErrExists", o.Name, err)
			}
		}

		// Events of running dynos now carry the new name: the attached
		// one-off completes, a web dyno is restarted.
		liveByID(f, attached.ID).Exit(0)
		wctx, cancel := context.WithTimeout(ctx, time.Minute) // a minute of fake time
		defer cancel()
		if exit, err := attached.Wait(wctx); err != nil || exit.Code != 0 {
			t.Errorf("attached Wait = %+v, %v", exit, err)
		}
		f.rec.Restart("shop", "web")
		synctest.Wait()
		f.readyAll()
		evs := f.ev.since(mark)
		checkApp(t, evs, "shop")
		var lines []string
		for _, e := range evs {
			lines = append(lines, e.Dyno+": "+e.Message)
		}
		for _, want := range []string{attached.Name + ": State changed from up to complete", "web.1: Stopping all processes with SIGTERM", "web.1: State changed from up to down"} {
			if !slices.Contains(lines, want) {
				t.Errorf("events after the rename lack %q: %q", want, lines)
			}
		}

		// Remove(new) stops every dyno, the detached one-off included.
		f.rec.Remove("shop")
		synctest.Wait()
		if n := len(f.fake.Live()); n != 0 {
			t.Errorf("Remove(shop) left %d dynos live", n)
		}
		if got := f.rec.Dynos("shop"); len(got) != 0 {
			t.Errorf("Dynos(shop) after Remove = %+v", got)
		}
		if exit, err := detached.Wait(wctx); err != nil || exit.Signal != syscall.SIGTERM {
			t.Errorf("detached one-off after Remove: %+v, %v, want SIGTERM", exit, err)
		}
		checkApp(t, f.ev.since(mark), "shop")

		// The old name is free for another app.
		f.set(1, formation.RestartAll, map[string]int{"worker": 1})
		if got := f.rec.Dynos("app"); len(got) != 1 || got[0].App != "app" || got[0].State != formation.StateUp {
			t.Errorf("a new app under the old name: Dynos(app) = %+v", got)
		}
		if got := f.rec.Dynos("shop"); len(got) != 0 {
			t.Errorf("Dynos(shop) after a new app took the old name = %+v", got)
		}
		f.finish()
	})
}

// A crash after a rename restarts the dyno under the new name, after the
// back-off of its slot's crash count, which the rename carries over.
func TestReconcilerRenameAppCrash(t *testing.T) {
	crash := func(t *testing.T, f *fixture) {
		t.Helper()
		d := f.fake.LiveNamed("worker.1", 1)
		if d == nil {
			t.Fatal("worker.1 not running")
		}
		d.Exit(1)
		synctest.Wait()
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, f *fixture) // crashes twice, renaming app to shop
	}{
		{"rename then crash", func(t *testing.T, f *fixture) {
			crash(t, f) // restarted at once
			if err := f.rec.RenameApp("app", "shop"); err != nil {
				t.Fatal(err)
			}
			crash(t, f)
		}},
		{"rename during the cool-off", func(t *testing.T, f *fixture) {
			crash(t, f)
			crash(t, f)
			if err := f.rec.RenameApp("app", "shop"); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var specs specLog
				f := newFixture(t, specs.wrap)
				f.set(1, formation.RestartAll, map[string]int{"worker": 1})
				mark := f.ev.count()
				tc.run(t, f)
				at := time.Now()
				if n := len(f.fake.Started()); n != 2 {
					t.Fatalf("%d starts after the second crash, want 2 (a minute's cool-off)", n)
				}
				ds := f.rec.Dynos("shop")
				if len(ds) != 1 || ds[0].State != formation.StateCrashed || ds[0].RestartAt.Sub(at) > time.Minute {
					t.Fatalf("Dynos(shop) in the cool-off = %+v", ds)
				}
				time.Sleep(time.Minute + time.Millisecond)
				synctest.Wait()
				started := f.fake.Started()
				if len(started) != 3 {
					t.Fatalf("%d starts after the cool-off, want 3", len(started))
				}
				if d := started[2]; d.Spec.App != "shop" || f.fake.LiveNamed("worker.1", 1) != d {
					t.Errorf("replacement worker.1 started with App %q", d.Spec.App)
				}
				reqs := specs.requests()
				if last := reqs[len(reqs)-1]; last.App != "shop" || last.Name != "worker.1" {
					t.Errorf("replacement's SpecRequest = %+v, want App shop", last)
				}
				if outs := specs.outputCalls(); outs[len(outs)-1] != "shop worker.1" {
					t.Errorf("replacement's output asked for as %q", outs[len(outs)-1])
				}
				if ds := f.rec.Dynos("shop"); len(ds) != 1 || ds[0].State != formation.StateUp {
					t.Errorf("Dynos(shop) after the restart = %+v", ds)
				}
				if ds := f.rec.Dynos("app"); len(ds) != 0 {
					t.Errorf("Dynos(app) = %+v", ds)
				}
				// Events from the rename on are the new name's.
				evs := f.ev.since(mark)
				i := slices.IndexFunc(evs, func(e formation.Event) bool { return e.App == "shop" })
				if i < 0 {
					t.Fatal("no event of shop")
				}
				checkApp(t, evs[i:], "shop")
				var lines []string
				for _, e := range evs[i:] {
					lines = append(lines, e.Message)
				}
				if want := "State changed from crashed to starting"; !slices.Contains(lines, want) {
					t.Errorf("events of shop lack %q: %q", want, lines)
				}
				f.finish()
			})
		})
	}
}

// A crash count left by a removed app does not follow its name onto an
// app renamed to it.
func TestReconcilerRenameAppOntoRemovedName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		if err := f.rec.Set(formation.Formation{App: "shop", Release: 1, Processes: map[string]formation.Process{"worker": {Quantity: 1}}}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		f.fake.Live()[0].Exit(1) // shop's worker.1: one crash
		synctest.Wait()
		f.rec.Remove("shop")
		synctest.Wait()
		f.set(1, formation.RestartAll, map[string]int{"worker": 1})
		if err := f.rec.RenameApp("app", "shop"); err != nil {
			t.Fatal(err)
		}
		n := len(f.fake.Started())
		f.fake.LiveNamed("worker.1", 1).Exit(1) // the renamed app's first crash
		synctest.Wait()
		if got := len(f.fake.Started()); got != n+1 {
			t.Errorf("first crash after renaming onto a removed app's name: %d restarts, want 1 at once", got-n)
		}
		f.finish()
	})
}

// Dynos started after a rename (scale-up, Restart, one-offs) are asked for
// under the new name, and the old name reaches nothing.
func TestReconcilerRenameAppLaterDynos(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var specs specLog
		f := newFixture(t, specs.wrap)
		f.set(1, formation.RestartAll, map[string]int{"web": 1})
		f.readyAll()
		first := f.fake.LiveNamed("web.1", 1)
		if err := f.rec.RenameApp("app", "shop"); err != nil {
			t.Fatal(err)
		}
		nreq, nout := len(specs.requests()), len(specs.outputCalls())

		f.rec.Restart("app") // the old name: nothing to restart
		synctest.Wait()
		if sigs := first.Signals(); len(sigs) != 0 {
			t.Fatalf("Restart(app) after the rename signalled web.1: %v", sigs)
		}
		if err := f.rec.Set(formation.Formation{App: "shop", Release: 1, Processes: map[string]formation.Process{"web": {Quantity: 2}}}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		f.readyAll()
		f.rec.Restart("shop")
		synctest.Wait()
		if sigs := first.Signals(); !slices.Equal(sigs, []syscall.Signal{syscall.SIGTERM}) {
			t.Errorf("Restart(shop): web.1 got %v, want SIGTERM", sigs)
		}
		o, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "shop", Release: 1, Command: "rake"})
		if err != nil {
			t.Fatal(err)
		}

		var got []string
		for _, r := range specs.requests()[nreq:] {
			got = append(got, r.App+" "+r.Name)
		}
		slices.Sort(got)
		want := []string{"shop " + o.Name, "shop web.1", "shop web.2", "shop web.2"}
		if !slices.Equal(got, want) {
			t.Errorf("SpecRequests after the rename = %q, want %q", got, want)
		}
		outs := specs.outputCalls()[nout:]
		slices.Sort(outs)
		if !slices.Equal(outs, want) {
			t.Errorf("Output calls after the rename = %q, want %q", outs, want)
		}
		for _, d := range f.fake.Live() {
			if d.Spec.App != "shop" {
				t.Errorf("%s started with App %q", d.Spec.Name, d.Spec.App)
			}
		}
		f.finish()
	})
}

// A rename while the platform builds a starting dyno's spec asks for the
// spec again under the new name, so the dyno starts as the new name's.
func TestReconcilerRenameAppDuringSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		// start starts a dyno of app, which blocks in Spec; wait returns
		// once it has started.
		start func(t *testing.T, f *fixture) (wait func())
	}{
		{"formation dyno", func(t *testing.T, f *fixture) func() {
			f.set(1, formation.RestartAll, map[string]int{"worker": 1})
			return synctest.Wait
		}},
		{"one-off", func(t *testing.T, f *fixture) func() {
			done := make(chan error, 1)
			go func() {
				o, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app", Release: 1, Command: "rake"})
				if err == nil {
					if found, ok := f.rec.LookupOneOff("shop", o.Name); !ok || found.ID != o.ID {
						err = fmt.Errorf("LookupOneOff(shop, %s) = %+v, %v", o.Name, found, ok)
					}
				}
				done <- err
			}()
			synctest.Wait()
			return func() {
				if err := <-done; err != nil {
					t.Errorf("RunOneOff: %v", err)
				}
				synctest.Wait()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gate := make(chan struct{})
				var specs specLog
				specs.block = func(req formation.SpecRequest) {
					if req.App == "app" {
						<-gate
					}
				}
				f := newFixture(t, specs.wrap)
				wait := tc.start(t, f)
				if n := len(specs.requests()); n != 1 {
					t.Fatalf("%d spec requests, want 1 (blocked)", n)
				}
				if err := f.rec.RenameApp("app", "shop"); err != nil {
					t.Fatal(err)
				}
				close(gate)
				wait()

				live := f.fake.Live()
				if len(live) != 1 {
					t.Fatalf("%d live dynos, want 1", len(live))
				}
				d := live[0]
				if d.Spec.App != "shop" {
					t.Errorf("started with App %q, want shop", d.Spec.App)
				}
				var apps []string
				for _, r := range specs.requests() {
					if r.ID != d.Spec.ID {
						t.Errorf("spec request for %s, not the dyno %s", r.ID, d.Spec.ID)
					}
					apps = append(apps, r.App)
				}
				if want := []string{"app", "shop"}; !slices.Equal(apps, want) {
					t.Errorf("spec requests of apps %q, want %q (asked again after the rename)", apps, want)
				}
				if outs := specs.outputCalls(); !slices.Equal(outs, []string{"shop " + d.Spec.Name}) {
					t.Errorf("Output calls %q, want the new name's only", outs)
				}
				if ds := f.rec.Dynos("shop"); len(ds) != 1 || ds[0].ID != d.Spec.ID || ds[0].State != formation.StateUp {
					t.Errorf("Dynos(shop) = %+v", ds)
				}
				checkApp(t, f.ev.since(0), "shop")
				f.finish()
			})
		})
	}
}

func TestReconcilerRenameAppErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.RestartAll, map[string]int{"worker": 1})
		if err := f.rec.Set(formation.Formation{App: "taken", Release: 1}); err != nil {
			t.Fatal(err)
		}
		// busy has a one-off and no formation.
		if _, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "busy", Release: 1, Command: "sleep"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for _, tc := range []struct {
			old, new string
			is       error  // wrapped sentinel, if any
			rule     string // in the message
		}{
			{"app", "app", nil, "must differ"},
			{"app", "", nil, "must not be empty"},
			{"ghost", "shop", formation.ErrUnknown, `"ghost" has no formation and no dynos`},
			{"", "shop", formation.ErrUnknown, `"" has no formation and no dynos`},
			{"app", "taken", formation.ErrExists, `"taken" already has a formation or dynos`},
			{"app", "busy", formation.ErrExists, `"busy" already has a formation or dynos`},
			{"busy", "app", formation.ErrExists, `"app" already has a formation or dynos`},
		} {
			err := f.rec.RenameApp(tc.old, tc.new)
			if err == nil {
				t.Errorf("RenameApp(%q, %q) succeeded", tc.old, tc.new)
				continue
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "formation: ") || !strings.Contains(msg, fmt.Sprintf("%q to %q", tc.old, tc.new)) || !strings.Contains(msg, tc.rule) {
				t.Errorf("RenameApp(%q, %q) = %q, want both names and %q", tc.old, tc.new, msg, tc.rule)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("RenameApp(%q, %q) = %v, want %v", tc.old, tc.new, err, tc.is)
			}
		}
		// Nothing moved.
		if fm, ok := f.rec.Formation("app"); !ok || fm.App != "app" {
			t.Errorf("Formation(app) after failed renames = %+v, %v", fm, ok)
		}
		if n := len(f.rec.Dynos("app")); n != 1 {
			t.Errorf("Dynos(app) = %d after failed renames, want 1", n)
		}
		if _, ok := f.rec.Formation("taken"); !ok {
			t.Error("Formation(taken) lost")
		}
		// An app with only a one-off can be renamed.
		if err := f.rec.RenameApp("busy", "free"); err != nil {
			t.Errorf("RenameApp(busy, free): %v", err)
		}
		if ds := f.rec.Dynos("free"); len(ds) != 1 || ds[0].Type != "run" {
			t.Errorf("Dynos(free) = %+v", ds)
		}
		f.finish()
	})
}

// Renames racing with crashes, restarts, one-offs, listings and another
// app's Set and reconcile passes (real time, for the race detector).
func TestReconcilerRenameAppConcurrent(t *testing.T) {
	fake := &formationtest.Fake{}
	ev := &events{}
	var specs specLog
	rec := &formation.Reconciler{
		Runtime: fake,
		Spec: func(ctx context.Context, req formation.SpecRequest) (formation.DynoSpec, error) {
			return formation.DynoSpec{Command: "run-" + req.Type}, nil
		},
		OnEvent: ev.add,
		Grace:   time.Second,
		Backoff: []time.Duration{0},
		Resync:  10 * time.Millisecond,
	}
	specs.wrap(rec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rec.Run(runCtx) }()
	if err := rec.Set(formation.Formation{App: "a0", Release: 1, Processes: map[string]formation.Process{"worker": {Quantity: 3}}}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	current := "a0"
	name := func() string { mu.Lock(); defer mu.Unlock(); return current }
	const renames = 200
	renamed := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(renamed)
		for i := 1; i <= renames; i++ {
			mu.Lock()
			old, next := current, fmt.Sprintf("a%d", i)
			if err := rec.RenameApp(old, next); err != nil {
				t.Errorf("RenameApp(%s, %s): %v", old, next, err)
			}
			current = next
			mu.Unlock()
			time.Sleep(200 * time.Microsecond)
		}
	})
	busy := func(f func(i int)) {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-renamed:
					return
				default:
				}
				f(i)
			}
		})
	}
	busy(func(int) { // crashes
		for _, d := range fake.Live() {
			if d.Spec.Type == "worker" {
				d.Exit(1)
			}
		}
		time.Sleep(100 * time.Microsecond)
	})
	busy(func(i int) { // another app's scale changes
		_ = rec.Set(formation.Formation{App: "other", Release: 1, Processes: map[string]formation.Process{"clock": {Quantity: i % 2}}})
		time.Sleep(100 * time.Microsecond)
	})
	busy(func(i int) { // restarts, listings and one-offs under the current name
		app := name()
		rec.Restart(app)
		_ = rec.Dynos(app)
		_, _ = rec.Formation(app)
		if i%8 == 0 {
			if o, err := rec.RunOneOff(ctx, formation.OneOffRequest{App: app, Release: 1, Command: "x", Name: rec.OneOffName(app)}); err == nil {
				if found, ok := rec.LookupOneOff(name(), o.Name); ok {
					_, _ = found.Stop(ctx)
				} else {
					_, _ = o.Stop(ctx)
				}
			}
		}
		time.Sleep(100 * time.Microsecond)
	})
	wg.Wait()

	final := fmt.Sprintf("a%d", renames)
	for i := range renames {
		if ds := rec.Dynos(fmt.Sprintf("a%d", i)); len(ds) != 0 {
			t.Errorf("a%d still lists %d dynos", i, len(ds))
		}
	}
	if fm, ok := rec.Formation(final); !ok || fm.App != final {
		t.Errorf("Formation(%s) = %+v, %v", final, fm, ok)
	}
	// Once quiet, every crash restarts under the final name.
	workers := func() (out []*formationtest.FakeDyno) {
		for _, d := range fake.Live() {
			if d.Spec.Type == "worker" {
				out = append(out, d)
			}
		}
		return out
	}
	// settled polls, as the Reconciler's states change after the fake's.
	settled := func(what string) {
		t.Helper()
		for {
			ds := rec.Dynos(final)
			if len(workers()) == 3 && len(ds) == 3 && !slices.ContainsFunc(ds, func(d formation.DynoStatus) bool { return d.State != formation.StateUp }) {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v", what, ctx.Err())
			case <-time.After(time.Millisecond):
			}
		}
	}
	settled("3 workers up")
	mark := ev.count()
	nreq := len(specs.requests())
	for _, d := range workers() {
		d.Exit(1)
	}
	settled("3 restarted workers up")
	restarted := 0
	for _, r := range specs.requests()[nreq:] {
		if r.Type != "worker" {
			continue
		}
		if r.App != final {
			t.Errorf("SpecRequest after the renames with App %q, want %s", r.App, final)
		}
		for _, d := range fake.Started() {
			if d.Spec.ID == r.ID {
				restarted++
				if d.Spec.App != final {
					t.Errorf("%s restarted with App %q, want %s", d.Spec.Name, d.Spec.App, final)
				}
			}
		}
	}
	if restarted < 3 {
		t.Errorf("%d workers restarted after the renames, want 3", restarted)
	}
	var mine []formation.Event
	for _, e := range ev.since(mark) {
		if e.App != "other" {
			mine = append(mine, e)
		}
	}
	checkApp(t, mine, final)
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if n := len(fake.Live()); n != 0 {
		t.Errorf("%d dynos live after Run", n)
	}
}
