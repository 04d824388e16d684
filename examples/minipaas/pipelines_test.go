package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
)

// Pipelines and their couplings are kept in platform.db: a restart on the
// same data dir finds them, and destroying an app removes its coupling.
// (TestHerokuCLI promotes through them with the real CLI.)
func TestPipelinesPersist(t *testing.T) {
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	m := startMinipaasWith(t, dataDir, token)
	var apps [2]struct{ ID, Name string }
	for i, name := range []string{"web-staging", "web-prod"} {
		if code := m.api("POST", "/apps", `{"name":"`+name+`"}`, &apps[i]); code != http.StatusCreated {
			t.Fatalf("create %s: %d", name, code)
		}
	}
	var pipe struct {
		ID, Name string
		Owner    struct{ ID, Type string }
	}
	if code := m.api("POST", "/pipelines", `{"name":"web","owner":{"id":"`+accountID+`","type":"user"},"generation":{"name":"cedar"}}`, &pipe); code != http.StatusCreated ||
		pipe.Name != "web" || pipe.Owner.ID != accountID || !looksLikeUUID(pipe.ID) {
		t.Fatalf("create pipeline: %d %+v", code, pipe)
	}
	// By name, as pipelines:add sends the app, and by id.
	if code := m.api("POST", "/pipeline-couplings", `{"app":"web-staging","pipeline":"`+pipe.ID+`","stage":"staging"}`, nil); code != http.StatusCreated {
		t.Fatalf("couple staging: %d", code)
	}
	if code := m.api("POST", "/pipeline-couplings", `{"app":"`+apps[1].ID+`","pipeline":"`+pipe.ID+`","stage":"production"}`, nil); code != http.StatusCreated {
		t.Fatalf("couple prod: %d", code)
	}
	// Promoting an app without a release says so.
	m.expectError("POST", "/pipeline-promotions", `{"pipeline":{"id":"`+pipe.ID+`"},"source":{"app":{"id":"`+apps[0].ID+`"}},"targets":[{"app":{"id":"`+apps[1].ID+`"}}]}`, 422, "invalid_params")

	m.stop()
	m = startMinipaasWith(t, dataDir, token)
	type coupling struct {
		ID       string
		App      struct{ ID, Name string }
		Pipeline struct{ ID, Name string }
		Stage    string
	}
	var c coupling
	if code := m.api("GET", "/apps/web-prod/pipeline-couplings", "", &c); code != http.StatusOK ||
		c.Stage != "production" || c.Pipeline.ID != pipe.ID || c.Pipeline.Name != "web" || c.App.ID != apps[1].ID {
		t.Errorf("coupling of web-prod after a restart: %d %+v", code, c)
	}
	var found []struct{ ID string }
	if code := m.api("GET", "/pipelines?eq[name]=web", "", &found); code != http.StatusOK || len(found) != 1 || found[0].ID != pipe.ID {
		t.Errorf("pipelines named web after a restart: %d %+v", code, found)
	}
	var filtered []struct{ Name string }
	if code := m.api("POST", "/filters/apps", `{"in":{"id":["`+apps[0].ID+`","`+apps[1].ID+`"]}}`, &filtered); code != http.StatusOK || len(filtered) != 2 {
		t.Errorf("filter apps: %d %+v", code, filtered)
	}

	// pipelines:update moves a stage, apps:destroy drops the coupling,
	// pipelines:destroy the rest; the apps stay.
	var moved coupling
	if code := m.api("PATCH", "/pipeline-couplings/"+c.ID, `{"stage":"staging"}`, &moved); code != http.StatusOK || moved.Stage != "staging" {
		t.Errorf("move stage: %d %+v", code, moved)
	}
	if code := m.api("DELETE", "/apps/web-staging", "", nil); code != http.StatusOK {
		t.Fatalf("destroy app: %d", code)
	}
	var left []coupling
	if code := m.api("GET", "/pipelines/web/pipeline-couplings", "", &left); code != http.StatusOK || len(left) != 1 || left[0].App.Name != "web-prod" {
		t.Errorf("couplings after destroying web-staging: %d %+v", code, left)
	}
	if code := m.api("DELETE", "/pipelines/"+pipe.ID, "", nil); code != http.StatusOK {
		t.Fatalf("destroy pipeline: %d", code)
	}
	m.expectError("GET", "/apps/web-prod/pipeline-couplings", "", 404, "not_found")
	m.expectError("GET", "/pipelines/web", "", 404, "not_found")
	if code := m.api("GET", "/apps/web-prod", "", nil); code != http.StatusOK {
		t.Errorf("web-prod after its pipeline was destroyed: %d", code)
	}
}

