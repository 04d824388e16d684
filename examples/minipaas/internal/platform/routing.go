package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/router"
)

// webDyno is a web dyno as the router feed tracks it.
type webDyno struct {
	name  string
	state formation.State
	addr  string
}

// webApp is an app's routing view: its web dynos and how many it wants.
type webApp struct {
	dynos    map[string]webDyno // by dyno ID
	want     int
	sleeping bool      // an idle Eco app (sleep.go)
	asleepAt time.Time // since when
}

// onDynoEvent is the Reconciler's OnEvent. It runs under the Reconciler's
// lock, so it only does quick, non-blocking work: a log line, and the
// router's backends when a web dyno's state changed.
func (p *Platform) onDynoEvent(e formation.Event) {
	id, ok := p.appID(e.App)
	if !ok {
		return // destroyed: its dynos are being stopped
	}
	if e.Message != "" {
		_ = p.logs.Send(context.Background(), logplex.Message{Time: e.Time, App: id, Source: logplex.SourceHeroku, Proc: e.Dyno, Text: e.Message})
	}
	if e.Kind == formation.EventState {
		p.emitDyno(id, e)
	}
	if e.Kind != formation.EventState || e.Type != "web" {
		return
	}
	p.routeMu.Lock()
	defer p.routeMu.Unlock()
	// The name is looked up again under routeMu: an event the Reconciler
	// sent under an app's old name while RenameApp moved its routes
	// applies to the new one.
	name, ok := p.appName(id)
	if !ok {
		return
	}
	w := p.webAppLocked(name)
	switch e.State {
	case formation.StateDown, formation.StateComplete:
		delete(w.dynos, e.DynoID)
	default:
		w.dynos[e.DynoID] = webDyno{name: e.Dyno, state: e.State, addr: e.Addr}
	}
	p.syncRouterLocked(name, w)
}

func (p *Platform) webAppLocked(app string) *webApp {
	w, ok := p.web[app]
	if !ok {
		w = &webApp{dynos: map[string]webDyno{}}
		p.web[app] = w
	}
	return w
}

// noteWebScale records the desired web quantity, which decides the router's
// answer while no web dyno is up (starting vs. stopped).
func (p *Platform) noteWebScale(app string, want int) {
	p.routeMu.Lock()
	defer p.routeMu.Unlock()
	w := p.webAppLocked(app)
	w.want = want
	p.syncRouterLocked(app, w)
}

// syncRouterLocked gives the router the app's up web dynos, or the reason
// it has none: starting (requests wait for a boot, then H20), crashed (H10)
// or stopped (H14).
func (p *Platform) syncRouterLocked(app string, w *webApp) {
	var (
		up                []router.Dyno
		starting, crashed bool
	)
	for id, d := range w.dynos {
		switch d.state {
		case formation.StateUp:
			if d.addr != "" {
				up = append(up, router.Dyno{ID: id, Name: d.name, Addr: d.addr})
			}
		case formation.StateStarting:
			starting = true
		case formation.StateCrashed:
			crashed = true
		}
	}
	slices.SortFunc(up, func(a, b router.Dyno) int { return strings.Compare(a.Name, b.Name) })
	if err := p.router.SetBackends(app, up); err != nil {
		p.log.Warn("platform: router backends", "app", app, "err", err)
	}
	if len(up) > 0 {
		return
	}
	state := router.WebStopped
	switch {
	case w.sleeping:
		state = router.WebSleeping
	case starting:
		state = router.WebStarting
	case crashed:
		state = router.WebCrashed
	case w.want > 0:
		state = router.WebStarting // between an old dyno's exit and its replacement
	}
	if err := p.router.SetWebState(app, state); err != nil {
		p.log.Warn("platform: router web state", "app", app, "err", err)
	}
}

// restoreRoutes puts an app's hosts, domains and maintenance flag into the
// router (on creation and when the platform reopens).
func (p *Platform) restoreRoutes(r appRecord) error {
	p.routeMu.Lock()
	p.syncRouterLocked(r.Name, p.webAppLocked(r.Name))
	p.routeMu.Unlock()
	if err := p.router.SetDomains(r.Name, r.Domains); err != nil {
		return fmt.Errorf("domains: %w", err)
	}
	if err := p.router.SetMaintenance(r.Name, r.Maintenance); err != nil {
		return fmt.Errorf("maintenance: %w", err)
	}
	return nil
}

// RouterLogSink sends router log lines to the app's log stream as
// heroku[router] lines. Open wires it into the default router.
func (p *Platform) RouterLogSink() router.LogSink {
	return router.LogSinkFunc(func(app string, at time.Time, line []byte) {
		if id, ok := p.appID(app); ok {
			_ = p.logs.Send(context.Background(), logplex.Message{Time: at, App: id, Source: logplex.SourceHeroku, Proc: "router", Text: string(line)})
		}
	})
}

