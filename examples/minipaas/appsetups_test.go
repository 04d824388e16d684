package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/internal/pgtest"
)

type appSetupOut struct {
	ID    string
	App   struct{ ID, Name string }
	Build *struct {
		ID              string
		Status          string
		OutputStreamURL string `json:"output_stream_url"`
	}
	FailureMessage *string  `json:"failure_message"`
	ManifestErrors []string `json:"manifest_errors"`
	Postdeploy     *struct {
		Output   string
		ExitCode int `json:"exit_code"`
	}
	ResolvedSuccessURL *string `json:"resolved_success_url"`
	Status             string
}

// setUp posts an app setup and follows it until it ends.
func (m *minipaas) setUp(body string) appSetupOut {
	m.t.Helper()
	var s appSetupOut
	if code := m.api("POST", "/app-setups", body, &s); code != http.StatusCreated {
		m.t.Fatalf("POST /app-setups %s: %d", body, code)
	}
	if s.Status != "pending" || s.ID == "" || s.App.Name == "" {
		m.t.Errorf("created app setup %+v, want pending with an app", s)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for s.Status == "pending" {
		if time.Now().After(deadline) {
			m.t.Fatalf("app setup %s still pending", s.ID)
		}
		time.Sleep(100 * time.Millisecond)
		if code := m.api("GET", "/app-setups/"+s.ID, "", &s); code != http.StatusOK {
			m.t.Fatalf("GET /app-setups/%s: %d", s.ID, code)
		}
	}
	return s
}

// archiveWithAppJSON is the hello app as GitHub serves its tarball, with
// appJSON at its root.
func archiveWithAppJSON(t *testing.T, g *gitClient, appJSON string) []byte {
	t.Helper()
	repo := g.helloRepo()
	if err := os.WriteFile(filepath.Join(repo, "app.json"), []byte(appJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	g.run(repo, "add", "app.json")
	g.run(repo, "commit", "-q", "-m", "app.json")
	return archiveOf(t, g, repo)
}

// TestAppSetups sets apps up from source tarballs with an app.json, as
// Heroku Button does: config vars with the request's overrides, the
// formation, the success URL and the postdeploy script's output and exit
// status; a bad manifest and a failing postdeploy fail the setup and keep
// the app; bad requests are refused before any app is made.
func TestAppSetups(t *testing.T) {
	m := startMinipaas(t)
	g := newGitClient(t)
	tarballs := map[string][]byte{
		"/good.tgz": archiveWithAppJSON(t, g, `{
			"name": "button demo",
			"success_url": "/welcome",
			"env": {
				"GREETING": {"description": "what the app says"},
				"SESSION_SECRET": {"generator": "secret"},
				"PLAIN": "from-app-json"
			},
			"formation": {"web": {"quantity": 2}},
			"buildpacks": [{"url": "heroku/go"}],
			"scripts": {"postdeploy": "echo postdeploy saw $GREETING and $PLAIN on $DYNO"}
		}`),
		"/bad-success-url.tgz": archiveWithAppJSON(t, g, `{"success_url": "javascript:alert(1)"}`),
		"/bad-manifest.tgz":    archiveWithAppJSON(t, g, `{"formation": {"web": {"quantity": "two"}}}`),
		"/failing-script.tgz":  archiveWithAppJSON(t, g, `{"scripts": {"postdeploy": "echo about to fail; exit 3"}}`),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := tarballs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()

	// Refused before any app is made, each naming its field.
	for _, tc := range []struct{ body, want string }{
		{`{}`, "source_blob.url is required"},
		{`{"source_blob": {"url": "ftp://example.com/x.tgz"}}`, "source_blob.url must be an http"},
		{`{"source_blob": {"url": "http://example.com/x.tgz", "checksum": "MD5:abc"}}`, "source_blob.checksum"},
		{`{"source_blob": {"url": "http://example.com/x.tgz"}, "app": {"name": "Bad_Name"}}`, "app.name"},
		{`{"source_blob": {"url": "http://example.com/x.tgz"}, "app": {"organization": "acme"}}`, "app.organization"},
		{`{"source_blob": {"url": "http://example.com/x.tgz"}, "overrides": {"env": {"A-B": "x"}}}`, `overrides.env: config var`},
		{`{"source_blob": {"url": "http://example.com/x.tgz"}, "overrides": {"env": {"A": 1}}}`, "overrides.env.A: want a string"},
		{`{"source_blob": {"url": "http://example.com/x.tgz"}, "overrides": {"env": {"BIG": "` + strings.Repeat("x", 40<<10) + `"}}}`, "overrides.env: "},
		{`{"source_blob": {"url": "http://example.com/x.tgz"}, "overrides": {"buildpacks": [{"url": "heroku/python"}]}}`, "overrides.buildpacks[0]"},
	} {
		code, _, got := m.rawAPI("POST", "/app-setups", tc.body, m.authHeaders())
		if code != http.StatusUnprocessableEntity || !strings.Contains(got, "invalid_params") || !strings.Contains(got, tc.want) {
			t.Errorf("POST /app-setups %s: %d %s, want 422 mentioning %q", tc.body, code, got, tc.want)
		}
	}
	var apps []struct{ Name string }
	if code := m.api("GET", "/apps", "", &apps); code != http.StatusOK || len(apps) != 0 {
		t.Fatalf("apps after the refused setups: %d %+v", code, apps)
	}
	m.expectError("GET", "/app-setups/00000000-0000-0000-0000-000000000000", "", http.StatusNotFound, "not_found")

	// Without the required var, the setup fails as Heroku words it, and
	// nothing is built.
	s := m.setUp(fmt.Sprintf(`{"source_blob": {"url": %q}, "app": {"name": "unset"}}`, srv.URL+"/good.tgz"))
	if s.Status != "failed" || len(s.ManifestErrors) != 1 || s.ManifestErrors[0] != "config var GREETING is required" || s.Build == nil || s.Build.Status != "failed" {
		t.Errorf("setup without a required var ended %+v (build %+v)", s, s.Build)
	}
	out := buildOut{OutputStreamURL: s.Build.OutputStreamURL}.output(t)
	expectIn(t, out, "required config var GREETING not set: give it in the setup's overrides.env")

	// A setup: the app is made and released with app.json applied, the
	// overrides winning and satisfying the required var.
	s = m.setUp(fmt.Sprintf(`{"source_blob": {"url": %q}, "app": {"name": "button"}, "overrides": {"env": {"GREETING": "hello-override", "EXTRA": "x"}}}`, srv.URL+"/good.tgz"))
	if s.Status != "succeeded" || s.FailureMessage != nil || len(s.ManifestErrors) != 0 || s.App.Name != "button" {
		t.Fatalf("setup ended %+v", s)
	}
	if s.Build == nil || s.Build.Status != "succeeded" {
		t.Fatalf("setup's build %+v", s.Build)
	}
	out = buildOut{OutputStreamURL: s.Build.OutputStreamURL}.output(t)
	expectIn(t, out, "Setting up the app from app.json", "Set config vars EXTRA, GREETING, PLAIN, SESSION_SECRET", "Released v")
	if s.Postdeploy == nil || s.Postdeploy.ExitCode != 0 || !strings.Contains(s.Postdeploy.Output, "postdeploy saw hello-override and from-app-json on run.") {
		t.Errorf("postdeploy %+v", s.Postdeploy)
	}
	if want := "http://button.localhost:" + portOf(m.routerAddr) + "/welcome"; s.ResolvedSuccessURL == nil || *s.ResolvedSuccessURL != want {
		t.Errorf("resolved_success_url %v, want %s", s.ResolvedSuccessURL, want)
	}
	cfg := m.config("button")
	if cfg["GREETING"] != "hello-override" || cfg["PLAIN"] != "from-app-json" || cfg["EXTRA"] != "x" {
		t.Errorf("config vars %v", cfg)
	}
	if b, err := hex.DecodeString(cfg["SESSION_SECRET"]); err != nil || len(b) != 32 {
		t.Errorf("SESSION_SECRET is not 64 hex digits")
	}
	// app.json's buildpacks are now the app's, as on Heroku.
	if bps := m.apiBuildpacks("button"); len(bps) != 1 || bps[0] != "heroku/go" {
		t.Errorf("buildpacks after the setup: %v", bps)
	}
	var form []struct {
		Type     string
		Quantity int
	}
	if code := m.api("GET", "/apps/button/formation", "", &form); code != http.StatusOK || len(form) != 1 || form[0].Quantity != 2 {
		t.Errorf("formation: %d %+v", code, form)
	}
	m.waitFor("button", "the set-up app answering", func(status int, body string) bool {
		return status == http.StatusOK && strings.HasPrefix(body, "hello-override from web.")
	})

	// A bad app.json fails the setup before the build, naming the field;
	// the app stays, unreleased, and was given a name.
	s = m.setUp(fmt.Sprintf(`{"source_blob": {"url": %q}}`, srv.URL+"/bad-manifest.tgz"))
	if s.Status != "failed" || len(s.ManifestErrors) != 1 || !strings.Contains(s.ManifestErrors[0], "formation.web.quantity") || s.FailureMessage == nil {
		t.Errorf("setup with a bad app.json ended %+v", s)
	}
	if s.Build == nil || s.Build.Status != "failed" || s.Postdeploy != nil {
		t.Errorf("setup with a bad app.json: build %+v, postdeploy %+v", s.Build, s.Postdeploy)
	}
	if rels := m.releases(s.App.Name); len(rels) != 0 {
		t.Errorf("app of a failed setup has releases %+v", rels)
	}

	// A success_url that is neither a URL nor a path is a manifest error.
	s = m.setUp(fmt.Sprintf(`{"source_blob": {"url": %q}}`, srv.URL+"/bad-success-url.tgz"))
	if s.Status != "failed" || len(s.ManifestErrors) != 1 || !strings.Contains(s.ManifestErrors[0], "success_url") {
		t.Errorf("setup with a bad success_url ended %+v", s)
	}

	// A postdeploy script that fails fails the setup; the release stays.
	s = m.setUp(fmt.Sprintf(`{"source_blob": {"url": %q}, "app": {"name": "scripted"}}`, srv.URL+"/failing-script.tgz"))
	if s.Status != "failed" || s.FailureMessage == nil || !strings.Contains(*s.FailureMessage, "status 3") {
		t.Errorf("setup with a failing postdeploy ended %+v", s)
	}
	if s.Postdeploy == nil || s.Postdeploy.ExitCode != 3 || !strings.Contains(s.Postdeploy.Output, "about to fail") {
		t.Errorf("failing postdeploy %+v", s.Postdeploy)
	}
	if rels := m.releases("scripted"); len(rels) != 1 || rels[0].Status != "succeeded" {
		t.Errorf("releases after a failing postdeploy %+v", rels)
	}

	// A taken name is refused, and makes no setup.
	m.expectError("POST", "/app-setups", fmt.Sprintf(`{"source_blob": {"url": %q}, "app": {"name": "button"}}`, srv.URL+"/good.tgz"), http.StatusUnprocessableEntity, "invalid_params")
}

// TestAppSetupInterrupted stops minipaas while a setup fetches its source:
// after the restart the setup reads failed, interrupted, and its app is
// there to destroy.
func TestAppSetupInterrupted(t *testing.T) {
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	asked := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		<-r.Context().Done() // answers only when the platform gives up
	}))
	defer srv.Close()
	m := startMinipaasWith(t, dataDir, token)
	var s appSetupOut
	if code := m.api("POST", "/app-setups", fmt.Sprintf(`{"source_blob": {"url": %q}, "app": {"name": "cut"}}`, srv.URL+"/hang.tgz"), &s); code != http.StatusCreated {
		t.Fatalf("POST /app-setups: %d", code)
	}
	select {
	case <-asked:
	case <-time.After(time.Minute):
		t.Fatal("the setup never fetched its source")
	}
	// A setup left pending by a crash, as its record would be.
	crashed := fmt.Sprintf(`{"id": "11111111-2222-3333-4444-555555555555", "app_id": %q, "app_name": "cut", "status": "pending", "created_at": %q}`,
		s.App.ID, time.Now().UTC().Format(time.RFC3339))
	if err := m.p.PutRecord(context.Background(), platform.AppSetupRecords, "11111111-2222-3333-4444-555555555555", []byte(crashed)); err != nil {
		t.Fatal(err)
	}
	m.stop()

	m = startMinipaasWith(t, dataDir, token)
	var fromCrash appSetupOut
	if code := m.api("GET", "/app-setups/11111111-2222-3333-4444-555555555555", "", &fromCrash); code != http.StatusOK ||
		fromCrash.Status != "failed" || fromCrash.FailureMessage == nil || !strings.Contains(*fromCrash.FailureMessage, "interrupted") {
		t.Errorf("setup left pending by a crash, after a restart: %d %+v", code, fromCrash)
	}
	var after appSetupOut
	if code := m.api("GET", "/app-setups/"+s.ID, "", &after); code != http.StatusOK {
		t.Fatalf("GET /app-setups/%s after a restart: %d", s.ID, code)
	}
	if after.Status != "failed" || after.FailureMessage == nil || !strings.Contains(*after.FailureMessage, "interrupted") || after.App.Name != "cut" {
		t.Errorf("setup after a restart: %+v (failure %v)", after, after.FailureMessage)
	}
	if code := m.api("DELETE", "/apps/cut", "", nil); code != http.StatusOK {
		t.Errorf("DELETE the app of an interrupted setup: %d", code)
	}
}

// TestAppSetupWithAddons sets an app up whose app.json asks for a
// database: it is provisioned on the real PostgreSQL before the build, so
// the build, the release and the postdeploy script see DATABASE_URL.
func TestAppSetupWithAddons(t *testing.T) {
	pg := &pgtest.Server{RequirePassword: true}
	t.Cleanup(pg.Stop)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	m := startMinipaasWith(t, filepath.Join(t.TempDir(), "data"), token, "-postgres-url", pg.AdminURL(t))
	g := newGitClient(t)
	tarball := archiveWithAppJSON(t, g, `{
		"addons": [{"plan": "heroku-postgresql:essential-0", "as": "DATABASE"}],
		"scripts": {"postdeploy": "case $DATABASE_URL in postgres://*) echo database ready;; *) echo no database; exit 1;; esac"}
	}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tarball) }))
	defer srv.Close()

	s := m.setUp(fmt.Sprintf(`{"source_blob": {"url": %q}, "app": {"name": "withdb"}}`, srv.URL+"/src.tgz"))
	if s.Status != "succeeded" || s.Postdeploy == nil || !strings.Contains(s.Postdeploy.Output, "database ready") {
		t.Fatalf("setup with a database ended %+v (postdeploy %+v, failure %v)", s, s.Postdeploy, s.FailureMessage)
	}
	addons := m.listAddons("withdb")
	if len(addons) != 1 || addons[0].Plan.Name != "heroku-postgresql:essential-0" {
		t.Errorf("add-ons after the setup: %+v", addons)
	}
	rels := m.releases("withdb")
	if len(rels) < 2 || !strings.HasPrefix(rels[0].Description, "Attach DATABASE") {
		t.Errorf("releases after the setup (the attachment first, then the deploy): %+v", rels)
	}
}
