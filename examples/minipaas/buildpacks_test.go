package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
)

type buildpackOut struct {
	Buildpack struct{ URL, Name string }
	Ordinal   int
}

// buildpackNames is the list as "name@ordinal=url" entries.
func buildpackNames(list []buildpackOut) string {
	var parts []string
	for _, b := range list {
		parts = append(parts, b.Buildpack.Name+"@"+strconv.Itoa(b.Ordinal)+"="+b.Buildpack.URL)
	}
	return strings.Join(parts, " ")
}

// TestBuildpackInstallationsAPI checks the PUT's validation and order, the
// registry answer the CLI relies on, and that the list survives a restart
// and dies with its app.
func TestBuildpackInstallationsAPI(t *testing.T) {
	m := startMinipaas(t)
	const app = "bpapi"
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("create %s: %d", app, code)
	}
	path := "/apps/" + app + "/buildpack-installations"
	var list []buildpackOut
	if code := m.api("GET", path, "", &list); code != http.StatusOK || len(list) != 0 {
		t.Fatalf("GET %s of a new app: %d %+v", path, code, list)
	}

	// Order is the updates' order; URLs are kept as given, names are the
	// registry's.
	const put = `{"updates":[{"buildpack":"heroku/static"},{"buildpack":"https://github.com/heroku/heroku-buildpack-go"},{"buildpack":"https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/procfile.tgz"}]}`
	const want = "heroku/static@0=heroku/static heroku/go@1=https://github.com/heroku/heroku-buildpack-go heroku/procfile@2=https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/procfile.tgz"
	if code := m.api("PUT", path, put, &list); code != http.StatusOK || buildpackNames(list) != want {
		t.Fatalf("PUT %s: %d %s, want %s", path, code, buildpackNames(list), want)
	}

	// Refusals leave the list as it was.
	code, _, body := m.rawAPI("PUT", path, `{"updates":[{"buildpack":"heroku/go"},{"buildpack":"heroku/ruby"}]}`, m.authHeaders())
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "heroku/ruby") || !strings.Contains(body, "heroku/go, heroku/nodejs, heroku/static, heroku/procfile") {
		t.Errorf("PUT an unknown buildpack: %d %s; want 422 naming it and the available ones", code, body)
	}
	code, _, body = m.rawAPI("PUT", path, `{"updates":[{"buildpack":"https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/ruby.tgz"}]}`, m.authHeaders())
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "Buildpack heroku/ruby is not available") {
		t.Errorf("PUT an unknown registry URL: %d %s; want 422 naming heroku/ruby", code, body)
	}
	m.expectError("PUT", path, `{"updates":[{"buildpack":"heroku/go"},{"buildpack":"https://github.com/heroku/heroku-buildpack-go.git"}]}`, http.StatusUnprocessableEntity, "invalid_params")
	m.expectError("PUT", path, `{"updates":[{}]}`, http.StatusUnprocessableEntity, "invalid_params")
	m.expectError("PUT", path, `{}`, http.StatusUnprocessableEntity, "invalid_params")
	m.expectError("PUT", "/apps/nosuchapp/buildpack-installations", `{"updates":[]}`, http.StatusNotFound, "not_found")
	if code := m.api("GET", path, "", &list); code != http.StatusOK || buildpackNames(list) != want {
		t.Errorf("after refused PUTs: %d %s, want %s", code, buildpackNames(list), want)
	}

	// The registry subset answers without a key; blob_url maps back.
	code, _, body = m.rawAPI("GET", registryPrefix+"/buildpacks/heroku%2Fgo", "", map[string]string{"Accept": "application/vnd.heroku+json; version=3.buildpack-registry"})
	if code != http.StatusOK || !strings.Contains(body, `"blob_url":"`+registryBlobURL("heroku/go")+`"`) {
		t.Errorf("registry heroku/go: %d %s", code, body)
	}
	if code, _, body := m.rawAPI("GET", registryPrefix+"/buildpacks/nonamespace", "", nil); code != http.StatusNotFound {
		t.Errorf("registry nonamespace: %d %s, want 404", code, body)
	}

	// The list is on disk.
	m.stop()
	m = startMinipaasWith(t, m.dataDir, m.token)
	if code := m.api("GET", path, "", &list); code != http.StatusOK || buildpackNames(list) != want {
		t.Errorf("after a restart: %d %s, want %s", code, buildpackNames(list), want)
	}

	// An empty list clears; a destroyed app's list goes with it.
	if code := m.api("PUT", path, `{"updates":[{"buildpack":"heroku/nodejs"}]}`, &list); code != http.StatusOK || len(list) != 1 {
		t.Fatalf("PUT nodejs: %d %+v", code, list)
	}
	if code := m.api("DELETE", "/apps/"+app, "", nil); code != http.StatusOK {
		t.Fatalf("destroy %s: %d", app, code)
	}
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("create %s again: %d", app, code)
	}
	if code := m.api("GET", path, "", &list); code != http.StatusOK || len(list) != 0 {
		t.Errorf("list of a new app under a destroyed one's name: %d %s, want none", code, buildpackNames(list))
	}
	if code := m.api("PUT", path, `{"updates":[{"buildpack":"heroku/go"}]}`, &list); code != http.StatusOK || len(list) != 1 {
		t.Fatalf("PUT go: %d %+v", code, list)
	}
	if code := m.api("PUT", path, `{"updates":[]}`, &list); code != http.StatusOK || len(list) != 0 {
		t.Errorf("PUT no updates: %d %s, want an empty list", code, buildpackNames(list))
	}
}

