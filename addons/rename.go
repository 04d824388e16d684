package addons

import "fmt"

// RenameAddOn gives an add-on a new name (heroku addons:rename). Its
// resource, attachments and config vars stay as they are: an attachment
// named after the old name (DATABASE_POSTGRES_3F9A1C) keeps that name, as
// on Heroku. The new name must pass ValidateAddonName and be free (else
// ErrInvalid); an add-on in the middle of another operation gives
// ErrBusy, an unknown one ErrNotFound. It only changes the Manager's
// memory, so it takes no context: a platform that records add-on names
// renames its record too (and renames back here if that fails).
func (m *Manager) RenameAddOn(old, new string) (AddOn, error) {
	what := fmt.Sprintf("addons: rename add-on %q to %q", truncate(old, 80), truncate(new, 80))
	if err := ValidateAddonName(new); err != nil {
		return AddOn{}, fmt.Errorf("%s: %w", what, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	a, ok := m.addons[old]
	switch {
	case !ok || !a.ready:
		return AddOn{}, fmt.Errorf("%s: %w", what, ErrNotFound)
	case a.busy:
		return AddOn{}, fmt.Errorf("%s: %w", what, ErrBusy)
	case new == old:
		return a.snapshotLocked(m), nil
	}
	if _, taken := m.addons[new]; taken {
		return AddOn{}, fmt.Errorf("%s: the name is taken: %w", what, ErrInvalid)
	}
	delete(m.addons, old)
	a.Name = new
	m.addons[new] = a
	for _, p := range m.requests { // a retried Create returns the add-on under its name
		if p.addon.ID == a.ID {
			p.addon.Name = new
		}
	}
	m.log().Info("addons: add-on renamed", "from", old, "to", new)
	return a.snapshotLocked(m), nil
}
