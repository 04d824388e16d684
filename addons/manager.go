package addons

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"
)

// ConfigApplier is the platform side of add-ons: it sets and unsets an
// app's config vars in one step (for a platform built on dynokit's
// release package: one new release whose description is given). It
// must apply all of set and unset or nothing. The Manager's descriptions
// are "Attach NAME", "Detach NAME" and "Update NAME (…)", where NAME may
// be several attachment names joined by ", " when one step changes
// several attachments on the app ("Attach DATABASE,
// HEROKU_POSTGRESQL_JADE"); each var belongs to the attachment that has
// it already, else to the one whose name is its longest prefix.
type ConfigApplier interface {
	ApplyConfig(ctx context.Context, app string, set map[string]string, unset []string, description string) error
}

// LogDrainer is the platform's log router (for a platform built on
// dynokit: logplex). An add-on whose provider returns a LogDrainURL has
// its billing app's logs drained there while it exists.
type LogDrainer interface {
	AddDrain(ctx context.Context, app, url string) error
	RemoveDrain(ctx context.Context, app, url string) error
}

// ErrBusy is returned when an add-on is in the middle of another
// operation (provisioning, plan change, destruction).
var ErrBusy = errors.New("addons: add-on is busy with another operation")

// DefaultTimeout bounds each provider call when Manager.Timeout is zero.
const DefaultTimeout = time.Minute

// AddOn is a provisioned resource as the platform sees it.
type AddOn struct {
	ID          string // platform id; the ProvisionRequest.ID sent to the provider
	Name        string // globally unique, e.g. "postgres-3f9a1c"
	Service     string
	Plan        string // plan name within Service
	App         string // billing app
	ProviderID  string // Resource.ID
	ConfigNames []string
	LogDrainURL string
	Message     string
	Attachments []Attachment
	CreatedAt   time.Time
}

// Attachment exposes an add-on's config vars to one app under a name.
type Attachment struct {
	Name        string // e.g. DATABASE; the prefix of ConfigNames
	App         string
	AddOn       string // add-on name
	ConfigNames []string
	// Credential is the named credential the attachment carries
	// (AttachCredential); empty for the add-on's own config.
	Credential string
	// Pooled says the attachment's URL goes through the provider's
	// connection pooler (AttachPooled).
	Pooled bool
}

// CreateRequest asks the Manager for a new add-on attached to App.
type CreateRequest struct {
	// RequestID makes Create idempotent: a second Create with the same
	// RequestID returns the first one's add-on (waiting for it if it is
	// still being provisioned). Empty means "always a new add-on".
	RequestID string
	// ID is the add-on's ID, which is also the provision request id its
	// provider is idempotent on; empty: a new random one. A platform that
	// records its add-ons passes the recorded ID, so that creating an
	// add-on again after a restart finds the resource made before.
	ID   string
	App  string
	Plan string // "service:plan", or "service" for its default plan
	Name string // add-on name; empty: "<service>-<6 hex digits>"
	// As is the attachment name; empty: the service's config prefix, or
	// <PREFIX>_<ADD-ON NAME> when the app already uses the prefix.
	As string
	// Also names more attachments on App, made in the same config change
	// (Heroku Postgres attaches a first database as DATABASE and as
	// HEROKU_POSTGRESQL_<COLOR>).
	Also        []string
	Options     map[string]string
	Region      string
	LogInputURL string
}

// Manager ties a catalog's providers to apps' config: it provisions,
// attaches, changes plans, detaches and destroys add-ons, and keeps the
// apps' config vars consistent through a ConfigApplier. Its state is in
// memory (see the package doc). The zero value is not usable: set
// Catalog and Config. Safe for concurrent use.
type Manager struct {
	Catalog Catalog
	Config  ConfigApplier
	Drains  LogDrainer    // optional; nil ignores add-ons' log drain URLs
	Timeout time.Duration // per provider call; 0 means DefaultTimeout
	Logger  *slog.Logger  // nil discards

	mu       sync.Mutex
	addons   map[string]*addon              // by add-on name
	requests map[string]*pending            // by CreateRequest.RequestID
	attached map[string]map[string]*attach  // app → attachment name → attachment
	vars     map[string]map[string]string   // app → config var → attachment name
	reserved map[string]map[string]struct{} // app → attachment names being created or attached
	idle     chan struct{}                  // closed when an operation ends; RenameApp waits on it
}

type addon struct {
	AddOn
	service Service
	config  Config // the provider's config, prefixed with service.ConfigPrefix
	busy    bool
	ready   bool // provisioned and attached; false while Create runs
}

type attach struct {
	name  string
	app   string
	addon *addon
	// credential names the named credential whose URL the attachment
	// carries in config (its only var, <name>_URL); empty: the add-on's
	// own config, renamed to the attachment.
	credential string
	// pooled: config holds <name>_URL, the add-on's URL through the
	// provider's pooler, which pushConfig keeps current.
	pooled bool
	config map[string]string
}

// vars are the config vars the attachment sets on its app.
func (at *attach) vars() map[string]string {
	if at.credential != "" || at.pooled {
		return maps.Clone(at.config)
	}
	return renamed(at.addon.config, at.addon.service.ConfigPrefix, at.name)
}

type pending struct {
	done  chan struct{}
	addon AddOn
	err   error
}

func (m *Manager) log() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

func (m *Manager) timeout() time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return DefaultTimeout
}

