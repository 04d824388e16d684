package formation

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Formation is the desired state of one app: which release runs, and how
// many dynos of each process type.
type Formation struct {
	App     string
	Release int
	// Processes maps a process type ("web", "worker") to its scale.
	Processes map[string]Process
	// Strategy is how dynos of an older release are replaced.
	Strategy Strategy
}

// Process is the scale of one process type.
type Process struct {
	Quantity int
	Size     string // dyno size name; the platform maps it to Resources
}

// Strategy says how a new release replaces running dynos.
type Strategy int

const (
	// RestartAll stops every old dyno and starts its replacement at once
	// (Heroku's default: new dynos start as soon as the old get SIGTERM).
	RestartAll Strategy = iota
	// Preboot starts new web dynos next to the old ones and stops an old
	// web dyno only once its replacement is up. Other types restart.
	Preboot
	// Rolling replaces the dynos of each type one at a time: the next old
	// dyno is replaced only when the previous replacement is up (healthy).
	Rolling
)

var strategyNames = []string{"restart", "preboot", "rolling"}

func (s Strategy) String() string {
	if s >= 0 && int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return "Strategy(" + strconv.Itoa(int(s)) + ")"
}

// ParseStrategy parses "restart", "preboot" or "rolling".
func ParseStrategy(s string) (Strategy, error) {
	for i, n := range strategyNames {
		if s == n {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("formation: strategy %q: want one of %s", s, strings.Join(strategyNames, ", "))
}

// State is a dyno's state as Heroku names it.
type State string

const (
	StateStarting State = "starting"
	StateUp       State = "up"
	StateCrashed  State = "crashed"
	StateDown     State = "down"
	// StateComplete is a one-off dyno that has exited.
	StateComplete State = "complete"
)

// Instance is one observed formation dyno.
type Instance struct {
	ID      string
	Type    string
	Index   int // web.1 has Index 1
	Release int
	// State is StateStarting, StateUp or StateCrashed. A crashed instance
	// holds its slot (so its restart waits for the back-off); a stopping
	// one must not be passed to Plan at all.
	State State
}

// Name is the dyno name, "web.1".
func (i Instance) Name() string { return DynoName(i.Type, i.Index) }

// DynoName formats a formation dyno name.
func DynoName(typ string, index int) string { return typ + "." + strconv.Itoa(index) }

// ActionKind is what an Action does.
type ActionKind int

const (
	// ActionStart starts a dyno of Type and Index at Release.
	ActionStart ActionKind = iota + 1
	// ActionStop stops the dyno ID (for a crashed one: forgets it).
	ActionStop
)

func (k ActionKind) String() string {
	switch k {
	case ActionStart:
		return "start"
	case ActionStop:
		return "stop"
	}
	return "ActionKind(" + strconv.Itoa(int(k)) + ")"
}

// Action is one step from observed towards desired.
type Action struct {
	Kind    ActionKind
	Type    string
	Index   int
	Release int
	ID      string // the dyno to stop
}

func (a Action) String() string {
	if a.Kind == ActionStop {
		return fmt.Sprintf("stop %s v%d (%s)", DynoName(a.Type, a.Index), a.Release, a.ID)
	}
	return fmt.Sprintf("start %s v%d", DynoName(a.Type, a.Index), a.Release)
}

// Plan returns the actions that move observed towards desired. It is pure
// and deterministic. Applied once with RestartAll it reaches desired;
// Preboot and Rolling reach it over several rounds, because they wait for
// new dynos to come up, so the caller plans again as states change.
//
// Order: process types alphabetically; within a type, stops first (highest
// index first, so scaling down removes web.3 before web.2), then starts by
// increasing index.
func Plan(desired Formation, observed []Instance) []Action {
	byType := map[string][]Instance{}
	for _, in := range observed {
		byType[in.Type] = append(byType[in.Type], in)
	}
	types := make([]string, 0, len(byType)+len(desired.Processes))
	for t := range byType {
		types = append(types, t)
	}
	for t := range desired.Processes {
		if _, ok := byType[t]; !ok {
			types = append(types, t)
		}
	}
	slices.Sort(types)

	var actions []Action
	for _, t := range types {
		actions = append(actions, planType(desired, t, byType[t])...)
	}
	return actions
}

func planType(desired Formation, typ string, observed []Instance) []Action {
	quantity := max(desired.Processes[typ].Quantity, 0)
	strategy := desired.Strategy
	if strategy == Preboot && typ != "web" {
		strategy = RestartAll
	}
	rel := desired.Release

	// Deterministic view: by index, then current release first, then up
	// before starting before crashed, then ID.
	obs := slices.Clone(observed)
	slices.SortFunc(obs, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index),
			boolCmp(a.Release != rel, b.Release != rel),
			cmp.Compare(stateRank(a.State), stateRank(b.State)),
			cmp.Compare(a.ID, b.ID))
	})

	var stops, starts []Action
	stop := func(in Instance) {
		stops = append(stops, Action{Kind: ActionStop, Type: typ, Index: in.Index, Release: in.Release, ID: in.ID})
	}
	slotCurrent := map[int]Instance{} // index → the kept current-release dyno
	var old []Instance
	for _, in := range obs {
		switch {
		case in.Index < 1 || in.Index > quantity:
			stop(in) // scaled down, or type removed
		case in.Release == rel:
			if _, dup := slotCurrent[in.Index]; dup {
				stop(in)
			} else {
				slotCurrent[in.Index] = in
			}
		case in.State == StateCrashed:
			stop(in) // an old crashed dyno waits for no back-off: a new release resets it
		default:
			old = append(old, in)
		}
	}

	switch strategy {
	case RestartAll:
		for _, in := range old {
			stop(in)
		}
		for i := 1; i <= quantity; i++ {
			if _, ok := slotCurrent[i]; !ok {
				starts = append(starts, Action{Kind: ActionStart, Type: typ, Index: i, Release: rel})
			}
		}
	case Preboot:
		// Start every missing new dyno now; retire an old one once the new
		// dyno in its slot is up.
		for _, in := range old {
			if cur, ok := slotCurrent[in.Index]; ok && cur.State == StateUp {
				stop(in)
			}
		}
		for i := 1; i <= quantity; i++ {
			if _, ok := slotCurrent[i]; !ok {
				starts = append(starts, Action{Kind: ActionStart, Type: typ, Index: i, Release: rel})
			}
		}
	case Rolling:
		oldBySlot := map[int][]Instance{}
		for _, in := range old {
			oldBySlot[in.Index] = append(oldBySlot[in.Index], in)
		}
		// Slots without an old dyno fill at once (scale-up or a crash).
		busy := false // a replacement is in flight
		for i := 1; i <= quantity; i++ {
			cur, ok := slotCurrent[i]
			if ok && len(oldBySlot[i]) > 0 {
				if cur.State == StateUp {
					for _, in := range oldBySlot[i] {
						stop(in)
					}
				} else {
					busy = true
				}
			}
			if !ok && len(oldBySlot[i]) == 0 {
				starts = append(starts, Action{Kind: ActionStart, Type: typ, Index: i, Release: rel})
			}
		}
		if !busy {
			for i := 1; i <= quantity; i++ {
				if _, ok := slotCurrent[i]; !ok && len(oldBySlot[i]) > 0 {
					starts = append(starts, Action{Kind: ActionStart, Type: typ, Index: i, Release: rel})
					break
				}
			}
		}
		slices.SortFunc(starts, func(a, b Action) int { return cmp.Compare(a.Index, b.Index) })
	}
	slices.SortStableFunc(stops, func(a, b Action) int {
		return cmp.Or(cmp.Compare(b.Index, a.Index), cmp.Compare(a.ID, b.ID))
	})
	return append(stops, starts...)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func stateRank(s State) int {
	switch s {
	case StateUp:
		return 0
	case StateStarting:
		return 1
	}
	return 2
}
