package addons

import (
	"context"
	"fmt"
	"io"
)

// Backup writes a copy of the add-on's data to w in the provider's own
// format (for PostgreSQL: a pg_dump custom-format archive), for heroku
// pg:backups:capture. The provider must implement Backuper (else an error
// wrapping ErrBackupUnsupported); an unknown add-on or one still being
// provisioned gives ErrNotFound.
//
// Like Describe, Backup only reads: it does not take the add-on for
// itself, so it runs alongside a plan change or attach, and a backup of
// a large database does not make every other operation ErrBusy for its
// length. It is bounded by ctx only, not by Timeout: a dump takes as long
// as the data needs. An add-on destroyed meanwhile fails the copy.
func (m *Manager) Backup(ctx context.Context, addonName string, w io.Writer) error {
	b, id, err := m.backuper("backup", addonName)
	if err != nil {
		return err
	}
	if err := b.Backup(ctx, id, w); err != nil {
		return fmt.Errorf("addons: backup %s: provider failed: %w", addonName, err)
	}
	return nil
}

// Restore replaces the add-on's data with a copy Backup wrote (heroku
// pg:backups:restore). It writes, so it takes the add-on for itself like
// ChangePlan: while another operation runs on the add-on it fails with
// ErrBusy, and while it runs, they do. It is bounded by ctx only. The
// provider must implement Backuper (else ErrBackupUnsupported).
func (m *Manager) Restore(ctx context.Context, addonName string, r io.Reader) error {
	b, id, err := m.backuper("restore", addonName)
	if err != nil {
		return err
	}
	return m.exclusive("restore", addonName, id, func() error { return b.Restore(ctx, id, r) })
}

// Reset empties the add-on of its data, keeping the resource and its
// credentials (heroku pg:reset), and installs extensions when the
// provider knows them. It writes, so it takes the add-on for itself like
// Restore (ErrBusy while another operation runs). The provider must
// implement Resetter (else ErrResetUnsupported).
func (m *Manager) Reset(ctx context.Context, addonName string, extensions []string) error {
	r, id, err := capability[Resetter](m, "reset", addonName, ErrResetUnsupported)
	if err != nil {
		return err
	}
	return m.exclusive("reset", addonName, id, func() error { return r.Reset(ctx, id, extensions) })
}

// ResetConnections closes every client connection to the add-on
// (heroku pg:killall) and returns how many it closed. It changes no data,
// so like Describe it neither waits for an operation in flight nor gets
// ErrBusy; the provider call is bounded by Timeout. The provider must
// implement ConnectionResetter (else ErrResetConnsUnsupported).
func (m *Manager) ResetConnections(ctx context.Context, addonName string) (int, error) {
	r, id, err := capability[ConnectionResetter](m, "reset connections of", addonName, ErrResetConnsUnsupported)
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	n, err := r.ResetConnections(rctx, id)
	if err != nil {
		return n, fmt.Errorf("addons: reset connections of %s: provider failed: %w", addonName, m.explainTimeout(rctx, ctx, err))
	}
	return n, nil
}

// exclusive runs the provider call fn with the add-on taken for itself
// (ErrBusy while another operation runs), if it is still resource id.
func (m *Manager) exclusive(op, addonName, id string, fn func() error) error {
	a, err := m.lockAddon(addonName)
	if err != nil {
		return fmt.Errorf("addons: %s: %w", op, err)
	}
	defer m.unlockAddon(a)
	if a.ProviderID != id {
		// Destroyed and made again between the two looks.
		return fmt.Errorf("addons: %s %q: %w", op, truncate(addonName, 80), ErrNotFound)
	}
	if err := fn(); err != nil {
		return fmt.Errorf("addons: %s %s: provider failed: %w", op, addonName, err)
	}
	return nil
}

func (m *Manager) backuper(op, addonName string) (Backuper, string, error) {
	return capability[Backuper](m, op, addonName, ErrBackupUnsupported)
}

// capability returns the named add-on's provider as T, the optional
// interface an operation needs, with its provider id: an unknown add-on,
// or one still being provisioned, is ErrNotFound; a provider that is not
// a T gives unsupported.
func capability[T any](m *Manager, op, addonName string, unsupported error) (T, string, error) {
	var none T
	svc, id := m.readyResource(addonName)
	if id == "" {
		return none, "", fmt.Errorf("addons: %s %q: %w", op, truncate(addonName, 80), ErrNotFound)
	}
	c, ok := svc.Provider.(T)
	if !ok {
		return none, "", fmt.Errorf("addons: %s %s: service %s: %w", op, addonName, svc.Name, unsupported)
	}
	return c, id, nil
}

// readyResource returns the service and provider id of the named add-on,
// or an empty id when there is no such add-on or it is still being
// provisioned.
func (m *Manager) readyResource(addonName string) (Service, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	if a, ok := m.addons[addonName]; ok && a.ready {
		return a.service, a.ProviderID
	}
	return Service{}, ""
}
