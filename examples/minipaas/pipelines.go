package main

// Pipelines: named groups of apps in stages (development, staging,
// production, …) and promotion, which releases the source app's current
// slug on the target apps without a build, each with its own config vars
// (heroku.md §4.5). The API is the part `heroku pipelines:create`,
// `pipelines:add`, `pipelines:info` and `pipelines:promote` use.
//
// A pipeline and its couplings are one record in platform.db, keyed by the
// pipeline's ID. Couplings name apps by ID: a destroyed app's coupling is
// dropped by destroyApp, and one left behind by a crash is skipped when
// listed (an app ID is never reused). Promotions run in the background
// after the POST answers (pending), as Heroku's do, so the CLI can follow
// the target's release phase; they are kept in memory only (the latest
// maxPromotions), which is all the CLI reads back.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/release"
)

// pipelineStages are Heroku's stages, in promotion order after test and
// review.
var pipelineStages = []string{"test", "review", "development", "staging", "production"}

// pipelineName is Heroku's rule for pipeline names.
var pipelineName = regexp.MustCompile(`^[a-z][a-z0-9-]{2,29}$`)

const maxPromotions = 100

type pipelineRecord struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
	Couplings []couplingRecord `json:"couplings"`
}

type couplingRecord struct {
	ID        string    `json:"id"`
	AppID     string    `json:"app_id"`
	Stage     string    `json:"stage"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type promotion struct {
	ID            string
	PipelineID    string
	SourceAppID   string
	SourceRelease string // release id
	Status        string // pending, then completed
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Targets       []promotionTarget
}

type promotionTarget struct {
	ID        string
	AppID     string
	Status    string // pending, then succeeded or failed
	Error     string
	ReleaseID string // set once the release exists (its phase may run)
}

// pipelines holds the records in memory, written through to platform.db.
type pipelines struct {
	p *platform.Platform

	mu         sync.Mutex
	byID       map[string]pipelineRecord // nil until lock reads the records
	promotions []*promotion              // oldest first; changed under mu
}

// lock takes s.mu, reading the records on first use (so a bad record
// fails the pipeline requests, not the platform's start).
func (s *pipelines) lock(ctx context.Context) error {
	s.mu.Lock()
	if s.byID != nil {
		return nil
	}
	raw, err := s.p.Records(ctx, platform.PipelineRecords)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	byID := map[string]pipelineRecord{}
	for id, b := range raw {
		var rec pipelineRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("pipelines: record %s: %w", id, err)
		}
		byID[id] = rec
	}
	s.byID = byID
	return nil
}

// save stores rec and makes it the in-memory copy; s.mu must be held.
func (s *pipelines) save(ctx context.Context, rec pipelineRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.p.PutRecord(ctx, platform.PipelineRecords, rec.ID, b); err != nil {
		return err
	}
	s.byID[rec.ID] = rec
	return nil
}

// find resolves a pipeline by id or name; s.mu must be held.
func (s *pipelines) find(idOrName string) (pipelineRecord, error) {
	if rec, ok := s.byID[idOrName]; ok {
		return rec, nil
	}
	for _, rec := range s.byID {
		if rec.Name == idOrName {
			return rec, nil
		}
	}
	return pipelineRecord{}, platformapi.NotFound("pipeline", idOrName)
}

// couplingOf finds app's coupling; s.mu must be held.
func (s *pipelines) couplingOf(appID string) (pipelineRecord, couplingRecord, bool) {
	for _, rec := range s.byID {
		for _, c := range rec.Couplings {
			if c.AppID == appID {
				return rec, c, true
			}
		}
	}
	return pipelineRecord{}, couplingRecord{}, false
}

// couplingByID finds a coupling by its id; s.mu must be held.
func (s *pipelines) couplingByID(id string) (pipelineRecord, couplingRecord, error) {
	for _, rec := range s.byID {
		for _, c := range rec.Couplings {
			if c.ID == id {
				return rec, c, nil
			}
		}
	}
	return pipelineRecord{}, couplingRecord{}, platformapi.NotFound("pipeline coupling", id)
}

// removeApp drops app's coupling (the app is being destroyed).
func (s *pipelines) removeApp(ctx context.Context, appID string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	rec, c, ok := s.couplingOf(appID)
	if !ok {
		return nil
	}
	rec.Couplings = slices.DeleteFunc(slices.Clone(rec.Couplings), func(x couplingRecord) bool { return x.ID == c.ID })
	return s.save(ctx, rec)
}

// --- HTTP ---

func (a *api) pipelineRoutes(h func(string, platformapi.HandlerFunc)) {
	h("POST /pipelines", a.createPipeline)
	h("GET /pipelines", a.listPipelines)
	h("GET /pipelines/{pipeline}", a.getPipeline)
	h("DELETE /pipelines/{pipeline}", a.destroyPipeline)
	h("GET /pipelines/{pipeline}/pipeline-couplings", a.pipelineCouplings)
	h("POST /pipeline-couplings", a.createCoupling)
	h("GET /pipeline-couplings", a.listCouplings)
	h("GET /pipeline-couplings/{coupling}", a.getCoupling)
	h("PATCH /pipeline-couplings/{coupling}", a.patchCoupling)
	h("DELETE /pipeline-couplings/{coupling}", a.destroyCoupling)
	h("GET /apps/{app}/pipeline-couplings", a.appCoupling)
	h("POST /pipeline-promotions", a.createPromotion)
	h("GET /pipeline-promotions/{promotion}", a.getPromotion)
	h("GET /pipeline-promotions/{promotion}/promotion-targets", a.promotionTargets)
	// pipelines:info and pipelines:promote read the apps of a pipeline
	// through the filter endpoint.
	h("POST /filters/apps", a.filterApps)
}

type pipelineJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Owner struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"owner"`
	Generation ref    `json:"generation"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
}

func pipelineToJSON(rec pipelineRecord) pipelineJSON {
	j := pipelineJSON{
		ID: rec.ID, Name: rec.Name,
		Generation: ref{ID: nameUUID("generation", "cedar"), Name: "cedar"},
		CreatedAt:  rfc3339(rec.CreatedAt), UpdatedAt: rfc3339(rec.UpdatedAt),
	}
	j.Owner.ID, j.Owner.Type = accountID, "user"
	return j
}

type couplingJSON struct {
	ID       string `json:"id"`
	App      ref    `json:"app"`
	Pipeline ref    `json:"pipeline"`
	Stage    string `json:"stage"`
	// Created and updated as the CLI's pipelines:info sorts by them.
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// appByID finds a live app by ID.
func (a *api) appByID(ctx context.Context, id string) (platform.App, bool) {
	apps, err := a.p.Apps(ctx)
	if err != nil {
		return platform.App{}, false
	}
	for _, app := range apps {
		if app.ID == id {
			return app, true
		}
	}
	return platform.App{}, false
}

// couplingToJSON answers false for a coupling whose app is gone.
func (a *api) couplingToJSON(ctx context.Context, rec pipelineRecord, c couplingRecord) (couplingJSON, bool) {
	app, ok := a.appByID(ctx, c.AppID)
	if !ok {
		return couplingJSON{}, false
	}
	return couplingJSON{
		ID: c.ID, App: ref{ID: app.ID, Name: app.Name}, Pipeline: ref{ID: rec.ID, Name: rec.Name},
		Stage: c.Stage, CreatedAt: rfc3339(c.CreatedAt), UpdatedAt: rfc3339(c.UpdatedAt),
	}, true
}

func (a *api) couplingsJSON(ctx context.Context, recs ...pipelineRecord) []couplingJSON {
	out := []couplingJSON{}
	for _, rec := range recs {
		for _, c := range rec.Couplings {
			if j, ok := a.couplingToJSON(ctx, rec, c); ok {
				out = append(out, j)
			}
		}
	}
	return out
}

func (a *api) createPipeline(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name  string `json:"name"`
		Owner *struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"owner"`
		Generation *struct {
			Name string `json:"name"`
		} `json:"generation"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if !pipelineName.MatchString(body.Name) {
		return platformapi.InvalidParams("Name %q must start with a letter and have 3 to 30 lowercase letters, digits and dashes", truncate(body.Name, 100))
	}
	if body.Owner != nil && body.Owner.Type == "team" {
		return platformapi.InvalidParams("minipaas has no teams; leave out --team")
	}
	if body.Generation != nil && body.Generation.Name != "" && body.Generation.Name != "cedar" {
		return platformapi.InvalidParams("generation %q: minipaas apps are cedar", truncate(body.Generation.Name, 50))
	}
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, err := s.find(body.Name); err == nil {
		// Heroku allows duplicates and makes the CLI ask which one is
		// meant; one name per pipeline keeps every command scriptable.
		return platformapi.InvalidParams("Name %s is already taken", body.Name)
	}
	now := time.Now().UTC()
	rec := pipelineRecord{ID: platformapi.NewUUID(), Name: body.Name, CreatedAt: now, UpdatedAt: now}
	if err := s.save(r.Context(), rec); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, pipelineToJSON(rec))
	return nil
}

func (a *api) listPipelines(w http.ResponseWriter, r *http.Request) error {
	// The CLI looks a name up with ?eq[name]=<name>.
	name := r.URL.Query().Get("eq[name]")
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	out := []pipelineJSON{}
	for _, rec := range s.byID {
		if name == "" || rec.Name == name {
			out = append(out, pipelineToJSON(rec))
		}
	}
	s.mu.Unlock()
	return platformapi.Paginate(w, r, out,
		platformapi.Field[pipelineJSON]{Name: "name", Key: func(j pipelineJSON) string { return j.Name }},
		platformapi.Field[pipelineJSON]{Name: "id", Key: func(j pipelineJSON) string { return j.ID }},
	)
}

func (a *api) getPipeline(w http.ResponseWriter, r *http.Request) error {
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	rec, err := s.find(r.PathValue("pipeline"))
	s.mu.Unlock()
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, pipelineToJSON(rec))
	return nil
}

// destroyPipeline removes the pipeline and its couplings; the apps stay.
func (a *api) destroyPipeline(w http.ResponseWriter, r *http.Request) error {
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	defer s.mu.Unlock()
	rec, err := s.find(r.PathValue("pipeline"))
	if err != nil {
		return err
	}
	if err := s.p.DeleteRecord(r.Context(), platform.PipelineRecords, rec.ID); err != nil {
		return err
	}
	delete(s.byID, rec.ID)
	platformapi.WriteJSON(w, http.StatusOK, pipelineToJSON(rec))
	return nil
}

func (a *api) pipelineCouplings(w http.ResponseWriter, r *http.Request) error {
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	rec, err := s.find(r.PathValue("pipeline"))
	s.mu.Unlock()
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.couplingsJSON(r.Context(), rec))
	return nil
}

func (a *api) listCouplings(w http.ResponseWriter, r *http.Request) error {
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	recs := make([]pipelineRecord, 0, len(s.byID))
	for _, rec := range s.byID {
		recs = append(recs, rec)
	}
	s.mu.Unlock()
	slices.SortFunc(recs, func(x, y pipelineRecord) int { return strings.Compare(x.Name, y.Name) })
	platformapi.WriteJSON(w, http.StatusOK, a.couplingsJSON(r.Context(), recs...))
	return nil
}

func validStage(stage string) error {
	if !slices.Contains(pipelineStages, stage) {
		return platformapi.InvalidParams("stage %q: want one of %s", truncate(stage, 50), strings.Join(pipelineStages, ", "))
	}
	return nil
}

// createCoupling adds an app (by name or id) to a pipeline at a stage. An
// app is in at most one pipeline.
func (a *api) createCoupling(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		App      string `json:"app"`
		Pipeline string `json:"pipeline"`
		Stage    string `json:"stage"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if err := validStage(body.Stage); err != nil {
		return err
	}
	app, err := a.appByNameOrID(r.Context(), body.App)
	if err != nil {
		return err
	}
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	defer s.mu.Unlock()
	rec, err := s.find(body.Pipeline)
	if err != nil {
		return err
	}
	if other, _, ok := s.couplingOf(app.ID); ok {
		return platformapi.InvalidParams("%s is already in pipeline %s", app.Name, other.Name)
	}
	now := time.Now().UTC()
	c := couplingRecord{ID: platformapi.NewUUID(), AppID: app.ID, Stage: body.Stage, CreatedAt: now, UpdatedAt: now}
	rec.Couplings = append(slices.Clone(rec.Couplings), c)
	rec.UpdatedAt = now
	if err := s.save(r.Context(), rec); err != nil {
		return err
	}
	j, _ := a.couplingToJSON(r.Context(), rec, c)
	platformapi.WriteJSON(w, http.StatusCreated, j)
	return nil
}

