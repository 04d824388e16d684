package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/dashboard"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/slug"
)

// The single account of a minipaas: whoever holds the API token.
const (
	accountEmail = "owner@minipaas.localhost"
	accountName  = "minipaas owner"
)

// accountID is stable across restarts, so the CLI's owner checks hold.
var accountID = nameUUID("account", accountEmail)

// maxBody bounds request bodies; config vars are at most 32 KB per app.
const maxBody = 1 << 20

// api answers the Platform API v3 subset the heroku CLI uses (heroku.md
// §9, real-components.md §2), translating each request into Platform calls.
type api struct {
	p          *platform.Platform
	routerPort string
	// slugs is the platform's slug store (DataDir/slugs), read for sizes;
	// repos are the apps' git repositories (nil: none).
	slugs *slug.FSStore
	repos gitRepos
	// rv and runAddr serve heroku run's attachments.
	rv      *rendezvous
	runAddr string
	log     *slog.Logger
	// addons provisions add-ons (addons.go); its catalog is empty when no
	// add-on servers are configured.
	addons *addonService
	// pipelines groups apps for promotion (pipelines.go).
	pipelines *pipelines
	// acm is Automated Certificate Management (tls.go); nil without ACME.
	acm *acmService
	// certs are the uploaded certificates (certs.go).
	certs *certService
	// sources holds uploaded source tarballs (POST /sources, builds.go);
	// nil: uploads are off.
	sources *sourceBlobs
	// webhooks delivers app events (webhooks.go).
	webhooks *webhookService
	// backups runs heroku pg:backups (backups.go); nil: not offered.
	backups *pgBackups
	// auths are the API tokens besides the platform's (authorizations.go);
	// nil: only the platform's token.
	auths *authorizations
	// reports are heroku pg:diagnose's (pgdiagnose.go).
	reports diagnoseReports
	// setups are the app setups (appsetups.go); nil: not offered.
	setups *appSetups
}

// gitRepos are the apps' git repositories (gitpush.Handler).
type gitRepos interface {
	RepoDir(app string) string
	MoveRepo(old, new string) error
	RemoveRepo(app string) error
}

// newAPI serves the Platform API; acm is Automated Certificate Management
// (nil: off).
func newAPI(p *platform.Platform, token, routerAddr string, slugs *slug.FSStore, repos gitRepos, rv *rendezvous, runAddr string, log *slog.Logger, ad *addonService, acm *acmService) http.Handler {
	return newAPIState(p, routerAddr, slugs, repos, rv, runAddr, log, ad, acm).handler(token)
}

// newAPIState is the API without its routes: main shares it between the
// handler and the dashboard's Control (dashboardControl), so that both
// change apps with the same code and state (pipelines, drains, ACM).
func newAPIState(p *platform.Platform, routerAddr string, slugs *slug.FSStore, repos gitRepos, rv *rendezvous, runAddr string, log *slog.Logger, ad *addonService, acm *acmService) *api {
	return &api{p: p, routerPort: portOf(routerAddr), slugs: slugs, repos: repos, rv: rv, runAddr: runAddr, log: log, addons: ad,
		pipelines: &pipelines{p: p}, acm: acm, certs: newCertService(p, log)}
}

// handler serves the API's routes with a's methods.
func (a *api) handler(token string) http.Handler {
	p := a.p
	s := &platformapi.Server{Token: token, Logger: a.log}
	h := func(pattern string, fn platformapi.HandlerFunc) {
		s.Handle(pattern, func(w http.ResponseWriter, r *http.Request) error {
			return fn(w, r.WithContext(platform.WithUser(r.Context(), accountEmail)))
		})
	}
	if a.auths != nil {
		s.Authenticate = func(_ context.Context, tok string) (string, bool) {
			return "default", platformapi.TokenMatches(tok, token) || a.auths.valid(tok)
		}
		a.authorizationRoutes(h)
	}
	h("GET /account", a.account)
	h("GET /users/{user}", a.user) // pipelines:create reads the owner's id
	h("POST /apps", a.createApp)
	h("GET /apps", a.listApps)
	h("GET /users/{user}/apps", a.listApps)
	h("GET /apps/{app}", a.getApp)
	h("PATCH /apps/{app}", a.patchApp)
	h("DELETE /apps/{app}", a.destroyApp)
	h("GET /apps/{app}/config-vars", a.getConfig)
	h("PATCH /apps/{app}/config-vars", a.patchConfig)
	h("GET /apps/{app}/releases", a.listReleases)
	h("GET /apps/{app}/releases/{release}", a.getRelease)
	h("GET /apps/{app}/releases/{release}/config-vars", a.getReleaseConfig)
	h("POST /apps/{app}/releases", a.rollback)
	h("GET /apps/{app}/formation", a.getFormation)
	h("PATCH /apps/{app}/formation", a.patchFormation)
	h("GET /apps/{app}/formation/{type}", a.getFormationType)
	h("PATCH /apps/{app}/formation/{type}", a.patchFormationType)
	h("GET /apps/{app}/dynos", a.listDynos)
	h("POST /apps/{app}/dynos", a.runDyno)
	h("DELETE /apps/{app}/dynos", a.dynoAction(p.Restart, ""))
	h("DELETE /apps/{app}/dynos/{dyno}", a.dynoAction(p.Restart, "dyno"))
	h("DELETE /apps/{app}/formations/{type}", a.dynoAction(p.Restart, "type"))
	h("POST /apps/{app}/dynos/{dyno}/actions/stop", a.dynoAction(p.Stop, "dyno"))
	h("POST /apps/{app}/formations/{type}/actions/stop", a.dynoAction(p.Stop, "type"))
	h("POST /apps/{app}/log-sessions", a.createLogSession)
	h("GET /apps/{app}/domains", a.listDomains)
	h("POST /apps/{app}/domains", a.addDomain)
	h("DELETE /apps/{app}/domains/{domain}", a.removeDomain)
	a.addonRoutes(h)
	a.pipelineRoutes(h)
	a.featureRoutes(h)
	a.buildpackRoutes(h)
	a.buildRoutes(h)
	a.appSetupRoutes(h)
	a.slugRoutes(h)
	a.catalogRoutes(h)
	if a.webhooks != nil {
		a.webhookRoutes(h)
	}
	if a.backups != nil {
		a.backupRoutes(h)
	}
	a.logDrainRoutes(h)
	// certs:auto and sni-endpoints (which domains:add reads), tls.go.
	a.acmRoutes(h)
	// Uploaded certificates (certs:add …) and domain associations, certs.go.
	a.certRoutes(h)
	return withBuildpackRegistry(s)
}

