package autoscale_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/autoscale"
	"github.com/dynokit/dynokit/router"
)

// fakeMetrics holds cumulative router metrics per app, grown by serve.
type fakeMetrics struct {
	mu sync.Mutex
	st map[string]router.AppStats
}

func (m *fakeMetrics) Stats(app string) (router.AppStats, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.st[app]
	return st, ok
}

// serve counts n requests of app served in ms milliseconds each (ms < 0:
// answered without a dyno).
func (m *fakeMetrics) serve(t *testing.T, app string, n int64, ms int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st == nil {
		m.st = map[string]router.AppStats{}
	}
	st := m.st[app]
	st.Requests += n
	st.ByClass[2] += n
	if ms >= 0 {
		d := time.Duration(ms) * time.Millisecond
		found := false
		for i := range st.ServiceTimes {
			if lo, hi := router.ServiceTimeBucket(i); d >= lo && (hi == 0 || d < hi) {
				st.ServiceTimes[i] += n
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("no bucket for %d ms", ms)
		}
	}
	m.st[app] = st
}

// fakeScaler keeps web quantities and the events it was given.
type fakeScaler struct {
	mu     sync.Mutex
	web    map[string]int
	events []autoscale.Event
	atMax  []autoscale.Event
	fail   map[string]error
}

func (s *fakeScaler) WebQuantity(_ context.Context, app string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.web[app]
	if !ok {
		return 0, fmt.Errorf("no app %s", app)
	}
	return n, nil
}

func (s *fakeScaler) ScaleWeb(_ context.Context, e autoscale.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[e.App]; err != nil {
		return err
	}
	s.web[e.App] = e.To
	s.events = append(s.events, e)
	return nil
}

// AtMaximum makes fakeScaler a MaxNotifier.
func (s *fakeScaler) AtMaximum(_ context.Context, e autoscale.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.atMax = append(s.atMax, e)
	return nil
}

func (s *fakeScaler) quantity(app string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.web[app]
}

func (s *fakeScaler) set(app string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.web[app] = n
}

func (s *fakeScaler) lastEvent() autoscale.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return autoscale.Event{}
	}
	return s.events[len(s.events)-1]
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p    autoscale.Policy
		want string // in the error; "" = valid
	}{
		{autoscale.Policy{Min: 1, Max: 1, P95: time.Second}, ""},
		{autoscale.Policy{Min: 2, Max: 10, P95: 200 * time.Millisecond}, ""},
		{autoscale.Policy{Min: 0, Max: 3, P95: time.Second}, "minimum 0: must be at least 1"},
		{autoscale.Policy{Min: 3, Max: 2, P95: time.Second}, "maximum 2: must be at least the minimum 3"},
		{autoscale.Policy{Min: 1, Max: formation.MaxQuantity + 1, P95: time.Second}, "maximum 10001: must be at most 10000"},
		{autoscale.Policy{Min: 1, Max: 2}, "desired p95 0s: must be at least 1ms"},
	} {
		err := tc.p.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.p, err, tc.want)
		}
	}
}

