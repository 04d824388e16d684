package addons_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// describeGate blocks ChangePlan (and Describe, when slow) until
// released, to hold an operation in flight.
type describeGate struct {
	*addonstest.MemProvider
	entered chan struct{} // receives when ChangePlan starts
	release chan struct{} // closed to let ChangePlan finish
	slow    bool          // Describe waits for ctx
}

func (g *describeGate) ChangePlan(ctx context.Context, id, plan string) (addons.Resource, error) {
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return addons.Resource{}, ctx.Err()
	}
	return g.MemProvider.ChangePlan(ctx, id, plan)
}

func (g *describeGate) Describe(ctx context.Context, id string) ([]addons.Fact, error) {
	if g.slow {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return g.MemProvider.Describe(ctx, id)
}

func factValue(facts []addons.Fact, name string) string {
	i := slices.IndexFunc(facts, func(f addons.Fact) bool { return f.Name == name })
	if i < 0 {
		return "<missing>"
	}
	return strings.Join(facts[i].Values, ",")
}

func TestManagerDescribe(t *testing.T) {
	m, _ := newManager(addonstest.NewMemProvider("DATABASE", "hobby", "standard"))
	ctx := context.Background()
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	facts, err := m.Describe(ctx, a.Name)
	if err != nil {
		t.Fatal(err)
	}
	if factValue(facts, "Status") != "available" || factValue(facts, "Plan") != "hobby" {
		t.Errorf("Describe = %v", facts)
	}
	if _, err := m.ChangePlan(ctx, a.Name, "standard"); err != nil {
		t.Fatal(err)
	}
	if facts, err = m.Describe(ctx, a.Name); err != nil || factValue(facts, "Plan") != "standard" {
		t.Errorf("Describe after a plan change = %v, %v", facts, err)
	}
	for _, name := range []string{"no-such-addon", ""} {
		if _, err := m.Describe(ctx, name); !errors.Is(err, addons.ErrNotFound) {
			t.Errorf("Describe(%q) = %v, want ErrNotFound", name, err)
		}
	}
	if err := m.Destroy(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Describe(ctx, a.Name); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Describe of a destroyed add-on = %v, want ErrNotFound", err)
	}
}

func TestManagerDescribeUnsupported(t *testing.T) {
	m, _ := newManager(onlyProvider{addonstest.NewMemProvider("DATABASE", "hobby")})
	a, err := m.Create(context.Background(), addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Describe(context.Background(), a.Name)
	if !errors.Is(err, addons.ErrDescribeUnsupported) || !strings.Contains(err.Error(), a.Name) {
		t.Errorf("Describe through a provider without Describer = %v, want ErrDescribeUnsupported naming the add-on", err)
	}
}

// The provider gone from under the Manager: its ErrNotFound comes through.
func TestManagerDescribeProviderForgot(t *testing.T) {
	mem := addonstest.NewMemProvider("DATABASE", "hobby")
	m, _ := newManager(mem)
	a, err := m.Create(context.Background(), addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Deprovision(context.Background(), a.ProviderID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Describe(context.Background(), a.Name); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Describe = %v, want ErrNotFound", err)
	}
}

func TestManagerDescribeTimeout(t *testing.T) {
	m, _ := newManager(&describeGate{MemProvider: addonstest.NewMemProvider("DATABASE", "hobby"), slow: true})
	a, err := m.Create(context.Background(), addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	m.Timeout = 50 * time.Millisecond
	_, err = m.Describe(context.Background(), a.Name)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Errorf("Describe of a provider that never answers = %v", err)
	}
}

// Describe runs while another operation holds the add-on: it neither
// waits for it nor fails with ErrBusy.
func TestManagerDescribeWhileBusy(t *testing.T) {
	g := &describeGate{MemProvider: addonstest.NewMemProvider("DATABASE", "hobby", "standard"),
		entered: make(chan struct{}), release: make(chan struct{})}
	m, _ := newManager(g)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan error, 1)
	go func() {
		_, err := m.ChangePlan(ctx, a.Name, "standard")
		changed <- err
	}()
	<-g.entered
	if err := m.Destroy(ctx, a.Name); !errors.Is(err, addons.ErrBusy) {
		t.Errorf("Destroy during the plan change = %v, want ErrBusy (the add-on is busy)", err)
	}
	facts, err := m.Describe(ctx, a.Name)
	if err != nil || factValue(facts, "Plan") != "hobby" {
		t.Errorf("Describe during the plan change = %v, %v; want the current plan, hobby", facts, err)
	}
	close(g.release)
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
}

// diagnoser adds health checks to the in-memory provider.
type diagnoser struct{ *addonstest.MemProvider }

func (d diagnoser) Diagnose(ctx context.Context, id string) ([]addons.Check, error) {
	if _, err := d.MemProvider.Describe(ctx, id); err != nil {
		return nil, err
	}
	return []addons.Check{{Name: "Connection Count", Status: addons.CheckGreen, Value: map[string]string{"count": "0"}}}, nil
}

func TestManagerDiagnose(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(diagnoser{addonstest.NewMemProvider("DATABASE", "hobby")})
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	checks, err := m.Diagnose(ctx, a.Name)
	if err != nil || len(checks) != 1 || checks[0].Status != addons.CheckGreen {
		t.Errorf("Diagnose = %+v, %v", checks, err)
	}
	if _, err := m.Diagnose(ctx, "no-such-addon"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Diagnose of an unknown add-on = %v, want ErrNotFound", err)
	}
	plain, _ := newManager(onlyProvider{addonstest.NewMemProvider("DATABASE", "hobby")})
	b, err := plain.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Diagnose(ctx, b.Name); !errors.Is(err, addons.ErrDiagnoseUnsupported) || !strings.Contains(err.Error(), b.Name) {
		t.Errorf("Diagnose through a provider without Diagnoser = %v, want ErrDiagnoseUnsupported naming the add-on", err)
	}
}