// nameUUID derives a stable UUID-shaped id from parts (platform.NameUUID).
func nameUUID(parts ...string) string { return platform.NameUUID(parts...) }

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// apiError maps platform errors to API errors. Platform messages name apps,
// vars and rules but never config values, so they may be shown.
func apiError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "platform: ")
	// The sentinel's text becomes the error id; repeated in the message
	// it would end it in "platform: not found".
	for _, s := range []error{platform.ErrNotFound, platform.ErrConflict} {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	var nameErr *platform.NameError
	var cfgErr *release.ConfigVarError
	var scaleErr *platform.ScaleError
	var fieldErr *platform.FieldError
	var phaseErr *release.PhaseError
	switch {
	case errors.Is(err, platform.ErrNotFound):
		return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "%s", msg)
	case errors.Is(err, platform.ErrConflict):
		return platformapi.Conflict("%s", msg)
	case errors.Is(err, platform.ErrNoRelease):
		return platformapi.InvalidParams("%s", msg)
	case errors.As(err, &fieldErr):
		return platformapi.InvalidParams("%s %s", fieldErr.Field, fieldErr.Reason)
	case errors.As(err, &nameErr), errors.As(err, &cfgErr), errors.As(err, &scaleErr):
		return platformapi.InvalidParams("%s", msg)
	case errors.As(err, &phaseErr):
		// The change made a release whose release phase failed: it is
		// recorded as failed and the previous release stays current.
		return platformapi.InvalidParams("release v%d failed: its release phase %s; the previous release stays current (heroku releases:output)", phaseErr.Version, phaseOutcome(phaseErr))
	case errors.Is(err, context.Canceled):
		return platformapi.Errorf(http.StatusServiceUnavailable, platformapi.IDServiceUnavailable, "request cancelled")
	}
	return err // logged, answered as a generic 500
}

// phaseOutcome says how a release phase failed, without the app's store
// key that PhaseError.Error names it by.
func phaseOutcome(e *release.PhaseError) string {
	switch {
	case e.TimedOut:
		return "timed out"
	case e.Err != nil:
		return "could not run: " + strings.TrimPrefix(e.Err.Error(), "platform: ")
	}
	return fmt.Sprintf("exited with code %d", e.ExitCode)
}

// app looks up the {app} path value, answering 404 for a missing app.
func (a *api) app(r *http.Request) (platform.App, error) {
	return a.appByNameOrID(r.Context(), r.PathValue("app"))
}

// appByNameOrID finds an app by name or, as Heroku accepts everywhere an
// app is named, by ID (the CLI sends IDs in some paths: addons:destroy,
// pipelines:promote).
func (a *api) appByNameOrID(ctx context.Context, nameOrID string) (platform.App, error) {
	app, err := a.p.App(ctx, nameOrID)
	if errors.Is(err, platform.ErrNotFound) && looksLikeUUID(nameOrID) {
		if byID, ok := a.appByID(ctx, nameOrID); ok {
			return byID, nil
		}
	}
	if errors.Is(err, platform.ErrNotFound) {
		return app, platformapi.NotFound("app", nameOrID)
	}
	if err != nil {
		return app, apiError(err)
	}
	return app, nil
}

type ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type owner struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type appJSON struct {
	ID                           string  `json:"id"`
	Name                         string  `json:"name"`
	WebURL                       string  `json:"web_url"`
	GitURL                       string  `json:"git_url"`
	Maintenance                  bool    `json:"maintenance"`
	Generation                   string  `json:"generation"`
	ProcessTier                  string  `json:"process_tier"`
	Region                       ref     `json:"region"`
	Stack                        ref     `json:"stack"`
	BuildStack                   ref     `json:"build_stack"`
	Owner                        owner   `json:"owner"`
	Team                         *ref    `json:"team"`
	Space                        *ref    `json:"space"`
	BuildpackProvidedDescription *string `json:"buildpack_provided_description"`
	ACM                          bool    `json:"acm"`
	CreateStatus                 string  `json:"create_status"`
	// Sizes are filled in for a single app only (null in lists).
	SlugSize   *int64  `json:"slug_size"`
	RepoSize   *int64  `json:"repo_size"`
	CreatedAt  string  `json:"created_at"`
	UpdatedAt  string  `json:"updated_at"`
	ReleasedAt *string `json:"released_at"`
}

var (
	regionLocal = ref{ID: nameUUID("region", "local"), Name: "local"}
	stackLocal  = ref{ID: nameUUID("stack", "local"), Name: "local"}
)

func (a *api) appJSON(r *http.Request, app platform.App) appJSON { return a.appJSONAt(r.Host, app) }

// appJSONAt is appJSON with the API reached at host (its git URL).
func (a *api) appJSONAt(host string, app platform.App) appJSON {
	j := appJSON{
		ID:           app.ID,
		Name:         app.Name,
		WebURL:       a.webURL(app),
		GitURL:       "http://" + host + "/" + app.Name + ".git",
		Maintenance:  app.Maintenance,
		Generation:   "cedar",
		ProcessTier:  "production",
		Region:       regionLocal,
		Stack:        stackLocal,
		BuildStack:   stackLocal,
		Owner:        owner{ID: accountID, Email: accountEmail},
		ACM:          a.acm.enabledFor(app.ID),
		CreateStatus: "complete",
		CreatedAt:    rfc3339(app.CreatedAt),
		UpdatedAt:    rfc3339(app.UpdatedAt),
	}
	if app.Release > 0 {
		u := rfc3339(app.UpdatedAt)
		j.ReleasedAt = &u
	}
	return j
}

// webURL is the app's URL through the router, with the router's port.
func (a *api) webURL(app platform.App) string {
	u := app.WebURL // http://<app>.localhost/
	if a.routerPort != "80" && a.routerPort != "" {
		u = strings.TrimSuffix(u, "/") + ":" + a.routerPort + "/"
	}
	return u
}

// user answers GET /users/{user} for the one account (~, its email or id).
func (a *api) user(w http.ResponseWriter, r *http.Request) error {
	if u := r.PathValue("user"); u != "~" && u != accountEmail && u != accountID {
		return platformapi.NotFound("user", u)
	}
	return a.account(w, r)
}

func (a *api) account(w http.ResponseWriter, r *http.Request) error {
	platformapi.WriteJSON(w, http.StatusOK, map[string]any{
		"id":                        accountID,
		"email":                     accountEmail,
		"name":                      accountName,
		"verified":                  true,
		"two_factor_authentication": false,
		"created_at":                "2026-01-01T00:00:00Z",
		"updated_at":                "2026-01-01T00:00:00Z",
	})
	return nil
}

func (a *api) createApp(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name   string          `json:"name"`
		Stack  json.RawMessage `json:"stack"`  // heroku create --stack
		Region json.RawMessage `json:"region"` // heroku create --region
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if len(body.Stack) > 0 && string(body.Stack) != "null" {
		if err := checkStack("stack", body.Stack); err != nil {
			return err
		}
	}
	if len(body.Region) > 0 && string(body.Region) != "null" {
		if err := checkRegion("region", body.Region); err != nil {
			return err
		}
	}
	if body.Name == "" {
		// The CLI omits the name to get a generated one.
		body.Name = generatedAppName(r)
	}
	app, err := a.newApp(r.Context(), body.Name)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.appJSON(r, app))
	return nil
}

// generatedAppName names an app created without a name.
func generatedAppName(r *http.Request) string {
	return "app-" + nameUUID("app", time.Now().String(), r.Header.Get("Request-Id"))[:8]
}

