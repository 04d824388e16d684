package addons

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// Reattach points app's attachment as at the add-on addonName instead of
// the one it names now (heroku pg:promote: another database becomes
// DATABASE): the app's vars under that name take the new add-on's values
// in one config change, described "Update <as>", so the app never runs
// without them. Both add-ons must be of one service, so that the var
// names match (else ErrInvalid), and the add-on losing the attachment
// must keep another (else ErrLastAttachment). Both are taken for the
// change (ErrBusy while either is in another operation). Reattaching an
// attachment to the add-on it already names changes nothing.
func (m *Manager) Reattach(ctx context.Context, addonName, app, as string) (Attachment, error) {
	what := fmt.Sprintf("addons: reattach %s on app %s to %s", truncate(as, 80), truncate(app, 80), truncate(addonName, 80))
	m.mu.Lock()
	m.initLocked()
	cur, ok := m.attached[app][as]
	m.mu.Unlock()
	if !ok {
		return Attachment{}, fmt.Errorf("%s: no such attachment: %w", what, ErrNotFound)
	}
	if cur.credential != "" || cur.pooled {
		return Attachment{}, fmt.Errorf("%s: it carries a credential's or pooler's URL, not the add-on's config: %w", what, ErrInvalid)
	}
	if cur.addon.Name == addonName {
		m.mu.Lock()
		defer m.mu.Unlock()
		return cur.snapshot(), nil
	}
	a, err := m.lockAddon(addonName)
	if err != nil {
		return Attachment{}, fmt.Errorf("%s: %w", what, err)
	}
	defer m.unlockAddon(a)
	old, err := m.lockAddon(cur.addon.Name)
	if err != nil {
		return Attachment{}, fmt.Errorf("%s: %w", what, err)
	}
	defer m.unlockAddon(old)

	m.mu.Lock()
	if m.attached[app][as] != cur {
		m.mu.Unlock()
		return Attachment{}, fmt.Errorf("%s: the attachment changed meanwhile: %w", what, ErrNotFound)
	}
	if !a.ready {
		m.mu.Unlock()
		return Attachment{}, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if a.service.Name != old.service.Name {
		m.mu.Unlock()
		return Attachment{}, fmt.Errorf("%s: %s is of service %s, %s of %s: %w", what, addonName, a.service.Name, old.Name, old.service.Name, ErrInvalid)
	}
	m.mu.Unlock()
	// Both add-ons are ours: no attachment of old changes meanwhile.
	if kept := len(m.attachmentsOf(old)) - 1; kept < 1 {
		return Attachment{}, fmt.Errorf("%s: %s would be left without attachments: %w", what, old.Name, ErrLastAttachment)
	}
	set := renamed(a.config, a.service.ConfigPrefix, as)
	if prev := renamed(old.config, old.service.ConfigPrefix, as); !slices.Equal(slices.Sorted(maps.Keys(set)), slices.Sorted(maps.Keys(prev))) {
		return Attachment{}, fmt.Errorf("%s: the two add-ons set different config vars: %w", what, ErrInvalid)
	}
	if err := m.Config.ApplyConfig(ctx, app, set, nil, "Update "+as); err != nil {
		return Attachment{}, fmt.Errorf("%s: applying config vars: %w", what, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.linkLocked(a, app, as) // the vars stay claimed by the name as
	return m.attached[app][as].snapshot(), nil
}
