package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
)

// TestRenameApp: heroku apps:rename moves an app with what minipaas keeps
// by its name (add-on records and attachments, log drains, the git
// repository), all of which hold after a restart; the old name's URL,
// git remote and API paths are gone, and the name is free again. A
// destroyed app's repository goes with it.
func TestRenameApp(t *testing.T) {
	redisAdmin := startRedis(t)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	flags := []string{"-redis-url", redisAdmin}
	m := startMinipaasWith(t, dataDir, token, flags...)
	g := newGitClient(t)

	for _, app := range []string{"demo", "other"} {
		if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
			t.Fatalf("create %s: %d", app, st)
		}
	}
	repo := g.helloRepo()
	if out, err := g.push(repo, m.gitURL("demo", m.token)); err != nil {
		t.Fatalf("git push: %v\n%s", err, out)
	}
	m.waitFor("demo", "the first deploy", func(status int, body string) bool { return status == 200 })
	var redis addonOut
	if st := m.api("POST", "/apps/demo/addons", `{"plan":"heroku-redis:mini"}`, &redis); st != 201 {
		t.Fatalf("create redis: %d", st)
	}
	if st := m.api("POST", "/addon-attachments", `{"addon":{"name":"`+redis.Name+`"},"app":{"name":"other"},"name":"cache"}`, nil); st != 201 {
		t.Fatalf("attach redis to other: %d", st)
	}
	if st := m.api("POST", "/apps/demo/log-drains", `{"url":"syslog://127.0.0.1:1"}`, nil); st != http.StatusCreated {
		t.Fatalf("add a drain: %d", st)
	}
	redisURL := m.config("demo")["REDIS_URL"]

	cli := herokucli.Require(t, m.apiURL, m.token)
	heroku := herokuFunc(t, cli)
	expectIn(t, heroku("apps:rename", "shop", "-a", "demo"), "Renaming demo to shop", "http://shop.localhost:"+portOf(m.routerAddr)+"/")
	m.expectError("PATCH", "/apps/shop", `{"name":"other"}`, 422, "invalid_params")
	m.expectError("PATCH", "/apps/shop", `{"name":"No Spaces"}`, 422, "invalid_params")
	m.expectError("GET", "/apps/demo", "", 404, "not_found")
	if st := m.api("PATCH", "/apps/other", `{"name":"other-two"}`, nil); st != 200 {
		t.Fatalf("rename other: %d", st)
	}

	check := func(when string) {
		t.Helper()
		if st, body, err := m.get("shop"); err != nil || st != 200 || !strings.Contains(body, "from web.1") {
			t.Errorf("%s: shop.localhost answers %d %q %v", when, st, body, err)
		}
		if list := m.listAddons("shop"); len(list) != 1 || list[0].Name != redis.Name || list[0].App.Name != "shop" {
			t.Errorf("%s: shop's add-ons are %+v", when, list)
		}
		if list := m.listAddons("other-two"); len(list) != 1 || list[0].Name != redis.Name || list[0].App.Name != "shop" {
			t.Errorf("%s: other-two's add-ons are %+v (want shop's %s)", when, list, redis.Name)
		}
		if got := m.config("shop")["REDIS_URL"]; got != redisURL {
			t.Errorf("%s: shop's REDIS_URL changed", when)
		}
		if got := m.config("other-two")["CACHE_URL"]; got != redisURL {
			t.Errorf("%s: other-two's CACHE_URL is not shop's REDIS_URL", when)
		}
		if d := m.drains("shop"); len(d) != 1 || d[0].URL != "syslog://127.0.0.1:1" {
			t.Errorf("%s: shop's drains are %+v", when, d)
		}
	}
	check("after the rename")
	if st, _, err := m.get("demo"); err != nil || st != 404 {
		t.Errorf("demo.localhost answers %d %v, want 404", st, err)
	}

	// The CLI names the billing app by its new name.
	expectIn(t, heroku("addons:info", redis.Name), "shop")

	// The repository moved: the old remote is gone, the new one takes an
	// incremental push.
	if out, err := g.push(repo, m.gitURL("demo", m.token)); err == nil {
		t.Errorf("push to the old name succeeded:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(repo, "NOTE"), []byte("after the rename\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.run(repo, "add", "NOTE")
	g.run(repo, "commit", "-q", "-m", "note")
	if out, err := g.push(repo, m.gitURL("shop", m.token)); err != nil || !strings.Contains(out, "remote: -----> ") {
		t.Fatalf("push to the new name: %v\n%s", err, out)
	}

	// The old name is free.
	if st := m.api("POST", "/apps", `{"name":"demo"}`, nil); st != 201 {
		t.Fatalf("create demo again: %d", st)
	}

	m.stop()
	m = startMinipaasWith(t, dataDir, token, flags...)
	m.waitFor("shop", "after a restart", func(status int, body string) bool { return status == 200 })
	check("after a restart")

	// A destroyed app's repository goes: a new app of its name takes an
	// unrelated history without a force push.
	if st := m.api("DELETE", "/apps/shop", "", nil); st != 200 {
		t.Fatalf("destroy shop: %d", st)
	}
	if st := m.api("POST", "/apps", `{"name":"shop"}`, nil); st != 201 {
		t.Fatalf("create shop again: %d", st)
	}
	if out, err := g.push(g.testdataRepo("webworker"), m.gitURL("shop", m.token)); err != nil {
		t.Fatalf("push another history to the re-created shop: %v\n%s", err, out)
	}
}
