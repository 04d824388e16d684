package platform

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/buildpack/builtin"
	"github.com/dynokit/dynokit/internal/copytree"
	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/slug"
)

// Every deploy is a build, as on Heroku: a git push (Deploy) and a source
// tarball fetched by URL (CreateBuild, the Platform API's POST
// /apps/{app}/builds) both leave a Build record and its output, which can
// be followed while the build runs (BuildOutput) and read again later. A
// build that was running when the platform stopped is failed when it
// opens again.

// BuildStatus is a build's state, named as the Platform API names it.
type BuildStatus string

// The build states.
const (
	BuildPending   BuildStatus = "pending"
	BuildSucceeded BuildStatus = "succeeded" // a slug was made
	BuildFailed    BuildStatus = "failed"
)

// BuildSource is where a build's source came from.
type BuildSource struct {
	// URL is the gzipped source tarball a build by API fetched (http or
	// https); empty for a git push.
	URL string `json:"url,omitempty"`
	// Checksum, when set, is the "SHA256:<hex>" the tarball had to have.
	Checksum string `json:"checksum,omitempty"`
	// Version is the commit of a git push, or the version the caller gave;
	// it names the release ("Deploy 1a2b3c4") and is the build's
	// SOURCE_VERSION.
	Version            string `json:"version,omitempty"`
	VersionDescription string `json:"version_description,omitempty"`
}

