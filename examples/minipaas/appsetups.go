package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/release"
)

// App setups (heroku.md §9.5 app-setup, §10): POST /app-setups creates an
// app from a source tarball and sets it up from the app.json at its root,
// as Heroku Button does: config vars (app.json's, with the request's
// overrides winning), add-ons and buildpacks before the build, then the
// formation and the postdeploy script after the first release. The setup
// answers at once (pending) and runs in the background; GET
// /app-setups/{id} follows it to succeeded or failed. A tarball without an
// app.json is set up as an empty one would be (a plain build).
//
// A failed setup keeps its app, with its build output and logs, to look
// into and then destroy, as a failed first push keeps it. Setups are kept
// in the data dir for 30 days; one interrupted by a stop of minipaas is
// failed at the next start.

const appSetupRetention = 30 * 24 * time.Hour

const interruptedSetup = "interrupted: minipaas stopped during the setup"

// maxPostdeployOutput bounds the postdeploy output kept in a setup's
// record; what is over it is cut, with a note.
const maxPostdeployOutput = 256 << 10

type appSetupRecord struct {
	ID             string          `json:"id"`
	AppID          string          `json:"app_id"`
	AppName        string          `json:"app_name"` // at creation; the current name is looked up by ID
	Status         string          `json:"status"`   // pending, succeeded, failed
	Failure        string          `json:"failure,omitempty"`
	ManifestErrors []string        `json:"manifest_errors,omitempty"`
	BuildID        string          `json:"build_id,omitempty"`
	Postdeploy     *appSetupScript `json:"postdeploy,omitempty"`
	SuccessURL     string          `json:"success_url,omitempty"` // app.json's, resolved when shown
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

type appSetupScript struct {
	Output   string `json:"output"`
	ExitCode int    `json:"exit_code"`
}

// appSetups runs and keeps the app setups.
type appSetups struct {
	p         *platform.Platform
	provision addonProvisioner
	log       *slog.Logger

	mu   sync.Mutex
	recs map[string]*appSetupRecord
}

// newAppSetups loads the kept setups: those over the retention are
// dropped, and those still pending were interrupted by a stop.
func newAppSetups(ctx context.Context, p *platform.Platform, provision addonProvisioner, log *slog.Logger) (*appSetups, error) {
	s := &appSetups{p: p, provision: provision, log: log, recs: map[string]*appSetupRecord{}}
	stored, err := p.Records(ctx, platform.AppSetupRecords)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	for key, v := range stored {
		var rec appSetupRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, fmt.Errorf("app setup %s: %w", key, err)
		}
		if now.Sub(rec.CreatedAt) > appSetupRetention {
			if err := p.DeleteRecord(ctx, platform.AppSetupRecords, key); err != nil {
				return nil, err
			}
			continue
		}
		if rec.Status == "pending" {
			rec.Status, rec.Failure, rec.UpdatedAt = "failed", interruptedSetup, now
			if err := s.store(ctx, &rec); err != nil {
				return nil, err
			}
		}
		s.recs[rec.ID] = &rec
	}
	return s, nil
}

func (s *appSetups) store(ctx context.Context, rec *appSetupRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.p.PutRecord(ctx, platform.AppSetupRecords, rec.ID, b)
}

// update changes a setup under the lock and stores it.
func (s *appSetups) update(ctx context.Context, id string, change func(*appSetupRecord)) {
	s.mu.Lock()
	defer s.mu.Unlock() // stores in order: a later change is never overwritten by an earlier one
	rec := s.recs[id]
	change(rec)
	rec.UpdatedAt = time.Now().UTC()
	// The end of a setup is stored even as the platform stops.
	if err := s.store(context.WithoutCancel(ctx), rec); err != nil {
		s.log.Error("storing an app setup", "setup", id, "err", err)
	}
}

func (a *api) appSetupRoutes(h func(string, platformapi.HandlerFunc)) {
	h("POST /app-setups", a.createAppSetup)
	h("GET /app-setups/{id}", a.getAppSetup)
}

