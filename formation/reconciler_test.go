package formation_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
)

// events records Reconciler events.
type events struct {
	mu  sync.Mutex
	all []formation.Event
}

func (e *events) add(ev formation.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

// lines returns "web.1: message" for every event, optionally of one dyno.
func (e *events) lines(dyno string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		if dyno == "" || ev.Dyno == dyno {
			out = append(out, ev.Dyno+": "+ev.Message)
		}
	}
	return out
}

type fixture struct {
	t      *testing.T
	fake   *formationtest.Fake
	rec    *formation.Reconciler
	ev     *events
	cancel context.CancelFunc
	done   chan error
}

// newFixture starts a Reconciler on a Fake runtime inside the current
// synctest bubble. Web dynos get port 5000+index.
func newFixture(t *testing.T, configure func(*formation.Reconciler)) *fixture {
	fake := &formationtest.Fake{}
	ev := &events{}
	rec := &formation.Reconciler{
		Runtime: fake,
		Spec: func(ctx context.Context, req formation.SpecRequest) (formation.DynoSpec, error) {
			spec := formation.DynoSpec{Command: "run-" + req.Type, SlugDir: "/slug", Env: []string{"SPEC_ID=" + req.ID}}
			if req.Command != "" {
				spec.Command = req.Command
			}
			if req.Type == "web" {
				spec.Port = 5000 + req.Index
			}
			return spec, nil
		},
		Ready:        fake.Ready,
		OnEvent:      ev.add,
		Grace:        time.Second,
		BootTimeout:  10 * time.Second,
		Backoff:      []time.Duration{0, time.Minute, 2 * time.Minute},
		HealthyAfter: time.Hour,
	}
	if configure != nil {
		configure(rec)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{t: t, fake: fake, rec: rec, ev: ev, cancel: cancel, done: make(chan error, 1)}
	go func() { f.done <- rec.Run(ctx) }()
	return f
}

// finish stops Run and checks that it stopped every dyno.
func (f *fixture) finish() {
	f.t.Helper()
	f.cancel()
	if err := <-f.done; err != nil {
		f.t.Errorf("Run: %v", err)
	}
	if live := f.fake.Live(); len(live) > 0 {
		f.t.Errorf("%d dynos still live after Run returned", len(live))
	}
}

func (f *fixture) set(rel int, s formation.Strategy, q map[string]int) {
	f.t.Helper()
	p := map[string]formation.Process{}
	for k, v := range q {
		p[k] = formation.Process{Quantity: v}
	}
	if err := f.rec.Set(formation.Formation{App: "app", Release: rel, Processes: p, Strategy: s}); err != nil {
		f.t.Fatal(err)
	}
	synctest.Wait()
}

func (f *fixture) states() map[string]formation.State {
	out := map[string]formation.State{}
	for _, d := range f.rec.Dynos("app") {
		out[fmt.Sprintf("%s v%d", d.Name, d.Release)] = d.State
	}
	return out
}

func (f *fixture) readyAll() {
	for _, d := range f.fake.Live() {
		d.MarkReady()
	}
	synctest.Wait()
}

func TestReconcilerScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.RestartAll, map[string]int{"web": 2, "worker": 1})
		want := map[string]formation.State{"web.1 v1": "starting", "web.2 v1": "starting", "worker.1 v1": "up"}
		if got := f.states(); !mapsEqual(got, want) {
			t.Fatalf("states = %v, want %v", got, want)
		}
		f.readyAll()
		want = map[string]formation.State{"web.1 v1": "up", "web.2 v1": "up", "worker.1 v1": "up"}
		if got := f.states(); !mapsEqual(got, want) {
			t.Fatalf("states = %v, want %v", got, want)
		}
		wantLines := []string{"web.1: Starting process with command `run-web`", "web.1: State changed from starting to up"}
		if got := f.ev.lines("web.1"); !slices.Equal(got, wantLines) {
			t.Errorf("web.1 events = %q, want %q", got, wantLines)
		}
		if d := f.rec.Dynos("app")[0]; d.Addr != "127.0.0.1:5001" {
			t.Errorf("web.1 Addr = %q", d.Addr)
		}
		// The spec was asked for with the ID the dyno is listed under.
		for _, d := range f.rec.Dynos("app") {
			if fd := f.fake.LiveNamed(d.Name, 1); fd == nil || !slices.Contains(fd.Spec.Env, "SPEC_ID="+d.ID) {
				t.Errorf("%s (ID %s) started from a spec request without its ID", d.Name, d.ID)
			}
		}

		// Scale down: the highest index goes, with Heroku's shutdown lines.
		f.set(1, formation.RestartAll, map[string]int{"web": 1, "worker": 1})
		want = map[string]formation.State{"web.1 v1": "up", "worker.1 v1": "up"}
		if got := f.states(); !mapsEqual(got, want) {
			t.Fatalf("after scale down: states = %v, want %v", got, want)
		}
		wantLines = []string{"web.2: Starting process with command `run-web`", "web.2: State changed from starting to up",
			"web.2: Stopping all processes with SIGTERM", "web.2: Process exited with status 143", "web.2: State changed from up to down"}
		if got := f.ev.lines("web.2"); !slices.Equal(got, wantLines) {
			t.Errorf("web.2 events =\n%q\nwant\n%q", got, wantLines)
		}
		f.finish()
	})
}

func TestReconcilerCrashBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.RestartAll, map[string]int{"worker": 1})
		crash := func() time.Time {
			t.Helper()
			d := f.fake.LiveNamed("worker.1", 1)
			if d == nil {
				t.Fatal("worker.1 not running")
			}
			d.Exit(1)
			synctest.Wait()
			return time.Now()
		}
		started := func() int { return len(f.fake.Started()) }

		crash() // first crash: restarted at once
		if n := started(); n != 2 {
			t.Fatalf("after the first crash: %d starts, want 2", n)
		}
		at := crash() // second: one minute of cool-off
		if n := started(); n != 2 {
			t.Fatalf("restarted during the cool-off: %d starts", n)
		}
		if s := f.states()["worker.1 v1"]; s != formation.StateCrashed {
			t.Fatalf("state during cool-off = %q", s)
		}
		time.Sleep(time.Minute - time.Since(at) - time.Millisecond)
		synctest.Wait()
		if n := started(); n != 2 {
			t.Fatalf("restarted before the cool-off ended: %d starts", n)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if n := started(); n != 3 {
			t.Fatalf("not restarted after the cool-off: %d starts", n)
		}
		at = crash() // third: two minutes, the last entry, which repeats
		time.Sleep(2*time.Minute - time.Since(at) + time.Millisecond)
		synctest.Wait()
		if n := started(); n != 4 {
			t.Fatalf("third restart: %d starts, want 4", n)
		}
		// A healthy run (up for HealthyAfter) resets the count.
		time.Sleep(time.Hour)
		crash()
		if n := started(); n != 5 {
			t.Fatalf("after a healthy run: %d starts, want an immediate restart (5)", n)
		}
		lines := f.ev.lines("worker.1")
		for _, want := range []string{"worker.1: Process exited with status 1", "worker.1: State changed from up to crashed", "worker.1: State changed from crashed to starting"} {
			if !slices.Contains(lines, want) {
				t.Errorf("events lack %q: %q", want, lines)
			}
		}
		// A new release resets the back-off too: crash twice, then deploy.
		crash()
		if n := started(); n != 5 {
			t.Fatalf("second crash restarted at once: %d", n)
		}
		f.set(2, formation.RestartAll, map[string]int{"worker": 1})
		if f.fake.LiveNamed("worker.1", 2) == nil {
			t.Fatalf("new release did not start worker.1 v2 at once: %v", f.states())
		}
		f.finish()
	})
}

