package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
	"github.com/dynokit/dynokit/formation"
)

// TestHerokuCLIFeatures turns preboot on with the real CLI and checks that
// the next release replaces web dynos with the Preboot strategy, that the
// setting survives a restart, and the API's refusals.
func TestHerokuCLIFeatures(t *testing.T) {
	m := startMinipaas(t)
	cli := herokucli.Require(t, m.apiURL, m.token)
	heroku := herokuFunc(t, cli)
	const app = "featdemo"
	expectIn(t, heroku("apps:create", app), app)
	m.pushHello(newGitClient(t), app)
	strategy := func() formation.Strategy {
		f, ok := m.p.Reconciler().Formation(app)
		if !ok {
			t.Fatalf("no formation for %s", app)
		}
		return f.Strategy
	}
	if s := strategy(); s != formation.RestartAll {
		t.Fatalf("strategy before preboot: %v", s)
	}

	expectIn(t, heroku("features", "-a", app), "[ ] preboot")
	expectIn(t, heroku("features:enable", "preboot", "-a", app), "Enabling preboot for "+app)
	expectIn(t, heroku("features:info", "preboot", "-a", app), "=== preboot", "Enabled", "true")
	expectIn(t, heroku("features", "-a", app), "[+] preboot")
	if s := strategy(); s != formation.RestartAll {
		t.Errorf("enabling preboot changed the running formation to %v; it applies from the next release", s)
	}
	expectIn(t, heroku("config:set", "GREETING=preboot", "-a", app), "GREETING")
	if s := strategy(); s != formation.Preboot {
		t.Errorf("strategy of the release after features:enable preboot: %v, want Preboot", s)
	}
	m.waitFor(app, "the new release", func(status int, body string) bool { return status == 200 && len(body) > 0 })

	// runtime-dyno-metadata is a labs feature: heroku labs, not features.
	if out := heroku("features", "-a", app); strings.Contains(out, "runtime-dyno-metadata") {
		t.Errorf("heroku features lists the labs feature:\n%s", out)
	}
	expectIn(t, heroku("labs", "-a", app), "[ ] runtime-dyno-metadata")
	expectIn(t, heroku("labs:enable", "runtime-dyno-metadata", "-a", app), "Enabling runtime-dyno-metadata for "+app)
	expectIn(t, heroku("labs", "-a", app), "[+] runtime-dyno-metadata")
	heroku("ps:restart", "-a", app)
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body, err := m.getPath(app, "/env/HEROKU_APP_NAME")
		if err == nil && status == 200 && body == app {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HEROKU_APP_NAME after labs:enable and ps:restart: %d %q %v", status, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	m.stop()
	m = startMinipaasWith(t, m.dataDir, m.token)
	var f struct {
		Name    string
		Enabled bool
	}
	if code := m.api("GET", "/apps/"+app+"/features/preboot", "", &f); code != http.StatusOK || !f.Enabled || f.Name != "preboot" {
		t.Errorf("preboot after a restart: %d %+v", code, f)
	}
	if s := strategy(); s != formation.Preboot {
		t.Errorf("strategy after a restart: %v, want Preboot", s)
	}
	if code := m.api("PATCH", "/apps/"+app+"/features/preboot", `{"enabled":false}`, &f); code != http.StatusOK || f.Enabled {
		t.Errorf("disable preboot: %d %+v", code, f)
	}
	m.expectError("GET", "/apps/"+app+"/features/nosuch", "", http.StatusNotFound, "not_found")
	m.expectError("PATCH", "/apps/"+app+"/features/preboot", `{}`, http.StatusUnprocessableEntity, "invalid_params")
	m.expectError("GET", "/apps/nosuchapp/features", "", http.StatusNotFound, "not_found")
}
