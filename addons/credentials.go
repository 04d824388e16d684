package addons

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-multierror"
)

// AttachCredential is Attach for one of the add-on's named credentials
// (heroku addons:attach --credential): the attachment sets <as>_URL to
// that credential's URL rather than the add-on's config, so an app — a
// reporting tool, say — logs in with the credential's own, narrower
// rights. RotateCredential keeps the URL current; the add-on's own config
// changes (plan changes, RotateCredentials, UpdateConfig) leave such an
// attachment alone; DestroyCredential refuses a credential still
// attached. The credential must exist (else ErrNotFound); "" and
// "default" mean the add-on's own config, as Attach.
func (m *Manager) AttachCredential(ctx context.Context, addonName, app, as, credential string) (Attachment, error) {
	if credential == "default" {
		credential = ""
	}
	return m.attach(ctx, addonName, app, as, credential, false)
}

// Credential returns the add-on's named credential name; an error
// wrapping ErrNotFound when there is no such add-on, its provider has no
// named credentials, or none by that name. It only reads, like Describe.
func (m *Manager) Credential(ctx context.Context, addonName, name string) (Credential, error) {
	m.mu.Lock()
	m.initLocked()
	a, ok := m.addons[addonName]
	ready := ok && a.ready
	m.mu.Unlock()
	if !ready {
		return Credential{}, fmt.Errorf("addons: add-on %q: %w", truncate(addonName, 80), ErrNotFound)
	}
	c, err := m.credential(ctx, a, name)
	if err != nil {
		return Credential{}, fmt.Errorf("addons: credential of %s: %w", addonName, err)
	}
	return c, nil
}

// credential finds a's named credential through its provider.
func (m *Manager) credential(ctx context.Context, a *addon, name string) (Credential, error) {
	cm, err := credentialManager(a)
	if err != nil {
		return Credential{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, m.timeout())
	list, err := cm.Credentials(pctx, a.ProviderID)
	cancel()
	if err != nil {
		return Credential{}, fmt.Errorf("listing credentials: %w", m.explainTimeout(pctx, ctx, err))
	}
	for _, c := range list {
		if c.Name == name {
			return c, nil
		}
	}
	return Credential{}, fmt.Errorf("no credential %q: %w", truncate(name, 80), ErrNotFound)
}

func credentialManager(a *addon) (CredentialManager, error) {
	cm, ok := a.service.Provider.(CredentialManager)
	if !ok {
		return nil, fmt.Errorf("service %s has no named credentials: %w", a.service.Name, ErrNotFound)
	}
	return cm, nil
}

// RotateCredential gives a named credential of the add-on a new secret
// (heroku pg:credentials:rotate --name) and its new URL to every app the
// credential is attached to, one release each, described "Update <as>
// (credential <name> rotated)". The old secret stops working at once, so
// a rotation cannot be undone: when an app refuses the new URL, the
// others still get it, and the error (with the Credential) names the apps
// left with the old one; rotating again repairs them. Unknown add-ons and
// credentials give ErrNotFound.
func (m *Manager) RotateCredential(ctx context.Context, addonName, name string) (Credential, error) {
	a, err := m.lockAddon(addonName)
	if err != nil {
		return Credential{}, err
	}
	defer m.unlockAddon(a)
	what := fmt.Sprintf("addons: rotate credential %s of %s", truncate(name, 80), addonName)
	cm, err := credentialManager(a)
	if err != nil {
		return Credential{}, fmt.Errorf("%s: %w", what, err)
	}
	pctx, cancel := context.WithTimeout(ctx, m.timeout())
	c, err := cm.RotateCredential(pctx, a.ProviderID, name)
	cancel()
	if err != nil {
		return Credential{}, fmt.Errorf("%s: %w", what, m.explainTimeout(pctx, ctx, err))
	}
	var errs error
	for _, at := range m.attachmentsOf(a) {
		if at.credential != name {
			continue
		}
		set := map[string]string{at.name + "_URL": c.URL}
		if err := m.Config.ApplyConfig(ctx, at.app, set, nil, "Update "+at.name+" (credential "+name+" rotated)"); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s: app %s keeps the old URL in %s_URL: %w", what, at.app, at.name, err))
			continue
		}
		m.mu.Lock()
		at.config = set
		m.mu.Unlock()
	}
	return c, errs
}