// Scaling a crash-looping type to 0 and back up starts it afresh, as on
// Heroku: no cool-off left from the old dynos, and the next crash is
// restarted at once again.
func TestReconcilerScaleToZeroResetsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(r *formation.Reconciler) { r.Backoff = []time.Duration{0, time.Hour} })
		f.set(1, formation.RestartAll, map[string]int{"worker": 2})
		crash := func(name string) {
			t.Helper()
			d := f.fake.LiveNamed(name, 1)
			if d == nil {
				t.Fatalf("%s not running: %v", name, f.states())
			}
			d.Exit(1)
			synctest.Wait()
		}
		crash("worker.1")
		crash("worker.1") // now in an hour's cool-off
		crash("worker.2")
		crash("worker.2")
		if f.fake.LiveNamed("worker.1", 1) != nil || f.fake.LiveNamed("worker.2", 1) != nil {
			t.Fatalf("restarted during the cool-off: %v", f.states())
		}
		f.set(1, formation.RestartAll, map[string]int{"worker": 1}) // worker.2 scaled away
		f.set(1, formation.RestartAll, map[string]int{"worker": 2})
		if f.fake.LiveNamed("worker.2", 1) == nil {
			t.Fatalf("worker.2 scaled back up did not start at once: %v", f.states())
		}
		if f.fake.LiveNamed("worker.1", 1) != nil {
			t.Fatalf("worker.1, never scaled away, left its cool-off: %v", f.states())
		}
		f.set(1, formation.RestartAll, map[string]int{"worker": 0})
		before := len(f.ev.lines("worker.1"))
		f.set(1, formation.RestartAll, map[string]int{"worker": 1})
		if f.fake.LiveNamed("worker.1", 1) == nil {
			t.Fatalf("worker.1 scaled to 0 and back did not start at once: %v", f.states())
		}
		if l := f.ev.lines("worker.1")[before:]; slices.Contains(l, "worker.1: State changed from crashed to starting") {
			t.Errorf("the dyno started by scaling up logged it came from a crash: %q", l)
		}
		crash("worker.1")
		if f.fake.LiveNamed("worker.1", 1) == nil {
			t.Fatalf("the first crash after scaling back up was not restarted at once: %v", f.states())
		}
		f.finish()
	})
}

// RestartDyno replaces one dyno (heroku ps:restart worker.2) and leaves
// the others running; it resets that dyno's crash back-off.
func TestReconcilerRestartDyno(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(r *formation.Reconciler) { r.Backoff = []time.Duration{0, time.Hour} })
		f.set(1, formation.RestartAll, map[string]int{"worker": 2})
		w1, w2 := f.fake.LiveNamed("worker.1", 1), f.fake.LiveNamed("worker.2", 1)
		if !f.rec.RestartDyno("app", "worker.2") {
			t.Fatal("RestartDyno(worker.2) found no dyno")
		}
		synctest.Wait()
		if got := f.fake.LiveNamed("worker.1", 1); got != w1 {
			t.Error("worker.1 was replaced too")
		}
		if got := f.fake.LiveNamed("worker.2", 1); got == nil || got == w2 {
			t.Errorf("worker.2 not replaced: %v", f.states())
		}
		if sigs := w2.Signals(); !slices.Equal(sigs, []syscall.Signal{syscall.SIGTERM}) {
			t.Errorf("old worker.2 got %v, want SIGTERM", sigs)
		}
		// A dyno in its crash cool-off restarts at once.
		for range 2 {
			f.fake.LiveNamed("worker.1", 1).Exit(1)
			synctest.Wait()
		}
		if f.fake.LiveNamed("worker.1", 1) != nil {
			t.Fatalf("worker.1 not in its cool-off: %v", f.states())
		}
		f.rec.RestartDyno("app", "worker.1")
		synctest.Wait()
		if f.fake.LiveNamed("worker.1", 1) == nil {
			t.Errorf("crashed worker.1 not restarted at once: %v", f.states())
		}
		for _, name := range []string{"worker.3", "web.1", "worker", "worker.x", "run.1234"} {
			if f.rec.RestartDyno("app", name) {
				t.Errorf("RestartDyno(%q) found a dyno", name)
			}
		}
		f.finish()
	})
}

