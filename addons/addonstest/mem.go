package addonstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/dynokit/dynokit/addons"
)

// MemProvider is an in-memory Provider for callers' unit tests. Its
// resources are records with a <Prefix>_URL of the form
// mem://user:secret@memory/<id>. The zero value is not usable: set
// Prefix and Plans. Safe for concurrent use.
type MemProvider struct {
	Prefix  string        // e.g. "DATABASE"
	Offered []addons.Plan // offered plans

	mu        sync.Mutex
	byRequest map[string]string // ProvisionRequest.ID → resource id
	resources map[string]*memResource
}

type memResource struct {
	request     string
	res         addons.Resource
	credentials map[string]string // named credential → URL
}

var (
	_ addons.Provider          = (*MemProvider)(nil)
	_ addons.PlanChanger       = (*MemProvider)(nil)
	_ addons.PlanLister        = (*MemProvider)(nil)
	_ addons.CredentialRotator = (*MemProvider)(nil)
	_ addons.CredentialManager = (*MemProvider)(nil)
)

// NewMemProvider returns a MemProvider offering plans (names only).
func NewMemProvider(prefix string, plans ...string) *MemProvider {
	p := &MemProvider{Prefix: prefix}
	for _, n := range plans {
		p.Offered = append(p.Offered, addons.Plan{Name: n})
	}
	return p
}

// Plans implements addons.PlanLister.
func (p *MemProvider) Plans() []addons.Plan { return slices.Clone(p.Offered) }

func (p *MemProvider) hasPlan(name string) bool {
	return slices.ContainsFunc(p.Offered, func(pl addons.Plan) bool { return pl.Name == name })
}

// Provision implements addons.Provider.
func (p *MemProvider) Provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	if err := ctx.Err(); err != nil {
		return addons.Resource{}, fmt.Errorf("addonstest: provision: %w", err)
	}
	if req.ID == "" {
		return addons.Resource{}, fmt.Errorf("addonstest: provision: request id must not be empty: %w", addons.ErrInvalid)
	}
	if !p.hasPlan(req.Plan) {
		return addons.Resource{}, fmt.Errorf("addonstest: provision: plan %q: %w", req.Plan, addons.ErrUnknownPlan)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resources == nil {
		p.byRequest = map[string]string{}
		p.resources = map[string]*memResource{}
	}
	if id, ok := p.byRequest[req.ID]; ok {
		return clone(p.resources[id].res), nil
	}
	id := "mem-" + randomHex(8)
	res := addons.Resource{ID: id, Plan: req.Plan, Config: addons.Config{
		p.Prefix + "_URL": fmt.Sprintf("mem://u%s:%s@memory/%s", randomHex(4), randomHex(16), id),
	}}
	p.byRequest[req.ID] = id
	p.resources[id] = &memResource{request: req.ID, res: res}
	return clone(res), nil
}

// RotateCredentials implements addons.CredentialRotator: the URL gets a
// new user and secret; undo puts the previous URL back.
func (p *MemProvider) RotateCredentials(ctx context.Context, id string) (addons.Resource, func(context.Context) error, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.resources[id]
	if !ok {
		return addons.Resource{}, nil, fmt.Errorf("addonstest: rotate credentials of %s: %w", id, addons.ErrNotFound)
	}
	old := r.res.Config.Clone()
	r.res.Config[p.Prefix+"_URL"] = fmt.Sprintf("mem://u%s:%s@memory/%s", randomHex(4), randomHex(16), id)
	undo := func(context.Context) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r, ok := p.resources[id]; ok {
			r.res.Config = old
		}
		return nil
	}
	return clone(r.res), undo, nil
}

func (p *MemProvider) credentialURL(id, name string) string {
	return fmt.Sprintf("mem://%s%s:%s@memory/%s", name, randomHex(4), randomHex(16), id)
}

// resourceLocked returns resource id, or an error wrapping ErrNotFound
// that names op.
func (p *MemProvider) resourceLocked(op, id string) (*memResource, error) {
	r, ok := p.resources[id]
	if !ok {
		return nil, fmt.Errorf("addonstest: %s of %s: %w", op, id, addons.ErrNotFound)
	}
	return r, nil
}