// AddDomain routes a custom domain (host name, matched without port) to
// the app. A domain routed to another app is ErrConflict.
func (p *Platform) AddDomain(ctx context.Context, app, domain string) error {
	domain = strings.ToLower(strings.TrimSpace(domain))
	if err := validateDomain(domain); err != nil {
		return fmt.Errorf("platform: add domain to %s: %w", app, err)
	}
	if base := p.cfg.BaseDomain; domain == base || strings.HasSuffix(domain, "."+base) {
		// The router looks custom domains up first: another app's host
		// would be taken over.
		return fmt.Errorf("platform: add domain to %s: domain %q is reserved: names under %s are the apps' own hosts", app, domain, base)
	}
	err := p.changeDomains(ctx, app, func(ds []string) ([]string, error) {
		if slices.Contains(ds, domain) {
			return nil, fmt.Errorf("platform: add domain %q to %s: already added: %w", domain, app, ErrConflict)
		}
		return append(ds, domain), nil
	})
	if err == nil {
		p.emitDomain(ctx, app, domain, ActionCreate)
	}
	return err
}

// RemoveDomain stops routing a custom domain to the app.
func (p *Platform) RemoveDomain(ctx context.Context, app, domain string) error {
	domain = strings.ToLower(strings.TrimSpace(domain))
	err := p.changeDomains(ctx, app, func(ds []string) ([]string, error) {
		i := slices.Index(ds, domain)
		if i < 0 {
			return nil, fmt.Errorf("platform: remove domain %q from %s: %w", domain, app, ErrNotFound)
		}
		return slices.Delete(ds, i, i+1), nil
	})
	if err == nil {
		p.emitDomain(ctx, app, domain, ActionDestroy)
	}
	return err
}

// Domains lists the app's custom domains (its <app>.<BaseDomain> host is
// always routed and not listed).
func (p *Platform) Domains(ctx context.Context, app string) ([]string, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return nil, err
	}
	return rec.Domains, nil
}

func (p *Platform) changeDomains(ctx context.Context, app string, change func([]string) ([]string, error)) error {
	e, _, err := p.lockApp(app)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	var old []string
	_, err = p.updateApp(ctx, e, func(r *appRecord) error {
		old = slices.Clone(r.Domains)
		ds, err := change(slices.Clone(r.Domains))
		if err != nil {
			return err
		}
		// The router refuses a domain owned by another app; ask it before
		// the record is written.
		if err := p.router.SetDomains(app, ds); err != nil {
			if errors.Is(err, router.ErrDomainTaken) {
				return fmt.Errorf("platform: domains of %s: %w: %w", app, err, ErrConflict)
			}
			return fmt.Errorf("platform: domains of %s: %w", app, err)
		}
		r.Domains = ds
		return nil
	})
	if err != nil && old != nil {
		_ = p.router.SetDomains(app, old) // the record was not written: undo
	}
	return err
}

// validateDomain checks a host name: dot-separated labels of letters,
// digits and dashes (a leading "*." wildcard allowed), at most 253 bytes.
func validateDomain(d string) error {
	rule := "a host name of dot-separated labels of letters, digits and '-' (1 to 63 bytes each, not starting or ending with '-'), at most 253 bytes"
	if d == "" || len(d) > 253 {
		return fmt.Errorf("domain %q is invalid: must be %s", d, rule)
	}
	for i, l := range strings.Split(d, ".") {
		if i == 0 && l == "*" {
			continue
		}
		ok := len(l) >= 1 && len(l) <= 63 && l[0] != '-' && l[len(l)-1] != '-'
		for _, c := range l {
			ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
		}
		if !ok {
			return fmt.Errorf("domain %q is invalid: must be %s", d, rule)
		}
	}
	return nil
}

// SetMaintenance turns maintenance mode on or off: while on, the router
// answers every request with the maintenance page (H80).
func (p *Platform) SetMaintenance(ctx context.Context, app string, on bool) error {
	e, _, err := p.lockApp(app)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	rec, err := p.updateApp(ctx, e, func(r *appRecord) error { r.Maintenance = on; return nil })
	if err != nil {
		return fmt.Errorf("platform: maintenance of %s: %w", app, err)
	}
	if err := p.router.SetMaintenance(app, on); err != nil {
		return fmt.Errorf("platform: maintenance of %s: %w", app, err)
	}
	p.emitApp(ctx, rec, ActionUpdate, "")
	return nil
}

// VerifyDyno is the router's identity check (router.Config.VerifyDyno):
// a new connection to web dyno d must reach a process of that dyno, not
// another app's dyno that took the address before the router heard the
// first one stopped. Runtimes that cannot tell (formation.ListenChecker)
// pass it.
func (p *Platform) VerifyDyno(_ context.Context, d router.Dyno) error {
	_, portText, err := net.SplitHostPort(d.Addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	ok, err := p.rec.DynoListens(d.ID, port)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no process of dyno %s (%s) listens on port %d", d.Name, d.ID, port)
	}
	return nil
}