func (m *Manager) initLocked() {
	if m.addons == nil {
		m.addons = map[string]*addon{}
		m.requests = map[string]*pending{}
		m.attached = map[string]map[string]*attach{}
		m.vars = map[string]map[string]string{}
		m.reserved = map[string]map[string]struct{}{}
	}
}

// Create provisions an add-on and attaches it to req.App. Either the
// add-on exists and the app's config holds its vars, or (on error) the
// app's config is unchanged and no resource is left behind.
func (m *Manager) Create(ctx context.Context, req CreateRequest) (AddOn, error) {
	return m.create0(ctx, req, nil)
}

// Fork creates an add-on holding a copy of source's data (for
// PostgreSQL: a new database restored from a dump of the source) and
// attaches it like Create. req.Plan may be empty (the source's plan) or
// name a plan of the source's service. The provider must implement
// Forker (else ErrForkUnsupported).
func (m *Manager) Fork(ctx context.Context, source string, req CreateRequest) (AddOn, error) {
	m.mu.Lock()
	m.initLocked()
	src, ok := m.addons[source]
	var svc Service
	var srcID, srcPlan string
	if ok && src.ready {
		svc, srcID, srcPlan = src.service, src.ProviderID, src.Plan
	}
	m.mu.Unlock()
	if srcID == "" {
		return AddOn{}, fmt.Errorf("addons: fork %q: %w", truncate(source, 80), ErrNotFound)
	}
	forker, ok := svc.Provider.(Forker)
	if !ok {
		return AddOn{}, fmt.Errorf("addons: fork %s: service %s: %w", source, svc.Name, ErrForkUnsupported)
	}
	switch name, _, _ := strings.Cut(req.Plan, ":"); {
	case req.Plan == "":
		req.Plan = svc.Name + ":" + srcPlan
	case name != svc.Name:
		return AddOn{}, fmt.Errorf("addons: fork %s: plan %q is not of service %s: %w", source, truncate(req.Plan, 80), svc.Name, ErrInvalid)
	}
	return m.create0(ctx, req, func(ctx context.Context, preq ProvisionRequest) (Resource, error) {
		return forker.Fork(ctx, srcID, preq)
	})
}

// ErrForkUnsupported is returned by Fork when the provider is no Forker.
var ErrForkUnsupported = errors.New("addons: provider cannot fork")

type provisionFunc func(ctx context.Context, req ProvisionRequest) (Resource, error)

func (m *Manager) create0(ctx context.Context, req CreateRequest, provision provisionFunc) (AddOn, error) {
	if m.Config == nil {
		return AddOn{}, fmt.Errorf("addons: create: Manager.Config is nil: %w", ErrInvalid)
	}
	if req.App == "" {
		return AddOn{}, fmt.Errorf("addons: create: app name must not be empty: %w", ErrInvalid)
	}
	svc, plan, err := m.Catalog.Lookup(req.Plan)
	if err != nil {
		return AddOn{}, fmt.Errorf("addons: create add-on for app %s: %w", req.App, err)
	}
	if svc.Provider == nil {
		return AddOn{}, fmt.Errorf("addons: create: service %s has no provider: %w", svc.Name, ErrInvalid)
	}
	if req.Name != "" {
		if err := ValidateAddonName(req.Name); err != nil {
			return AddOn{}, err
		}
	}
	if req.As != "" {
		if err := ValidateAttachmentName(req.As); err != nil {
			return AddOn{}, err
		}
	}

	m.mu.Lock()
	m.initLocked()
	if req.RequestID != "" {
		if p, ok := m.requests[req.RequestID]; ok {
			m.mu.Unlock()
			select {
			case <-p.done:
				m.mu.Lock()
				defer m.mu.Unlock()
				return p.addon.clone(), p.err
			case <-ctx.Done():
				return AddOn{}, fmt.Errorf("addons: create (request %s): waiting for the first attempt: %w", req.RequestID, ctx.Err())
			}
		}
	}
	name := req.Name
	if name == "" {
		name = svc.Name + "-" + randomHex(3)
	}
	if _, taken := m.addons[name]; taken {
		m.mu.Unlock()
		return AddOn{}, fmt.Errorf("addons: create: add-on name %q is taken: %w", name, ErrInvalid)
	}
	as := req.As
	if as == "" {
		as = svc.ConfigPrefix
		if m.attachmentTakenLocked(req.App, as) {
			as = svc.ConfigPrefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
			if err := ValidateAttachmentName(as); err != nil {
				m.mu.Unlock()
				return AddOn{}, fmt.Errorf("addons: create: default attachment name: %w", err)
			}
		}
	}
	names := append([]string{as}, req.Also...)
	for i, n := range names {
		if i > 0 {
			if err := ValidateAttachmentName(n); err != nil {
				m.mu.Unlock()
				return AddOn{}, err
			}
		}
		if m.attachmentTakenLocked(req.App, n) || slices.Contains(names[:i], n) {
			m.mu.Unlock()
			return AddOn{}, fmt.Errorf("addons: create: attachment %s on app %s: %w", n, req.App, ErrDuplicateAttachment)
		}
	}
	id := req.ID
	if id == "" {
		id = newUUID()
	}
	a := &addon{AddOn: AddOn{ID: id, Name: name, Service: svc.Name, Plan: plan.Name, App: req.App}, service: svc, busy: true}
	m.addons[name] = a // reserves the name; busy until provisioned
	for _, n := range names {
		m.reserveLocked(req.App, n)
	}
	p := &pending{done: make(chan struct{})}
	if req.RequestID != "" {
		m.requests[req.RequestID] = p
	}
	m.mu.Unlock()

	if provision == nil {
		provision = svc.Provider.Provision
	}
	err = m.create(ctx, a, names, req, provision)

	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		delete(m.reserved[req.App], n)
	}
	if err != nil {
		delete(m.addons, name)
		delete(m.requests, req.RequestID) // a retry after a failure starts afresh
	} else {
		a.busy, a.ready = false, true
		p.addon = a.snapshotLocked(m)
	}
	p.err = err
	close(p.done)
	m.wakeLocked()
	return p.addon.clone(), err
}