// CreateCredential implements addons.CredentialManager: a URL of its own.
func (p *MemProvider) CreateCredential(ctx context.Context, id, name string) (addons.Credential, error) {
	if name == "" || name == "default" {
		return addons.Credential{}, fmt.Errorf("addonstest: credential name %q is not one to create: %w", name, addons.ErrInvalid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, err := p.resourceLocked("create credential", id)
	if err != nil {
		return addons.Credential{}, err
	}
	if _, ok := r.credentials[name]; ok {
		return addons.Credential{}, fmt.Errorf("addonstest: credential %s of %s exists: %w", name, id, addons.ErrInvalid)
	}
	if r.credentials == nil {
		r.credentials = map[string]string{}
	}
	r.credentials[name] = p.credentialURL(id, name)
	return addons.Credential{Name: name, URL: r.credentials[name]}, nil
}

// Credentials implements addons.CredentialManager, in name order.
func (p *MemProvider) Credentials(ctx context.Context, id string) ([]addons.Credential, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, err := p.resourceLocked("list credentials", id)
	if err != nil {
		return nil, err
	}
	var out []addons.Credential
	for _, n := range slices.Sorted(maps.Keys(r.credentials)) {
		out = append(out, addons.Credential{Name: n, URL: r.credentials[n]})
	}
	return out, nil
}

// RotateCredential implements addons.CredentialManager: a new URL.
func (p *MemProvider) RotateCredential(ctx context.Context, id, name string) (addons.Credential, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, err := p.resourceLocked("rotate credential", id)
	if err != nil {
		return addons.Credential{}, err
	}
	if _, ok := r.credentials[name]; !ok {
		return addons.Credential{}, fmt.Errorf("addonstest: credential %q of %s: %w", name, id, addons.ErrNotFound)
	}
	r.credentials[name] = p.credentialURL(id, name)
	return addons.Credential{Name: name, URL: r.credentials[name]}, nil
}

// DestroyCredential implements addons.CredentialManager.
func (p *MemProvider) DestroyCredential(ctx context.Context, id, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, err := p.resourceLocked("destroy credential", id)
	if err != nil {
		return err
	}
	if _, ok := r.credentials[name]; !ok {
		return fmt.Errorf("addonstest: credential %q of %s: %w", name, id, addons.ErrNotFound)
	}
	delete(r.credentials, name)
	return nil
}

// Deprovision implements addons.Provider.
func (p *MemProvider) Deprovision(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("addonstest: deprovision: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.resources[id]
	if !ok {
		return fmt.Errorf("addonstest: deprovision %q: %w", id, addons.ErrNotFound)
	}
	delete(p.resources, id)
	delete(p.byRequest, r.request)
	return nil
}

// ChangePlan implements addons.PlanChanger; config vars stay the same.
func (p *MemProvider) ChangePlan(ctx context.Context, id, plan string) (addons.Resource, error) {
	if err := ctx.Err(); err != nil {
		return addons.Resource{}, fmt.Errorf("addonstest: change plan: %w", err)
	}
	if !p.hasPlan(plan) {
		return addons.Resource{}, fmt.Errorf("addonstest: change plan: plan %q: %w", plan, addons.ErrUnknownPlan)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.resources[id]
	if !ok {
		return addons.Resource{}, fmt.Errorf("addonstest: change plan of %q: %w", id, addons.ErrNotFound)
	}
	r.res.Plan = plan
	return clone(r.res), nil
}

// Len returns how many resources exist.
func (p *MemProvider) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.resources)
}

func clone(r addons.Resource) addons.Resource {
	r.Config = r.Config.Clone()
	return r
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MemConfig is an in-memory addons.ConfigApplier for callers' unit
// tests: it keeps each app's config vars and the description of every
// change, like a release history. Safe for concurrent use; the zero
// value is ready.
type MemConfig struct {
	// Fail, when set, is asked before each change; a non-nil error is
	// returned and nothing is applied.
	Fail func(app, description string) error

	mu       sync.Mutex
	vars     map[string]map[string]string
	releases map[string][]string
}

var _ addons.ConfigApplier = (*MemConfig)(nil)

// ApplyConfig implements addons.ConfigApplier.
func (c *MemConfig) ApplyConfig(ctx context.Context, app string, set map[string]string, unset []string, description string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	fail := c.Fail
	c.mu.Unlock()
	if fail != nil {
		if err := fail(app, description); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vars == nil {
		c.vars = map[string]map[string]string{}
		c.releases = map[string][]string{}
	}
	if c.vars[app] == nil {
		c.vars[app] = map[string]string{}
	}
	for _, k := range unset {
		delete(c.vars[app], k)
	}
	maps.Copy(c.vars[app], set)
	c.releases[app] = append(c.releases[app], description)
	return nil
}

// SetFail replaces Fail safely while other goroutines apply config.
func (c *MemConfig) SetFail(f func(app, description string) error) {
	c.mu.Lock()
	c.Fail = f
	c.mu.Unlock()
}

// Vars returns a copy of app's config vars.
func (c *MemConfig) Vars(app string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.vars[app])
}

// Releases returns the descriptions of app's changes, oldest first.
func (c *MemConfig) Releases(app string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.releases[app])
}

// MemDrains is an in-memory addons.LogDrainer for callers' unit tests.
// The zero value is ready; safe for concurrent use.
type MemDrains struct {
	// Fail, when set, is asked before each change; a non-nil error is
	// returned and nothing changes.
	Fail func(app, url string, add bool) error

	mu     sync.Mutex
	drains map[string][]string
}

var _ addons.LogDrainer = (*MemDrains)(nil)

// AddDrain implements addons.LogDrainer.
func (d *MemDrains) AddDrain(ctx context.Context, app, url string) error {
	if d.Fail != nil {
		if err := d.Fail(app, url, true); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.drains == nil {
		d.drains = map[string][]string{}
	}
	if !slices.Contains(d.drains[app], url) {
		d.drains[app] = append(d.drains[app], url)
	}
	return nil
}

// RemoveDrain implements addons.LogDrainer.
func (d *MemDrains) RemoveDrain(ctx context.Context, app, url string) error {
	if d.Fail != nil {
		if err := d.Fail(app, url, false); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drains[app] = slices.DeleteFunc(d.drains[app], func(u string) bool { return u == url })
	return nil
}

// Drains returns app's drain URLs.
func (d *MemDrains) Drains(app string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.drains[app])
}
