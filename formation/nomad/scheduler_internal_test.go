package nomad

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
)

// Allocations as Nomad 1.10 lists them (trimmed), mapped onto formation
// states.
func TestAllocState(t *testing.T) {
	restartAt := time.Unix(0, 1795312600000000000).Add(3729606744)
	for _, c := range []struct {
		name, json string
		want       formation.State
		restartAt  time.Time
		current    bool
	}{
		{"placed", `{"ClientStatus":"pending","DesiredStatus":"run"}`, formation.StateStarting, time.Time{}, true},
		{"artifact", `{"ClientStatus":"pending","DesiredStatus":"run","TaskStates":{"dyno":{"State":"pending","Events":[{"Type":"Downloading Artifacts"}]}}}`, formation.StateStarting, time.Time{}, true},
		{"running", `{"ClientStatus":"running","DesiredStatus":"run","TaskStates":{"dyno":{"State":"running"}}}`, formation.StateUp, time.Time{}, true},
		{"restarting", `{"ClientStatus":"pending","DesiredStatus":"run","TaskStates":{"dyno":{"State":"pending","Restarts":1,"Events":[
			{"Type":"Terminated","Time":1795312599000000000},{"Type":"Restarting","Time":1795312600000000000,"Details":{"start_delay":"3729606744"}}]}}}`, formation.StateCrashed, restartAt, true},
		{"failed", `{"ClientStatus":"failed","DesiredStatus":"run","TaskStates":{"dyno":{"State":"dead","Failed":true}}}`, formation.StateCrashed, time.Time{}, true},
		{"failed and replaced", `{"ClientStatus":"failed","DesiredStatus":"run","NextAllocation":"b"}`, formation.StateCrashed, time.Time{}, false},
		{"lost", `{"ClientStatus":"lost","DesiredStatus":"run"}`, formation.StateCrashed, time.Time{}, true},
		{"stopping", `{"ClientStatus":"running","DesiredStatus":"stop","TaskStates":{"dyno":{"State":"running"}}}`, formation.StateUp, time.Time{}, false},
		{"complete", `{"ClientStatus":"complete","DesiredStatus":"run"}`, formation.StateDown, time.Time{}, true},
	} {
		var a allocation
		if err := json.Unmarshal([]byte(c.json), &a); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		st, at := allocState(&a)
		if st != c.want || !at.Equal(c.restartAt) {
			t.Errorf("%s: state %s, restart at %v; want %s, %v", c.name, st, at, c.want, c.restartAt)
		}
		if got := current(&a); got != c.current {
			t.Errorf("%s: current = %v, want %v", c.name, got, c.current)
		}
	}
}

func TestAllocIndexAndAddr(t *testing.T) {
	for name, want := range map[string]int{"dynokit-shop.web[0]": 0, "dynokit-shop.web[12]": 12, "odd": 0, "x[": 0} {
		if got := allocIndex(name); got != want {
			t.Errorf("allocIndex(%q) = %d, want %d", name, got, want)
		}
	}
	var a allocation
	if err := json.Unmarshal([]byte(`{"AllocatedResources":{"Shared":{"Ports":[{"Label":"other","Value":1,"HostIP":"10.0.0.1"},{"Label":"http","Value":20602,"HostIP":"fd00::1"}]}}}`), &a); err != nil {
		t.Fatal(err)
	}
	if got := allocAddr(&a); got != "[fd00::1]:20602" {
		t.Errorf("allocAddr = %q", got)
	}
}

func TestCheckApp(t *testing.T) {
	s := &Scheduler{}
	for app, ok := range map[string]bool{"shop": true, "my-app-2": true, "": false, "a.b": false, "a_b": false, strings.Repeat("a", 60): false} {
		if err := s.checkApp(app); (err == nil) != ok {
			t.Errorf("checkApp(%q) = %v", app, err)
		}
	}
}
