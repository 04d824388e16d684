package addons

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// Setting is one setting of a resource that its users may change
// (heroku pg:settings), such as PostgreSQL's log_statement.
type Setting struct {
	Name string
	// Value is typed as the Data API reports it: bool, int or string.
	Value any
	// Description says what the setting does, for people.
	Description string
	// Values, for a setting with a fixed set of values, describes each.
	Values map[string]string
}

// Configurer is implemented by providers whose resources have settings
// their users may change (heroku pg:settings). Settings lists them in a
// fixed order. UpdateSettings changes the named ones, each value as a user
// types it ("on", "2000", "ddl"), all or none, and returns the list after
// the change. An unknown name or a value the setting does not take gives
// an error wrapping ErrInvalid; an unknown resourceID one wrapping
// ErrNotFound.
type Configurer interface {
	Settings(ctx context.Context, resourceID string) ([]Setting, error)
	UpdateSettings(ctx context.Context, resourceID string, changes map[string]string) ([]Setting, error)
}

// Settings returns the add-on's settings. Like Describe it only reads, so
// it runs alongside other operations; the provider call is bounded by
// Timeout. The provider must implement Configurer (else
// ErrSettingsUnsupported).
func (m *Manager) Settings(ctx context.Context, addonName string) ([]Setting, error) {
	c, id, err := m.configurer("read the settings of", addonName)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	out, err := c.Settings(cctx, id)
	if err != nil {
		return nil, fmt.Errorf("addons: read the settings of %s: provider failed: %w", addonName, m.explainTimeout(cctx, ctx, err))
	}
	return cloneSettings(out), nil
}

// UpdateSettings changes some of the add-on's settings (all or none) and
// returns them all after the change. It takes the add-on for itself while
// it runs (ErrBusy while another operation runs); the provider call is
// bounded by Timeout.
func (m *Manager) UpdateSettings(ctx context.Context, addonName string, changes map[string]string) ([]Setting, error) {
	const op = "update the settings of"
	if len(changes) == 0 {
		return nil, fmt.Errorf("addons: %s %q: no setting named: %w", op, truncate(addonName, 80), ErrInvalid)
	}
	c, id, err := m.configurer(op, addonName)
	if err != nil {
		return nil, err
	}
	var out []Setting
	err = m.exclusive(op, addonName, id, func() error {
		cctx, cancel := context.WithTimeout(ctx, m.timeout())
		defer cancel()
		var err error
		if out, err = c.UpdateSettings(cctx, id, maps.Clone(changes)); err != nil {
			return m.explainTimeout(cctx, ctx, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cloneSettings(out), nil
}

// configurer finds the add-on's resource and its provider's Configurer.
func (m *Manager) configurer(op, addonName string) (Configurer, string, error) {
	return capability[Configurer](m, op, addonName, ErrSettingsUnsupported)
}

// cloneSettings gives callers a copy they own.
func cloneSettings(in []Setting) []Setting {
	out := slices.Clone(in)
	for i := range out {
		out[i].Values = maps.Clone(out[i].Values)
	}
	return out
}
