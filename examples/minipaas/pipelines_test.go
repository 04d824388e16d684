package main

import (
	"net/http"
	"path/filepath"
	"testing"
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