// newApp creates an app named name: POST /apps and the dashboard's create
// form. Errors are API errors.
func (a *api) newApp(ctx context.Context, name string) (platform.App, error) {
	app, err := a.p.CreateApp(ctx, name)
	if errors.Is(err, platform.ErrConflict) {
		return platform.App{}, platformapi.InvalidParams("Name %s is already taken", name)
	}
	if err != nil {
		return platform.App{}, apiError(err)
	}
	return app, nil
}

func (a *api) listApps(w http.ResponseWriter, r *http.Request) error {
	if u := r.PathValue("user"); u != "" && u != "~" && u != accountEmail && u != accountID {
		return platformapi.NotFound("user", u)
	}
	apps, err := a.p.Apps(r.Context())
	if err != nil {
		return apiError(err)
	}
	out := make([]appJSON, 0, len(apps))
	for _, app := range apps {
		out = append(out, a.appJSON(r, app))
	}
	return platformapi.Paginate(w, r, out,
		platformapi.Field[appJSON]{Name: "id", Key: func(j appJSON) string { return j.ID }},
		platformapi.Field[appJSON]{Name: "name", Key: func(j appJSON) string { return j.Name }},
	)
}

func (a *api) getApp(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	j := a.appJSON(r, app)
	slugSize, repoSize := a.slugSize(r.Context(), app), a.repoSize(app.Name)
	j.SlugSize, j.RepoSize = &slugSize, &repoSize
	platformapi.WriteJSON(w, http.StatusOK, j)
	return nil
}

// slugSize is the compressed size of the current release's slug, 0 when
// there is none.
func (a *api) slugSize(ctx context.Context, app platform.App) int64 {
	if app.Release == 0 {
		return 0
	}
	rel, err := a.p.Release(ctx, app.Name, app.Release)
	if err != nil || rel.Slug.IsZero() {
		return 0
	}
	d, err := slug.ParseDigest(rel.Slug.Checksum)
	if err != nil {
		return 0
	}
	info, err := a.slugs.Stat(ctx, d)
	if err != nil {
		a.log.Warn("minipaas: slug size", "app", app.Name, "err", err)
		return 0
	}
	return info.Size
}

// repoSize is the size of app's git repository (0 without one).
func (a *api) repoSize(app string) int64 {
	if a.repos == nil {
		return 0
	}
	return dirSize(a.repos.RepoDir(app))
}