// DynoListens asks a running dyno's runtime; a runtime that cannot tell
// passes the check, and a dyno that is not running fails it.
func TestReconcilerDynoListens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.RestartAll, map[string]int{"web": 1})
		var id string
		for _, d := range f.rec.Dynos("app") {
			id = d.ID
		}
		if ok, err := f.rec.DynoListens(id, 5000); !ok || err != nil {
			t.Errorf("a running dyno of a runtime without ListenChecker: %v, %v; want true", ok, err)
		}
		if _, err := f.rec.DynoListens("no-such-dyno", 5000); !errors.Is(err, formation.ErrExited) {
			t.Errorf("unknown dyno: %v, want ErrExited", err)
		}
		f.finish()
	})
}

func TestReconcilerExec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.RestartAll, map[string]int{"web": 1})
		spec := formation.ExecSpec{Command: "true"}
		if _, err := f.rec.Exec(context.Background(), "app", "web.1", spec, formation.Stdio{}); !errors.Is(err, formation.ErrExited) {
			t.Errorf("exec in a starting dyno: %v, want ErrExited", err)
		}
		f.readyAll()
		if _, err := f.rec.Exec(context.Background(), "app", "web.1", spec, formation.Stdio{}); !errors.Is(err, formation.ErrNoExec) {
			t.Errorf("exec with a runtime without Execer: %v, want ErrNoExec", err)
		}
		if _, err := f.rec.Exec(context.Background(), "app", "web.2", spec, formation.Stdio{}); !errors.Is(err, formation.ErrUnknown) {
			t.Errorf("exec in a dyno the app lacks: %v, want ErrUnknown", err)
		}
		bad := formation.ExecSpec{Terminal: &formation.Terminal{Cols: -1}}
		if _, err := f.rec.Exec(context.Background(), "app", "web.1", bad, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), "terminal size") {
			t.Errorf("exec with a bad terminal: %v", err)
		}
		f.finish()
	})
}

func TestReconcilerBootTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(r *formation.Reconciler) { r.Backoff = []time.Duration{time.Hour} })
		f.set(1, formation.RestartAll, map[string]int{"web": 1})
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		d := f.fake.Started()[0]
		if sigs := d.Signals(); !slices.Equal(sigs, []syscall.Signal{syscall.SIGKILL}) {
			t.Errorf("signals = %v, want SIGKILL", sigs)
		}
		want := []string{
			"web.1: Starting process with command `run-web`",
			"web.1: Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 10 seconds of launch",
			"web.1: Stopping process with SIGKILL",
			"web.1: Process exited with status 137",
			"web.1: State changed from starting to crashed",
		}
		if got := f.ev.lines("web.1"); !slices.Equal(got, want) {
			t.Errorf("events =\n%q\nwant\n%q", got, want)
		}
		f.finish()
	})
}

func TestReconcilerExitTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.RestartAll, map[string]int{"worker": 1})
		d := f.fake.Live()[0]
		d.IgnoreTERM()
		f.set(1, formation.RestartAll, map[string]int{"worker": 0})
		if len(f.fake.Live()) != 1 {
			t.Fatal("a dyno ignoring SIGTERM exited before the grace period")
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		want := []string{
			"worker.1: Starting process with command `run-worker`",
			"worker.1: State changed from starting to up",
			"worker.1: Stopping all processes with SIGTERM",
			"worker.1: Error R12 (Exit timeout) -> Process failed to exit within 1 second of SIGTERM",
			"worker.1: Stopping process with SIGKILL",
			"worker.1: Process exited with status 137",
			"worker.1: State changed from up to down",
		}
		if got := f.ev.lines("worker.1"); !slices.Equal(got, want) {
			t.Errorf("events =\n%q\nwant\n%q", got, want)
		}
		f.finish()
	})
}

func TestReconcilerPreboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.Preboot, map[string]int{"web": 2})
		f.readyAll()
		old1, old2 := f.fake.LiveNamed("web.1", 1), f.fake.LiveNamed("web.2", 1)
		f.set(2, formation.Preboot, map[string]int{"web": 2})
		new1, new2 := f.fake.LiveNamed("web.1", 2), f.fake.LiveNamed("web.2", 2)
		if new1 == nil || new2 == nil {
			t.Fatalf("preboot did not start the new dynos at once: %v", f.states())
		}
		if len(old1.Signals())+len(old2.Signals()) != 0 {
			t.Fatal("old dynos signalled before their replacements were up")
		}
		new2.MarkReady()
		synctest.Wait()
		if len(old2.Signals()) != 1 || len(old1.Signals()) != 0 {
			t.Fatalf("after web.2 v2 up: old web.2 signals %v, old web.1 signals %v", old2.Signals(), old1.Signals())
		}
		new1.MarkReady()
		synctest.Wait()
		want := map[string]formation.State{"web.1 v2": "up", "web.2 v2": "up"}
		if got := f.states(); !mapsEqual(got, want) {
			t.Fatalf("states = %v, want %v", got, want)
		}
		f.finish()
	})
}

func TestReconcilerRolling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.Rolling, map[string]int{"web": 3})
		f.readyAll()
		f.set(2, formation.Rolling, map[string]int{"web": 3})
		for i := 1; i <= 3; i++ {
			var newer []*formationtest.FakeDyno
			for _, d := range f.fake.Live() {
				if d.Spec.Release == 2 {
					newer = append(newer, d)
				}
			}
			if len(newer) != i {
				t.Fatalf("step %d: %d new dynos live, want %d (one at a time)", i, len(newer), i)
			}
			old := 0
			for _, d := range f.fake.Live() {
				if d.Spec.Release == 1 {
					old++
				}
			}
			if old != 3-i+1 {
				t.Fatalf("step %d: %d old dynos live, want %d", i, old, 3-i+1)
			}
			newer[i-1].MarkReady()
			synctest.Wait()
		}
		want := map[string]formation.State{"web.1 v2": "up", "web.2 v2": "up", "web.3 v2": "up"}
		if got := f.states(); !mapsEqual(got, want) {
			t.Fatalf("states = %v, want %v", got, want)
		}
		f.finish()
	})
}

func TestReconcilerOneOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.RestartAll, map[string]int{})
		in := strings.NewReader("input")
		o, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app", Release: 1, Command: "bash", Attach: true, Stdin: in})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(o.Name, "run.") || len(o.Name) != len("run.1234") {
			t.Errorf("one-off name %q, want run.NNNN", o.Name)
		}
		d := f.fake.Live()[0]
		if d.Spec.Stdin != in || d.Spec.Command != "bash" || d.Spec.Port != 0 {
			t.Errorf("one-off spec = %+v", d.Spec)
		}
		d.Exit(3)
		exit, err := o.Wait(context.Background())
		if err != nil || exit.Code != 3 {
			t.Fatalf("Wait = %+v, %v", exit, err)
		}
		synctest.Wait()
		if n := len(f.fake.Started()); n != 1 {
			t.Errorf("one-off restarted: %d starts", n)
		}
		want := []string{"Starting process with command `bash`", "State changed from starting to up",
			"Process exited with status 3", "State changed from up to complete"}
		for i, l := range f.ev.lines(o.Name) {
			if i >= len(want) || l != o.Name+": "+want[i] {
				t.Errorf("event %d = %q, want %q", i, l, want)
			}
		}
		if _, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app"}); err == nil {
			t.Error("one-off without a command accepted")
		}
		if _, ok := f.rec.LookupOneOff("app", o.Name); ok {
			t.Errorf("LookupOneOff found %s after it exited", o.Name)
		}
		// A one-off found by name can be stopped (heroku ps:stop run.N).
		long, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app", Release: 1, Command: "sleep 9"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.rec.LookupOneOff("other", long.Name); ok {
			t.Error("LookupOneOff found another app's one-off")
		}
		found, ok := f.rec.LookupOneOff("app", long.Name)
		if !ok || found.ID != long.ID {
			t.Fatalf("LookupOneOff(%s) = %+v, %v", long.Name, found, ok)
		}
		if exit, err := found.Stop(context.Background()); err != nil || exit.Signal != syscall.SIGTERM {
			t.Errorf("Stop = %+v, %v", exit, err)
		}
		// A name announced beforehand (heroku run's API answer) is used;
		// one in use, or not run.N, is refused.
		name := f.rec.OneOffName("app")
		named, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app", Release: 1, Command: "sleep 9", Name: name})
		if err != nil || named.Name != name {
			t.Fatalf("RunOneOff with Name %s = %+v, %v", name, named, err)
		}
		if _, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app", Release: 1, Command: "sleep", Name: name}); !errors.Is(err, formation.ErrExists) {
			t.Errorf("a second one-off named %s: %v, want ErrExists", name, err)
		}
		if other, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "other", Release: 1, Command: "sleep", Name: name}); err != nil {
			t.Errorf("another app's one-off named %s: %v", name, err)
		} else if _, err := other.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		for _, bad := range []string{"web.1", "run.", "run.0", "run.12a", "run.1234567890"} {
			if _, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app", Release: 1, Command: "sleep", Name: bad}); err == nil || !strings.Contains(err.Error(), "run.N") {
				t.Errorf("one-off named %q: %v, want a refusal naming run.N", bad, err)
			}
		}
		if _, err := named.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		// A one-off of another type (Heroku Scheduler's) is named and
		// listed by it, marked OneOff, and found by its name.
		sched, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app", Release: 1, Command: "sleep 9", Type: "scheduler"})
		if err != nil || !strings.HasPrefix(sched.Name, "scheduler.") {
			t.Fatalf("RunOneOff of type scheduler = %+v, %v", sched, err)
		}
		var listed formation.DynoStatus
		for _, d := range f.rec.Dynos("app") {
			if d.Name == sched.Name {
				listed = d
			}
		}
		if listed.Type != "scheduler" || !listed.OneOff {
			t.Errorf("the scheduler one-off is listed as %+v", listed)
		}
		if got := f.fake.Live()[len(f.fake.Live())-1].Spec; got.Type != "scheduler" || got.Name != sched.Name {
			t.Errorf("the runtime got type %q name %q", got.Type, got.Name)
		}
		if _, ok := f.rec.LookupOneOff("app", sched.Name); !ok {
			t.Errorf("LookupOneOff(%s) found nothing", sched.Name)
		}
		f.set(1, formation.RestartAll, map[string]int{"worker": 0})
		for _, tc := range []struct{ typ, name, want string }{
			{"scheduler", "run.5", "scheduler.N"},
			{"worker", "", "process type of the app's formation"},
			{"sched uler", "", "contains"},
		} {
			if _, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app", Release: 1, Command: "sleep", Type: tc.typ, Name: tc.name}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("one-off of type %q named %q: %v, want a refusal with %q", tc.typ, tc.name, err, tc.want)
			}
		}
		for _, d := range f.rec.Dynos("app") {
			if d.OneOff != strings.HasPrefix(d.Name, "scheduler.") {
				t.Errorf("dyno %s: OneOff %v", d.Name, d.OneOff)
			}
		}
		if _, err := sched.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		// A detached one-off still running when Run ends is stopped.
		if _, err := f.rec.RunOneOff(context.Background(), formation.OneOffRequest{App: "app", Release: 1, Command: "sleep"}); err != nil {
			t.Fatal(err)
		}
		f.finish()
	})
}

func TestReconcilerStartError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(r *formation.Reconciler) {
			r.Runtime.(*formationtest.Fake).StartErr = func(formation.DynoSpec) error { return fmt.Errorf("no slug") }
		})
		f.set(1, formation.RestartAll, map[string]int{"worker": 1})
		if s := f.states()["worker.1 v1"]; s != formation.StateCrashed {
			t.Fatalf("a dyno that fails to start: state %q, want crashed", s)
		}
		f.finish()
	})
}

func TestReconcilerMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var readings []string // OnMemory's, as "worker.1 400MB"
		var mu sync.Mutex
		f := newFixture(t, func(r *formation.Reconciler) {
			r.MemoryCheck = 20 * time.Second
			r.OnMemory = func(d formation.DynoStatus, u formation.MemoryUsage) {
				mu.Lock()
				readings = append(readings, fmt.Sprintf("%s %dMB", d.Name, u.UsedBytes>>20))
				mu.Unlock()
			}
		})
		f.set(1, formation.RestartAll, map[string]int{"worker": 1})
		d := f.fake.Live()[0]
		d.SetMemory(formation.MemoryUsage{UsedBytes: 400 << 20, LimitBytes: 512 << 20}) // 78%: fine
		time.Sleep(20*time.Second + time.Millisecond)
		synctest.Wait()
		d.SetMemory(formation.MemoryUsage{UsedBytes: 500 << 20, LimitBytes: 512 << 20}) // 97.7%: R14
		time.Sleep(20 * time.Second)
		synctest.Wait()
		d.ExitWith(formation.Exit{Code: 137, Signal: syscall.SIGKILL, OOMKilled: true})
		synctest.Wait()
		want := []string{
			"worker.1: Starting process with command `run-worker`",
			"worker.1: State changed from starting to up",
			"worker.1: Process running mem=500MB(97.7%)",
			"worker.1: Error R14 (Memory quota exceeded)",
			"worker.1: Error R15 (Memory quota vastly exceeded)",
			"worker.1: Stopping process with SIGKILL",
			"worker.1: Process exited with status 137",
			"worker.1: State changed from up to crashed",
		}
		got := f.ev.lines("worker.1")
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("events =\n%q\nwant\n%q", got, want)
		}
		mu.Lock()
		if want := []string{"worker.1 400MB", "worker.1 500MB"}; !slices.Equal(readings, want) {
			t.Errorf("OnMemory readings %q, want %q", readings, want)
		}
		mu.Unlock()
		f.finish()
	})
}

func TestReconcilerCycling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(r *formation.Reconciler) { r.Cycle = time.Hour; r.CycleJitter = time.Minute })
		f.set(1, formation.RestartAll, map[string]int{"worker": 1})
		first := f.fake.Live()[0]
		time.Sleep(time.Hour - time.Millisecond)
		synctest.Wait()
		if len(first.Signals()) != 0 {
			t.Fatal("cycled before Cycle")
		}
		time.Sleep(time.Minute + time.Millisecond)
		synctest.Wait()
		if sigs := first.Signals(); !slices.Equal(sigs, []syscall.Signal{syscall.SIGTERM}) {
			t.Fatalf("after Cycle+CycleJitter: signals %v, want SIGTERM", sigs)
		}
		if live := f.fake.Live(); len(live) != 1 || live[0] == first {
			t.Fatalf("no replacement after cycling: %d live", len(live))
		}
		if lines := f.ev.lines("worker.1"); !slices.Contains(lines, "worker.1: Cycling") {
			t.Errorf("no Cycling line: %q", lines)
		}
		f.finish()
	})
}

func TestReconcilerRestartAndRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.RestartAll, map[string]int{"worker": 2})
		first := f.fake.Live()
		f.rec.Restart("app")
		synctest.Wait()
		live := f.fake.Live()
		if len(live) != 2 || slices.Contains(live, first[0]) || slices.Contains(live, first[1]) {
			t.Fatalf("Restart did not replace both dynos: %d live", len(live))
		}
		for _, d := range first {
			if sigs := d.Signals(); !slices.Equal(sigs, []syscall.Signal{syscall.SIGTERM}) {
				t.Errorf("old dyno got %v, want SIGTERM", sigs)
			}
		}
		f.rec.Remove("app")
		synctest.Wait()
		if n := len(f.fake.Live()); n != 0 {
			t.Errorf("Remove left %d dynos", n)
		}
		if _, ok := f.rec.Formation("app"); ok {
			t.Error("Formation still known after Remove")
		}
		f.finish()
	})
}