// Build is one build of an app.
type Build struct {
	ID     string      `json:"id"`
	AppID  string      `json:"app_id"`
	Status BuildStatus `json:"status"`
	Source BuildSource `json:"source"`
	// Buildpacks are the builtin buildpacks the build asked for (nil: the
	// app's list, else detection).
	Buildpacks []string  `json:"buildpacks,omitempty"`
	User       string    `json:"user"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Slug is the ID of the slug it made; Release the version of the
	// release made from it (0: none, e.g. the release phase failed).
	Slug    string `json:"slug,omitempty"`
	Release int    `json:"release,omitempty"`
	// Failure says why a failed build failed, in one line.
	Failure string `json:"failure,omitempty"`
	// OutputToken is the secret that lets a client without the API token
	// read the output (the Platform API's output_stream_url).
	OutputToken string `json:"output_token"`
}

// BuildRequest is a build of a source tarball fetched by URL.
type BuildRequest struct {
	Source BuildSource
	// Buildpacks are builtin buildpack names (builtin.Names) to build with,
	// in order, in place of the app's list or detection.
	Buildpacks []string
	// Prepare, if set, runs once the source is extracted, before it is
	// built, writing to the build's output (an app setup applies app.json
	// there). It may return buildpack names to build with instead of
	// Buildpacks; an error fails the build.
	Prepare func(ctx context.Context, srcDir string, out io.Writer) (buildpacks []string, err error)
	// Done, if set, is called once the build has ended and been recorded,
	// with the release it made (zero when it failed) and its error. ctx
	// ends with the platform.
	Done func(ctx context.Context, b Build, rel release.Release, err error)
}

// ErrBuildNotRunning is returned by CancelBuild for a build that has
// ended.
var ErrBuildNotRunning = errors.New("platform: build is not running")

const buildsNS = "minipaas.builds" // keyed by app ID + "/" + build ID

func buildKey(appID, id string) []byte { return []byte(appID + "/" + id) }

// buildRun is a build in progress: its record, and its output, copied to
// the pusher's terminal.
type buildRun struct {
	p      *Platform
	out    *outputLog
	tee    io.Writer // the pusher's terminal (git sideband), or nil
	cancel context.CancelFunc
	// prepare is BuildRequest.Prepare.
	prepare func(ctx context.Context, srcDir string, out io.Writer) ([]string, error)

	mu sync.Mutex
	b  Build
}

// Write records build output and copies it to the pusher. A pusher that
// went away does not stop the build (a git push interrupted with ^C
// builds on, as on Heroku).
func (r *buildRun) Write(b []byte) (int, error) {
	r.out.Write(b)
	if r.tee != nil {
		_, _ = r.tee.Write(b)
	}
	return len(b), nil
}

func (r *buildRun) setSlug(id string) {
	r.mu.Lock()
	r.b.Slug = id
	r.mu.Unlock()
}

// finish records how the build ended and ends its output.
func (r *buildRun) finish(rel release.Release, err error) Build {
	r.mu.Lock()
	b := &r.b
	switch {
	case b.Slug != "":
		b.Status = BuildSucceeded // the release may still have failed, as on Heroku
	default:
		b.Status = BuildFailed
	}
	if err != nil {
		b.Failure = strings.TrimPrefix(err.Error(), "platform: ")
	}
	b.Release = rel.Version
	b.UpdatedAt = time.Now().UTC()
	rec := *b
	r.mu.Unlock()
	r.out.close()
	r.p.mu.Lock()
	_, exists := r.p.byID[rec.AppID]
	r.p.mu.Unlock()
	if exists { // a destroyed app's builds went with it
		if err := r.p.putBuild(context.Background(), rec); err != nil {
			r.p.log.Error("platform: storing the end of a build", "build", rec.ID, "err", err)
		}
		r.p.emit(AppEvent{AppID: rec.AppID, Resource: ResourceBuild, Action: ActionUpdate, Actor: rec.User, Build: &rec})
	}
	r.p.buildsMu.Lock()
	delete(r.p.runs, rec.ID)
	r.p.buildsMu.Unlock()
	return rec
}

func (p *Platform) buildOutputPath(appID, id string) string {
	return filepath.Join(p.cfg.DataDir, "apps", appID, "builds", id+".log")
}

// startBuild records a pending build of app and opens its output.
func (p *Platform) startBuild(ctx context.Context, app string, src BuildSource, names []string, tee io.Writer) (*buildRun, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return nil, err
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	now := time.Now().UTC()
	b := Build{
		ID: newID(), AppID: rec.ID, Status: BuildPending, Source: src, Buildpacks: names,
		User: p.userOf(ctx), CreatedAt: now, UpdatedAt: now, OutputToken: hex.EncodeToString(tok[:]),
	}
	path := p.buildOutputPath(rec.ID, b.ID)
	out, err := createOutputLog(path, p.log)
	if err != nil {
		return nil, fmt.Errorf("platform: build %s: %w", app, err)
	}
	if err := p.putBuild(ctx, b); err != nil {
		out.close()
		os.Remove(path)
		return nil, fmt.Errorf("platform: build %s: %w", app, err)
	}
	run := &buildRun{p: p, out: out, tee: tee, b: b, cancel: func() {}}
	p.buildsMu.Lock()
	p.runs[b.ID] = run
	p.buildsMu.Unlock()
	p.emit(AppEvent{AppID: rec.ID, App: rec.Name, Resource: ResourceBuild, Action: ActionCreate, Actor: b.User, Build: &b})
	return run, nil
}

func (p *Platform) putBuild(ctx context.Context, b Build) error {
	v, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := p.kv.Update(ctx, func(tx store.Tx) error { return tx.Put(buildsNS, buildKey(b.AppID, b.ID), v) }); err != nil {
		return fmt.Errorf("store build %s: %w", b.ID, err)
	}
	return nil
}

// Checked returns src with its checksum in canonical form, or a
// *FieldError naming what is wrong: a URL that is missing or not http(s),
// a checksum that does not parse.
func (src BuildSource) Checked() (BuildSource, error) {
	u, err := url.Parse(src.URL)
	switch {
	case src.URL == "":
		return src, &FieldError{Field: "source_blob.url", Reason: "is required: the URL of a gzipped tarball of the source"}
	case err != nil:
		return src, &FieldError{Field: "source_blob.url", Reason: err.Error()}
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return src, &FieldError{Field: "source_blob.url", Reason: fmt.Sprintf("must be an http or https URL, not %q", redactURL(u))}
	}
	if src.Checksum != "" {
		d, err := slug.ParseDigest(src.Checksum)
		if err != nil {
			return src, &FieldError{Field: "source_blob.checksum", Reason: strings.TrimPrefix(err.Error(), "slug: ")}
		}
		src.Checksum = d.String()
	}
	return src, nil
}

// CreateBuild starts a build of the gzipped source tarball at req's URL
// and returns it, pending: the platform fetches the tarball (verifying
// Checksum when given), extracts it with the checks slugs get (a single
// top-level directory, as GitHub's archives have, is the source root),
// builds and releases it as a git push would. Follow it with BuildOutput
// and Build. Bad requests fail here, naming the field; everything after
// fails the build, with the reason in its output and Failure.
func (p *Platform) CreateBuild(ctx context.Context, app string, req BuildRequest) (Build, error) {
	src, err := req.Source.Checked()
	if err != nil {
		return Build{}, err
	}
	for i, n := range req.Buildpacks {
		if _, ok := p.builtinBuildpack(n); !ok {
			return Build{}, &FieldError{Field: fmt.Sprintf("buildpacks[%d]", i), Reason: fmt.Sprintf("no builtin buildpack %q (have %s)", n, strings.Join(builtin.Names(), ", "))}
		}
	}
	run, err := p.startBuild(ctx, app, src, slices.Clone(req.Buildpacks), nil)
	if err != nil {
		return Build{}, err
	}
	run.prepare = req.Prepare
	// The build outlives the request; it stops with the platform (Run's
	// end, Close) or CancelBuild.
	bctx, cancel := context.WithCancel(p.bgCtx)
	bctx = WithUser(bctx, run.b.User)
	run.mu.Lock()
	run.cancel = cancel
	b := run.b
	run.mu.Unlock()
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		defer cancel()
		rel, err := p.buildFromURL(bctx, app, run, src, req.Buildpacks)
		b := run.finish(rel, err)
		if req.Done != nil {
			req.Done(p.bgCtx, b, rel, err)
		}
	}()
	return b, nil // as created: pending, though it may have ended already
}

// FieldError is a request (a build, a slug) with a bad field: Field
// names it as the Platform API does ("source_blob.url"), Reason the rule
// it broke.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("platform: %s %s", e.Field, e.Reason)
}

// redactURL drops what may be secret (user info, query) from u for
// output and errors: signed URLs carry their credentials in the query.
func redactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}

// buildFromURL fetches, extracts and deploys a build by API.
func (p *Platform) buildFromURL(ctx context.Context, app string, run *buildRun, src BuildSource, names []string) (release.Release, error) {
	fail := func(err error) (release.Release, error) {
		fmt.Fprintf(run, " !     %s\n", strings.TrimPrefix(err.Error(), "platform: "))
		return release.Release{}, err
	}
	u, _ := url.Parse(src.URL)
	fmt.Fprintf(run, "-----> Fetching source code from %s\n", redactURL(u))
	// Fetching and extracting share the build's time limit: a source that
	// trickles in must not keep the build pending for ever.
	fetchCtx, cancel := context.WithTimeout(ctx, cmp.Or(p.cfg.BuildTimeout, 15*time.Minute))
	defer cancel()
	req, err := http.NewRequestWithContext(fetchCtx, http.MethodGet, src.URL, nil)
	if err != nil {
		return fail(fmt.Errorf("fetching the source: %w", err))
	}
	resp, err := p.http.Do(req)
	if err != nil {
		// url.Error repeats the URL, query included: report without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(fmt.Errorf("fetching the source from %s: %w", redactURL(u), err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("fetching the source from %s: %s", redactURL(u), resp.Status))
	}
	max := p.cfg.MaxSourceSize
	if max == 0 {
		max = slug.DefaultMaxCompressedSize
	}
	limits := slug.Limits{MaxCompressedSize: max}
	if max > 0 && resp.ContentLength > max {
		return fail(fmt.Errorf("the source tarball is %s, over the limit of %s", slug.FormatSize(resp.ContentLength), slug.FormatSize(max)))
	}
	tmp, err := os.MkdirTemp(filepath.Join(p.cfg.DataDir, "tmp"), "source-")
	if err != nil {
		return fail(fmt.Errorf("build %s: %w", app, err))
	}
	defer copytree.RemoveAll(tmp) // a tarball may hold read-only directories
	dir := filepath.Join(tmp, "src")
	info, err := slug.Extract(fetchCtx, resp.Body, dir, slug.ExtractOptions{Source: true, Want: slug.Digest(src.Checksum), Limits: limits, Logger: p.log})
	if err != nil {
		return fail(fmt.Errorf("the source tarball: %s", strings.TrimPrefix(err.Error(), "slug: ")))
	}
	fmt.Fprintf(run, "       %s, %d entries\n", slug.FormatSize(info.Size), info.Entries)
	root, err := sourceRoot(dir)
	if err != nil {
		return fail(fmt.Errorf("the source tarball: %w", err))
	}
	// The app may have been renamed while its source came in.
	if name, ok := p.appName(run.b.AppID); ok {
		app = name
	}
	if run.prepare != nil {
		chosen, err := run.prepare(ctx, root, run)
		if err != nil {
			return release.Release{}, err // Prepare has told the output why
		}
		if chosen != nil {
			names = chosen
			run.mu.Lock()
			run.b.Buildpacks = slices.Clone(chosen)
			run.mu.Unlock()
		}
	}
	return p.runBuild(ctx, app, run, root, src.Version, names)
}

// sourceRoot is the directory to build in an extracted source tarball:
// its only entry when that is a directory (GitHub's archives wrap the
// tree in "<repo>-<ref>/"), else the tarball's root.
func sourceRoot(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(ents) == 1 && ents[0].IsDir() { // a symlink is not IsDir
		return filepath.Join(dir, ents[0].Name()), nil
	}
	return dir, nil
}

// Builds returns the app's builds, oldest first.
func (p *Platform) Builds(ctx context.Context, app string) ([]Build, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return nil, err
	}
	var out []Build
	prefix := rec.ID + "/"
	err = p.kv.View(ctx, func(tx store.Tx) error {
		return tx.Scan(buildsNS, []byte(prefix), false, 0, func(k, v []byte) bool {
			if !strings.HasPrefix(string(k), prefix) {
				return false
			}
			var b Build
			if err := json.Unmarshal(v, &b); err == nil {
				out = append(out, p.buildView(b))
			}
			return true
		})
	})
	if err != nil {
		return nil, fmt.Errorf("platform: builds of %s: %w", app, err)
	}
	slices.SortStableFunc(out, func(a, b Build) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Build returns one build of app, or ErrNotFound.
func (p *Platform) Build(ctx context.Context, app, id string) (Build, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return Build{}, err
	}
	var b Build
	err = p.kv.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(buildsNS, buildKey(rec.ID, id))
		if err != nil {
			return err
		}
		return json.Unmarshal(v, &b)
	})
	if errors.Is(err, store.ErrNotFound) {
		return Build{}, fmt.Errorf("platform: build %q of %s: %w", id, app, ErrNotFound)
	}
	if err != nil {
		return Build{}, fmt.Errorf("platform: build %q of %s: %w", id, app, err)
	}
	return p.buildView(b), nil
}

// buildView is the freshest view of b: a running build's state is in
// memory (its slug is known before it is stored).
func (p *Platform) buildView(b Build) Build {
	p.buildsMu.Lock()
	run := p.runs[b.ID]
	p.buildsMu.Unlock()
	if run != nil {
		run.mu.Lock()
		b = run.b
		run.mu.Unlock()
	}
	return b
}

// CancelBuild stops a running build of app; it fails with the reason
// "canceled". A build that has ended gives ErrBuildNotRunning.
func (p *Platform) CancelBuild(ctx context.Context, app, id string) (Build, error) {
	b, err := p.Build(ctx, app, id)
	if err != nil {
		return Build{}, err
	}
	p.buildsMu.Lock()
	run := p.runs[id]
	p.buildsMu.Unlock()
	if run == nil || b.Status != BuildPending {
		return b, fmt.Errorf("%w: build %s of %s is %s", ErrBuildNotRunning, id, app, b.Status)
	}
	run.mu.Lock()
	cancel := run.cancel
	run.mu.Unlock()
	cancel()
	return b, nil
}

// BuildOutput returns the output of build id of the app with ID appID
// from its beginning, following it until the build ends when it is
// running. token is the build's OutputToken; a wrong one is ErrNotFound,
// like a wrong id. The reader's Read returns ctx's error when ctx ends
// first.
func (p *Platform) BuildOutput(ctx context.Context, appID, id, token string) (io.ReadCloser, error) {
	var b Build
	err := p.kv.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get(buildsNS, buildKey(appID, id))
		if err != nil {
			return err
		}
		return json.Unmarshal(v, &b)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("platform: build output %q: %w", id, err)
	}
	if err != nil || subtle.ConstantTimeCompare([]byte(token), []byte(b.OutputToken)) != 1 {
		return nil, fmt.Errorf("platform: build output %q: %w", id, ErrNotFound)
	}
	var live *outputLog
	p.buildsMu.Lock()
	if run := p.runs[id]; run != nil {
		live = run.out
	}
	p.buildsMu.Unlock()
	rc, err := followOutput(ctx, p.buildOutputPath(b.AppID, b.ID), live)
	if err != nil {
		return nil, fmt.Errorf("platform: build output %q: %w", id, err)
	}
	return rc, nil
}

// failInterruptedBuilds marks the builds that were running when the
// platform last stopped as failed.
func failInterruptedBuilds(ctx context.Context, db store.DB) error {
	return db.Update(ctx, func(tx store.Tx) error {
		var stale []Build
		err := tx.Scan(buildsNS, nil, false, 0, func(k, v []byte) bool {
			var b Build
			if json.Unmarshal(v, &b) == nil && b.Status == BuildPending {
				stale = append(stale, b)
			}
			return true
		})
		if err != nil {
			return err
		}
		for _, b := range stale {
			b.Status, b.Failure, b.UpdatedAt = BuildFailed, "interrupted: the platform stopped during the build", time.Now().UTC()
			v, err := json.Marshal(b)
			if err != nil {
				return err
			}
			if err := tx.Put(buildsNS, buildKey(b.AppID, b.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteAppRecords removes the build, slug and scheduler records of the
// app with ID appID (its output files go with the app's directory).
func deleteAppRecords(ctx context.Context, db store.DB, appID string) error {
	prefix := appID + "/"
	return db.Update(ctx, func(tx store.Tx) error {
		for _, ns := range []string{buildsNS, slugsNS, schedulerNS} {
			var keys [][]byte
			err := tx.Scan(ns, []byte(prefix), false, 0, func(k, _ []byte) bool {
				if !strings.HasPrefix(string(k), prefix) {
					return false
				}
				keys = append(keys, slices.Clone(k))
				return true
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := tx.Delete(ns, k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// cancelBuilds cancels the running builds of the app with ID appID, or
// all of them when appID is empty.
func (p *Platform) cancelBuilds(appID string) {
	p.buildsMu.Lock()
	defer p.buildsMu.Unlock()
	for _, run := range p.runs {
		run.mu.Lock()
		if appID == "" || run.b.AppID == appID {
			run.cancel()
		}
		run.mu.Unlock()
	}
}

// PurgeBuildCache empties the app's build cache (heroku
// builds:cache:purge): the next build starts as a first one would.
func (p *Platform) PurgeBuildCache(ctx context.Context, app string) error {
	_, rec, err := p.entry(app)
	if err != nil {
		return err
	}
	if err := p.build.Cache.Purge(ctx, rec.ID); err != nil {
		return fmt.Errorf("platform: purge build cache of %s: %w", app, err)
	}
	return nil
}
