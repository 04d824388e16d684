package router

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Dyno describes a web dyno the platform wants the router to send traffic
// to. It is the plain-value input of [Router.SetBackends].
type Dyno struct {
	ID   string // unique dyno id; required
	Name string // e.g. "web.1", shown in log lines
	Addr string // host:port the dyno listens on; required
}

// WebState tells the router why an app has no web dyno to route to, which
// decides the answer: H14, H10, or a bounded wait then H20.
type WebState int32

// Web process states.
const (
	// WebStopped: web is scaled to zero or not yet known (H14).
	WebStopped WebState = iota
	// WebStarting: web dynos are booting; requests wait up to
	// Config.BootWait for one to come up, then fail with H20.
	WebStarting
	// WebCrashed: every web dyno crashed (H10).
	WebCrashed
	// WebSleeping: the web dynos are asleep (an idle Eco app). A request
	// asks Config.Wake to start them, once per sleep (the state becomes
	// WebStarting), then waits as for WebStarting. Without a Wake, H14.
	WebSleeping
)

// ErrDomainTaken is returned by SetDomains when a domain already routes to
// another app.
var ErrDomainTaken = errors.New("router: domain already belongs to another app")

// ErrReservedDomain is returned by SetDomains for the base domain and
// names under it: those are the apps' own hosts ("<app>.<BaseDomain>"),
// which a custom domain of another app would take over.
var ErrReservedDomain = errors.New("router: domain is reserved for app hosts")

// ErrUnknownApp is returned by RenameApp when the app to rename is not in
// the table.
var ErrUnknownApp = errors.New("router: no such app")

// ErrAppExists is returned by RenameApp when the new name is already
// another app's.
var ErrAppExists = errors.New("router: app name already in use")

// app is one application's routing state. Fields change independently and
// atomically so the request path never takes a lock.
type app struct {
	// name is the app's current name, stored under Router.mu (by
	// appLocked, then RenameApp) and read lock-free: by lookups, to tell
	// which of the app's two table entries counts during a rename (see
	// Router.named), and when a request's log line is written.
	name        atomic.Pointer[string]
	firstName   string // name points here until a rename (no allocation)
	backends    atomic.Pointer[[]*Backend]
	state       atomic.Int32
	maintenance atomic.Bool
	pages       atomic.Pointer[ErrorPages]
	domains     []string // guarded by Router.mu

	waitMu sync.Mutex
	waitCh chan struct{} // closed and replaced when backends or state change

	stats   appStats
	backlog backlog      // requests waiting for a dyno under MaxDynoRequests
	waiting atomic.Int64 // requests that found no web dyno, until they end
}

// Name returns the app's current name.
func (a *app) Name() string { return *a.name.Load() }

func (a *app) notify() {
	a.waitMu.Lock()
	if a.waitCh != nil {
		close(a.waitCh)
		a.waitCh = nil
	}
	a.waitMu.Unlock()
}

func (a *app) changed() <-chan struct{} {
	a.waitMu.Lock()
	defer a.waitMu.Unlock()
	if a.waitCh == nil {
		a.waitCh = make(chan struct{})
	}
	return a.waitCh
}

// shardMap is a copy-on-write map split into shards: readers do one atomic
// load and a map lookup, writers (serialised by Router.mu) copy only the
// shard they change, so adding app 10,000 costs as little as adding app 1.
type shardMap struct {
	shards [64]atomic.Pointer[map[string]*app]
}

func shardOf(k string) int {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h = (h ^ uint32(k[i])) * 16777619
	}
	return int(h % 64)
}

func (s *shardMap) get(k string) *app {
	m := s.shards[shardOf(k)].Load()
	if m == nil {
		return nil
	}
	return (*m)[k]
}

// set stores a (or deletes k when a is nil). Callers hold Router.mu.
func (s *shardMap) set(k string, a *app) {
	sh := &s.shards[shardOf(k)]
	old := sh.Load()
	n := make(map[string]*app, 1)
	if old != nil {
		n = make(map[string]*app, len(*old)+1)
		for k2, v := range *old {
			n[k2] = v
		}
	}
	if a == nil {
		delete(n, k)
	} else {
		n[k] = a
	}
	sh.Store(&n)
}