// clone copies a's slices, so that callers and the Manager never share
// them (RenameApp rewrites the add-ons kept for Create retries).
func (a AddOn) clone() AddOn {
	a.ConfigNames = slices.Clone(a.ConfigNames)
	a.Attachments = slices.Clone(a.Attachments)
	for i := range a.Attachments {
		a.Attachments[i].ConfigNames = slices.Clone(a.Attachments[i].ConfigNames)
	}
	return a
}

func (m *Manager) create(ctx context.Context, a *addon, names []string, req CreateRequest, provision provisionFunc) error {
	svc := a.service
	what := fmt.Sprintf("addons: create %s (%s:%s) for app %s", a.Name, svc.Name, a.Plan, req.App)
	pctx, cancel := context.WithTimeout(ctx, m.timeout())
	start := time.Now()
	res, err := provision(pctx, ProvisionRequest{
		ID: a.ID, Name: a.Name, App: req.App, Plan: a.Plan, Region: req.Region,
		Options: req.Options, LogInputURL: req.LogInputURL,
	})
	cancel()
	if err != nil {
		err = fmt.Errorf("%s: provider failed: %w", what, m.explainTimeout(pctx, ctx, err))
		// The provider may have made the resource (res.ID), or finished
		// after we stopped waiting (compensate provisions again to find it).
		return m.compensate(ctx, a, res.ID, err)
	}
	if _, verr := ValidateResourceConfig(svc.Name, svc.ConfigPrefix, res.Config); verr != nil {
		return m.compensate(ctx, a, res.ID, fmt.Errorf("%s: %w", what, verr))
	}
	set := map[string]string{}
	m.mu.Lock()
	a.ProviderID, a.config, a.LogDrainURL, a.Message = res.ID, res.Config.Clone(), res.LogDrainURL, res.Message
	a.ConfigNames = res.Config.Names()
	a.CreatedAt = time.Now().UTC()
	for _, as := range names {
		vars := renamed(res.Config, svc.ConfigPrefix, as)
		if err = m.claimVarsLocked(req.App, as, vars); err != nil {
			m.releaseVarsLocked(req.App, set) // the names before
			break
		}
		maps.Copy(set, vars)
	}
	m.mu.Unlock()
	if err != nil {
		return m.compensate(ctx, a, res.ID, fmt.Errorf("%s: %w", what, err))
	}
	drain := m.Drains != nil && a.LogDrainURL != ""
	if drain {
		if err := m.Drains.AddDrain(ctx, req.App, a.LogDrainURL); err != nil {
			m.mu.Lock()
			m.releaseVarsLocked(req.App, set)
			m.mu.Unlock()
			return m.compensate(ctx, a, res.ID, fmt.Errorf("%s: adding the add-on's log drain: %w", what, err))
		}
	}
	if err := m.Config.ApplyConfig(ctx, req.App, set, nil, "Attach "+strings.Join(names, ", ")); err != nil {
		m.mu.Lock()
		m.releaseVarsLocked(req.App, set)
		m.mu.Unlock()
		cause := fmt.Errorf("%s: applying config vars: %w", what, err)
		if drain {
			if derr := m.Drains.RemoveDrain(context.WithoutCancel(ctx), req.App, a.LogDrainURL); derr != nil {
				cause = multierror.Append(cause, fmt.Errorf("%s: removing the log drain again: %w", what, derr))
			}
		}
		return m.compensate(ctx, a, res.ID, cause)
	}
	m.mu.Lock()
	for _, as := range names {
		m.linkLocked(a, req.App, as)
	}
	m.mu.Unlock()
	m.log().Info("addons: created", "addon", a.Name, "plan", svc.Name+":"+a.Plan, "app", req.App,
		"attachments", names, "vars", Config(set), "took", time.Since(start))
	return nil
}

// explainTimeout says "no answer within T" when our own deadline, not
// the caller's, stopped the provider.
func (m *Manager) explainTimeout(pctx, parent context.Context, err error) error {
	if errors.Is(pctx.Err(), context.DeadlineExceeded) && parent.Err() == nil {
		return fmt.Errorf("no answer within %s: %w", m.timeout(), err)
	}
	return err
}

// compensate deprovisions what a failed create may have made and
// returns cause, plus the compensation's own failure if any.
func (m *Manager) compensate(ctx context.Context, a *addon, providerID string, cause error) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout())
	defer cancel()
	// Without the provider's id (it failed or timed out) retry the
	// provision with the same id: providers are idempotent on it, so this
	// finds the resource if one was made.
	if providerID == "" {
		if errors.Is(cause, ErrUnknownPlan) || errors.Is(cause, ErrInvalid) {
			return cause // a refusal: nothing was made
		}
		res, err := a.service.Provider.Provision(dctx, ProvisionRequest{ID: a.ID, Name: a.Name, App: a.App, Plan: a.Plan})
		if err != nil {
			m.log().Warn("addons: no resource to compensate for", "addon", a.Name, "err", err)
			return cause
		}
		providerID = res.ID
	}
	if err := a.service.Provider.Deprovision(dctx, providerID); err != nil && !errors.Is(err, ErrNotFound) {
		return multierror.Append(cause, fmt.Errorf("addons: compensating deprovision of %s failed, resource %s may be left behind: %w", a.Name, providerID, err))
	}
	return cause
}