func (a *api) getCoupling(w http.ResponseWriter, r *http.Request) error {
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	rec, c, err := s.couplingByID(r.PathValue("coupling"))
	s.mu.Unlock()
	if err != nil {
		return err
	}
	j, ok := a.couplingToJSON(r.Context(), rec, c)
	if !ok {
		return platformapi.NotFound("pipeline coupling", c.ID)
	}
	platformapi.WriteJSON(w, http.StatusOK, j)
	return nil
}

// patchCoupling moves the app to another stage (pipelines:update).
func (a *api) patchCoupling(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Stage string `json:"stage"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if err := validStage(body.Stage); err != nil {
		return err
	}
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	defer s.mu.Unlock()
	rec, c, err := s.couplingByID(r.PathValue("coupling"))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	c.Stage, c.UpdatedAt = body.Stage, now
	rec.Couplings = slices.Clone(rec.Couplings)
	for i := range rec.Couplings {
		if rec.Couplings[i].ID == c.ID {
			rec.Couplings[i] = c
		}
	}
	if err := s.save(r.Context(), rec); err != nil {
		return err
	}
	j, _ := a.couplingToJSON(r.Context(), rec, c)
	platformapi.WriteJSON(w, http.StatusOK, j)
	return nil
}

// destroyCoupling removes the app from its pipeline (pipelines:remove).
func (a *api) destroyCoupling(w http.ResponseWriter, r *http.Request) error {
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	defer s.mu.Unlock()
	rec, c, err := s.couplingByID(r.PathValue("coupling"))
	if err != nil {
		return err
	}
	j, _ := a.couplingToJSON(r.Context(), rec, c)
	rec.Couplings = slices.DeleteFunc(slices.Clone(rec.Couplings), func(x couplingRecord) bool { return x.ID == c.ID })
	if err := s.save(r.Context(), rec); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, j)
	return nil
}

// appCoupling answers the app's one coupling, 404 when it is in no
// pipeline.
func (a *api) appCoupling(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	rec, c, ok := s.couplingOf(app.ID)
	s.mu.Unlock()
	if !ok {
		return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "%s is not in a pipeline", app.Name)
	}
	j, _ := a.couplingToJSON(r.Context(), rec, c)
	platformapi.WriteJSON(w, http.StatusOK, j)
	return nil
}

// filterApps answers POST /filters/apps {"in": {"id": [...]}}: the apps
// with those ids (unknown ones are left out).
func (a *api) filterApps(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		In struct {
			ID []string `json:"id"`
		} `json:"in"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	apps, err := a.p.Apps(r.Context())
	if err != nil {
		return apiError(err)
	}
	out := []appJSON{}
	for _, app := range apps {
		if slices.Contains(body.In.ID, app.ID) {
			out = append(out, a.appJSON(r, app))
		}
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

type promotionJSON struct {
	ID       string `json:"id"`
	Pipeline ref    `json:"pipeline"`
	Source   struct {
		App     ref `json:"app"`
		Release struct {
			ID string `json:"id"`
		} `json:"release"`
	} `json:"source"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type promotionTargetJSON struct {
	ID                string  `json:"id"`
	App               ref     `json:"app"`
	Status            string  `json:"status"`
	ErrorMessage      *string `json:"error_message"`
	PipelinePromotion struct {
		ID string `json:"id"`
	} `json:"pipeline_promotion"`
	Release *struct {
		ID string `json:"id"`
	} `json:"release"`
}

func (a *api) promotionToJSON(ctx context.Context, pr promotion) promotionJSON {
	j := promotionJSON{ID: pr.ID, Status: pr.Status, CreatedAt: rfc3339(pr.CreatedAt), UpdatedAt: rfc3339(pr.UpdatedAt)}
	j.Pipeline.ID = pr.PipelineID
	j.Source.App.ID = pr.SourceAppID
	if app, ok := a.appByID(ctx, pr.SourceAppID); ok {
		j.Source.App.Name = app.Name
	}
	j.Source.Release.ID = pr.SourceRelease
	return j
}

// createPromotion answers a pending promotion at once, then releases the
// source app's current slug on every target app, in order, in the
// background: a target gets its release as soon as it exists, so a client
// can follow its release phase (heroku pipelines:promote streams it), and
// the promotion completes when every target has succeeded or failed. A
// target that fails is reported with its error and leaves that app as it
// was.
func (a *api) createPromotion(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Pipeline struct {
			ID string `json:"id"`
		} `json:"pipeline"`
		Source struct {
			App struct {
				ID string `json:"id"`
			} `json:"app"`
		} `json:"source"`
		Targets []struct {
			App struct {
				ID string `json:"id"`
			} `json:"app"`
		} `json:"targets"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if len(body.Targets) == 0 {
		return platformapi.InvalidParams("targets is required: the apps to promote to")
	}
	ctx := r.Context()
	s := a.pipelines
	if err := s.lock(r.Context()); err != nil {
		return err
	}
	rec, err := s.find(body.Pipeline.ID)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	inPipeline := func(idOrName string) (platform.App, error) {
		app, err := a.appByNameOrID(ctx, idOrName)
		if err != nil {
			return app, err
		}
		if !slices.ContainsFunc(rec.Couplings, func(c couplingRecord) bool { return c.AppID == app.ID }) {
			return app, platformapi.InvalidParams("%s is not in pipeline %s", app.Name, rec.Name)
		}
		return app, nil
	}
	src, err := inPipeline(body.Source.App.ID)
	if err != nil {
		return err
	}
	if src.Release == 0 {
		return platformapi.InvalidParams("%s has no release to promote: deploy it first", src.Name)
	}
	targets := make([]platform.App, 0, len(body.Targets))
	for _, t := range body.Targets {
		app, err := inPipeline(t.App.ID)
		if err != nil {
			return err
		}
		if app.ID == src.ID {
			return platformapi.InvalidParams("cannot promote %s to itself", app.Name)
		}
		targets = append(targets, app)
	}
	now := time.Now().UTC()
	pr := &promotion{
		ID: platformapi.NewUUID(), PipelineID: rec.ID, SourceAppID: src.ID,
		SourceRelease: releaseID(src, src.Release), Status: "pending", CreatedAt: now, UpdatedAt: now,
	}
	for _, t := range targets {
		pr.Targets = append(pr.Targets, promotionTarget{ID: platformapi.NewUUID(), AppID: t.ID, Status: "pending"})
	}
	s.mu.Lock()
	s.promotions = append(s.promotions, pr)
	if n := len(s.promotions); n > maxPromotions {
		s.promotions = slices.Delete(s.promotions, 0, n-maxPromotions)
	}
	created := pr.clone()
	s.mu.Unlock()
	a.p.Go(func(ctx context.Context) { a.runPromotion(platform.WithUser(ctx, accountEmail), pr, src, targets) })
	platformapi.WriteJSON(w, http.StatusCreated, a.promotionToJSON(r.Context(), created))
	return nil
}

// runPromotion promotes src's release to each target in turn, recording
// each target's release and outcome in pr (under the pipelines' lock).
func (a *api) runPromotion(ctx context.Context, pr *promotion, src platform.App, targets []platform.App) {
	s := a.pipelines
	update := func(i int, change func(*promotionTarget)) {
		s.mu.Lock()
		change(&pr.Targets[i])
		pr.UpdatedAt = time.Now().UTC()
		s.mu.Unlock()
	}
	for i, t := range targets {
		started := func(rel release.Release) {
			update(i, func(pt *promotionTarget) { pt.ReleaseID = releaseID(t, rel.Version) })
		}
		rel, err := a.p.Promote(platform.WithPhaseStarted(ctx, started), src.Name, src.Release, t.Name)
		update(i, func(pt *promotionTarget) {
			if err != nil {
				pt.Status, pt.Error = "failed", strings.TrimPrefix(err.Error(), "platform: ")
				if errors.Is(err, context.Canceled) {
					pt.Error = "minipaas stopped"
				}
				return
			}
			pt.Status, pt.ReleaseID = "succeeded", releaseID(t, rel.Version)
		})
	}
	s.mu.Lock()
	pr.Status, pr.UpdatedAt = "completed", time.Now().UTC()
	s.mu.Unlock()
}

func (pr *promotion) clone() promotion {
	c := *pr
	c.Targets = slices.Clone(pr.Targets)
	return c
}

func (a *api) findPromotion(id string) (promotion, error) {
	s := a.pipelines
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pr := range s.promotions {
		if pr.ID == id {
			return pr.clone(), nil
		}
	}
	return promotion{}, platformapi.NotFound("pipeline promotion", id)
}

func (a *api) getPromotion(w http.ResponseWriter, r *http.Request) error {
	pr, err := a.findPromotion(r.PathValue("promotion"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.promotionToJSON(r.Context(), pr))
	return nil
}

func (a *api) promotionTargets(w http.ResponseWriter, r *http.Request) error {
	pr, err := a.findPromotion(r.PathValue("promotion"))
	if err != nil {
		return err
	}
	out := make([]promotionTargetJSON, 0, len(pr.Targets))
	for _, t := range pr.Targets {
		j := promotionTargetJSON{ID: t.ID, Status: t.Status}
		j.App.ID = t.AppID
		if app, ok := a.appByID(r.Context(), t.AppID); ok {
			j.App.Name = app.Name
		}
		j.PipelinePromotion.ID = pr.ID
		if t.Error != "" {
			msg := t.Error
			j.ErrorMessage = &msg
		}
		if t.ReleaseID != "" {
			j.Release = &struct {
				ID string `json:"id"`
			}{t.ReleaseID}
		}
		out = append(out, j)
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