// DestroyCredential removes a named credential of the add-on (heroku
// pg:credentials:destroy). A credential attached to an app is refused
// (ErrInvalid, naming the attachments): detach it first, as on Heroku.
// Unknown add-ons and credentials give ErrNotFound.
func (m *Manager) DestroyCredential(ctx context.Context, addonName, name string) error {
	a, err := m.lockAddon(addonName)
	if err != nil {
		return err
	}
	defer m.unlockAddon(a)
	what := fmt.Sprintf("addons: destroy credential %s of %s", truncate(name, 80), addonName)
	cm, err := credentialManager(a)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var uses []string
	for _, at := range m.attachmentsOf(a) {
		if at.credential == name {
			uses = append(uses, at.name+" on app "+at.app)
		}
	}
	if len(uses) > 0 {
		return fmt.Errorf("%s: it is attached as %v: detach it first: %w", what, uses, ErrInvalid)
	}
	pctx, cancel := context.WithTimeout(ctx, m.timeout())
	err = cm.DestroyCredential(pctx, a.ProviderID, name)
	cancel()
	if err != nil {
		return fmt.Errorf("%s: %w", what, m.explainTimeout(pctx, ctx, err))
	}
	return nil
}

// RepairDefaultCredential gives the add-on's default credential back
// every object its named credentials own (heroku
// pg:credentials:repair-default). It takes the add-on for itself like
// Reset (ErrBusy while another operation runs) and, as Reset, is not
// bounded by Timeout (it visits every object); the provider must
// implement DefaultCredentialRepairer (else ErrNotFound: it has no named
// credentials that could own anything).
func (m *Manager) RepairDefaultCredential(ctx context.Context, addonName string) error {
	svc, id := m.readyResource(addonName)
	if id == "" {
		return fmt.Errorf("addons: repair the default credential of %q: %w", truncate(addonName, 80), ErrNotFound)
	}
	r, ok := svc.Provider.(DefaultCredentialRepairer)
	if !ok {
		return fmt.Errorf("addons: repair the default credential of %s: service %s has no named credentials: %w", addonName, svc.Name, ErrNotFound)
	}
	return m.exclusive("repair the default credential of", addonName, id, func() error { return r.RepairDefaultCredential(ctx, id) })
}

// AttachPooled attaches the add-on to app through its provider's
// connection pooler (heroku pg:connection-pooling:attach): <as>_URL is the
// add-on's URL (<prefix>_URL) as the provider's Pooler gives it, and
// changes of the add-on's config (credential rotation, plan changes) keep
// it current. The provider must implement Pooler and have a pooler (else
// an error wrapping ErrNotFound).
func (m *Manager) AttachPooled(ctx context.Context, addonName, app, as string) (Attachment, error) {
	return m.attach(ctx, addonName, app, as, "", true)
}

// pooledURL is cfg's <prefix>_URL through a's provider's pooler.
func pooledURL(a *addon, cfg Config) (string, error) {
	pl, ok := a.service.Provider.(Pooler)
	if !ok {
		return "", fmt.Errorf("service %s has no connection pooler: %w", a.service.Name, ErrNotFound)
	}
	u, ok := cfg[a.service.ConfigPrefix+"_URL"]
	if !ok {
		return "", fmt.Errorf("service %s sets no %s_URL to pool: %w", a.service.Name, a.service.ConfigPrefix, ErrInvalid)
	}
	return pl.PooledURL(u)
}
