package addons

import (
	"context"
	"fmt"
	"slices"
)

// Describe asks the add-on's provider for its live state (heroku
// pg:info, redis:info): rows such as "Connections" ["3/20"] in the
// provider's display order. The provider must implement Describer (else
// an error wrapping ErrDescribeUnsupported); an unknown add-on, one
// still being provisioned, or one its provider no longer knows gives an
// error wrapping ErrNotFound. The provider call is bounded by Timeout.
//
// Describe does not take the add-on for itself (no ErrBusy, no waiting):
// Describer only reads, so it runs alongside a plan change, config
// update or attach, and reports what the provider sees at that moment.
// An add-on being destroyed may already be gone at the provider, which
// gives ErrNotFound like any removed resource.
func (m *Manager) Describe(ctx context.Context, addonName string) ([]Fact, error) {
	d, providerID, err := capability[Describer](m, "describe", addonName, ErrDescribeUnsupported)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	facts, err := d.Describe(dctx, providerID)
	if err != nil {
		return nil, fmt.Errorf("addons: describe %s: provider failed: %w", addonName, m.explainTimeout(dctx, ctx, err))
	}
	// Callers own the result; the provider may keep what it returned.
	out := slices.Clone(facts)
	for i := range out {
		out[i].Values = slices.Clone(out[i].Values)
	}
	return out, nil
}

// Diagnose runs the add-on's provider's health checks (heroku
// pg:diagnose). The provider must implement Diagnoser (else an error
// wrapping ErrDiagnoseUnsupported); errors and concurrency are as for
// Describe.
func (m *Manager) Diagnose(ctx context.Context, addonName string) ([]Check, error) {
	d, providerID, err := capability[Diagnoser](m, "diagnose", addonName, ErrDiagnoseUnsupported)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	checks, err := d.Diagnose(dctx, providerID)
	if err != nil {
		return nil, fmt.Errorf("addons: diagnose %s: provider failed: %w", addonName, m.explainTimeout(dctx, ctx, err))
	}
	return slices.Clone(checks), nil
}