// dirSize sums the sizes of the regular files under dir (0 if missing).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a missing repo, or a file gone meanwhile
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func (a *api) patchApp(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		Maintenance *bool           `json:"maintenance"`
		Name        *string         `json:"name"`
		BuildStack  json.RawMessage `json:"build_stack"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if len(body.BuildStack) > 0 {
		if err := checkStack("build_stack", body.BuildStack); err != nil {
			return err
		}
	}
	if body.Name != nil && *body.Name != app.Name {
		if app, err = a.rename(r.Context(), app, *body.Name); err != nil {
			return err
		}
		r.SetPathValue("app", app.Name) // the maintenance change and the answer below
	}
	if body.Maintenance != nil {
		if err := a.p.SetMaintenance(r.Context(), app.Name, *body.Maintenance); err != nil {
			return apiError(err)
		}
	}
	if app, err = a.app(r); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.appJSON(r, app))
	return nil
}

func (a *api) destroyApp(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	if err := a.destroy(r.Context(), app); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.appJSON(r, app))
	return nil
}

// rename renames app (heroku apps:rename, the dashboard's settings) with
// what minipaas keeps by its name besides the platform: add-on records and
// attachments, log drains and the git repository. The platform's rename
// comes first and decides; the rest follows it, and what a crash stops
// midway is found again by the app's ID at the next start (add-on and
// drain records name the app by ID too). Errors are API errors.
func (a *api) rename(ctx context.Context, app platform.App, name string) (platform.App, error) {
	renamed, err := a.p.RenameApp(ctx, app.Name, name)
	if errors.Is(err, platform.ErrConflict) {
		return platform.App{}, platformapi.InvalidParams("Name %s is already taken", name)
	}
	if err != nil {
		return platform.App{}, apiError(err)
	}
	ctx = context.WithoutCancel(ctx) // the app has its new name: follow through
	a.certs.renameApp(app.Name, name)
	if err := a.addons.renameApp(ctx, app.Name, name); err != nil {
		a.log.Error("minipaas: add-ons after an app rename", "app", name, "was", app.Name, "err", a.addons.scrub(err))
	}
	if err := a.addons.drains.renameApp(ctx, app.Name, name); err != nil {
		a.log.Error("minipaas: log drains after an app rename", "app", name, "was", app.Name, "err", err)
	}
	if a.repos != nil {
		if err := a.repos.MoveRepo(app.Name, name); err != nil {
			a.log.Error("minipaas: git repository after an app rename", "app", name, "was", app.Name, "err", err)
		}
	}
	return renamed, nil
}

// destroy destroys app with what minipaas keeps for it besides the
// platform: DELETE /apps/{app} and the dashboard's destroy form. Errors
// are API errors.
func (a *api) destroy(ctx context.Context, app platform.App) error {
	// Its add-ons' resources go first: nothing else would remove them.
	if err := a.addons.destroyApp(ctx, app.Name); err != nil {
		return err
	}
	if err := a.p.DestroyApp(ctx, app.Name); err != nil {
		return apiError(err)
	}
	// Its pipeline coupling names a gone app now; listings skip such
	// couplings anyway, so a failure here only leaves a stale record.
	if err := a.pipelines.removeApp(context.WithoutCancel(ctx), app.ID); err != nil {
		a.log.Warn("minipaas: remove the pipeline coupling of a destroyed app", "app", app.Name, "err", err)
	}
	// Its drains stop; a record left behind is dropped at the next start.
	if err := a.addons.drains.removeApp(context.WithoutCancel(ctx), app.Name); err != nil {
		a.log.Warn("minipaas: remove the log drains of a destroyed app", "app", app.Name, "err", err)
	}
	// Its uploaded certificates; a record left behind is dropped at the next start.
	if err := a.certs.removeApp(context.WithoutCancel(ctx), app); err != nil {
		a.log.Warn("minipaas: remove the certificates of a destroyed app", "app", app.Name, "err", err)
	}
	if a.backups != nil {
		a.backups.removeApp(ctx, app.ID)
	}
	if a.webhooks != nil {
		if err := a.webhooks.removeApp(context.WithoutCancel(ctx), app.ID); err != nil {
			a.log.Warn("minipaas: remove the webhooks of a destroyed app", "app", app.Name, "err", err)
		}
	}
	// Its git history: an app created later under the name starts empty.
	if a.repos != nil {
		if err := a.repos.RemoveRepo(app.Name); err != nil {
			a.log.Warn("minipaas: remove the git repository of a destroyed app", "app", app.Name, "err", err)
		}
	}
	return nil
}

func (a *api) getConfig(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	vars, err := a.p.Config(r.Context(), app.Name)
	if err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusOK, configJSON(vars))
	return nil
}

func configJSON(vars release.ConfigVars) map[string]string {
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		out[k] = v
	}
	return out
}

// patchConfig sets vars with string values and unsets those given as null.
func (a *api) patchConfig(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body map[string]*string
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	set := map[string]string{}
	var unset []string
	for k, v := range body {
		if v == nil {
			unset = append(unset, k)
		} else {
			set[k] = *v
		}
	}
	sort.Strings(unset)
	if len(set) > 0 || len(unset) > 0 {
		if _, err := a.p.SetConfig(r.Context(), app.Name, set, unset); err != nil {
			return apiError(err)
		}
	}
	vars, err := a.p.Config(r.Context(), app.Name)
	if err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusOK, configJSON(vars))
	return nil
}

type releaseJSON struct {
	ID                  string   `json:"id"`
	Version             int      `json:"version"`
	Description         string   `json:"description"`
	Status              string   `json:"status"`
	Current             bool     `json:"current"`
	EligibleForRollback bool     `json:"eligible_for_rollback"`
	Slug                *ref     `json:"slug"`
	AddonPlanNames      []string `json:"addon_plan_names"`
	App                 ref      `json:"app"`
	User                owner    `json:"user"`
	OutputStreamURL     *string  `json:"output_stream_url"`
	CreatedAt           string   `json:"created_at"`
	UpdatedAt           string   `json:"updated_at"`
	phase               bool     // has a release phase, whose output withOutput links
}

func releaseID(app platform.App, version int) string {
	return nameUUID("release", app.ID, strconv.Itoa(version))
}

func releaseToJSON(app platform.App, rel release.Release) releaseJSON {
	j := releaseJSON{
		ID:                  releaseID(app, rel.Version),
		Version:             rel.Version,
		Description:         rel.Description,
		Status:              string(rel.Status),
		Current:             rel.Version == app.Release,
		EligibleForRollback: rel.Status == release.StatusSucceeded && !rel.Slug.IsZero(),
		AddonPlanNames:      []string{},
		App:                 ref{ID: app.ID, Name: app.Name},
		User:                owner{ID: accountID, Email: rel.User},
		CreatedAt:           rfc3339(rel.CreatedAt),
		UpdatedAt:           rfc3339(rel.UpdatedAt),
	}
	if j.User.Email == "" {
		j.User.Email = accountEmail
	}
	if !rel.Slug.IsZero() {
		j.Slug = &ref{ID: rel.Slug.ID}
	}
	j.phase = rel.HasReleasePhase()
	return j
}

// withOutput sets the output_stream_url of the releases that have a
// release phase (heroku releases:output reads it): served without the API
// token under releaseOutputPath, authorised by a token of its own.
func (a *api) withOutput(r *http.Request, app platform.App, js ...releaseJSON) []releaseJSON {
	for i := range js {
		if js[i].phase {
			u := "http://" + r.Host + releaseOutputPath + app.ID + "/" + strconv.Itoa(js[i].Version) + "/" + a.p.ReleaseOutputToken(app.ID, js[i].Version)
			js[i].OutputStreamURL = &u
		}
	}
	return js
}

// allReleases reads the app's whole history, oldest first; Paginate then
// serves whatever window the Range header asks for.
func (a *api) allReleases(ctx context.Context, app platform.App) ([]releaseJSON, error) {
	hist, err := a.p.History(ctx, app.Name)
	if err != nil {
		return nil, apiError(err)
	}
	out := make([]releaseJSON, 0, len(hist))
	for _, rel := range hist {
		out = append(out, releaseToJSON(app, rel))
	}
	return out, nil
}

func (a *api) listReleases(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	rels, err := a.allReleases(r.Context(), app)
	if err != nil {
		return err
	}
	return platformapi.Paginate(w, r, a.withOutput(r, app, rels...),
		platformapi.Field[releaseJSON]{Name: "version", Key: func(j releaseJSON) string { return strconv.Itoa(j.Version) }, Numeric: true},
		platformapi.Field[releaseJSON]{Name: "id", Key: func(j releaseJSON) string { return j.ID }},
	)
}

// findRelease resolves a release by version ("12", "v12") or id.
func (a *api) findRelease(ctx context.Context, app platform.App, idOrVersion string) (release.Release, error) {
	v := strings.TrimPrefix(strings.ToLower(idOrVersion), "v")
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		rel, err := a.p.Release(ctx, app.Name, n)
		if err != nil {
			return rel, apiError(err)
		}
		return rel, nil
	}
	rels, err := a.allReleases(ctx, app)
	if err != nil {
		return release.Release{}, err
	}
	for _, j := range rels {
		if j.ID == strings.ToLower(idOrVersion) {
			rel, err := a.p.Release(ctx, app.Name, j.Version)
			if err != nil {
				return rel, apiError(err)
			}
			return rel, nil
		}
	}
	return release.Release{}, platformapi.NotFound("release", idOrVersion)
}

func (a *api) getRelease(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	rel, err := a.findRelease(r.Context(), app, r.PathValue("release"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.withOutput(r, app, releaseToJSON(app, rel))[0])
	return nil
}

func (a *api) getReleaseConfig(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	rel, err := a.findRelease(r.Context(), app, r.PathValue("release"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, configJSON(rel.Config))
	return nil
}

// rollback answers POST /apps/{app}/releases {"release": "<id or version>"},
// and {"slug": "<id>"} with releaseSlug.
func (a *api) rollback(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		Release     json.RawMessage `json:"release"`
		Slug        string          `json:"slug"`
		Description string          `json:"description"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if len(body.Release) == 0 {
		if body.Slug != "" {
			return a.releaseSlug(w, r, app, body.Slug, body.Description)
		}
		return platformapi.InvalidParams("release (the id or version of the release to roll back to) or slug (the id of a slug to release) is required")
	}
	// The release may come as a string (id or version) or a number.
	var target string
	if err := json.Unmarshal(body.Release, &target); err != nil {
		var n int
		if err := json.Unmarshal(body.Release, &n); err != nil {
			return platformapi.InvalidParams("release must be a release id or version")
		}
		target = strconv.Itoa(n)
	}
	to, err := a.findRelease(r.Context(), app, target)
	if err != nil {
		return err
	}
	rel, err := a.p.Rollback(r.Context(), app.Name, to.Version)
	if err != nil {
		return apiError(err)
	}
	if app, err = a.app(r); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.withOutput(r, app, releaseToJSON(app, rel))[0])
	return nil
}

// releaseSlug makes a release of one of the app's slugs (heroku
// releases:retry sends the current one). A release whose phase fails is
// still answered, as Heroku does: its output_stream_url tells why.
func (a *api) releaseSlug(w http.ResponseWriter, r *http.Request, app platform.App, slugID, description string) error {
	rel, err := a.p.ReleaseSlug(r.Context(), app.Name, slugID, description)
	var pe *release.PhaseError
	if errors.As(err, &pe) {
		rel, err = a.p.Release(r.Context(), app.Name, pe.Version)
	}
	if err != nil {
		return apiError(err)
	}
	if app, err = a.app(r); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.withOutput(r, app, releaseToJSON(app, rel))[0])
	return nil
}