// lookup finds the app for a Host header value (port and case ignored):
// a custom domain, else an app host, else the closest wildcard domain.
func (rt *Router) lookup(host string) *app {
	host = stripPort(host)
	if !isLower(host) {
		host = strings.ToLower(host)
	}
	host = strings.TrimSuffix(host, ".")
	if a := rt.domains.get(host); a != nil {
		return a
	}
	if a := rt.appHost(host); a != nil {
		return a
	}
	if rt.wildcardCount.Load() == 0 {
		return nil
	}
	// Closest first: "a.b.example.com" tries "*.b.example.com", then
	// "*.example.com". No wildcard is at, under or above BaseDomain (see
	// SetDomains), so none can take an app host.
	for i := 0; i < len(host); i++ {
		if host[i] == '.' {
			if a := rt.wildcards.get(host[i+1:]); a != nil {
				return a
			}
		}
	}
	return nil
}

// appHost returns the app whose own host ("<app>.<BaseDomain>") the
// normalised host is, or nil.
func (rt *Router) appHost(host string) *app {
	base := rt.baseDomain
	if len(host) > len(base)+1 && host[len(host)-len(base)-1] == '.' && host[len(host)-len(base):] == base {
		name := host[:len(host)-len(base)-1]
		if strings.IndexByte(name, '.') < 0 {
			// rt.named without touching the app when no RenameApp
			// overlapped the shard load: the table was then a stable
			// one, in which every app is under its own name.
			seq := rt.renames.Load()
			a := rt.apps.get(name)
			if a != nil && (seq&1 != 0 || rt.renames.Load() != seq) && a.Name() != name {
				return nil
			}
			return a
		}
	}
	return nil
}

func stripPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	return host
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

// named returns the app published under name, or nil. While RenameApp
// runs, the app is briefly in the table under both names; its name field
// decides which entry counts, so every reader sees the rename take effect
// at one atomic store rather than one shard at a time. (lookup inlines a
// cheaper form for the request path.)
func (rt *Router) named(name string) *app {
	if a := rt.apps.get(name); a != nil && a.Name() == name {
		return a
	}
	return nil
}

// validateAppName checks that name can be the first label of a host:
// 1–63 lowercase letters, digits and dashes, starting with a letter
// (Heroku's own rule is the same with a 30-character limit).
func validateAppName(name string) error {
	if err := appNameRule(name); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	return nil
}

// appNameRule is validateAppName without the package prefix, for callers
// that add their own context.
func appNameRule(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("app name %q: must be 1-63 characters", name)
	}
	if name[0] < 'a' || name[0] > 'z' {
		return fmt.Errorf("app name %q: must start with a lowercase letter", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("app name %q: invalid character %q at offset %d (allowed: a-z 0-9 -)", name, c, i)
		}
	}
	return nil
}

func validateDomain(d string) error {
	if d == "" || len(d) > 253 {
		return fmt.Errorf("router: domain %q: must be 1-253 characters", d)
	}
	name := d
	if w, ok := strings.CutPrefix(d, "*."); ok {
		if strings.Count(w, ".") < 1 {
			return fmt.Errorf("router: domain %q: a wildcard must cover a name of two or more labels (\"*.example.com\")", d)
		}
		name = w
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("router: domain %q: empty or over-long label", d)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("router: domain %q: invalid character %q (allowed: lowercase a-z 0-9 - _ and dots, and a leading \"*.\" for a wildcard)", d, c)
			}
		}
	}
	return nil
}

// domainTable returns the map a normalised domain lives in and its key
// there: wildcards are kept apart, by the name they cover.
func (rt *Router) domainTable(d string) (*shardMap, string) {
	if w, ok := strings.CutPrefix(d, "*."); ok {
		return &rt.wildcards, w
	}
	return &rt.domains, d
}

// setDomain routes d to a, or releases it when a is nil. rt.mu must be
// held.
func (rt *Router) setDomain(d string, a *app) {
	m, k := rt.domainTable(d)
	if m == &rt.wildcards {
		had := m.get(k) != nil
		switch {
		case a != nil && !had:
			rt.wildcardCount.Add(1)
		case a == nil && had:
			rt.wildcardCount.Add(-1)
		}
	}
	m.set(k, a)
}

// appLocked returns the app named name, creating and publishing it if
// needed. rt.mu must be held.
func (rt *Router) appLocked(name string) (*app, error) {
	if err := validateAppName(name); err != nil {
		return nil, err
	}
	if a := rt.apps.get(name); a != nil {
		return a, nil
	}
	a := &app{firstName: name}
	a.name.Store(&a.firstName)
	empty := []*Backend{}
	a.backends.Store(&empty)
	rt.apps.set(name, a)
	return a, nil
}

