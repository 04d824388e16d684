package addonstest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/addons"
)

// Suite is the conformance suite every addons.Provider passes. It carries
// kensa's checks (heroku.md §8.3): provisioning is idempotent on the
// request id, config var names carry the service's prefix, deprovision of
// an unknown id gives the documented result (ErrNotFound), and a plan
// change keeps the resource. Providers with optional capabilities are
// checked on them too: Describer, Backuper and Resetter (with Put and
// Get), CredentialRotator, CredentialManager.
type Suite struct {
	Provider addons.Provider
	Prefix   string   // config prefix the provider must use, e.g. "DATABASE"
	Plans    []string // at least one plan; two or more to test plan changes
	// Usable, when set, checks that a provisioned resource really works
	// (connects with its credentials, writes and reads).
	Usable func(t *testing.T, res addons.Resource)
	// Gone, when set, checks that a deprovisioned resource is really gone
	// (its credentials no longer work).
	Gone func(t *testing.T, res addons.Resource)
	// Refused, when set, checks that res's credentials are refused while
	// the resource lives on (after a credential rotation).
	Refused func(t *testing.T, res addons.Resource)
	// Put and Get, when set, store one value in a resource (a row, a key)
	// and read it back ("" when none is stored), for the checks of
	// Backuper and Resetter.
	Put func(t *testing.T, res addons.Resource, value string)
	Get func(t *testing.T, res addons.Resource) string
	// Timeout bounds each provider call; 0 means 30 s.
	Timeout time.Duration
}