func renamed(cfg Config, prefix, as string) map[string]string {
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		out[as+strings.TrimPrefix(k, prefix)] = v
	}
	return out
}

func (m *Manager) attachmentTakenLocked(app, name string) bool {
	_, used := m.attached[app][name]
	_, res := m.reserved[app][name]
	return used || res
}

func (m *Manager) reserveLocked(app, name string) {
	if m.reserved[app] == nil {
		m.reserved[app] = map[string]struct{}{}
	}
	m.reserved[app][name] = struct{}{}
}

func (m *Manager) claimVarsLocked(app, as string, set map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if owner, ok := m.vars[app][k]; ok {
			return &ConfigVarError{Name: k, Rule: RuleVarClash, Detail: "attachment " + owner + " on app " + app}
		}
	}
	if m.vars[app] == nil {
		m.vars[app] = map[string]string{}
	}
	for k := range set {
		m.vars[app][k] = as
	}
	return nil
}

func (m *Manager) releaseVarsLocked(app string, set map[string]string) {
	for k := range set {
		delete(m.vars[app], k)
	}
}

func (m *Manager) linkLocked(a *addon, app, as string) *attach {
	if m.attached[app] == nil {
		m.attached[app] = map[string]*attach{}
	}
	at := &attach{name: as, app: app, addon: a}
	m.attached[app][as] = at
	return at
}

func (a *addon) snapshotLocked(m *Manager) AddOn {
	out := a.AddOn
	out.ConfigNames = slices.Clone(a.ConfigNames)
	out.Attachments = nil
	for _, app := range slices.Sorted(maps.Keys(m.attached)) {
		for _, n := range slices.Sorted(maps.Keys(m.attached[app])) {
			if at := m.attached[app][n]; at.addon == a {
				out.Attachments = append(out.Attachments, at.snapshot())
			}
		}
	}
	return out
}

func (at *attach) snapshot() Attachment {
	return Attachment{Name: at.name, App: at.app, AddOn: at.addon.Name, Credential: at.credential, Pooled: at.pooled,
		ConfigNames: slices.Sorted(maps.Keys(at.vars()))}
}

// lockAddon marks the named add-on busy for one operation.
func (m *Manager) lockAddon(name string) (*addon, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	a, ok := m.addons[name]
	if !ok {
		return nil, fmt.Errorf("addons: add-on %q: %w", truncate(name, 80), ErrNotFound)
	}
	if a.busy {
		return nil, fmt.Errorf("addons: add-on %s: %w", name, ErrBusy)
	}
	a.busy = true
	return a, nil
}

func (m *Manager) unlockAddon(a *addon) {
	m.mu.Lock()
	a.busy = false
	m.wakeLocked()
	m.mu.Unlock()
}

// wakeLocked wakes the RenameApp calls waiting for an operation to end.
func (m *Manager) wakeLocked() {
	if m.idle != nil {
		close(m.idle)
		m.idle = nil
	}
}

// Attach exposes an existing add-on to app under the attachment name as
// (empty: the service's config prefix).
func (m *Manager) Attach(ctx context.Context, addonName, app, as string) (Attachment, error) {
	return m.attach(ctx, addonName, app, as, "", false)
}

// attach is Attach, AttachCredential for a credential other than "", or
// AttachPooled.
func (m *Manager) attach(ctx context.Context, addonName, app, as, credential string, pooled bool) (Attachment, error) {
	if app == "" {
		return Attachment{}, fmt.Errorf("addons: attach: app name must not be empty: %w", ErrInvalid)
	}
	a, err := m.lockAddon(addonName)
	if err != nil {
		return Attachment{}, err
	}
	defer m.unlockAddon(a)
	if as == "" {
		as = a.service.ConfigPrefix
	}
	if err := ValidateAttachmentName(as); err != nil {
		return Attachment{}, err
	}
	set := renamed(a.config, a.service.ConfigPrefix, as)
	if credential != "" {
		c, err := m.credential(ctx, a, credential)
		if err != nil {
			return Attachment{}, fmt.Errorf("addons: attach credential %s of %s to app %s: %w", truncate(credential, 80), addonName, app, err)
		}
		set = map[string]string{as + "_URL": c.URL}
	}
	if pooled {
		url, err := pooledURL(a, a.config)
		if err != nil {
			return Attachment{}, fmt.Errorf("addons: attach %s to app %s through its pooler: %w", addonName, app, err)
		}
		set = map[string]string{as + "_URL": url}
	}
	m.mu.Lock()
	if m.attachmentTakenLocked(app, as) {
		m.mu.Unlock()
		return Attachment{}, fmt.Errorf("addons: attach %s to app %s as %s: %w", addonName, app, as, ErrDuplicateAttachment)
	}
	err = m.claimVarsLocked(app, as, set)
	if err == nil {
		// Reserved while the config is applied: no other attachment takes
		// the name, and RenameApp(app, …) waits for the end.
		m.reserveLocked(app, as)
	}
	m.mu.Unlock()
	if err != nil {
		return Attachment{}, fmt.Errorf("addons: attach %s to app %s as %s: %w", addonName, app, as, err)
	}
	err = m.Config.ApplyConfig(ctx, app, set, nil, "Attach "+as)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.reserved[app], as)
	if err != nil {
		m.releaseVarsLocked(app, set)
		return Attachment{}, fmt.Errorf("addons: attach %s to app %s as %s: applying config vars: %w", addonName, app, as, err)
	}
	at := m.linkLocked(a, app, as)
	if credential != "" || pooled {
		at.credential, at.pooled, at.config = credential, pooled, set
	}
	return at.snapshot(), nil
}

