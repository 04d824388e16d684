package formation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func inst(id, typ string, index, release int, state State) Instance {
	return Instance{ID: id, Type: typ, Index: index, Release: release, State: state}
}

func actionStrings(as []Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

func TestPlanTable(t *testing.T) {
	f := func(rel int, s Strategy, kv ...any) Formation {
		p := map[string]Process{}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i].(string)] = Process{Quantity: kv[i+1].(int)}
		}
		return Formation{App: "a", Release: rel, Processes: p, Strategy: s}
	}
	tests := []struct {
		name     string
		desired  Formation
		observed []Instance
		want     []string
	}{
		{"empty", f(1, RestartAll), nil, nil},
		{"scale up from nothing", f(1, RestartAll, "web", 2, "worker", 1), nil,
			[]string{"start web.1 v1", "start web.2 v1", "start worker.1 v1"}},
		{"converged", f(1, RestartAll, "web", 1), []Instance{inst("a", "web", 1, 1, StateUp)}, nil},
		{"scale down highest first", f(1, RestartAll, "web", 1), []Instance{
			inst("a", "web", 1, 1, StateUp), inst("c", "web", 3, 1, StateUp), inst("b", "web", 2, 1, StateStarting)},
			[]string{"stop web.3 v1 (c)", "stop web.2 v1 (b)"}},
		{"type removed", f(1, RestartAll, "web", 1), []Instance{inst("a", "web", 1, 1, StateUp), inst("w", "worker", 1, 1, StateUp)},
			[]string{"stop worker.1 v1 (w)"}},
		{"fill a hole", f(1, RestartAll, "web", 3), []Instance{inst("a", "web", 1, 1, StateUp), inst("c", "web", 3, 1, StateUp)},
			[]string{"start web.2 v1"}},
		{"duplicate keeps the up one", f(1, RestartAll, "web", 1), []Instance{inst("b", "web", 1, 1, StateStarting), inst("a", "web", 1, 1, StateUp)},
			[]string{"stop web.1 v1 (b)"}},
		{"crashed holds its slot", f(1, RestartAll, "web", 1), []Instance{inst("a", "web", 1, 1, StateCrashed)}, nil},
		{"crashed excess is forgotten", f(1, RestartAll, "web", 0), []Instance{inst("a", "web", 1, 1, StateCrashed)},
			[]string{"stop web.1 v1 (a)"}},
		{"restart all on release", f(2, RestartAll, "web", 2), []Instance{inst("a", "web", 1, 1, StateUp), inst("b", "web", 2, 1, StateUp)},
			[]string{"stop web.2 v1 (b)", "stop web.1 v1 (a)", "start web.1 v2", "start web.2 v2"}},
		{"preboot starts new first", f(2, Preboot, "web", 2), []Instance{inst("a", "web", 1, 1, StateUp), inst("b", "web", 2, 1, StateUp)},
			[]string{"start web.1 v2", "start web.2 v2"}},
		{"preboot waits for up", f(2, Preboot, "web", 2), []Instance{
			inst("a", "web", 1, 1, StateUp), inst("b", "web", 2, 1, StateUp),
			inst("c", "web", 1, 2, StateUp), inst("d", "web", 2, 2, StateStarting)},
			[]string{"stop web.1 v1 (a)"}},
		{"preboot restarts workers", f(2, Preboot, "web", 1, "worker", 1), []Instance{inst("a", "web", 1, 1, StateUp), inst("w", "worker", 1, 1, StateUp)},
			[]string{"start web.1 v2", "stop worker.1 v1 (w)", "start worker.1 v2"}},
		{"preboot old crashed replaced at once", f(2, Preboot, "web", 1), []Instance{inst("a", "web", 1, 1, StateCrashed)},
			[]string{"stop web.1 v1 (a)", "start web.1 v2"}},
		{"rolling one at a time", f(2, Rolling, "web", 3), []Instance{
			inst("a", "web", 1, 1, StateUp), inst("b", "web", 2, 1, StateUp), inst("c", "web", 3, 1, StateUp)},
			[]string{"start web.1 v2"}},
		{"rolling gated on health", f(2, Rolling, "web", 3), []Instance{
			inst("a", "web", 1, 1, StateUp), inst("b", "web", 2, 1, StateUp), inst("c", "web", 3, 1, StateUp), inst("n", "web", 1, 2, StateStarting)},
			nil},
		{"rolling next after up", f(2, Rolling, "web", 3), []Instance{
			inst("a", "web", 1, 1, StateUp), inst("b", "web", 2, 1, StateUp), inst("c", "web", 3, 1, StateUp), inst("n", "web", 1, 2, StateUp)},
			[]string{"stop web.1 v1 (a)", "start web.2 v2"}},
		{"rolling scale up fills at once", f(2, Rolling, "web", 3), []Instance{inst("a", "web", 1, 1, StateUp)},
			[]string{"start web.1 v2", "start web.2 v2", "start web.3 v2"}},
		{"negative quantity is zero", f(1, RestartAll, "web", -1), []Instance{inst("a", "web", 1, 1, StateUp)},
			[]string{"stop web.1 v1 (a)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := actionStrings(Plan(tt.desired, tt.observed))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Plan =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			// Pure: the same input plans the same, and the input is untouched.
			before := slices.Clone(tt.observed)
			again := actionStrings(Plan(tt.desired, tt.observed))
			if !slices.Equal(got, again) || !slices.Equal(before, tt.observed) {
				t.Error("Plan is not deterministic or modified its input")
			}
		})
	}
}