func (s Suite) ctx(t *testing.T) context.Context {
	d := s.Timeout
	if d == 0 {
		d = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// requestID returns a fresh partner-style uuid; n keeps ids of one
// run apart in logs.
func requestID(n int) string {
	return fmt.Sprintf("%s-%s-4%s-8%s-%012x", randomHex(4), randomHex(2), randomHex(2)[1:], randomHex(2)[1:], n)
}

// provision provisions and registers a cleanup that deprovisions.
func (s Suite) provision(t *testing.T, id, plan string) addons.Resource {
	t.Helper()
	res, err := s.Provider.Provision(s.ctx(t), addons.ProvisionRequest{ID: id, Name: "conformance-" + randomHex(3), App: "conformance", Plan: plan})
	if err != nil {
		t.Fatalf("Provision(plan %s): %v", plan, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Provider.Deprovision(ctx, res.ID); err != nil && !errors.Is(err, addons.ErrNotFound) {
			t.Errorf("cleanup: Deprovision(%s): %v", res.ID, err)
		}
	})
	return res
}

// Run runs every check as a subtest of t.
func (s Suite) Run(t *testing.T) {
	if s.Provider == nil || s.Prefix == "" || len(s.Plans) == 0 {
		t.Fatal("addonstest.Suite needs Provider, Prefix and at least one plan")
	}
	t.Run("ProvisionShape", s.testShape)
	t.Run("ProvisionIdempotent", s.testIdempotent)
	t.Run("ProvisionConcurrentSameID", s.testConcurrent)
	t.Run("DistinctCredentials", s.testDistinct)
	t.Run("UnknownPlan", s.testUnknownPlan)
	t.Run("Deprovision", s.testDeprovision)
	t.Run("DeprovisionUnknown", s.testDeprovisionUnknown)
	t.Run("ChangePlan", s.testChangePlan)
	t.Run("Describe", s.testDescribe)
	t.Run("Settings", s.testSettings)
	t.Run("BackupRestore", s.testBackupRestore)
	t.Run("Reset", s.testReset)
	t.Run("RotateCredentials", s.testRotateCredentials)
	t.Run("Credentials", s.testCredentials)
}

// testSettings checks a Configurer's contract on what every one has: named
// settings, unknown names refused as ErrInvalid and changing nothing,
// unknown resources as ErrNotFound.
func (s Suite) testSettings(t *testing.T) {
	c, ok := s.Provider.(addons.Configurer)
	if !ok {
		t.Skip("provider has no settings")
	}
	res := s.provision(t, requestID(14), s.Plans[0])
	before, err := c.Settings(s.ctx(t), res.ID)
	if err != nil {
		t.Fatalf("Settings: %v", err)
	}
	seen := map[string]bool{}
	for i, st := range before {
		if strings.TrimSpace(st.Name) == "" || seen[st.Name] {
			t.Errorf("setting %d has an empty or repeated name %q", i, st.Name)
		}
		seen[st.Name] = true
		switch st.Value.(type) {
		case bool, int, string:
		default:
			t.Errorf("setting %s has a value of type %T, want bool, int or string", st.Name, st.Value)
		}
	}
	if _, err := c.UpdateSettings(s.ctx(t), res.ID, map[string]string{"no such setting, surely": "1"}); !errors.Is(err, addons.ErrInvalid) {
		t.Errorf("UpdateSettings of an unknown setting = %v, want an error wrapping ErrInvalid", err)
	}
	if after, err := c.Settings(s.ctx(t), res.ID); err != nil || !reflect.DeepEqual(after, before) {
		t.Errorf("a refused update changed the settings: %v, %v; before %v", after, err, before)
	}
	if _, err := c.Settings(s.ctx(t), "never-provisioned"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Settings(never-provisioned) = %v, want an error wrapping ErrNotFound", err)
	}
	if err := s.Provider.Deprovision(s.ctx(t), res.ID); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if _, err := c.Settings(s.ctx(t), res.ID); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Settings of a deprovisioned resource = %v, want an error wrapping ErrNotFound", err)
	}
}

func (s Suite) testShape(t *testing.T) {
	res := s.provision(t, requestID(1), s.Plans[0])
	if res.ID == "" {
		t.Fatal("Resource.ID is empty")
	}
	if res.Plan != "" && res.Plan != s.Plans[0] {
		t.Errorf("Resource.Plan = %q, want %q", res.Plan, s.Plans[0])
	}
	if len(res.Config) == 0 {
		t.Fatal("Resource.Config is empty: a provisioned resource must hand the app at least one config var")
	}
	if _, err := addons.ValidateResourceConfig("under-test", s.Prefix, res.Config); err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Config[s.Prefix+"_URL"]; !ok {
		t.Errorf("config vars %v lack %s_URL", res.Config.Names(), s.Prefix)
	}
	for _, k := range res.Config.Names() {
		if res.Config[k] == "" {
			t.Errorf("config var %s is empty", k)
		}
	}
	if s.Usable != nil {
		s.Usable(t, res)
	}
}

func (s Suite) testIdempotent(t *testing.T) {
	id := requestID(2)
	first := s.provision(t, id, s.Plans[0])
	again, err := s.Provider.Provision(s.ctx(t), addons.ProvisionRequest{ID: id, Name: "conformance-again", App: "conformance", Plan: s.Plans[0]})
	if err != nil {
		t.Fatalf("second Provision with the same id: %v", err)
	}
	if again.ID != first.ID {
		t.Errorf("second Provision with the same id made resource %s, first was %s", again.ID, first.ID)
	}
	if !maps.Equal(again.Config, first.Config) {
		t.Errorf("second Provision with the same id returned different config (names %v vs %v, or values differ)", again.Config.Names(), first.Config.Names())
	}
}

func (s Suite) testConcurrent(t *testing.T) {
	id := requestID(3)
	const n = 4
	results := make([]addons.Resource, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	ctx := s.ctx(t)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Provider.Provision(ctx, addons.ProvisionRequest{ID: id, App: "conformance", Plan: s.Plans[0]})
		}()
	}
	wg.Wait()
	var ok []addons.Resource
	for i := range n {
		if errs[i] == nil {
			ok = append(ok, results[i])
		} else {
			t.Errorf("concurrent Provision %d: %v", i, errs[i])
		}
	}
	if len(ok) == 0 {
		return
	}
	t.Cleanup(func() { _ = s.Provider.Deprovision(context.Background(), ok[0].ID) })
	for _, r := range ok[1:] {
		if r.ID != ok[0].ID || !maps.Equal(r.Config, ok[0].Config) {
			t.Errorf("concurrent Provision with one id made two resources: %s and %s", ok[0].ID, r.ID)
		}
	}
}

func (s Suite) testDistinct(t *testing.T) {
	a := s.provision(t, requestID(4), s.Plans[0])
	b := s.provision(t, requestID(5), s.Plans[0])
	if a.ID == b.ID {
		t.Fatalf("two request ids gave one resource %s", a.ID)
	}
	for k, v := range a.Config {
		if b.Config[k] == v {
			t.Errorf("two resources share the value of %s: credentials must differ", k)
		}
	}
}

func (s Suite) testUnknownPlan(t *testing.T) {
	_, err := s.Provider.Provision(s.ctx(t), addons.ProvisionRequest{ID: requestID(6), App: "conformance", Plan: "no-such-plan"})
	if !errors.Is(err, addons.ErrUnknownPlan) {
		t.Fatalf("Provision(plan no-such-plan) = %v, want an error wrapping ErrUnknownPlan", err)
	}
	if !strings.Contains(err.Error(), "no-such-plan") {
		t.Errorf("error %q does not name the plan", err)
	}
}