type formationJSON struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Command   string `json:"command"`
	Quantity  int    `json:"quantity"`
	Size      string `json:"size"`
	DynoSize  ref    `json:"dyno_size"`
	App       ref    `json:"app"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func (a *api) formation(ctx context.Context, app platform.App) ([]formationJSON, error) {
	entries, err := a.p.Formation(ctx, app.Name)
	if err != nil {
		return nil, apiError(err)
	}
	// The release phase is a process type of the formation on Heroku, at
	// 0 dynos (heroku releases:retry looks for it); it cannot be scaled.
	if app.Release > 0 {
		if cur, err := a.p.Release(ctx, app.Name, app.Release); err == nil && cur.HasReleasePhase() {
			entries = append(entries, platform.FormationEntry{Type: "release", Command: cur.ProcessTypes["release"], UpdatedAt: cur.CreatedAt})
			slices.SortFunc(entries, func(a, b platform.FormationEntry) int { return strings.Compare(a.Type, b.Type) })
		}
	}
	return formationToJSON(app, entries), nil
}

func formationToJSON(app platform.App, entries []platform.FormationEntry) []formationJSON {
	out := make([]formationJSON, 0, len(entries))
	for _, e := range entries {
		size := platform.SizeLabel(e.Size)
		out = append(out, formationJSON{
			ID:        nameUUID("formation", app.ID, e.Type),
			Type:      e.Type,
			Command:   e.Command,
			Quantity:  e.Quantity,
			Size:      size,
			DynoSize:  ref{ID: nameUUID("dyno-size", strings.ToLower(size)), Name: size},
			App:       ref{ID: app.ID, Name: app.Name},
			CreatedAt: rfc3339(app.CreatedAt),
			UpdatedAt: rfc3339(e.UpdatedAt),
		})
	}
	return out
}

func (a *api) getFormation(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	f, err := a.formation(r.Context(), app)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, f)
	return nil
}

func (a *api) getFormationType(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	f, err := a.formation(r.Context(), app)
	if err != nil {
		return err
	}
	typ := r.PathValue("type")
	for _, e := range f {
		if e.Type == typ {
			platformapi.WriteJSON(w, http.StatusOK, e)
			return nil
		}
	}
	return platformapi.NotFound("formation", typ)
}

// formationUpdate is one entry of a formation PATCH. The CLI sends quantity
// as a string ("2"); other clients send a number.
type formationUpdate struct {
	Type     string          `json:"type"`
	Quantity json.RawMessage `json:"quantity"`
	Size     string          `json:"size"`
	DynoSize *struct {
		Name string `json:"name"`
	} `json:"dyno_size"`
}

func (u formationUpdate) quantity() (int, bool, error) {
	if len(u.Quantity) == 0 || string(u.Quantity) == "null" {
		return 0, false, nil
	}
	var n int
	if err := json.Unmarshal(u.Quantity, &n); err == nil {
		return n, true, nil
	}
	var s string
	if err := json.Unmarshal(u.Quantity, &s); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			return n, true, nil
		}
	}
	return 0, false, platformapi.InvalidParams("quantity of %s must be a whole number", u.Type)
}

func (u formationUpdate) size() string {
	if u.DynoSize != nil && u.DynoSize.Name != "" {
		return u.DynoSize.Name
	}
	return u.Size
}

// applyFormation reads the updates and makes the change (changeFormation).
func (a *api) applyFormation(ctx context.Context, app platform.App, updates []formationUpdate) error {
	quantities := map[string]int{}
	sizes := map[string]string{}
	for _, u := range updates {
		if u.Type == "" {
			return platformapi.InvalidParams("every formation update needs a type")
		}
		n, ok, err := u.quantity()
		if err != nil {
			return err
		}
		if ok {
			quantities[u.Type] = n
		}
		if s := u.size(); s != "" {
			sizes[u.Type] = s
		}
	}
	return changeFormation(ctx, a.p, app.Name, quantities, sizes)
}

// changeFormation scales and resizes process types of app, in that order,
// each one platform call: PATCH /apps/{app}/formation and the dashboard's
// scale form both change a formation this way. Quantities and sizes are
// checked first, so a bad one changes nothing. Errors are API errors.
func changeFormation(ctx context.Context, p *platform.Platform, app string, quantities map[string]int, sizes map[string]string) error {
	for _, t := range slices.Sorted(maps.Keys(quantities)) {
		if quantities[t] < 0 {
			return platformapi.InvalidParams("quantity of %s must not be negative", t)
		}
	}
	canonical := make(map[string]string, len(sizes))
	for _, t := range slices.Sorted(maps.Keys(sizes)) {
		ds, found := platform.LookupDynoSize(sizes[t])
		if !found {
			return platformapi.InvalidParams("unknown dyno size %q", sizes[t])
		}
		canonical[t] = ds.Name
	}
	if len(quantities) > 0 {
		if err := p.Scale(ctx, app, quantities); err != nil {
			return apiError(err)
		}
	}
	if len(canonical) > 0 {
		if err := p.Resize(ctx, app, canonical); err != nil {
			return apiError(err)
		}
	}
	return nil
}

// dashboardControl is what the dashboard changes apps with: the platform
// calls the API's handlers make, and where a handler does more than one
// call (a formation change; creating and destroying an app, which tears
// down its add-ons, pipeline coupling and drains; adding a domain, which
// starts its ACM certificate; turning ACM on or off; setting the
// buildpacks, with the API's validation; provisioning and destroying an
// add-on, which sets or unsets its config vars in a release; adding and
// removing a log drain, with the API's URL checks and limit), the API's
// own code, run on api's state.
type dashboardControl struct {
	*platform.Platform
	api *api
}

func (c dashboardControl) ChangeFormation(ctx context.Context, app string, quantities map[string]int, sizes map[string]string) error {
	return changeFormation(ctx, c.Platform, app, quantities, sizes)
}

func (c dashboardControl) CreateApp(ctx context.Context, name string) (platform.App, error) {
	return c.api.newApp(ctx, name)
}

func (c dashboardControl) RenameApp(ctx context.Context, name, to string) (platform.App, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return platform.App{}, err
	}
	return c.api.rename(ctx, app, to)
}

func (c dashboardControl) DestroyApp(ctx context.Context, name string) error {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return err
	}
	return c.api.destroy(ctx, app)
}

func (c dashboardControl) AddDomain(ctx context.Context, name, host string) error {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return err
	}
	_, err = c.api.addDomainTo(ctx, app, host)
	return err
}

func (c dashboardControl) RemoveDomain(ctx context.Context, name, host string) error {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return err
	}
	_, err = c.api.removeDomainFrom(ctx, app, host)
	return err
}

// ACM is the dashboard's ACM capability: the app's acm flag and its
// domains' acm_status as GET /apps/{app} and /apps/{app}/domains give them,
// or without ACME the API's 422 acm_not_available.
func (c dashboardControl) ACM(ctx context.Context, name string) (bool, map[string]dashboard.CertStatus, error) {
	if c.api.acm == nil {
		return false, nil, errNoACM()
	}
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return false, nil, err
	}
	if !c.api.acm.enabledFor(app.ID) {
		return false, nil, nil
	}
	domains, err := c.Platform.Domains(ctx, app.Name)
	if err != nil {
		return false, nil, err
	}
	certs := make(map[string]dashboard.CertStatus, len(domains))
	for _, host := range domains {
		var cs dashboard.CertStatus
		status, reason := c.api.acm.domainStatus(app, host)
		if status != nil {
			cs.Status = *status
		}
		if reason != nil {
			cs.Reason = *reason
		}
		certs[host] = cs
	}
	return true, certs, nil
}

// SetACM is heroku certs:auto:enable and :disable.
func (c dashboardControl) SetACM(ctx context.Context, name string, on bool) error {
	if c.api.acm == nil {
		return errNoACM() // before the app, as the API answers
	}
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return err
	}
	return c.api.setACM(ctx, app, on)
}

// RefreshACM is PATCH /apps/{app}/acm {"acm_refresh": true}
// (heroku certs:auto:refresh).
func (c dashboardControl) RefreshACM(ctx context.Context, name string) error {
	if c.api.acm == nil {
		return errNoACM()
	}
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return err
	}
	return c.api.refreshACMOf(app)
}

// ListBuildpacks is heroku buildpacks: the list, each by the name the CLI
// shows.
func (c dashboardControl) ListBuildpacks(ctx context.Context, name string) ([]dashboard.Buildpack, error) {
	list, err := c.Platform.Buildpacks(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]dashboard.Buildpack, 0, len(list))
	for _, b := range list {
		out = append(out, dashboard.Buildpack{URL: b.URL, Name: displayName(b.URL)})
	}
	return out, nil
}

// ReplaceBuildpacks is PUT /apps/{app}/buildpack-installations.
func (c dashboardControl) ReplaceBuildpacks(ctx context.Context, name string, refs []string) error {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return err
	}
	_, err = c.api.setBuildpacks(ctx, app, refs)
	return err
}

// ListAddons is heroku addons: the add-ons billed to or attached to the
// app, each with the attachments and config var names it has there.
func (c dashboardControl) ListAddons(ctx context.Context, name string) ([]dashboard.Addon, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return nil, err
	}
	views := c.api.addons.list(app.Name)
	out := make([]dashboard.Addon, 0, len(views))
	for _, v := range views {
		out = append(out, c.dashboardAddon(ctx, app.Name, v))
	}
	return out, nil
}

// dashboardAddon is v as the dashboard shows it on app's page: the API's
// state (an add-on not restored is provisioning) and app's attachments.
func (c dashboardControl) dashboardAddon(ctx context.Context, app string, v addonView) dashboard.Addon {
	j := c.api.addonToJSON(ctx, v)
	d := dashboard.Addon{Name: v.rec.Name, Plan: j.Plan.Name, State: j.State, App: v.rec.App}
	if v.live {
		for _, at := range v.addon.Attachments {
			if at.App == app {
				d.As = append(d.As, at.Name)
				d.ConfigVars = append(d.ConfigVars, at.ConfigNames...)
			}
		}
	}
	return d
}

// AddonPlans is GET /addon-services/{service}/plans of every service
// offered (by -postgres-url and -redis-url), each default plan first.
func (c dashboardControl) AddonPlans(ctx context.Context) ([]dashboard.AddonPlan, error) {
	var out []dashboard.AddonPlan
	for _, svc := range c.api.addons.m.Catalog.Services {
		for _, p := range svc.Plans {
			out = append(out, dashboard.AddonPlan{Name: svc.Name + ":" + p.Name, Service: svc.Name, Description: p.Description})
		}
	}
	return out, nil
}

// CreateAddon is POST /apps/{app}/addons (heroku addons:create plan).
func (c dashboardControl) CreateAddon(ctx context.Context, name, plan string) (dashboard.Addon, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return dashboard.Addon{}, err
	}
	rec, err := c.api.provisionAddon(ctx, app, addonCreate{Plan: plan})
	if err != nil {
		return dashboard.Addon{}, err
	}
	return c.dashboardAddon(ctx, app.Name, c.api.addons.view(rec)), nil
}

// DestroyAddon is DELETE /apps/{app}/addons/{addon} (heroku
// addons:destroy).
func (c dashboardControl) DestroyAddon(ctx context.Context, name, addon string) error {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return err
	}
	_, err = c.api.destroyAddonOf(ctx, app.Name, addon)
	return err
}

// ChangeAddonPlan is PATCH /apps/{app}/addons/{addon} (heroku
// addons:upgrade).
func (c dashboardControl) ChangeAddonPlan(ctx context.Context, name, addon, plan string) (dashboard.Addon, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return dashboard.Addon{}, err
	}
	rec, err := c.api.addons.changePlan(ctx, addon, plan)
	if err != nil {
		return dashboard.Addon{}, err
	}
	return c.dashboardAddon(ctx, app.Name, c.api.addons.view(rec)), nil
}

// AttachableAddons lists the add-ons of other apps that the app has no
// attachment of (what heroku addons:attach can attach).
func (c dashboardControl) AttachableAddons(ctx context.Context, name string) ([]dashboard.Addon, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []dashboard.Addon
	for _, v := range c.api.addons.list("") {
		if v.rec.App == app.Name || slices.ContainsFunc(v.rec.Shared, func(sh sharedAttachment) bool { return sh.App == app.Name }) {
			continue
		}
		out = append(out, c.dashboardAddon(ctx, app.Name, v))
	}
	return out, nil
}

// AttachAddon is POST /addon-attachments (heroku addons:attach).
func (c dashboardControl) AttachAddon(ctx context.Context, name, addon, as string) (dashboard.Addon, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return dashboard.Addon{}, err
	}
	if _, err := c.api.addons.attach(ctx, addon, app.Name, as, "", false); err != nil {
		return dashboard.Addon{}, err
	}
	return c.dashboardAddon(ctx, app.Name, c.api.addons.view(c.api.addons.record(addon))), nil
}

// DetachAddon is DELETE /addon-attachments/{id} (heroku addons:detach)
// for each of the app's attachments of the add-on.
func (c dashboardControl) DetachAddon(ctx context.Context, name, addon string) error {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return err
	}
	for _, sh := range c.api.addons.record(addon).Shared {
		if sh.App == app.Name {
			if err := c.api.addons.detach(ctx, addon, app.Name, sh.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListDrains is GET /apps/{app}/log-drains (heroku drains).
func (c dashboardControl) ListDrains(ctx context.Context, name string) ([]dashboard.Drain, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return nil, err
	}
	list := c.api.addons.drains.list(app.Name)
	out := make([]dashboard.Drain, 0, len(list))
	for _, i := range list {
		j := c.api.logDrainJSON(app, i)
		d := dashboard.Drain{URL: j.URL, Token: j.Token}
		if j.Addon != nil {
			d.Addon = j.Addon.Name
			if d.Addon == "" {
				d.Addon = "(being created or destroyed)"
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// AddDrain is POST /apps/{app}/log-drains (heroku drains:add).
func (c dashboardControl) AddDrain(ctx context.Context, name, rawURL string) (dashboard.Drain, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return dashboard.Drain{}, err
	}
	i, err := c.api.addDrain(ctx, app, rawURL)
	if err != nil {
		return dashboard.Drain{}, err
	}
	return dashboard.Drain{URL: i.URL, Token: i.Token}, nil
}

// RemoveDrain is DELETE /apps/{app}/log-drains/{token} (heroku
// drains:remove).
func (c dashboardControl) RemoveDrain(ctx context.Context, name, token string) error {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return err
	}
	_, err = c.api.removeDrain(ctx, app, token)
	return err
}

func (a *api) patchFormation(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		Updates []formationUpdate `json:"updates"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if len(body.Updates) == 0 {
		return platformapi.InvalidParams("updates is required: [{\"type\": \"web\", \"quantity\": 2}]")
	}
	if err := a.applyFormation(r.Context(), app, body.Updates); err != nil {
		return err
	}
	f, err := a.formation(r.Context(), app)
	if err != nil {
		return err
	}
	// Answer with the entries that were updated, as Heroku does.
	var out []formationJSON
	for _, e := range f {
		for _, u := range body.Updates {
			if u.Type == e.Type {
				out = append(out, e)
				break
			}
		}
	}
	if out == nil {
		out = []formationJSON{}
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) patchFormationType(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var u formationUpdate
	if err := platformapi.DecodeJSON(r, maxBody, &u); err != nil {
		return err
	}
	u.Type = r.PathValue("type")
	if err := a.applyFormation(r.Context(), app, []formationUpdate{u}); err != nil {
		return err
	}
	return a.getFormationType(w, r)
}