type appSetupJSON struct {
	ID                 string          `json:"id"`
	App                ref             `json:"app"`
	Build              *appSetupBuild  `json:"build"`
	CreatedAt          string          `json:"created_at"`
	UpdatedAt          string          `json:"updated_at"`
	FailureMessage     *string         `json:"failure_message"`
	ManifestErrors     []string        `json:"manifest_errors"`
	Postdeploy         *appSetupScript `json:"postdeploy"`
	ResolvedSuccessURL *string         `json:"resolved_success_url"`
	Status             string          `json:"status"`
}

type appSetupBuild struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	OutputStreamURL string `json:"output_stream_url"`
}

func (a *api) createAppSetup(w http.ResponseWriter, r *http.Request) error {
	if a.setups == nil {
		return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "app setups are not enabled")
	}
	var body struct {
		SourceBlob *struct {
			URL      string  `json:"url"`
			Checksum *string `json:"checksum"`
			Version  *string `json:"version"`
		} `json:"source_blob"`
		App struct {
			Name         string          `json:"name"`
			Region       json.RawMessage `json:"region"`
			Stack        json.RawMessage `json:"stack"`
			Organization json.RawMessage `json:"organization"`
			Space        json.RawMessage `json:"space"`
		} `json:"app"`
		Overrides struct {
			Env        map[string]json.RawMessage `json:"env"`
			Buildpacks []struct {
				URL string `json:"url"`
			} `json:"buildpacks"`
		} `json:"overrides"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	// Everything that can be checked is, before the app is created.
	var src platform.BuildSource
	if b := body.SourceBlob; b != nil {
		src.URL = b.URL
		if b.Checksum != nil {
			src.Checksum = *b.Checksum
		}
		if b.Version != nil {
			src.Version = *b.Version
		}
	}
	src, err := src.Checked()
	if err != nil {
		return apiError(err)
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"app.organization", body.App.Organization}, {"app.space", body.App.Space}} {
		if len(f.raw) > 0 && string(f.raw) != "null" {
			return platformapi.InvalidParams("%s: minipaas has no teams or spaces; leave it out", f.name)
		}
	}
	if len(body.App.Stack) > 0 && string(body.App.Stack) != "null" {
		if err := checkStack("app.stack", body.App.Stack); err != nil {
			return err
		}
	}
	if len(body.App.Region) > 0 && string(body.App.Region) != "null" {
		if err := checkRegion("app.region", body.App.Region); err != nil {
			return err
		}
	}
	if body.App.Name != "" {
		if err := platform.ValidateAppName(body.App.Name); err != nil {
			return platformapi.InvalidParams("app.name: %s", strings.TrimPrefix(err.Error(), "platform: "))
		}
	}
	ov := manifestOverrides{Setup: true, Env: map[string]string{}}
	for _, name := range sortedKeys(body.Overrides.Env) {
		v, ok := jsonString(body.Overrides.Env[name])
		if !ok {
			return platformapi.InvalidParams("overrides.env.%s: want a string", name)
		}
		ov.Env[name] = v
	}
	// Names, values and their total size, by the release manager's rules.
	if err := (release.ConfigLimits{}).Validate(ov.Env); err != nil {
		return platformapi.InvalidParams("overrides.env: %s", strings.TrimPrefix(err.Error(), "release: "))
	}
	if body.Overrides.Buildpacks != nil {
		ov.Buildpacks = []manifestBuildpack{}
		for i, bp := range body.Overrides.Buildpacks {
			if _, ok := builtinBuildpackFor(bp.URL); !ok {
				return platformapi.InvalidParams("overrides.buildpacks[%d]: Buildpack %s is not available on minipaas, which builds only with its builtin buildpacks: %s (or the GitHub URLs of Heroku's classic ones).", i, displayName(bp.URL), builtinRegistryNames())
			}
			ov.Buildpacks = append(ov.Buildpacks, manifestBuildpack{URL: bp.URL})
		}
	}

	name := body.App.Name
	if name == "" {
		name = generatedAppName(r)
	}
	app, err := a.newApp(r.Context(), name)
	if err != nil {
		return err
	}
	rec, err := a.setups.start(r.Context(), app, src, ov)
	if err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.appSetupJSON(r, rec))
	return nil
}

// start records a setup of the new app and starts its build.
func (s *appSetups) start(ctx context.Context, app platform.App, src platform.BuildSource, ov manifestOverrides) (appSetupRecord, error) {
	now := time.Now().UTC()
	rec := &appSetupRecord{ID: platformapi.NewUUID(), AppID: app.ID, AppName: app.Name, Status: "pending", CreatedAt: now, UpdatedAt: now}
	// Stored even if the client goes away: the app exists now.
	if err := s.store(context.WithoutCancel(ctx), rec); err != nil {
		return appSetupRecord{}, err
	}
	s.mu.Lock()
	s.recs[rec.ID] = rec
	s.mu.Unlock()

	// The manifest read before the build is used again after it.
	var manifest *appManifest
	req := platform.BuildRequest{
		Source: src,
		Prepare: func(ctx context.Context, dir string, out io.Writer) ([]string, error) {
			b, err := os.ReadFile(filepath.Join(dir, "app.json"))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				b = []byte("{}")
			case err != nil:
				fmt.Fprintf(out, " !     Could not read app.json: %v\n", err)
				return nil, fmt.Errorf("read app.json: %w", err)
			}
			manifestError := func(err error) error {
				fmt.Fprintf(out, " !     %v\n", err)
				s.update(ctx, rec.ID, func(r *appSetupRecord) { r.ManifestErrors = append(r.ManifestErrors, err.Error()) })
				return err
			}
			manifest, err = parseAppManifest(b)
			if err != nil {
				return nil, manifestError(err)
			}
			if u := manifest.SuccessURL; u != "" {
				if !validSuccessURL(u) {
					return nil, manifestError(fmt.Errorf("app.json: success_url: %q is neither an http(s) URL nor a path starting with /", u))
				}
				s.update(ctx, rec.ID, func(r *appSetupRecord) { r.SuccessURL = u })
			}
			// The app may have been renamed meanwhile.
			cur, err := s.p.AppByID(ctx, app.ID)
			if err != nil {
				fmt.Fprintf(out, " !     %s\n", strings.TrimPrefix(err.Error(), "platform: "))
				return nil, err
			}
			names, err := prepareApp(ctx, s.p, s.provision, cur.Name, manifest, ov, out)
			if missing := (*missingEnvError)(nil); errors.As(err, &missing) {
				// As Heroku words them, one per var.
				s.update(ctx, rec.ID, func(r *appSetupRecord) {
					for _, n := range missing.Names {
						r.ManifestErrors = append(r.ManifestErrors, fmt.Sprintf("config var %s is required", n))
					}
				})
			}
			return names, err
		},
		Done: func(ctx context.Context, b platform.Build, rel release.Release, err error) {
			s.finish(ctx, rec.ID, app.ID, manifest, b, rel, err)
		},
	}
	b, err := s.p.CreateBuild(ctx, app.Name, req)
	if err != nil {
		s.update(ctx, rec.ID, func(r *appSetupRecord) { r.Status, r.Failure = "failed", strings.TrimPrefix(err.Error(), "platform: ") })
	} else {
		s.update(ctx, rec.ID, func(r *appSetupRecord) {
			if r.BuildID == "" {
				r.BuildID = b.ID
			}
		})
	}
	cur, _ := s.get(rec.ID)
	return cur, nil
}

// get returns a copy of the setup id.
func (s *appSetups) get(id string) (appSetupRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.recs[id]
	if !ok {
		return appSetupRecord{}, false
	}
	return *rec, true
}

// finish completes a setup once its build has ended: after a release,
// the formation and the postdeploy script.
func (s *appSetups) finish(ctx context.Context, id, appID string, manifest *appManifest, b platform.Build, rel release.Release, buildErr error) {
	s.update(ctx, id, func(r *appSetupRecord) { r.BuildID = b.ID })
	if s.stopping(ctx) { // the build, its release phase or the dynos were cut
		s.update(ctx, id, func(r *appSetupRecord) { r.Status, r.Failure = "failed", interruptedSetup })
		return
	}
	if buildErr != nil || rel.Version == 0 {
		msg := "the build failed"
		if buildErr != nil {
			msg += ": " + strings.TrimPrefix(buildErr.Error(), "platform: ")
		}
		s.update(ctx, id, func(r *appSetupRecord) { r.Status, r.Failure = "failed", msg })
		return
	}
	app, err := s.p.AppByID(ctx, appID)
	if err != nil { // destroyed while it was being built
		s.update(ctx, id, func(r *appSetupRecord) { r.Status, r.Failure = "failed", "the app was destroyed during the setup" })
		return
	}
	var notes bytes.Buffer
	script := &cappedBuffer{max: maxPostdeployOutput}
	res := finishApp(ctx, s.p, app.Name, rel, manifest, &notes, script)
	stopping := s.stopping(ctx)
	if notes.Len() > 0 {
		s.log.Info("app setup", "app", app.Name, "setup", id, "notes", strings.TrimSpace(notes.String()))
	}
	s.update(ctx, id, func(r *appSetupRecord) {
		r.Status = "succeeded"
		if !res.Ran {
			return
		}
		r.Postdeploy = &appSetupScript{Output: script.String(), ExitCode: res.ExitCode}
		switch {
		case (res.Err != nil || res.ExitCode != 0) && stopping:
			r.Status, r.Failure = "failed", interruptedSetup
			r.Postdeploy.ExitCode = -1
		case res.Err != nil:
			r.Status, r.Failure = "failed", "the postdeploy script could not run: "+strings.TrimPrefix(res.Err.Error(), "platform: ")
			r.Postdeploy.ExitCode = -1
		case res.ExitCode != 0:
			r.Status, r.Failure = "failed", fmt.Sprintf("the postdeploy script exited with status %d", res.ExitCode)
		}
	})
}

// stopping reports whether the platform is stopping, so that what failed
// may have been cut by the stop.
func (s *appSetups) stopping(ctx context.Context) bool {
	select {
	case <-s.p.Stopping():
		return true
	default:
		return ctx.Err() != nil
	}
}

// validSuccessURL reports whether app.json's success_url is an http(s)
// URL or a path.
func validSuccessURL(s string) bool {
	if strings.HasPrefix(s, "/") {
		return !strings.HasPrefix(s, "//") // a path, not another host
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// resolveSuccessURL is app.json's success_url made absolute: a path is
// relative to the app's URL.
func resolveSuccessURL(successURL, webURL string) string {
	if strings.HasPrefix(successURL, "/") {
		return strings.TrimSuffix(webURL, "/") + successURL
	}
	return successURL
}

func (a *api) getAppSetup(w http.ResponseWriter, r *http.Request) error {
	if a.setups == nil {
		return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "app setups are not enabled")
	}
	rec, ok := a.setups.get(r.PathValue("id"))
	if !ok {
		return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "Couldn't find that app setup.")
	}
	platformapi.WriteJSON(w, http.StatusOK, a.appSetupJSON(r, rec))
	return nil
}

func (a *api) appSetupJSON(r *http.Request, rec appSetupRecord) appSetupJSON {
	j := appSetupJSON{
		ID: rec.ID, App: ref{ID: rec.AppID, Name: rec.AppName},
		CreatedAt: rfc3339(rec.CreatedAt), UpdatedAt: rfc3339(rec.UpdatedAt),
		FailureMessage: orNil(rec.Failure), ManifestErrors: rec.ManifestErrors,
		Postdeploy: rec.Postdeploy, Status: rec.Status,
	}
	if j.ManifestErrors == nil {
		j.ManifestErrors = []string{}
	}
	app, err := a.p.AppByID(r.Context(), rec.AppID)
	if err != nil {
		return j // destroyed: the build went with it
	}
	j.App.Name = app.Name
	if rec.SuccessURL != "" { // made absolute now: the app may have been renamed
		u := resolveSuccessURL(rec.SuccessURL, a.webURL(app))
		j.ResolvedSuccessURL = &u
	}
	if rec.BuildID != "" {
		if b, err := a.p.Build(r.Context(), app.Name, rec.BuildID); err == nil {
			j.Build = &appSetupBuild{ID: b.ID, Status: string(b.Status), OutputStreamURL: buildToJSON("http://"+r.Host, app, b).OutputStreamURL}
		}
	}
	return j
}

// cappedBuffer keeps the first max bytes written to it. A dyno's stdout
// and stderr may be copied to it by two goroutines.
type cappedBuffer struct {
	max int
	mu  sync.Mutex
	buf bytes.Buffer
	cut bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room < len(p) {
		c.buf.Write(p[:max(room, 0)])
		c.cut = true
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return c.buf.String() + fmt.Sprintf("\n[output cut at %d bytes]\n", c.max)
	}
	return c.buf.String()
}