// TestDecisions walks one app through the rounds of an autoscaler: each
// step serves some requests, runs a round and checks the web count.
func TestDecisions(t *testing.T) {
	m := &fakeMetrics{}
	s := &fakeScaler{web: map[string]int{"app": 0}}
	a := &autoscale.Autoscaler{Metrics: m, Scaler: s}
	ctx := context.Background()
	m.serve(t, "app", 1, 5)

	// Enabling brings the count into the range at once.
	if err := a.Enable(ctx, "app", autoscale.Policy{Min: 2, Max: 4, P95: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if e := s.lastEvent(); s.quantity("app") != 2 || e.Reason != "below the minimum of 2" {
		t.Fatalf("after Enable: web=%d, last event %+v; want 2, below the minimum", s.quantity("app"), e)
	}
	if p, ok := a.Policy("app"); !ok || p.Max != 4 {
		t.Errorf("Policy = %+v, %v", p, ok)
	}

	for i, step := range []struct {
		name    string
		n, ms   int64 // requests of the round and their service time
		want    int   // web count after the round
		because string
	}{
		{"slow", 50, 300, 3, "p95 317ms over the desired 200ms"},
		{"too few to judge", 5, 900, 3, ""},
		{"still slow", 100, 250, 4, "p95 254ms over the desired 200ms"},
		{"slow at the maximum", 100, 500, 4, ""},
		{"slow at the maximum again", 100, 500, 4, ""},
		{"calm 1", 100, 50, 4, ""},
		{"calm 2", 100, 50, 4, ""},
		{"in between resets the calm", 100, 150, 4, ""},
		{"calm 1 again", 100, 50, 4, ""},
		{"calm 2 again", 100, 50, 4, ""},
		{"calm 3", 100, 50, 4, ""},
		{"idle 4", 0, 0, 4, ""},
		{"calm 5: one dyno less", 100, 50, 3, "p95 under half the desired 200ms for 5 intervals"},
		{"calm 1 after the change", 100, 50, 3, ""},
		{"no dyno reached, 2", 20, -1, 3, ""},
		{"idle 3", 0, 0, 3, ""},
		{"idle 4", 0, 0, 3, ""},
		{"idle 5: one less", 0, 0, 2, "no requests for 5 intervals"},
		{"idle at the minimum", 0, 0, 2, ""},
	} {
		before := len(s.events)
		if step.n > 0 {
			m.serve(t, "app", step.n, step.ms)
		}
		if err := a.Evaluate(ctx); err != nil {
			t.Fatalf("step %d (%s): %v", i, step.name, err)
		}
		if got := s.quantity("app"); got != step.want {
			t.Fatalf("step %d (%s): web=%d, want %d", i, step.name, got, step.want)
		}
		if step.because != "" {
			if e := s.lastEvent(); len(s.events) != before+1 || !strings.HasPrefix(e.Reason, step.because) {
				t.Errorf("step %d (%s): event %+v, want one because %q", i, step.name, e, step.because)
			}
		} else if len(s.events) != before {
			t.Errorf("step %d (%s): unexpected event %+v", i, step.name, s.lastEvent())
		}
	}

	// One notification for the two rounds slow at the maximum, not one per
	// round: at most one a day.
	if len(s.atMax) != 1 || s.atMax[0].To != 4 || !strings.HasPrefix(s.atMax[0].Reason, "p95 ") || !strings.HasSuffix(s.atMax[0].Reason, "at the maximum of 4 dynos") {
		t.Errorf("notifications at the maximum: %+v, want one", s.atMax)
	}

	// A count moved out of the range by hand comes back at the next round.
	s.set("app", 9)
	if err := a.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	if e := s.lastEvent(); s.quantity("app") != 4 || e.Reason != "above the maximum of 4" {
		t.Errorf("after a manual scale to 9: web=%d, event %+v; want 4", s.quantity("app"), e)
	}

	// Disabled, nothing changes.
	if !a.Disable("app") || a.Disable("app") {
		t.Error("Disable: want true once, then false")
	}
	m.serve(t, "app", 100, 900)
	s.set("app", 1)
	if err := a.Evaluate(ctx); err != nil || s.quantity("app") != 1 {
		t.Errorf("after Disable: web=%d, err %v; want 1 and no change", s.quantity("app"), err)
	}
}

// One app's failure does not stop the others, and is reported by name.
func TestEvaluateErrors(t *testing.T) {
	m := &fakeMetrics{}
	s := &fakeScaler{web: map[string]int{"bad": 1, "good": 1}, fail: map[string]error{}}
	a := &autoscale.Autoscaler{Metrics: m, Scaler: s}
	ctx := context.Background()
	for _, app := range []string{"bad", "good"} {
		m.serve(t, app, 1, 1)
		if err := a.Enable(ctx, app, autoscale.Policy{Min: 1, Max: 3, P95: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		m.serve(t, app, 50, 400)
	}
	s.fail["bad"] = errors.New("formation: app bad: busy")
	err := a.Evaluate(ctx)
	if err == nil || !strings.Contains(err.Error(), "autoscale: bad: scale web from 1 to 2: formation: app bad: busy") {
		t.Errorf("Evaluate = %v, want bad's failure", err)
	}
	if s.quantity("good") != 2 {
		t.Errorf("good: web=%d, want 2 despite bad's failure", s.quantity("good"))
	}
	if err := a.Enable(ctx, "ghost", autoscale.Policy{Min: 1, Max: 2, P95: time.Second}); err == nil || !strings.Contains(err.Error(), "no app ghost") {
		t.Errorf("Enable(ghost) = %v, want the Scaler's error", err)
	}
	if err := a.Enable(ctx, "good", autoscale.Policy{Min: 0, Max: 2, P95: time.Second}); err == nil || !strings.Contains(err.Error(), "minimum 0") {
		t.Errorf("Enable with Min 0 = %v, want a validation error", err)
	}
}

// Run evaluates once per Interval, and returns when its context ends.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &fakeMetrics{}
		s := &fakeScaler{web: map[string]int{"app": 1}}
		a := &autoscale.Autoscaler{Metrics: m, Scaler: s, Interval: time.Minute}
		ctx, cancel := context.WithCancel(context.Background())
		m.serve(t, "app", 1, 1)
		if err := a.Enable(ctx, "app", autoscale.Policy{Min: 1, Max: 5, P95: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- a.Run(ctx) }()
		for round := 1; round <= 3; round++ {
			m.serve(t, "app", 50, 400)
			time.Sleep(time.Minute - time.Second)
			synctest.Wait()
			if got := s.quantity("app"); got != round {
				t.Fatalf("before minute %d: web=%d, want %d", round, got, round)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			if got := s.quantity("app"); got != round+1 {
				t.Fatalf("at minute %d: web=%d, want %d", round, got, round+1)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil at the end of its context", err)
		}
	})
}