// Remove stops the app's one-offs too, one still starting as soon as it
// has started.
func TestReconcilerRemoveStartingOneOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		specs := specLog{block: func(formation.SpecRequest) { <-gate }}
		f := newFixture(t, specs.wrap)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // fake time
		defer cancel()
		type result struct {
			o   *formation.OneOff
			err error
		}
		done := make(chan result, 1)
		go func() {
			o, err := f.rec.RunOneOff(ctx, formation.OneOffRequest{App: "app", Release: 1, Command: "sleep"})
			done <- result{o, err}
		}()
		synctest.Wait() // in Spec
		f.rec.Remove("app")
		close(gate)
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		if exit, err := res.o.Wait(ctx); err != nil || exit.Signal != syscall.SIGTERM {
			t.Errorf("one-off removed while starting: Wait = %+v, %v, want SIGTERM", exit, err)
		}
		synctest.Wait()
		if n := len(f.fake.Live()); n != 0 {
			t.Errorf("%d dynos live after Remove", n)
		}
		if ds := f.rec.Dynos("app"); len(ds) != 0 {
			t.Errorf("Dynos(app) after Remove = %+v", ds)
		}
		f.finish()
	})
}

// Restart with process types replaces only those types' dynos
// (heroku restart clock) and leaves the others running.
func TestReconcilerRestartTypes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.set(1, formation.RestartAll, map[string]int{"worker": 2, "clock": 1})
		before := f.fake.Live()
		f.rec.Restart("app", "clock")
		synctest.Wait()
		after := f.fake.Live()
		if len(after) != 3 {
			t.Fatalf("%d live dynos after Restart, want 3", len(after))
		}
		for _, d := range before {
			replaced := !slices.Contains(after, d)
			if want := d.Spec.Type == "clock"; replaced != want {
				t.Errorf("%s: replaced = %v, want %v", d.Spec.Name, replaced, want)
			}
		}
		f.finish()
	})
}

// The default readiness check probes the port and, with HealthCheckPath,
// waits for a good HTTP answer (real sockets, so no synctest here).
func TestReconcilerHealthCheckPath(t *testing.T) {
	var healthy sync.Mutex
	ok := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		healthy.Lock()
		defer healthy.Unlock()
		if r.URL.Path != "/health" || !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	fake := &formationtest.Fake{}
	rec := &formation.Reconciler{
		Runtime: fake,
		Spec: func(ctx context.Context, req formation.SpecRequest) (formation.DynoSpec, error) {
			return formation.DynoSpec{Command: "web", Port: port}, nil
		},
		HealthCheckPath: "/health",
		Grace:           time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := rec.Set(formation.Formation{App: "app", Release: 1, Processes: map[string]formation.Process{"web": {Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	state := func() formation.State {
		for _, d := range rec.Dynos("app") {
			return d.State
		}
		return ""
	}
	time.Sleep(300 * time.Millisecond)
	if s := state(); s != formation.StateStarting {
		t.Fatalf("state with a failing health check = %q, want starting", s)
	}
	healthy.Lock()
	ok = true
	healthy.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for state() != formation.StateUp {
		if time.Now().After(deadline) {
			t.Fatalf("never up once healthy: %q", state())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReconcilerValidate(t *testing.T) {
	r := &formation.Reconciler{}
	bad := []formation.Formation{
		{},
		{App: "a", Release: -1},
		{App: "a", Processes: map[string]formation.Process{"web.1": {Quantity: 1}}},
		{App: "a", Processes: map[string]formation.Process{"run": {Quantity: 1}}},
		{App: "a", Processes: map[string]formation.Process{"web": {Quantity: -2}}},
		{App: "a", Strategy: 7},
	}
	for _, f := range bad {
		if err := r.Set(f); err == nil {
			t.Errorf("Set(%+v) accepted", f)
		}
	}
	if err := (&formation.Reconciler{}).Run(context.Background()); err == nil {
		t.Error("Run without Runtime and Spec succeeded")
	}
}

func mapsEqual(a, b map[string]formation.State) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
