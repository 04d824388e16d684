package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/slug"
)

// Builds by API (heroku.md §9.5): POST /apps/{app}/builds fetches a
// gzipped source tarball from a URL and builds and releases it as a git
// push would; POST /sources gives a place to upload one first. Every
// git push is a build too, so GET /apps/{app}/builds lists both. A
// build's output_stream_url (and a source's put_url and get_url) carry
// their own secret and need no API token, as Heroku's signed URLs do.

func (a *api) buildRoutes(h func(string, platformapi.HandlerFunc)) {
	h("POST /apps/{app}/builds", a.createBuild)
	h("GET /apps/{app}/builds", a.listBuilds)
	h("GET /apps/{app}/builds/{build}", a.getBuild)
	h("DELETE /apps/{app}/builds/{build}", a.cancelBuild)
	h("DELETE /apps/{app}/build-cache", a.purgeBuildCache)
	h("POST /sources", a.createSource)
}

// Unauthenticated paths: a build's output, a release phase's output and
// uploaded source blobs.
const (
	buildOutputPath   = "/build-output/"   // + app ID / build ID / token
	releaseOutputPath = "/release-output/" // + app ID / version / token
	sourceBlobsPath   = "/source-blobs/"   // + token
)

type buildJSON struct {
	ID              string        `json:"id"`
	App             ref           `json:"app"`
	Buildpacks      []buildpackJS `json:"buildpacks"`
	CreatedAt       string        `json:"created_at"`
	UpdatedAt       string        `json:"updated_at"`
	OutputStreamURL string        `json:"output_stream_url"`
	Release         *idOnly       `json:"release"`
	Slug            *idOnly       `json:"slug"`
	SourceBlob      sourceBlobJS  `json:"source_blob"`
	Stack           string        `json:"stack"`
	Status          string        `json:"status"`
	User            owner         `json:"user"`
}

type idOnly struct {
	ID string `json:"id"`
}

type buildpackJS struct {
	URL  string `json:"url"`
	Name string `json:"name"`
}