type dynoJSON struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	State     string  `json:"state"`
	Command   string  `json:"command"`
	Size      string  `json:"size"`
	AttachURL *string `json:"attach_url"`
	Release   struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	} `json:"release"`
	App       ref    `json:"app"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func dynoToJSON(app platform.App, d platform.Dyno) dynoJSON {
	j := dynoJSON{
		ID:        platform.DynoUUID(app.ID, d.ID),
		Name:      d.Name,
		Type:      d.Type,
		State:     string(d.State),
		Command:   d.Command,
		Size:      platform.SizeLabel(d.Size),
		App:       ref{ID: app.ID, Name: app.Name},
		CreatedAt: rfc3339(d.UpdatedAt),
		UpdatedAt: rfc3339(d.UpdatedAt),
	}
	j.Release.ID = releaseID(app, d.Release)
	j.Release.Version = d.Release
	return j
}

func (a *api) listDynos(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	dynos, err := a.p.Dynos(r.Context(), app.Name)
	if err != nil {
		return apiError(err)
	}
	out := make([]dynoJSON, 0, len(dynos))
	for _, d := range dynos {
		out = append(out, dynoToJSON(app, d))
	}
	return platformapi.Paginate(w, r, out,
		platformapi.Field[dynoJSON]{Name: "name", Key: func(j dynoJSON) string { return j.Name }},
		platformapi.Field[dynoJSON]{Name: "id", Key: func(j dynoJSON) string { return j.ID }},
	)
}

var configName = regexp.MustCompile(`^\w+$`)

// runDyno answers POST /apps/{app}/dynos (heroku run, run:detached).
func (a *api) runDyno(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		Command string `json:"command"`
		Attach  bool   `json:"attach"`
		// Values may be numbers (COLUMNS, LINES) or null (an unset TERM).
		Env        map[string]json.RawMessage `json:"env"`
		ForceNoTTY bool                       `json:"force_no_tty"` // heroku run --no-tty
		Size       string                     `json:"size"`         // heroku run --size
		Type       string                     `json:"type"`         // heroku run --type
		TimeToLive *int64                     `json:"time_to_live"` // seconds
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Command) == "" {
		return platformapi.InvalidParams("command is required")
	}
	if body.Type != "" && body.Type != "run" {
		return platformapi.InvalidParams("type %q: minipaas runs one-off dynos as type run only", body.Type)
	}
	var lim platform.OneOffLimits
	if ttl := body.TimeToLive; ttl != nil {
		if *ttl < 1 {
			return platformapi.InvalidParams("time_to_live must be at least 1 second")
		}
		lim.TTL = time.Duration(min(*ttl, math.MaxInt64/int64(time.Second))) * time.Second // too long: refused below
	}
	if lim.Size, err = platform.CheckOneOff(body.Size, lim.TTL); err != nil {
		return apiError(err)
	}
	if app.Release == 0 {
		return platformapi.InvalidParams("%s has no release yet: deploy it first", app.Name)
	}
	env := make([]string, 0, len(body.Env))
	var custom []string // not a terminal setting
	for k, raw := range body.Env {
		if !configName.MatchString(k) {
			return platformapi.InvalidParams("env name %q: letters, digits and underscores only", k)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return platformapi.InvalidParams("env %s: %v", k, err)
		}
		switch v := v.(type) {
		case nil:
			continue
		case string:
			env = append(env, k+"="+v)
		case float64:
			env = append(env, k+"="+strconv.FormatFloat(v, 'f', -1, 64))
		default:
			return platformapi.InvalidParams("env %s must be a string", k)
		}
		if k != "TERM" && k != "COLUMNS" && k != "LINES" {
			custom = append(custom, k)
		}
	}
	sort.Strings(env)
	now := rfc3339(time.Now())
	j := dynoJSON{
		ID:        platformapi.NewUUID(),
		Type:      "run",
		State:     "starting",
		Command:   body.Command,
		Size:      platform.SizeLabel(lim.Size),
		App:       ref{ID: app.ID, Name: app.Name},
		CreatedAt: now,
		UpdatedAt: now,
	}
	j.Release.ID = releaseID(app, app.Release)
	j.Release.Version = app.Release
	if body.Attach {
		// The dyno starts when the CLI attaches, under the name given here
		// (or a fresh one, should another dyno have taken it by then).
		j.Name = a.p.NewRunName(app.Name)
		secret, err := a.rv.add(app.Name, body.Command, j.Name, env, runTerminal(body.Env, body.ForceNoTTY), lim)
		if err != nil {
			return err
		}
		u := "rendezvous://" + a.runAddr + "/" + secret
		j.AttachURL = &u
	} else {
		// The terminal's settings mean nothing to a detached dyno.
		if len(custom) > 0 {
			return platformapi.InvalidParams("env is only supported with attach (heroku run), not for %s", strings.Join(custom, ", "))
		}
		name, err := a.p.RunDetached(r.Context(), app.Name, body.Command, lim)
		if err != nil {
			return apiError(err)
		}
		j.Name = name
	}
	platformapi.WriteJSON(w, http.StatusCreated, j)
	return nil
}

// runTerminal is the terminal an attached run gets: one of the CLI's size
// when the CLI runs on a terminal (it sends COLUMNS and LINES only then,
// and puts that terminal in raw mode, so the keystrokes it relays need a
// terminal's line discipline at the dyno), unless --no-tty. Heroku gives
// every attached run a terminal; without one here, input piped to the CLI
// is not echoed back into the output.
func runTerminal(env map[string]json.RawMessage, noTTY bool) *formation.Terminal {
	var cols, rows int
	if noTTY || json.Unmarshal(env["COLUMNS"], &cols) != nil || json.Unmarshal(env["LINES"], &rows) != nil {
		return nil
	}
	t := &formation.Terminal{Cols: cols, Rows: rows}
	if t.Validate() != nil {
		return &formation.Terminal{} // the default size
	}
	return t
}

// dynoAction answers the restart and stop endpoints with 202: act runs on
// the app's dynos named by the path value param, a dyno ("web.1") or a
// process type ("web"), or on all of them when param is "".
//
//	DELETE /apps/{app}/dynos                           ps:restart (every type)
//	DELETE /apps/{app}/dynos/{dyno}                    ps:restart web.1
//	DELETE /apps/{app}/formations/{type}               ps:restart -p web
//	POST /apps/{app}/dynos/{dyno}/actions/stop         ps:stop web.1
//	POST /apps/{app}/formations/{type}/actions/stop    ps:stop -p web
func (a *api) dynoAction(act func(ctx context.Context, app, name string) error, param string) platformapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		app, err := a.app(r)
		if err != nil {
			return err
		}
		name := ""
		if param != "" {
			name = r.PathValue(param)
		}
		if err := act(r.Context(), app.Name, name); err != nil {
			return apiError(err)
		}
		platformapi.WriteJSON(w, http.StatusAccepted, map[string]any{})
		return nil
	}
}

func (a *api) createLogSession(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		Lines  *int   `json:"lines"`
		Source string `json:"source"`
		Dyno   string `json:"dyno"`
		Tail   bool   `json:"tail"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	opt := logplex.SessionOptions{Source: body.Source, Dyno: body.Dyno, Tail: body.Tail}
	if body.Lines != nil {
		if *body.Lines < 0 {
			return platformapi.InvalidParams("lines must not be negative")
		}
		opt.Lines = *body.Lines
	}
	sess, err := a.p.CreateLogSession(r.Context(), app.Name, opt)
	if err != nil {
		if errors.Is(err, platform.ErrNotFound) {
			return apiError(err)
		}
		return platformapi.InvalidParams("%s", strings.TrimPrefix(err.Error(), "platform: "))
	}
	now := rfc3339(time.Now())
	platformapi.WriteJSON(w, http.StatusCreated, map[string]any{
		"id":          sess.ID,
		"logplex_url": sess.URL("http://" + r.Host + logSessionsPath),
		"created_at":  now,
		"updated_at":  now,
	})
	return nil
}