// SetBackends replaces the web dynos of app. Dynos already routed (same ID
// and Addr) keep their state and pooled connections; removed dynos have
// their idle connections closed, while requests already in flight to them
// finish normally. The app is created on first use.
func (rt *Router) SetBackends(appName string, dynos []Dyno) error {
	seen := make(map[string]bool, len(dynos))
	for i, d := range dynos {
		if d.ID == "" {
			return fmt.Errorf("router: app %q: dyno %d: empty ID", appName, i)
		}
		if seen[d.ID] {
			return fmt.Errorf("router: app %q: dyno %d: duplicate ID %q", appName, i, d.ID)
		}
		seen[d.ID] = true
		host, port, err := net.SplitHostPort(d.Addr)
		if err != nil || host == "" {
			return fmt.Errorf("router: app %q: dyno %q: address %q: want host:port", appName, d.ID, d.Addr)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return fmt.Errorf("router: app %q: dyno %q: address %q: port must be 1-65535", appName, d.ID, d.Addr)
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	a, err := rt.appLocked(appName)
	if err != nil {
		return err
	}
	old := *a.backends.Load()
	byID := make(map[string]*Backend, len(old))
	for _, b := range old {
		byID[b.ID] = b
	}
	next := make([]*Backend, 0, len(dynos))
	for _, d := range dynos {
		// Backend fields are read without locks by requests in flight, so a
		// changed dyno is a new Backend rather than a mutated one.
		if b := byID[d.ID]; b != nil && b.Addr == d.Addr && b.Name == d.Name {
			delete(byID, d.ID)
			next = append(next, b)
			continue
		}
		b := NewBackend(d.ID, d.Name, d.Addr)
		b.pool = newConnPool(rt, b)
		next = append(next, b)
	}
	a.backends.Store(&next)
	for _, b := range byID {
		b.pool.close()
	}
	a.notify()
	return nil
}

// Backends returns the current backends of app (nil if the app is unknown).
// The slice must not be modified.
func (rt *Router) Backends(appName string) []*Backend {
	a := rt.named(appName)
	if a == nil {
		return nil
	}
	return *a.backends.Load()
}

// SetWebState records why app has no web dyno up (see [WebState]). It only
// matters while the app has no backends.
func (rt *Router) SetWebState(appName string, s WebState) error {
	if s < WebStopped || s > WebSleeping {
		return fmt.Errorf("router: app %q: unknown web state %d", appName, s)
	}
	rt.mu.Lock()
	a, err := rt.appLocked(appName)
	rt.mu.Unlock()
	if err != nil {
		return err
	}
	a.state.Store(int32(s))
	a.notify()
	return nil
}

// SetMaintenance turns maintenance mode on or off for app: every request is
// answered with the maintenance page and logged as H80.
func (rt *Router) SetMaintenance(appName string, on bool) error {
	rt.mu.Lock()
	a, err := rt.appLocked(appName)
	rt.mu.Unlock()
	if err != nil {
		return err
	}
	a.maintenance.Store(on)
	return nil
}

// SetErrorPages overrides the pages app serves for router errors and
// maintenance; the zero ErrorPages restores the built-in ones.
func (rt *Router) SetErrorPages(appName string, p ErrorPages) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("router: app %q: %w", appName, err)
	}
	rt.mu.Lock()
	a, err := rt.appLocked(appName)
	rt.mu.Unlock()
	if err != nil {
		return err
	}
	a.pages.Store(&p)
	return nil
}