type sourceBlobJS struct {
	Checksum           *string `json:"checksum"`
	URL                string  `json:"url"`
	Version            *string `json:"version"`
	VersionDescription *string `json:"version_description"`
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// buildToJSON describes b; base is the API's URL ("http://host:port").
func buildToJSON(base string, app platform.App, b platform.Build) buildJSON {
	j := buildJSON{
		ID:              b.ID,
		App:             ref{ID: app.ID, Name: app.Name},
		Buildpacks:      []buildpackJS{},
		CreatedAt:       rfc3339(b.CreatedAt),
		UpdatedAt:       rfc3339(b.UpdatedAt),
		OutputStreamURL: base + buildOutputPath + b.AppID + "/" + b.ID + "/" + b.OutputToken,
		SourceBlob: sourceBlobJS{
			Checksum: orNil(b.Source.Checksum), URL: b.Source.URL,
			Version: orNil(b.Source.Version), VersionDescription: orNil(b.Source.VersionDescription),
		},
		Stack:  stackLocal.Name,
		Status: string(b.Status),
		User:   owner{ID: accountID, Email: b.User},
	}
	for _, n := range b.Buildpacks {
		j.Buildpacks = append(j.Buildpacks, buildpackJS{URL: "heroku/" + n, Name: "heroku/" + n})
	}
	if b.Slug != "" {
		j.Slug = &idOnly{ID: b.Slug}
	}
	if b.Release > 0 {
		j.Release = &idOnly{ID: releaseID(app, b.Release)}
	}
	return j
}

func (a *api) createBuild(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		SourceBlob *struct {
			URL                string  `json:"url"`
			Checksum           *string `json:"checksum"`
			Version            *string `json:"version"`
			VersionDescription *string `json:"version_description"`
		} `json:"source_blob"`
		Buildpacks []struct {
			URL  string `json:"url"`
			Name string `json:"name"`
		} `json:"buildpacks"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if body.SourceBlob == nil {
		return platformapi.InvalidParams("source_blob is required: {\"url\": <URL of a gzipped tarball of the source>}")
	}
	req := platform.BuildRequest{Source: platform.BuildSource{URL: body.SourceBlob.URL}}
	for _, s := range []struct {
		to   *string
		from *string
	}{{&req.Source.Checksum, body.SourceBlob.Checksum}, {&req.Source.Version, body.SourceBlob.Version}, {&req.Source.VersionDescription, body.SourceBlob.VersionDescription}} {
		if s.from != nil {
			*s.to = *s.from
		}
	}
	for i, bp := range body.Buildpacks {
		given := bp.URL
		if given == "" {
			given = bp.Name
		}
		name, ok := builtinBuildpackFor(strings.TrimSpace(given))
		if !ok {
			return platformapi.InvalidParams("buildpacks[%d]: Buildpack %s is not available on minipaas, which builds only with its builtin buildpacks: %s (or the GitHub URLs of Heroku's classic ones).", i, displayName(given), builtinRegistryNames())
		}
		req.Buildpacks = append(req.Buildpacks, name)
	}
	b, err := a.p.CreateBuild(r.Context(), app.Name, req)
	if err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusCreated, buildToJSON("http://"+r.Host, app, b))
	return nil
}

func (a *api) listBuilds(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	builds, err := a.p.Builds(r.Context(), app.Name)
	if err != nil {
		return apiError(err)
	}
	out := make([]buildJSON, 0, len(builds))
	for _, b := range builds {
		out = append(out, buildToJSON("http://"+r.Host, app, b))
	}
	return platformapi.Paginate(w, r, out,
		platformapi.Field[buildJSON]{Name: "created_at", Key: func(j buildJSON) string { return j.CreatedAt }},
		platformapi.Field[buildJSON]{Name: "id", Key: func(j buildJSON) string { return j.ID }},
	)
}

func (a *api) getBuild(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	b, err := a.p.Build(r.Context(), app.Name, r.PathValue("build"))
	if err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusOK, buildToJSON("http://"+r.Host, app, b))
	return nil
}

// cancelBuild stops a running build; it ends failed.
func (a *api) cancelBuild(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	b, err := a.p.CancelBuild(r.Context(), app.Name, r.PathValue("build"))
	if errors.Is(err, platform.ErrBuildNotRunning) {
		return platformapi.Conflict("%s", strings.TrimPrefix(err.Error(), "platform: "))
	}
	if err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusOK, buildToJSON("http://"+r.Host, app, b))
	return nil
}

func (a *api) purgeBuildCache(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	if err := a.p.PurgeBuildCache(r.Context(), app.Name); err != nil {
		return apiError(err)
	}
	platformapi.WriteJSON(w, http.StatusAccepted, map[string]any{})
	return nil
}

// createSource hands out a place to upload a source tarball: PUT it to
// put_url, then build from get_url. Both stop working after an hour.
func (a *api) createSource(w http.ResponseWriter, r *http.Request) error {
	if a.sources == nil {
		return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "source uploads are not enabled")
	}
	token := a.sources.create()
	u := "http://" + r.Host + sourceBlobsPath + token
	platformapi.WriteJSON(w, http.StatusCreated, map[string]any{
		"source_blob": map[string]string{"get_url": u, "put_url": u},
	})
	return nil
}

// publicHandler serves the unauthenticated paths: build output streams
// and source blobs.
func (a *api) publicHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, buildOutputPath), strings.HasPrefix(r.URL.Path, releaseOutputPath):
			a.serveOutput(w, r)
		case strings.HasPrefix(r.URL.Path, sourceBlobsPath) && a.sources != nil:
			a.sources.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, slugBlobsPath):
			a.serveSlugBlob(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// serveOutput streams a build's or a release phase's output as text,
// following it until it ends.
func (a *api) serveOutput(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var (
		out io.ReadCloser
		err error
	)
	if rest, ok := strings.CutPrefix(r.URL.Path, buildOutputPath); ok {
		parts := strings.Split(rest, "/")
		if len(parts) != 3 {
			http.NotFound(w, r)
			return
		}
		out, err = a.p.BuildOutput(r.Context(), parts[0], parts[1], parts[2])
	} else {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, releaseOutputPath), "/")
		if len(parts) != 3 {
			http.NotFound(w, r)
			return
		}
		v, verr := strconv.Atoi(parts[1])
		if verr != nil {
			http.NotFound(w, r)
			return
		}
		out, err = a.p.ReleaseOutput(r.Context(), parts[0], v, parts[2])
	}
	if errors.Is(err, platform.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		a.log.Error("build output", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer out.Close()
	platform.ServeOutput(w, r, out)
}

// sourceBlobs stores uploaded source tarballs, each under a random token
// for an hour (Heroku's source URLs expire as soon). Tokens live in
// memory: a restart forgets them and removes the blobs.
type sourceBlobs struct {
	dir string
	max int64 // bytes per blob
	ttl time.Duration

	mu     sync.Mutex
	tokens map[string]time.Time // token → expiry
}

func newSourceBlobs(dir string) (*sourceBlobs, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("source blobs: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("source blobs: %w", err)
	}
	return &sourceBlobs{dir: dir, max: slug.DefaultMaxCompressedSize, ttl: time.Hour, tokens: map[string]time.Time{}}, nil
}

// create makes a token, and forgets (and deletes) expired ones.
func (s *sourceBlobs) create() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, exp := range s.tokens {
		if now.After(exp) {
			delete(s.tokens, t)
			os.Remove(filepath.Join(s.dir, t))
		}
	}
	s.tokens[token] = now.Add(s.ttl)
	return token
}

func (s *sourceBlobs) valid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[token]
	return ok && time.Now().Before(exp)
}

// ServeHTTP answers PUT (store the body, replacing an earlier upload) and
// GET/HEAD (serve it) on /source-blobs/{token}.
func (s *sourceBlobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimPrefix(r.URL.Path, sourceBlobsPath)
	if !s.valid(token) {
		http.Error(w, "no such source blob (its URL expires an hour after POST /sources)", http.StatusNotFound)
		return
	}
	file := filepath.Join(s.dir, token)
	switch r.Method {
	case http.MethodPut:
		if r.ContentLength > s.max {
			http.Error(w, fmt.Sprintf("source blob of %s is over the limit of %s", slug.FormatSize(r.ContentLength), slug.FormatSize(s.max)), http.StatusRequestEntityTooLarge)
			return
		}
		tmp, err := os.CreateTemp(s.dir, ".upload-*")
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		defer os.Remove(tmp.Name())
		_, err = io.Copy(tmp, http.MaxBytesReader(w, r.Body, s.max))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			http.Error(w, fmt.Sprintf("source blob over the limit of %s", slug.FormatSize(s.max)), http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			http.Error(w, "upload failed: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := os.Rename(tmp.Name(), file); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet, http.MethodHead:
		f, err := os.Open(file)
		if err != nil {
			http.Error(w, "nothing was uploaded to this source blob yet", http.StatusNotFound)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/gzip")
		http.ServeContent(w, r, "", fi.ModTime(), f)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
