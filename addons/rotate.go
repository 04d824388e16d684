package addons

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/go-multierror"
)

// RotateCredentials replaces the add-on's credentials (heroku
// pg:credentials:rotate) and pushes its changed config vars to every app
// it is attached to, one release each, described "Update DATABASE
// (credentials rotated)". If the provider's new config is invalid or an
// app refuses it, the apps already changed get their previous vars back
// and the provider's undo restores the previous credentials, so nothing
// changes; an undo that fails is reported with the cause. The provider
// calls are bounded by Timeout. It takes the add-on for itself like
// ChangePlan (ErrBusy while another operation runs); the provider must
// implement CredentialRotator (else ErrRotateUnsupported).
func (m *Manager) RotateCredentials(ctx context.Context, addonName string) (AddOn, error) {
	rot, id, err := capability[CredentialRotator](m, "rotate credentials of", addonName, ErrRotateUnsupported)
	if err != nil {
		return AddOn{}, err
	}
	a, err := m.lockAddon(addonName)
	if err != nil {
		return AddOn{}, fmt.Errorf("addons: rotate credentials: %w", err)
	}
	defer m.unlockAddon(a)
	what := "addons: rotate credentials of " + addonName
	if a.ProviderID != id {
		return AddOn{}, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	pctx, cancel := context.WithTimeout(ctx, m.timeout())
	res, undo, err := rot.RotateCredentials(pctx, id)
	cancel()
	if err != nil {
		return AddOn{}, fmt.Errorf("%s: provider failed: %w", what, m.explainTimeout(pctx, ctx, err))
	}
	revert := func(cause error) error {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout())
		defer cancel()
		if err := undo(uctx); err != nil {
			return multierror.Append(cause, fmt.Errorf("%s: restoring the previous credentials failed: %w", what, err))
		}
		return cause
	}
	if _, err := ValidateResourceConfig(a.service.Name, a.service.ConfigPrefix, res.Config); err != nil {
		return AddOn{}, revert(fmt.Errorf("%s: %w", what, err))
	}
	if !slices.Equal(res.Config.Names(), a.config.Names()) {
		return AddOn{}, revert(fmt.Errorf("%s: provider changed the set of config vars (%v to %v), which a rotation may not: %w",
			what, a.config.Names(), res.Config.Names(), ErrInvalid))
	}
	if !maps.Equal(res.Config, a.config) {
		describe := func(as string) string { return "Update " + as + " (credentials rotated)" }
		if err := m.pushConfig(ctx, a, res.Config, describe); err != nil {
			return AddOn{}, revert(fmt.Errorf("%s: %w", what, err))
		}
	}
	return m.snapshot(a), nil
}
