package platform

import (
	"context"
	"slices"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/logplex"
)

// Eco dynos sleep (heroku.md §5.11): an app whose web dynos are Eco and
// that has had no request for Config.EcoIdle (30 minutes) stops its Eco
// dynos, web and workers, and the router holds the next request while
// WakeApp starts them again. Its formation is unchanged, and an explicit
// change (deploy, scale, restart, config) wakes it too. Whether an app
// sleeps is not stored: after a restart every app starts awake.

// ecoSize is the canonical name of the dyno size that sleeps.
const ecoSize = "eco"

// StateIdle is the state Dynos gives the dynos of a sleeping Eco app, as
// heroku ps shows them ("web.1: idle").
const StateIdle formation.State = "idle"

func (p *Platform) ecoIdle() time.Duration {
	if p.cfg.EcoIdle == 0 {
		return 30 * time.Minute
	}
	return p.cfg.EcoIdle
}

// watchIdle puts idle Eco apps to sleep until ctx ends. It reads the
// router's request counts, so an app's idle time starts when the watch
// first sees it (at the platform's start, or the app's creation).
func (p *Platform) watchIdle(ctx context.Context) {
	idle := p.ecoIdle()
	if idle < 0 {
		return
	}
	period := min(max(idle/10, 50*time.Millisecond), time.Minute)
	type seen struct {
		requests int64
		since    time.Time
	}
	last := map[string]seen{}
	every(ctx, period, func(now time.Time) {
		names := p.appNames()
		next := make(map[string]seen, len(names))
		for _, name := range names {
			var n int64
			busy := false
			if st, ok := p.router.Stats(name); ok {
				// A request counts once it ends: one being answered, or
				// held while the app wakes, keeps it awake meanwhile.
				n, busy = st.Requests, st.InFlight > 0 || st.Waiting > 0
			}
			s, ok := last[name]
			if !ok || s.requests != n || busy || p.asleep(name) {
				s = seen{requests: n, since: now}
			}
			next[name] = s
			if now.Sub(s.since) >= idle {
				p.sleepApp(ctx, name)
			}
		}
		last = next
	})
}

func (p *Platform) asleep(app string) bool {
	_, ok := p.asleepSince(app)
	return ok
}

// asleepSince says whether app sleeps, and since when.
func (p *Platform) asleepSince(app string) (time.Time, bool) {
	p.routeMu.Lock()
	defer p.routeMu.Unlock()
	w, ok := p.web[app]
	if !ok || !w.sleeping {
		return time.Time{}, false
	}
	return w.asleepAt, true
}

// idleDynos are the dynos of a sleeping app, listed as StateIdle: its eco
// process types at their quantity, less those the Reconciler still lists
// (running lists them, stopping).
func (p *Platform) idleDynos(ctx context.Context, rec appRecord, running []Dyno) []Dyno {
	since, ok := p.asleepSince(rec.Name)
	if !ok {
		return nil
	}
	cur, err := p.current(ctx, rec.Name)
	if err != nil {
		return nil
	}
	types, _ := ecoTypes(rec)
	var out []Dyno
	for _, t := range types {
		for i := 1; i <= rec.Formation[t].Quantity; i++ {
			name := formation.DynoName(t, i)
			if slices.ContainsFunc(running, func(d Dyno) bool { return d.Name == name }) {
				continue
			}
			out = append(out, Dyno{
				ID: "idle." + rec.Name + "." + name, Name: name, Type: t, State: StateIdle,
				Command: cur.ProcessTypes[t], Release: cur.Version, Size: ecoSize, UpdatedAt: since,
			})
		}
	}
	return out
}

// ecoTypes are the app's running process types of size eco; sleeps says
// whether the app can sleep: its web dynos are Eco.
func ecoTypes(rec appRecord) (types []string, sleeps bool) {
	for t, pr := range rec.Formation {
		if pr.Size == ecoSize && pr.Quantity > 0 {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	return types, slices.Contains(types, "web")
}

// sleepApp stops an idle Eco app's Eco dynos, if it still may sleep.
func (p *Platform) sleepApp(ctx context.Context, app string) {
	e, rec, err := p.lockApp(app)
	if err != nil {
		return
	}
	defer e.op.Unlock()
	types, sleeps := ecoTypes(rec)
	if !sleeps || p.asleep(app) || rec.Maintenance {
		return
	}
	cur, err := p.current(ctx, app)
	if err != nil || cur.Slug.IsZero() {
		return
	}
	dynos, _ := p.Dynos(ctx, app)
	for _, d := range dynos {
		if slices.Contains(types, d.Type) {
			_ = p.logs.Send(ctx, logplex.Message{App: rec.ID, Source: logplex.SourceHeroku, Proc: d.Name, Text: "Idling"})
		}
	}
	p.routeMu.Lock()
	w := p.webAppLocked(app)
	w.sleeping, w.asleepAt = true, time.Now()
	p.syncRouterLocked(app, w)
	p.routeMu.Unlock()
	asleep := rec.clone()
	for _, t := range types {
		pr := asleep.Formation[t]
		pr.Quantity = 0
		asleep.Formation[t] = pr
	}
	if err := p.rec.Set(p.formationOf(asleep, cur)); err != nil {
		p.log.Warn("platform: idling app", "app", app, "err", err)
		return
	}
	p.log.Info("platform: app idling", "app", app, "types", types)
}

// WakeApp starts a sleeping app's dynos; the router calls it (as its
// Config.Wake) for the first request to a sleeping app. An embedder that
// passes its own Config.Router sets its Wake to this.
func (p *Platform) WakeApp(app string) {
	e, rec, err := p.lockApp(app)
	if err != nil {
		return
	}
	defer e.op.Unlock()
	if !p.asleep(app) {
		return
	}
	ctx := context.Background()
	cur, err := p.current(ctx, app)
	if err != nil {
		p.log.Warn("platform: waking app", "app", app, "err", err)
		return
	}
	types, _ := ecoTypes(rec)
	for _, t := range types {
		for i := 1; i <= rec.Formation[t].Quantity; i++ {
			_ = p.logs.Send(ctx, logplex.Message{App: rec.ID, Source: logplex.SourceHeroku, Proc: formation.DynoName(t, i), Text: "Unidling"})
		}
	}
	if err := p.setFormation(rec, cur); err != nil {
		p.log.Warn("platform: waking app", "app", app, "err", err)
	}
}