// SetDomains replaces the custom domains routed to app. Domains are matched
// case-insensitively and without port. A domain may be a wildcard,
// "*.example.com", which routes every name under example.com (any depth,
// as a DNS wildcard; not example.com itself) that no custom domain, app
// host or closer wildcard claims: with "*.example.com" on one app and
// "www.example.com" or "*.eu.example.com" on another, those go to the
// other. A domain owned by another app is refused with ErrDomainTaken;
// the base domain and names under it with ErrReservedDomain, as are
// wildcards above it ("*.example.com" when BaseDomain is
// "apps.example.com").
func (rt *Router) SetDomains(appName string, domains []string) error {
	norm := make([]string, 0, len(domains))
	for _, d := range domains {
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		if err := validateDomain(d); err != nil {
			return fmt.Errorf("router: app %q: %w", appName, err)
		}
		if d == rt.baseDomain || strings.HasSuffix(d, "."+rt.baseDomain) {
			// Custom domains win over app hosts in lookup: "b.<base>" as
			// a domain of app a would take app b's traffic.
			return fmt.Errorf("router: app %q: domain %q: %w", appName, d, ErrReservedDomain)
		}
		if w, ok := strings.CutPrefix(d, "*."); ok && (w == rt.baseDomain || strings.HasSuffix(rt.baseDomain, "."+w)) {
			// It would cover the base domain and names under it that are
			// no app's host, and so answer for the platform's own names.
			return fmt.Errorf("router: app %q: domain %q covers the base domain %q: %w", appName, d, rt.baseDomain, ErrReservedDomain)
		}
		norm = append(norm, d)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	a, err := rt.appLocked(appName)
	if err != nil {
		return err
	}
	for _, d := range norm {
		m, k := rt.domainTable(d)
		if o := m.get(k); o != nil && o != a {
			return fmt.Errorf("router: app %q: domain %q (owned by %q): %w", appName, d, o.Name(), ErrDomainTaken)
		}
	}
	keep := make(map[string]bool, len(norm))
	for _, d := range norm {
		keep[d] = true
		rt.setDomain(d, a)
	}
	for _, d := range a.domains {
		if !keep[d] {
			rt.setDomain(d, nil)
		}
	}
	a.domains = norm
	return nil
}

// RemoveApp stops routing to app: its hosts answer "no such app", its
// domains are released and its idle upstream connections closed.
func (rt *Router) RemoveApp(appName string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	a := rt.apps.get(appName)
	if a == nil {
		return
	}
	rt.apps.set(appName, nil)
	for _, d := range a.domains {
		rt.setDomain(d, nil)
	}
	a.domains = nil
	for _, b := range *a.backends.Load() {
		b.pool.close()
	}
	a.notify()
}

// RenameApp renames app old to new, as heroku apps:rename does: the app
// keeps everything it has — its web dynos and their connection pools, web
// state, maintenance mode, error pages, custom domains and metrics, whose
// counters go on ([Router.Stats] answers for new and no longer for old).
// The switch is a single atomic store: up to it "<old>.<BaseDomain>" routes
// and "<new>.<BaseDomain>" answers "no such app", from it the reverse.
// Custom domains route throughout, and requests in flight (including ones
// waiting for a booting or sleeping app, and upgraded connections) finish
// normally. Log lines, LogSink calls and Config.Wake name the app as it is
// called when they are made: a request that spans the rename is logged
// under new. ACME keeps serving and renewing the custom domains'
// certificates (they are per domain); with ACME.AppHosts,
// "<new>.<BaseDomain>" gets its own on its first handshake and
// "<old>.<BaseDomain>" is no longer issued.
//
// It changes nothing and fails when new equals old, when new is not a
// valid app name (the first label of a host: 1-63 characters of a-z, 0-9
// and "-", starting with a letter), when old is not in the table
// ([ErrUnknownApp]) and when new already is ([ErrAppExists]). After it,
// calls naming old concern another app (SetBackends creates one).
func (rt *Router) RenameApp(old, new string) error {
	if new == old {
		return fmt.Errorf("router: rename app %q to %q: the new name must differ from the old one", old, new)
	}
	if err := appNameRule(new); err != nil {
		return fmt.Errorf("router: rename app %q to %q: new %w", old, new, err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	a := rt.apps.get(old)
	if a == nil {
		return fmt.Errorf("router: rename app %q to %q: app %q is not in the table: %w", old, new, old, ErrUnknownApp)
	}
	if rt.apps.get(new) != nil {
		return fmt.Errorf("router: rename app %q to %q: app %q already exists: %w", old, new, new, ErrAppExists)
	}
	// The app is published under new before its name changes and removed
	// from old after: readers that go through rt.named see it under old
	// up to the Store and under new from it, and never under neither.
	// Custom domains map to the app itself and do not change. Everything
	// else (dynos, pools, state, waiters, stats) hangs off the app.
	// rt.renames is odd meanwhile, so lookups that overlap this know to
	// check the name.
	rt.renames.Add(1)
	rt.apps.set(new, a)
	a.name.Store(&new)
	rt.apps.set(old, nil)
	rt.renames.Add(1)
	return nil
}

// Lookup returns the name of the app a Host header value routes to.
func (rt *Router) Lookup(host string) (appName string, ok bool) {
	if a := rt.lookup(host); a != nil {
		return a.Name(), true
	}
	return "", false
}

// CloseIdleConnections closes every pooled upstream connection that is not
// carrying a request. [Server] calls it when shutting down.
func (rt *Router) CloseIdleConnections() {
	// Under mu the table is whole: a walk concurrent with RenameApp could
	// otherwise find the app in neither of the shards it moves between.
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for i := range rt.apps.shards {
		m := rt.apps.shards[i].Load()
		if m == nil {
			continue
		}
		for _, a := range *m {
			for _, b := range *a.backends.Load() {
				b.pool.closeIdle()
			}
		}
	}
}