// Detach removes an attachment and unsets its config vars. The last
// attachment of an add-on cannot be detached (ErrLastAttachment): use
// Destroy.
func (m *Manager) Detach(ctx context.Context, app, as string) error {
	m.mu.Lock()
	m.initLocked()
	at, ok := m.attached[app][as]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("addons: detach: app %s has no attachment %q: %w", app, truncate(as, 80), ErrNotFound)
	}
	a, err := m.lockAddon(at.addon.Name)
	if err != nil {
		return err
	}
	defer m.unlockAddon(a)
	m.mu.Lock()
	if m.attached[app][as] != at {
		// Detached, or the app renamed (RenameApp), before a was ours.
		m.mu.Unlock()
		return fmt.Errorf("addons: detach: app %s has no attachment %q: %w", app, truncate(as, 80), ErrNotFound)
	}
	n := 0
	for _, app := range m.attached {
		for _, other := range app {
			if other.addon == a {
				n++
			}
		}
	}
	m.mu.Unlock()
	if n <= 1 {
		return fmt.Errorf("addons: detach %s from app %s: %w", as, app, ErrLastAttachment)
	}
	set := at.vars()
	if err := m.Config.ApplyConfig(ctx, app, nil, slices.Sorted(maps.Keys(set)), "Detach "+as); err != nil {
		return fmt.Errorf("addons: detach %s from app %s: unsetting config vars: %w", as, app, err)
	}
	m.mu.Lock()
	delete(m.attached[app], as)
	m.releaseVarsLocked(app, set)
	m.mu.Unlock()
	return nil
}

// Destroy detaches the add-on from every app and deprovisions it. If
// the provider fails, the config vars are put back and the add-on stays.
func (m *Manager) Destroy(ctx context.Context, addonName string) error {
	a, err := m.lockAddon(addonName)
	if err != nil {
		return err
	}
	defer m.unlockAddon(a)
	m.mu.Lock()
	var ats []*attach
	for _, app := range slices.Sorted(maps.Keys(m.attached)) {
		for _, n := range slices.Sorted(maps.Keys(m.attached[app])) {
			if at := m.attached[app][n]; at.addon == a {
				ats = append(ats, at)
			}
		}
	}
	m.mu.Unlock()
	what := "addons: destroy " + addonName
	byApp := groupByApp(ats) // one config change per app
	var done [][]*attach
	restore := func(cause error) error {
		for _, group := range done {
			set, names := map[string]string{}, attachNames(group)
			for _, at := range group {
				maps.Copy(set, at.vars())
			}
			if err := m.Config.ApplyConfig(context.WithoutCancel(ctx), group[0].app, set, nil, "Attach "+names); err != nil {
				cause = multierror.Append(cause, fmt.Errorf("%s: restoring config of app %s: %w", what, group[0].app, err))
			}
		}
		return cause
	}
	for _, group := range byApp {
		var unset []string
		for _, at := range group {
			unset = append(unset, slices.Collect(maps.Keys(at.vars()))...)
		}
		slices.Sort(unset)
		if err := m.Config.ApplyConfig(ctx, group[0].app, nil, unset, "Detach "+attachNames(group)); err != nil {
			return restore(fmt.Errorf("%s: unsetting config vars of app %s: %w", what, group[0].app, err))
		}
		done = append(done, group)
	}
	drain := m.Drains != nil && a.LogDrainURL != ""
	if drain {
		if err := m.Drains.RemoveDrain(ctx, a.App, a.LogDrainURL); err != nil {
			return restore(fmt.Errorf("%s: removing the add-on's log drain: %w", what, err))
		}
	}
	dctx, cancel := context.WithTimeout(ctx, m.timeout())
	err = a.service.Provider.Deprovision(dctx, a.ProviderID)
	cancel()
	if err != nil && !errors.Is(err, ErrNotFound) {
		cause := fmt.Errorf("%s: provider failed: %w", what, m.explainTimeout(dctx, ctx, err))
		if drain {
			if derr := m.Drains.AddDrain(context.WithoutCancel(ctx), a.App, a.LogDrainURL); derr != nil {
				cause = multierror.Append(cause, fmt.Errorf("%s: restoring the log drain: %w", what, derr))
			}
		}
		return restore(cause)
	}
	if err != nil {
		m.log().Warn("addons: provider no longer knew the resource", "addon", addonName)
	}
	m.mu.Lock()
	for _, at := range ats {
		delete(m.attached[at.app], at.name)
		m.releaseVarsLocked(at.app, at.vars())
	}
	delete(m.addons, addonName)
	m.mu.Unlock()
	m.log().Info("addons: destroyed", "addon", addonName)
	return nil
}