// world simulates a runtime for the property test: starts appear as
// starting dynos, stops remove them, and between rounds starting dynos
// come up.
type world struct {
	next      int
	instances []Instance
}

func (w *world) apply(t *testing.T, desired Formation, actions []Action) {
	t.Helper()
	for _, a := range actions {
		switch a.Kind {
		case ActionStop:
			i := slices.IndexFunc(w.instances, func(in Instance) bool { return in.ID == a.ID })
			if i < 0 {
				t.Fatalf("stop of unknown dyno %s", a.ID)
			}
			in := w.instances[i]
			if desired.Strategy == Preboot && in.Type == "web" && in.Release != desired.Release && in.State != StateCrashed &&
				in.Index <= desired.Processes["web"].Quantity {
				up := slices.ContainsFunc(w.instances, func(o Instance) bool {
					return o.Type == "web" && o.Index == in.Index && o.Release == desired.Release && o.State == StateUp
				})
				if !up {
					t.Fatalf("preboot stopped %s before its replacement was up", in.Name())
				}
			}
			w.instances = slices.Delete(w.instances, i, i+1)
		case ActionStart:
			w.next++
			w.instances = append(w.instances, Instance{ID: fmt.Sprintf("d%d", w.next), Type: a.Type, Index: a.Index, Release: a.Release, State: StateStarting})
		}
	}
}

func (w *world) tick() {
	for i := range w.instances {
		if w.instances[i].State == StateStarting {
			w.instances[i].State = StateUp
		}
	}
}

func randomCase(r *rand.Rand) (Formation, []Instance) {
	types := []string{"web", "worker", "clock"}
	desired := Formation{App: "a", Release: 1 + r.IntN(3), Strategy: Strategy(r.IntN(3)), Processes: map[string]Process{}}
	for _, t := range types {
		if r.IntN(4) > 0 {
			desired.Processes[t] = Process{Quantity: r.IntN(6)}
		}
	}
	var obs []Instance
	n := r.IntN(12)
	for i := range n {
		obs = append(obs, Instance{
			ID: fmt.Sprintf("o%d", i), Type: types[r.IntN(len(types))], Index: 1 + r.IntN(7),
			Release: 1 + r.IntN(3), State: []State{StateStarting, StateUp, StateCrashed}[r.IntN(3)],
		})
	}
	return desired, obs
}

// converged reports whether instances are exactly desired: one dyno per
// slot 1..quantity of each type, at the desired release.
func converged(desired Formation, instances []Instance) error {
	seen := map[string]bool{}
	for _, in := range instances {
		q := desired.Processes[in.Type].Quantity
		if in.Index < 1 || in.Index > q || in.Release != desired.Release {
			return fmt.Errorf("unexpected dyno %s v%d", in.Name(), in.Release)
		}
		if seen[in.Name()] {
			return fmt.Errorf("two dynos named %s", in.Name())
		}
		seen[in.Name()] = true
	}
	for typ, p := range desired.Processes {
		for i := 1; i <= p.Quantity; i++ {
			if !seen[DynoName(typ, i)] {
				return fmt.Errorf("missing %s", DynoName(typ, i))
			}
		}
	}
	return nil
}

func TestPlanProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		desired, obs := randomCase(r)
		t.Run("", func(t *testing.T) {
			checkConverges(t, desired, obs)
		})
		if t.Failed() {
			t.Fatalf("case %d failed", n)
		}
	}
}

// FuzzPlan explores random formations beyond the property test's fixed
// seed.
func FuzzPlan(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(42), uint64(0))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		desired, obs := randomCase(rand.New(rand.NewPCG(a, b)))
		checkConverges(t, desired, obs)
	})
}

// checkConverges applies Plan repeatedly to a simulated world (started
// dynos come up between rounds) and checks it reaches desired, honouring
// each strategy's ordering rules on the way.
func checkConverges(t *testing.T, desired Formation, obs []Instance) {
	t.Helper()
	// Crashed dynos of the current release hold their slot until the
	// caller's back-off expires; model that as "restarted right away".
	w := &world{instances: slices.Clone(obs)}
	if desired.Strategy == RestartAll {
		w.apply(t, desired, Plan(desired, w.instances))
		w.dropCrashed()
		w.apply(t, desired, Plan(desired, w.instances))
		if err := converged(desired, w.instances); err != nil {
			t.Fatalf("restart-all did not converge after one plan: %v\ndesired %+v\nobserved %+v", err, desired, obs)
		}
		return
	}
	for round := 0; ; round++ {
		actions := Plan(desired, w.instances)
		if len(actions) == 0 {
			if w.dropCrashed() {
				continue
			}
			break
		}
		if round > 50 {
			t.Fatalf("no fixpoint after 50 rounds\ndesired %+v\nobserved %+v", desired, obs)
		}
		if desired.Strategy == Rolling {
			checkRollingRound(t, desired, w.instances, actions)
		}
		w.apply(t, desired, actions)
		w.tick()
	}
	if err := converged(desired, w.instances); err != nil {
		t.Fatalf("%v\ndesired %+v\nobserved %+v\nfinal %+v", err, desired, obs, w.instances)
	}
}

// dropCrashed forgets crashed dynos, as the reconciler does when their
// back-off expires; it reports whether there were any.
func (w *world) dropCrashed() bool {
	n := len(w.instances)
	w.instances = slices.DeleteFunc(w.instances, func(in Instance) bool { return in.State == StateCrashed })
	return len(w.instances) != n
}

// checkRollingRound: per type, a round starts at most one replacement of
// an old live dyno, and none while another replacement is in flight.
func checkRollingRound(t *testing.T, desired Formation, before []Instance, actions []Action) {
	t.Helper()
	hasOld := func(typ string, idx int) bool {
		return slices.ContainsFunc(before, func(in Instance) bool {
			return in.Type == typ && in.Index == idx && in.Release != desired.Release && in.State != StateCrashed &&
				idx <= desired.Processes[typ].Quantity
		})
	}
	currentUp := func(typ string, idx int) bool {
		return slices.ContainsFunc(before, func(in Instance) bool {
			return in.Type == typ && in.Index == idx && in.Release == desired.Release && in.State == StateUp
		})
	}
	inFlight := map[string]bool{}
	for _, in := range before {
		if in.Release == desired.Release && in.State == StateStarting && hasOld(in.Type, in.Index) && !currentUp(in.Type, in.Index) {
			inFlight[in.Type] = true
		}
	}
	started := map[string]int{}
	for _, a := range actions {
		if a.Kind == ActionStart && hasOld(a.Type, a.Index) {
			started[a.Type]++
		}
	}
	for typ, n := range started {
		if n > 1 || inFlight[typ] {
			t.Fatalf("rolling: %d replacements of %s started (one already in flight: %v): %v\nbefore %+v",
				n, typ, inFlight[typ], actionStrings(actions), before)
		}
	}
}

func BenchmarkPlan(b *testing.B) {
	desired := Formation{App: "a", Release: 2, Strategy: Rolling, Processes: map[string]Process{"web": {Quantity: 50}, "worker": {Quantity: 20}}}
	var obs []Instance
	for i := 1; i <= 50; i++ {
		obs = append(obs, inst(fmt.Sprintf("w%d", i), "web", i, 1, StateUp))
	}
	for i := 1; i <= 20; i++ {
		obs = append(obs, inst(fmt.Sprintf("k%d", i), "worker", i, 2, StateUp))
	}
	b.ReportAllocs()
	for b.Loop() {
		Plan(desired, obs)
	}
}