type domainJSON struct {
	ID        string  `json:"id"`
	Hostname  string  `json:"hostname"`
	Kind      string  `json:"kind"`
	CNAME     *string `json:"cname"`
	Status    string  `json:"status"`
	App       ref     `json:"app"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`

	// ACM status of a custom domain (tls.go); null when ACM is off.
	ACMStatus       *string `json:"acm_status"`
	ACMStatusReason *string `json:"acm_status_reason"`
	// SNIEndpoint is the uploaded certificate serving it (certs.go).
	SNIEndpoint *ref `json:"sni_endpoint"`
}

func domainToJSON(app platform.App, host, kind string) domainJSON {
	j := domainJSON{
		ID:        nameUUID("domain", app.ID, host),
		Hostname:  host,
		Kind:      kind,
		Status:    "succeeded",
		App:       ref{ID: app.ID, Name: app.Name},
		CreatedAt: rfc3339(app.CreatedAt),
		UpdatedAt: rfc3339(app.UpdatedAt),
	}
	if kind == "custom" {
		// Point the custom domain at the app's own host name.
		cname := app.Name + ".localhost"
		j.CNAME = &cname
	}
	return j
}

func (a *api) listDomains(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	domains, err := a.p.Domains(r.Context(), app.Name)
	if err != nil {
		return apiError(err)
	}
	out := []domainJSON{domainToJSON(app, app.Name+".localhost", "heroku")}
	for _, d := range domains {
		out = append(out, a.customDomainJSON(r.Context(), app, d))
	}
	return platformapi.Paginate(w, r, out,
		platformapi.Field[domainJSON]{Name: "hostname", Key: func(j domainJSON) string { return j.Hostname }},
		platformapi.Field[domainJSON]{Name: "id", Key: func(j domainJSON) string { return j.ID }},
	)
}

