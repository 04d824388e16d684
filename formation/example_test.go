package formation_test

import (
	"fmt"

	"github.com/dynokit/dynokit/formation"
)

// Scaling web from 3 to 1 stops the highest indexes first.
func ExamplePlan_scaleDown() {
	desired := formation.Formation{App: "shop", Release: 4, Processes: map[string]formation.Process{"web": {Quantity: 1}}}
	observed := []formation.Instance{
		{ID: "a", Type: "web", Index: 1, Release: 4, State: formation.StateUp},
		{ID: "b", Type: "web", Index: 2, Release: 4, State: formation.StateUp},
		{ID: "c", Type: "web", Index: 3, Release: 4, State: formation.StateUp},
	}
	for _, a := range formation.Plan(desired, observed) {
		fmt.Println(a)
	}
	// Output:
	// stop web.3 v4 (c)
	// stop web.2 v4 (b)
}

// With preboot, a new release first starts new web dynos; the old ones are
// stopped only when their replacements are up. Workers restart.
func ExamplePlan_preboot() {
	desired := formation.Formation{App: "shop", Release: 5, Strategy: formation.Preboot,
		Processes: map[string]formation.Process{"web": {Quantity: 2}, "worker": {Quantity: 1}}}
	observed := []formation.Instance{
		{ID: "a", Type: "web", Index: 1, Release: 4, State: formation.StateUp},
		{ID: "b", Type: "web", Index: 2, Release: 4, State: formation.StateUp},
		{ID: "w", Type: "worker", Index: 1, Release: 4, State: formation.StateUp},
	}
	for _, a := range formation.Plan(desired, observed) {
		fmt.Println(a)
	}
	// Output:
	// start web.1 v5
	// start web.2 v5
	// stop worker.1 v4 (w)
	// start worker.1 v5
}

func ExampleParseQuantities() {
	q, err := formation.ParseQuantities("web=2,worker=1,clock")
	fmt.Println(formation.FormatQuantities(q), err)
	_, err = formation.ParseQuantities("web=2,web=3")
	fmt.Println(err)
	// Output:
	// clock=1,web=2,worker=1 <nil>
	// formation: quantities "web=2,web=3" at offset 6: process type "web" given twice
}