func (s Suite) testDeprovision(t *testing.T) {
	id := requestID(7)
	res := s.provision(t, id, s.Plans[0])
	if err := s.Provider.Deprovision(s.ctx(t), res.ID); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if err := s.Provider.Deprovision(s.ctx(t), res.ID); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("second Deprovision = %v, want an error wrapping ErrNotFound", err)
	}
	if s.Gone != nil {
		s.Gone(t, res)
	}
	if pc, ok := s.Provider.(addons.PlanChanger); ok && len(s.Plans) > 1 {
		if _, err := pc.ChangePlan(s.ctx(t), res.ID, s.Plans[1]); !errors.Is(err, addons.ErrNotFound) {
			t.Errorf("ChangePlan of a deprovisioned resource = %v, want ErrNotFound", err)
		}
	}
	// The same request id after deprovisioning gives a working resource.
	again := s.provision(t, id, s.Plans[0])
	if s.Usable != nil {
		s.Usable(t, again)
	}
}

func (s Suite) testDeprovisionUnknown(t *testing.T) {
	for _, id := range []string{"never-provisioned", "r0000000000000000000000000"} {
		if err := s.Provider.Deprovision(s.ctx(t), id); !errors.Is(err, addons.ErrNotFound) {
			t.Errorf("Deprovision(%q) = %v, want an error wrapping ErrNotFound", id, err)
		}
	}
}

func (s Suite) testChangePlan(t *testing.T) {
	pc, ok := s.Provider.(addons.PlanChanger)
	if !ok || len(s.Plans) < 2 {
		t.Skip("provider does not change plans, or the suite has one plan")
	}
	res := s.provision(t, requestID(8), s.Plans[0])
	got, err := pc.ChangePlan(s.ctx(t), res.ID, s.Plans[1])
	if err != nil {
		t.Fatalf("ChangePlan(%s): %v", s.Plans[1], err)
	}
	if got.ID != "" && got.ID != res.ID {
		t.Errorf("ChangePlan made a new resource %s (was %s)", got.ID, res.ID)
	}
	if got.Plan != s.Plans[1] {
		t.Errorf("ChangePlan: Plan = %q, want %q", got.Plan, s.Plans[1])
	}
	if got.Config != nil && !slices.Equal(got.Config.Names(), res.Config.Names()) {
		t.Errorf("ChangePlan changed the config var names: %v → %v", res.Config.Names(), got.Config.Names())
	}
	if got.Config != nil {
		res.Config = got.Config
	}
	if s.Usable != nil {
		s.Usable(t, res) // the data and credentials survived
	}
	if _, err := pc.ChangePlan(s.ctx(t), res.ID, "no-such-plan"); !errors.Is(err, addons.ErrUnknownPlan) {
		t.Errorf("ChangePlan(no-such-plan) = %v, want ErrUnknownPlan", err)
	}
	if _, err := pc.ChangePlan(s.ctx(t), "never-provisioned", s.Plans[0]); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("ChangePlan(unknown id) = %v, want ErrNotFound", err)
	}
}

func (s Suite) testDescribe(t *testing.T) {
	d, ok := s.Provider.(addons.Describer)
	if !ok {
		t.Skip("provider does not describe resources")
	}
	res := s.provision(t, requestID(9), s.Plans[0])
	facts, err := d.Describe(s.ctx(t), res.ID)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if len(facts) == 0 {
		t.Fatal("Describe returned no facts")
	}
	seen := map[string]bool{}
	for i, f := range facts {
		if strings.TrimSpace(f.Name) == "" {
			t.Errorf("fact %d has an empty name (values %q)", i, f.Values)
		}
		if seen[f.Name] {
			t.Errorf("fact %q appears twice", f.Name)
		}
		seen[f.Name] = true
	}
	for _, id := range []string{"never-provisioned", "r0000000000000000000000000"} {
		if _, err := d.Describe(s.ctx(t), id); !errors.Is(err, addons.ErrNotFound) {
			t.Errorf("Describe(%q) = %v, want an error wrapping ErrNotFound", id, err)
		}
	}
	if err := s.Provider.Deprovision(s.ctx(t), res.ID); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if _, err := d.Describe(s.ctx(t), res.ID); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Describe of a deprovisioned resource = %v, want an error wrapping ErrNotFound", err)
	}
}