// billingAttachments are a's attachments on its billing app that carry
// its own config (not a credential's or the pooler's).
func (m *Manager) billingAttachments(a *addon) []*attach {
	var own []*attach
	for _, at := range m.attachmentsOf(a) {
		if at.app == a.App && at.credential == "" && !at.pooled {
			own = append(own, at)
		}
	}
	return own
}

// groupByApp splits ats, sorted by app, into runs of one app each.
func groupByApp(ats []*attach) [][]*attach {
	var groups [][]*attach
	for i, at := range ats {
		if i == 0 || at.app != ats[i-1].app {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], at)
	}
	return groups
}

// attachNames joins the names of ats for a config change's description.
func attachNames(ats []*attach) string {
	names := make([]string, len(ats))
	for i, at := range ats {
		names[i] = at.name
	}
	return strings.Join(names, ", ")
}

// ChangePlan moves an add-on to another plan of its service. If the
// provider returns config vars (changed or new ones; vars it leaves out
// keep their values), every attachment's app gets them; if that fails,
// the plan is changed back.
func (m *Manager) ChangePlan(ctx context.Context, addonName, plan string) (AddOn, error) {
	a, err := m.lockAddon(addonName)
	if err != nil {
		return AddOn{}, err
	}
	defer m.unlockAddon(a)
	what := fmt.Sprintf("addons: change plan of %s to %s", addonName, truncate(plan, 80))
	if _, _, err := m.Catalog.Lookup(a.service.Name + ":" + plan); err != nil {
		return AddOn{}, fmt.Errorf("%s: %w", what, err)
	}
	if plan == a.Plan {
		return m.snapshot(a), nil
	}
	pc, ok := a.service.Provider.(PlanChanger)
	if !ok {
		return AddOn{}, fmt.Errorf("%s: service %s: %w", what, a.service.Name, ErrPlanChangeUnsupported)
	}
	pctx, cancel := context.WithTimeout(ctx, m.timeout())
	res, err := pc.ChangePlan(pctx, a.ProviderID, plan)
	cancel()
	if err != nil {
		return AddOn{}, fmt.Errorf("%s: provider failed: %w", what, m.explainTimeout(pctx, ctx, err))
	}
	revert := func(cause error) error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout())
		defer cancel()
		if _, err := pc.ChangePlan(rctx, a.ProviderID, a.Plan); err != nil {
			return multierror.Append(cause, fmt.Errorf("%s: changing back to %s failed: %w", what, a.Plan, err))
		}
		return cause
	}
	// The answer's config updates the add-on's, as the partner API's
	// plan change does: vars it names are set (new ones added), the
	// others keep their values.
	next := a.config.Clone()
	maps.Copy(next, res.Config)
	describe := func(as string) string { return fmt.Sprintf("Update %s (plan %s:%s)", as, a.service.Name, plan) }
	if !maps.Equal(next, a.config) {
		if _, err := ValidateResourceConfig(a.service.Name, a.service.ConfigPrefix, next); err != nil {
			return AddOn{}, revert(fmt.Errorf("%s: %w", what, err))
		}
		if err := m.pushConfig(ctx, a, next, describe); err != nil {
			return AddOn{}, revert(fmt.Errorf("%s: %w", what, err))
		}
	} else if own := m.billingAttachments(a); len(own) > 0 {
		// Same config: the billing app still gets a release, as on Heroku
		// (a plan change is an add-on change; heroku.md §4.1).
		if err := m.Config.ApplyConfig(ctx, a.App, nil, nil, describe(attachNames(own))); err != nil {
			return AddOn{}, revert(fmt.Errorf("%s: recording the change on app %s: %w", what, a.App, err))
		}
	}
	m.mu.Lock()
	a.Plan = plan
	if res.Message != "" {
		a.Message = res.Message
	}
	out := a.snapshotLocked(m)
	m.mu.Unlock()
	return out, nil
}

func (m *Manager) snapshot(a *addon) AddOn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return a.snapshotLocked(m)
}

// AddOn returns the named add-on, or an error wrapping ErrNotFound.
// Add-ons still being provisioned are not returned.
func (m *Manager) AddOn(name string) (AddOn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	a, ok := m.addons[name]
	if !ok || !a.ready {
		return AddOn{}, fmt.Errorf("addons: add-on %q: %w", truncate(name, 80), ErrNotFound)
	}
	return a.snapshotLocked(m), nil
}

// Attachments returns app's attachments in name order.
func (m *Manager) Attachments(app string) []Attachment {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	var out []Attachment
	for _, n := range slices.Sorted(maps.Keys(m.attached[app])) {
		out = append(out, m.attached[app][n].snapshot())
	}
	return out
}

