package platform

import (
	"context"
	"slices"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/release"
)

// AppEvent is a change to an app, as Heroku's app webhooks report them:
// a resource ("release", "build", "formation", "dyno", "domain", "app") and what
// happened to it ("create", "update", "destroy"). Exactly one of the
// resource fields is set.
type AppEvent struct {
	Time     time.Time
	AppID    string
	App      string
	Resource string
	Action   string
	Actor    string // the user who made the change ("platform" for its own)

	Release   *release.Release // with the app's name
	Build     *Build
	Formation *FormationEntry
	Dyno      *Dyno
	Domain    string // a custom domain's host name
	// State is the app itself after the change, for ResourceApp events
	// (created, renamed, maintenance switched, destroyed); PreviousName is
	// its name before a rename.
	State        *App
	PreviousName string
}

// Event resources and actions.
const (
	ResourceRelease   = "release"
	ResourceBuild     = "build"
	ResourceFormation = "formation"
	ResourceDyno      = "dyno"
	ResourceDomain    = "domain"
	ResourceApp       = "app"

	ActionCreate  = "create"
	ActionUpdate  = "update"
	ActionDestroy = "destroy"
)

// emit hands e to Config.OnAppEvent, if set.
func (p *Platform) emit(e AppEvent) {
	if p.cfg.OnAppEvent == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.App == "" {
		e.App, _ = p.appName(e.AppID)
	}
	p.cfg.OnAppEvent(e)
}

// emitRelease reports a new release of the app with ID appID.
func (p *Platform) emitRelease(appID, actor string, rel release.Release) {
	name, _ := p.appName(appID)
	r := releaseOf(rel, name)
	p.emit(AppEvent{AppID: appID, App: name, Resource: ResourceRelease, Action: ActionCreate, Actor: actor, Release: &r})
}

// emitFormation reports a scale or resize of app's process types.
func (p *Platform) emitFormation(ctx context.Context, appID, app, actor string, types []string) {
	if p.cfg.OnAppEvent == nil {
		return
	}
	f, err := p.Formation(ctx, app)
	if err != nil {
		return
	}
	for _, e := range f {
		if slices.Contains(types, e.Type) {
			p.emit(AppEvent{AppID: appID, App: app, Resource: ResourceFormation, Action: ActionUpdate, Actor: actor, Formation: &e})
		}
	}
}

// emitDyno reports a dyno's state change (Reconciler events).
func (p *Platform) emitDyno(appID string, e formation.Event) {
	if p.cfg.OnAppEvent == nil {
		return
	}
	d := Dyno{ID: e.DynoID, Name: e.Dyno, Type: e.Type, State: e.State, Release: e.Release, Addr: e.Addr, UpdatedAt: e.Time}
	p.emit(AppEvent{Time: e.Time, AppID: appID, App: e.App, Resource: ResourceDyno, Action: ActionUpdate, Actor: p.cfg.User, Dyno: &d})
}

// emitDomain reports a custom domain added to or removed from app.
func (p *Platform) emitDomain(ctx context.Context, app, domain, action string) {
	id, ok := p.appID(app)
	if !ok {
		return
	}
	p.emit(AppEvent{AppID: id, App: app, Resource: ResourceDomain, Action: action, Actor: p.userOf(ctx), Domain: domain})
}

// emitApp reports a change of the app itself (rec as it is now).
func (p *Platform) emitApp(ctx context.Context, rec appRecord, action, previousName string) {
	if p.cfg.OnAppEvent == nil {
		return
	}
	app := p.appView(rec, p.currentVersion(ctx, rec.ID))
	p.emit(AppEvent{AppID: rec.ID, App: rec.Name, Resource: ResourceApp, Action: action, Actor: p.userOf(ctx), State: &app, PreviousName: previousName})
}