// TestPromoteStreamsReleasePhase: a promotion answers at once (pending)
// and runs in the background, so heroku pipelines:promote follows the
// target's release phase live ("Running release command...") and then
// reports the outcome; a failing phase fails the target and leaves it on
// its previous release.
func TestPromoteStreamsReleasePhase(t *testing.T) {
	m := startMinipaas(t)
	cli := herokucli.Require(t, m.apiURL, m.token)
	heroku := herokuFunc(t, cli)
	g := newGitClient(t)

	// A release phase slow enough for the CLI to find it running.
	// It fails once the test creates failFlag (the local runtime's dynos
	// see the host's files).
	failFlag := filepath.Join(t.TempDir(), "fail")
	repo := g.testdataRepo("webworker")
	procfile := "web: bin/web\nworker: bin/worker\nrelease: sleep 2; echo \"release phase on $GREETING_ON_RELEASE\"; test ! -e " + failFlag + "\n"
	if err := os.WriteFile(filepath.Join(repo, "Procfile"), []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
	g.run(repo, "commit", "-q", "-am", "slow release phase")
	for _, app := range []string{"stage-app", "prod-app"} {
		if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
			t.Fatalf("create %s: %d", app, code)
		}
	}
	if code := m.api("PATCH", "/apps/prod-app/config-vars", `{"GREETING_ON_RELEASE":"production"}`, nil); code != http.StatusOK {
		t.Fatalf("config: %d", code)
	}
	if out, err := g.push(repo, m.gitURL("stage-app", m.token)); err != nil {
		t.Fatalf("git push: %v\n%s", err, out)
	}
	heroku("pipelines:create", "shop", "-a", "stage-app", "--stage", "staging")
	heroku("pipelines:add", "shop", "-a", "prod-app", "--stage", "production")

	out := heroku("pipelines:promote", "-a", "stage-app")
	expectIn(t, out, "Running release command...", "release phase on production", "Promotion successful", "prod-app: succeeded")
	rels := m.releases("prod-app")
	promoted := rels[len(rels)-1]
	if !strings.HasPrefix(promoted.Description, "Promote stage-app v") || promoted.Status != "succeeded" || !promoted.Current {
		t.Errorf("prod-app's last release: %+v", promoted)
	}

	// A failing release phase: the CLI says so and the target keeps its release.
	if err := os.WriteFile(failFlag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A config change's release phase fails too, and the API says why.
	m.expectError("PATCH", "/apps/prod-app/config-vars", `{"B":"2"}`, 422, "invalid_params")
	before := len(m.releases("prod-app"))
	res, err := cli.Run(context.Background(), "pipelines:promote", "-a", "stage-app")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 {
		t.Errorf("a promotion whose release phase failed exited 0:\n%s", res)
	}
	expectIn(t, res.Stdout+res.Stderr, "Running release command...", "Promotion to some apps failed", "prod-app: failed")
	rels = m.releases("prod-app")
	if len(rels) != before+1 || rels[len(rels)-1].Status != "failed" {
		t.Errorf("prod-app's releases after the failed promotion: %d (want %d), last %+v", len(rels), before+1, rels[len(rels)-1])
	}
	for _, r := range rels {
		if r.Current != (r.Version == promoted.Version) {
			t.Errorf("after the failures, v%d current=%v; want only the promoted v%d current", r.Version, r.Current, promoted.Version)
		}
	}
}