// ResourceID returns the provider's id of the named add-on, for calling
// a provider's own capabilities directly (Backup, Restore, Fork and
// Describe have Manager methods).
func (m *Manager) ResourceID(addonName string) (Service, string, error) {
	svc, id := m.readyResource(addonName)
	if id == "" {
		return Service{}, "", fmt.Errorf("addons: add-on %q: %w", truncate(addonName, 80), ErrNotFound)
	}
	return svc, id, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// attachmentsOf returns a's attachments in app and name order.
func (m *Manager) attachmentsOf(a *addon) []*attach {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ats []*attach
	for _, app := range slices.Sorted(maps.Keys(m.attached)) {
		for _, n := range slices.Sorted(maps.Keys(m.attached[app])) {
			if at := m.attached[app][n]; at.addon == a {
				ats = append(ats, at)
			}
		}
	}
	return ats
}

// pushConfig makes next (the provider's whole config) a's config on
// every attached app: changed and added vars are set, one change per
// app. If an app refuses, the apps already changed are put back. The
// caller holds a busy.
func (m *Manager) pushConfig(ctx context.Context, a *addon, next Config, describe func(as string) string) error {
	prefix := a.service.ConfigPrefix
	changed, added := Config{}, Config{}
	for k, v := range next {
		old, ok := a.config[k]
		switch {
		case !ok:
			added[k] = v
		case old != v:
			changed[k] = v
		}
	}
	// Credential attachments carry their credential's URL, not the
	// add-on's config; pooled ones its URL through the pooler.
	var ats, pooled []*attach
	for _, at := range m.attachmentsOf(a) {
		switch {
		case at.pooled:
			pooled = append(pooled, at)
		case at.credential == "":
			ats = append(ats, at)
		}
	}
	urlVar := prefix + "_URL"
	var nextPooled string
	if len(pooled) > 0 && next[urlVar] != a.config[urlVar] {
		var err error
		if nextPooled, err = pooledURL(a, next); err != nil {
			return err
		}
	}
	m.mu.Lock()
	for i, at := range ats {
		if err := m.claimVarsLocked(at.app, at.name, renamed(added, prefix, at.name)); err != nil {
			for _, prev := range ats[:i] {
				m.releaseVarsLocked(prev.app, renamed(added, prefix, prev.name))
			}
			m.mu.Unlock()
			return err
		}
	}
	m.mu.Unlock()
	var donePooled []*attach
	var done [][]*attach
	revert := func(cause error) error {
		for _, group := range done {
			old := make(map[string]string, len(changed)*len(group))
			var unset []string
			for _, d := range group {
				for k := range changed {
					old[d.name+strings.TrimPrefix(k, prefix)] = a.config[k]
				}
				unset = append(unset, slices.Collect(maps.Keys(renamed(added, prefix, d.name)))...)
			}
			slices.Sort(unset)
			if err := m.Config.ApplyConfig(context.WithoutCancel(ctx), group[0].app, old, unset, "Update "+attachNames(group)); err != nil {
				cause = multierror.Append(cause, fmt.Errorf("restoring config of app %s: %w", group[0].app, err))
			}
		}
		for _, d := range donePooled {
			if err := m.Config.ApplyConfig(context.WithoutCancel(ctx), d.app, maps.Clone(d.config), nil, "Update "+d.name); err != nil {
				cause = multierror.Append(cause, fmt.Errorf("restoring config of app %s: %w", d.app, err))
			}
		}
		m.mu.Lock()
		for _, at := range ats {
			m.releaseVarsLocked(at.app, renamed(added, prefix, at.name))
		}
		m.mu.Unlock()
		return cause
	}
	for _, group := range groupByApp(ats) {
		set := map[string]string{}
		for _, at := range group {
			maps.Copy(set, renamed(changed, prefix, at.name))
			maps.Copy(set, renamed(added, prefix, at.name))
		}
		if len(set) == 0 {
			continue
		}
		if err := m.Config.ApplyConfig(ctx, group[0].app, set, nil, describe(attachNames(group))); err != nil {
			return revert(fmt.Errorf("applying config vars to app %s: %w", group[0].app, err))
		}
		done = append(done, group)
	}
	if nextPooled != "" {
		for _, at := range pooled {
			if err := m.Config.ApplyConfig(ctx, at.app, map[string]string{at.name + "_URL": nextPooled}, nil, describe(at.name)); err != nil {
				return revert(fmt.Errorf("applying config vars to app %s: %w", at.app, err))
			}
			donePooled = append(donePooled, at)
		}
		m.mu.Lock()
		for _, at := range pooled {
			at.config = map[string]string{at.name + "_URL": nextPooled}
		}
		m.mu.Unlock()
	}
	m.mu.Lock()
	a.config = next.Clone()
	a.ConfigNames = next.Names()
	m.mu.Unlock()
	return nil
}

// UpdateConfig applies config vars a provider changed or added after
// provisioning (for example rotated credentials; the partner API's
// PATCH /addons/{id}/config) to every app the add-on is attached to.
// Vars not in update keep their values. Names follow the same rules as
// at provisioning; on any error no app's config changes.
func (m *Manager) UpdateConfig(ctx context.Context, addonName string, update Config) (AddOn, error) {
	a, err := m.lockAddon(addonName)
	if err != nil {
		return AddOn{}, err
	}
	defer m.unlockAddon(a)
	what := "addons: update config of " + addonName
	next := a.config.Clone()
	maps.Copy(next, update)
	if _, err := ValidateResourceConfig(a.service.Name, a.service.ConfigPrefix, next); err != nil {
		return AddOn{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := m.pushConfig(ctx, a, next, func(as string) string { return "Update " + as + " (by add-on)" }); err != nil {
		return AddOn{}, fmt.Errorf("%s: %w", what, err)
	}
	return m.snapshot(a), nil
}

// RenameApp moves everything the Manager keeps under the app name old
// to new, for a platform renaming an app (heroku apps:rename): the
// add-ons billed to old, every attachment on old (of its own add-ons and
// of other apps' add-ons it shares), the attachment and config var
// names old uses, and the add-ons kept for Create retries. Add-ons and
// attachments keep their names, so the app's config vars stay as they
// are: RenameApp calls no provider, no ConfigApplier and no LogDrainer.
// The vars and any log drains belong to the app, which the platform
// renames itself; afterwards every operation names the app new.
//
// An app the Manager knows nothing about (an app without add-ons) is
// renamed without error, so a platform may call RenameApp for every
// rename. Errors wrap ErrInvalid: old or new empty, old == new, or new
// already has add-ons, attachments or config vars in the Manager; then
// nothing moves. RenameApp(new, old) undoes a rename, for a platform
// whose own rename failed after it.
//
// The move is one step under the Manager's lock. While an operation
// involving old is in flight (Create or Attach for old, or any
// operation on an add-on billed to or attached to old: plan change,
// config update, Attach, Detach, Destroy), RenameApp waits for it to
// end, so no operation sees half a rename. When ctx ends first, it
// returns an error wrapping ErrBusy and ctx.Err(), and nothing moves.
//
// The Manager's state is in memory (see the package doc): a platform
// that records add-ons itself rewrites the app name in its records after
// RenameApp returns nil (AddOn and Attachments show the new state).
func (m *Manager) RenameApp(ctx context.Context, old, new string) error {
	what := fmt.Sprintf("addons: rename app %q to %q", truncate(old, 80), truncate(new, 80))
	switch {
	case old == "":
		return fmt.Errorf("%s: app name must not be empty: %w", what, ErrInvalid)
	case new == "":
		return fmt.Errorf("%s: new app name must not be empty: %w", what, ErrInvalid)
	case new == old:
		return fmt.Errorf("%s: the new name must differ from the old: %w", what, ErrInvalid)
	}
	for {
		m.mu.Lock()
		m.initLocked()
		if used := m.appUseLocked(new); used != "" {
			m.mu.Unlock()
			return fmt.Errorf("%s: app %s already has add-ons, attachments or config vars (%s): %w", what, new, used, ErrInvalid)
		}
		busy := m.appBusyLocked(old)
		if busy == "" {
			n := m.renameLocked(old, new)
			m.mu.Unlock()
			if n > 0 {
				m.log().Info("addons: app renamed", "from", old, "to", new, "records", n)
			}
			return nil
		}
		if m.idle == nil {
			m.idle = make(chan struct{})
		}
		idle := m.idle
		m.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w: %w", what, busy, ErrBusy, ctx.Err())
		}
	}
}

// appUseLocked says what the Manager holds under app ("" when nothing).
func (m *Manager) appUseLocked(app string) string {
	var used []string
	for _, name := range slices.Sorted(maps.Keys(m.addons)) {
		if m.addons[name].App == app {
			used = append(used, "add-on "+name)
			break
		}
	}
	if n := len(m.attached[app]) + len(m.reserved[app]); n > 0 {
		used = append(used, fmt.Sprintf("%d attachment(s)", n))
	}
	if n := len(m.vars[app]); n > 0 {
		used = append(used, fmt.Sprintf("%d config var(s)", n))
	}
	return strings.Join(used, ", ")
}

// appBusyLocked names an operation in flight involving app ("" when
// none): a busy add-on billed to or attached to app, or an attachment
// name reserved on app by Create or Attach.
func (m *Manager) appBusyLocked(app string) string {
	here := map[*addon]bool{}
	for _, at := range m.attached[app] {
		here[at.addon] = true
	}
	for _, name := range slices.Sorted(maps.Keys(m.addons)) {
		switch a := m.addons[name]; {
		case !a.busy:
		case !a.ready && a.App == app:
			return "add-on " + name + " to be provisioned"
		case a.App == app || here[a]:
			return "add-on " + name + " to finish another operation"
		}
	}
	if len(m.reserved[app]) > 0 {
		as := slices.Min(slices.Collect(maps.Keys(m.reserved[app])))
		return "attachment " + as + " on app " + app + " to be made"
	}
	return ""
}

// renameLocked moves old's state to new (unused, checked by the caller)
// and returns how many records it changed.
func (m *Manager) renameLocked(old, new string) int {
	n := 0
	for _, a := range m.addons {
		if a.App == old {
			a.App = new
			n++
		}
	}
	if ats := m.attached[old]; len(ats) > 0 {
		// New records: an operation that looked an attachment up before
		// taking its add-on (Detach) sees the old one is gone.
		m.attached[new] = make(map[string]*attach, len(ats))
		for as, at := range ats {
			moved := *at // every field but the app, so none is forgotten
			moved.app = new
			m.attached[new][as] = &moved
			n++
		}
	}
	if vars := m.vars[old]; len(vars) > 0 {
		m.vars[new] = vars
	}
	if res := m.reserved[old]; len(res) > 0 { // empty: RenameApp waited for it
		m.reserved[new] = res
	}
	delete(m.attached, old)
	delete(m.vars, old)
	delete(m.reserved, old)
	for _, p := range m.requests {
		select {
		case <-p.done:
		default:
			continue // in flight, so not for old (RenameApp waited for those)
		}
		if p.err != nil {
			continue
		}
		changed := p.addon.App == old || slices.ContainsFunc(p.addon.Attachments, func(at Attachment) bool { return at.App == old })
		if !changed {
			continue
		}
		p.addon = p.addon.clone()
		if p.addon.App == old {
			p.addon.App = new
		}
		for i := range p.addon.Attachments {
			if p.addon.Attachments[i].App == old {
				p.addon.Attachments[i].App = new
			}
		}
		n++
	}
	return n
}