// TestHerokuCLIBuildpacks sets, lists, edits and clears an app's
// buildpacks with the real CLI, and checks that the next pushes build with
// them: a Go module that also has an index.html (and an app.json asking
// for heroku/go) is served as a static site while heroku/static is set,
// and as the Go app once the list is cleared.
func TestHerokuCLIBuildpacks(t *testing.T) {
	m := startMinipaas(t)
	cli := herokucli.Require(t, m.apiURL, m.token)
	cli.Env = append(cli.Env, "HEROKU_BUILDPACK_REGISTRY_URL="+m.apiURL+registryPrefix)
	heroku := herokuFunc(t, cli)
	const app = "bpdemo"
	expectIn(t, heroku("apps:create", app), app)

	g := newGitClient(t)
	repo := g.helloRepo()
	for name, content := range map[string]string{
		"index.html": "<h1>static " + app + "</h1>\n",
		"app.json":   `{"buildpacks":[{"url":"heroku/go"}]}`,
	} {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g.run(repo, "add", ".")
	g.run(repo, "commit", "-q", "-m", "a static page too")

	expectIn(t, heroku("buildpacks", "-a", app), app+" has no Buildpacks.")
	expectIn(t, heroku("buildpacks:set", "heroku/static", "-a", app), "Buildpack set. Next release on "+app+" will use heroku/static.")
	expectIn(t, heroku("buildpacks:add", "--index", "1", "heroku/go", "-a", app), "1. heroku/go", "2. heroku/static")
	expectIn(t, heroku("buildpacks:remove", "--index", "1", "-a", app), "Next release on "+app+" will use heroku/static.")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := cli.Run(ctx, "buildpacks:add", "heroku/ruby", "-a", app)
	if err != nil {
		t.Fatal(err)
	}
	if msg := strings.Join(strings.Fields(strings.ReplaceAll(res.Stderr, "›", "")), " "); res.ExitCode == 0 || !strings.Contains(msg, "heroku/ruby is not available on minipaas") || !strings.Contains(msg, "heroku/static, heroku/procfile") {
		t.Errorf("buildpacks:add heroku/ruby: want a refusal naming it and the available buildpacks: %s", res)
	}
	expectIn(t, heroku("buildpacks", "-a", app), "heroku/static")

	// The registry's read commands, for the builtin buildpacks.
	expectIn(t, heroku("buildpacks:search", "go"), "heroku/go", "minipaas's builtin go buildpack", "1 buildpack found")
	expectIn(t, heroku("buildpacks:search", "--namespace", "heroku"), "heroku/static", "4 buildpacks found")
	expectIn(t, heroku("buildpacks:info", "heroku/static"), "Apache-2.0", "https://github.com/dynokit/dynokit", "part of the minipaas binary")
	expectIn(t, heroku("buildpacks:versions", "heroku/go"), "published")
	if res, err := cli.Run(ctx, "buildpacks:versions", "heroku/ruby"); err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "Could not find 'heroku/ruby'") {
		t.Errorf("buildpacks:versions heroku/ruby: %v %s", err, res)
	}

	out, err := g.push(repo, m.gitURL(app, m.token))
	if err != nil {
		t.Fatalf("git push: %v\n%s", err, out)
	}
	expectIn(t, out, "Using the app's buildpacks: https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/static.tgz", "app.json's buildpacks are not used", "Static HTML app detected")
	if strings.Contains(out, "Go app detected") {
		t.Errorf("the push with heroku/static set detected Go:\n%s", out)
	}
	m.waitFor(app, "the static page", func(status int, body string) bool {
		return status == 200 && strings.Contains(body, "static "+app)
	})

	expectIn(t, heroku("buildpacks:clear", "-a", app), "Buildpacks cleared. Next release on "+app+" will detect buildpacks normally.")
	expectIn(t, heroku("buildpacks", "-a", app), app+" has no Buildpacks.")
	g.run(repo, "commit", "-q", "--allow-empty", "-m", "rebuild")
	out, err = g.push(repo, m.gitURL(app, m.token))
	if err != nil {
		t.Fatalf("git push: %v\n%s", err, out)
	}
	expectIn(t, out, "Go app detected")
	if strings.Contains(out, "Using the app's buildpacks") {
		t.Errorf("the push after buildpacks:clear used a list:\n%s", out)
	}
	m.waitFor(app, "the Go app", func(status int, body string) bool {
		return status == 200 && strings.Contains(body, " from web.1")
	})
}

// TestBuildpackSpellings covers the URLs the CLI and the registry use for
// builtin buildpacks, beside the app.json spellings TestBuiltinBuildpackFor
// covers.
func TestBuildpackSpellings(t *testing.T) {
	for in, want := range map[string]string{
		registryBlobURL("heroku/static"):                                     "static",
		"https://codon-buildpacks.s3.amazonaws.com/buildpacks/heroku/go.tgz": "go",
		"urn:buildpack:heroku/nodejs":                                        "nodejs",
		registryBlobURL("heroku/ruby"):                                       "",
		registryBlobURL("someone/go"):                                        "",
	} {
		if got, ok := builtinBuildpackFor(in); got != want || ok != (want != "") {
			t.Errorf("builtinBuildpackFor(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for in, want := range map[string]string{
		registryBlobURL("heroku/ruby"): "heroku/ruby",
		"https://example.com/bp.tgz":   "https://example.com/bp.tgz",
	} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}