func (a *api) addDomain(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		Hostname    string  `json:"hostname"`
		SNIEndpoint *string `json:"sni_endpoint"` // domains:add's certificate choice
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	cert := ""
	if body.SNIEndpoint != nil {
		cert = *body.SNIEndpoint
	}
	if err := a.certs.checkAssociation(r.Context(), app, body.Hostname, cert); err != nil {
		return err
	}
	host, err := a.addDomainTo(r.Context(), app, body.Hostname)
	if err != nil {
		return err
	}
	if cert != "" {
		if err := a.certs.associate(r.Context(), app, host, cert); err != nil {
			return err
		}
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.customDomainJSON(r.Context(), app, host))
	return nil
}

// addDomainTo routes a custom domain to app and, with ACM on for it,
// starts its certificate: POST /apps/{app}/domains and the dashboard's
// domain form. It returns the host name as added (trimmed, lower case).
// Errors are API errors.
func (a *api) addDomainTo(ctx context.Context, app platform.App, hostname string) (string, error) {
	host := strings.ToLower(strings.TrimSpace(hostname))
	if host == "" {
		return "", platformapi.InvalidParams("hostname is required")
	}
	if err := a.p.AddDomain(ctx, app.Name, host); err != nil {
		if errors.Is(err, platform.ErrConflict) || errors.Is(err, platform.ErrNotFound) {
			return "", apiError(err)
		}
		return "", platformapi.InvalidParams("%s", strings.TrimPrefix(err.Error(), "platform: "))
	}
	a.acm.domainAdded(app, host)
	// Its uploaded certificate, if one covers it, serves from now on.
	if err := a.certs.domainsChanged(ctx, app, ""); err != nil {
		return host, err
	}
	return host, nil
}

// removeDomain answers DELETE /apps/{app}/domains/{domain} (domains:remove);
// {domain} is the hostname or the domain's id.
func (a *api) removeDomain(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	j, err := a.removeDomainFrom(r.Context(), app, r.PathValue("domain"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, j)
	return nil
}

// removeDomainFrom stops routing a custom domain of app, named by its host
// name or id: DELETE /apps/{app}/domains/{domain} and the dashboard's
// remove button. It returns the domain removed. Errors are API errors.
func (a *api) removeDomainFrom(ctx context.Context, app platform.App, hostOrID string) (domainJSON, error) {
	domains, err := a.p.Domains(ctx, app.Name)
	if err != nil {
		return domainJSON{}, apiError(err)
	}
	key := strings.ToLower(hostOrID)
	for _, d := range domains {
		j := domainToJSON(app, d, "custom")
		if d != key && j.ID != key {
			continue
		}
		if err := a.p.RemoveDomain(ctx, app.Name, d); err != nil {
			return domainJSON{}, apiError(err)
		}
		// Its certificate stops serving it at once.
		if err := a.certs.domainsChanged(ctx, app, d); err != nil {
			return domainJSON{}, err
		}
		return j, nil
	}
	if key == app.Name+".localhost" {
		return domainJSON{}, platformapi.InvalidParams("%s is the app's own domain and cannot be removed", key)
	}
	return domainJSON{}, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "domain %s not found on app %s", key, app.Name)
}
