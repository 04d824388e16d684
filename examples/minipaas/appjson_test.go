package main

import (
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAppManifest(t *testing.T) {
	a, err := parseAppManifest([]byte(`{
		"name": "demo", "description": "x", "keywords": ["go"],
		"env": {
			"PLAIN": "v",
			"WITH_VALUE": {"description": "d", "value": "x"},
			"SECRET": {"generator": "secret"},
			"OPTIONAL": {"required": false},
			"NEEDED": {"description": "set me"}
		},
		"formation": {"web": {"quantity": 2, "size": "standard-1x"}, "worker": {"quantity": 0}},
		"addons": ["heroku-postgresql", {"plan": "heroku-redis:mini", "as": "CACHE", "options": {"x": 1}}],
		"buildpacks": [{"url": "heroku/go"}],
		"scripts": {"postdeploy": "echo hi", "test": {"command": "go test ./..."}},
		"environments": {"test": {"scripts": {"test": "x"}}}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if *a.Env["PLAIN"].Value != "v" || *a.Env["WITH_VALUE"].Value != "x" || a.Env["SECRET"].Generator != "secret" ||
		a.Env["OPTIONAL"].required() || !a.Env["NEEDED"].required() || a.Env["NEEDED"].Value != nil {
		t.Errorf("env: %+v", a.Env)
	}
	if f := a.Formation["web"]; *f.Quantity != 2 || f.Size != "standard-1x" {
		t.Errorf("formation: %+v", a.Formation)
	}
	if len(a.Addons) != 2 || a.Addons[0].Plan != "heroku-postgresql" || a.Addons[1].As != "CACHE" {
		t.Errorf("addons: %+v", a.Addons)
	}
	if a.Scripts["postdeploy"].Command != "echo hi" || a.Scripts["test"].Command != "go test ./..." {
		t.Errorf("scripts: %+v", a.Scripts)
	}

	for in, want := range map[string]string{
		``:                                      "want a JSON object",
		`[]`:                                    "want a JSON object",
		`{"env": `:                              "unexpected end",
		`{"env": {"A": 1}}`:                     "env.A: want a string or an object",
		`{"env": {"A": {"required": "yes"}}}`:   "env.A.required: want a boolean",
		`{"env": {"A": {"generator": "uuid"}}}`: "env.A.generator",
		`{"env": {"A-B": "x"}}`:                 `env "A-B"`,
		`{"env": {"A": {"valu": "x"}}}`:         `env.A: unknown field "valu"`,
		`{"formation": {"web": {"quantity": "2"}}}`:  "formation.web.quantity: want an integer",
		`{"formation": {"web": {"quantity": -1}}}`:   "formation.web.quantity",
		`{"formation": {"web": {"size": "huge"}}}`:   "formation.web.size",
		`{"formation": [{"process": "web"}]}`:        "formation: want an object",
		`{"buildpacks": ["heroku/go"]}`:              "buildpacks[0]: want an object",
		`{"buildpacks": [{"url": ""}]}`:              "buildpacks[0].url",
		`{"addons": [3]}`:                            "addons[0]: want a string or an object",
		`{"addons": [""]}`:                           "addons[0]",
		`{"scripts": {"postdeploy": 1}}`:             "scripts.postdeploy: want a string or an object",
		`{"scripts": {"postdeploy": ""}}`:            "scripts.postdeploy",
		`{"nmae": "x"}`:                              `top level: unknown field "nmae"`,
		`{"name": "x"} {}`:                           "unexpected data after the value",
		`{"name": 1}`:                                "name: want a string",
		`{"addons": [{"plan": "x", "options": []}]}`: "addons[0].options: want an object",
		`{"env": {"A": {"value": 1}}}`:               "env.A.value: want a string",
	} {
		_, err := parseAppManifest([]byte(in))
		if err == nil {
			t.Errorf("parseAppManifest(%s) accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "app.json: ") {
			t.Errorf("parseAppManifest(%s) = %q, want it to mention %q", in, err, want)
		}
	}
}

func TestBuiltinBuildpackFor(t *testing.T) {
	for in, want := range map[string]string{
		"heroku/go": "go", "heroku/nodejs": "nodejs", "heroku/static": "static", "heroku-community/static": "static",
		"https://github.com/heroku/heroku-buildpack-go": "go", "https://github.com/heroku/heroku-buildpack-nodejs.git": "nodejs",
		"dynokit/procfile": "procfile", "go": "go",
		"heroku/python": "", "https://example.com/bp.tgz": "", "": "",
	} {
		got, ok := builtinBuildpackFor(in)
		if got != want || ok != (want != "") {
			t.Errorf("builtinBuildpackFor(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func FuzzParseAppManifest(f *testing.F) {
	f.Add([]byte(`{"env": {"A": "x", "B": {"generator": "secret"}}, "formation": {"web": {"quantity": 1}}}`))
	f.Add([]byte(`{"addons": ["a", {"plan": "b"}], "scripts": {"postdeploy": {"command": "x"}}}`))
	f.Add([]byte(`{"buildpacks": [{"url": "heroku/go"}], "env": {"A": {"required": false}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseAppManifest(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "app.json: ") {
				t.Errorf("error without the file's name: %v", err)
			}
			return
		}
		// What parses is usable as setUpApp uses it.
		for name, e := range a.Env {
			if e.Generator != "" && e.Generator != "secret" {
				t.Errorf("env.%s: generator %q accepted", name, e.Generator)
			}
		}
		for typ, fm := range a.Formation {
			if fm.Quantity != nil && *fm.Quantity < 0 {
				t.Errorf("formation.%s: negative quantity accepted", typ)
			}
		}
		if s, ok := a.Scripts["postdeploy"]; ok && strings.TrimSpace(s.Command) == "" {
			t.Error("empty postdeploy accepted")
		}
	})
}

// TestAppJSONFirstPush pushes an app whose source has an app.json: its
// env (a generated secret, a value, a required var set beforehand),
// buildpacks, formation and postdeploy script apply on the first deploy,
// and a later push leaves the app as it is.
func TestAppJSONFirstPush(t *testing.T) {
	m := startMinipaas(t)
	const app = "manifest"
	if code := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); code != http.StatusCreated {
		t.Fatalf("POST /apps: %d", code)
	}
	g := newGitClient(t)
	repo := g.helloRepo()
	writeAppJSON := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, "app.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		g.run(repo, "add", "app.json")
		g.run(repo, "commit", "-q", "-m", "app.json")
	}
	push := func() (string, error) {
		t.Helper()
		out, err := g.push(repo, m.gitURL(app, m.token))
		t.Logf("git push:\n%s", out)
		return out, err
	}

	// Refused before any build: a wrong type, an unknown buildpack, a
	// required var nobody set. Each names its field.
	for body, want := range map[string]string{
		`{"formation": {"web": {"quantity": "two"}}}`:               "formation.web.quantity",
		`{"buildpacks": [{"url": "heroku/python"}]}`:                `buildpacks[0]: "heroku/python"`,
		`{"env": {"NEEDED": {"description": "must be set first"}}}`: "required config var NEEDED not set",
		// Buildpacks are a list, not candidates: static must detect, and
		// does not on a Go app.
		`{"buildpacks": [{"url": "heroku/static"}]}`: "App not compatible with buildpack: dynokit/static",
	} {
		writeAppJSON(body)
		out, err := push()
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("push with app.json %s: err %v, want a rejection mentioning %q", body, err, want)
		}
	}
	// This minipaas has no add-on servers: an app.json add-on fails the
	// setup before any build, naming what is missing.
	writeAppJSON(`{"addons": ["heroku-postgresql", {"plan": "heroku-redis:mini"}]}`)
	if out, err := push(); err == nil || !strings.Contains(out, "-postgres-url") {
		t.Errorf("push with an unavailable app.json add-on: err %v, want a rejection naming -postgres-url; output:\n%s", err, out)
	}
	var rels []struct{ Version int }
	if code := m.api("GET", "/apps/"+app+"/releases", "", &rels); code != http.StatusOK || len(rels) != 0 {
		t.Fatalf("releases after the refused pushes: %d %+v", code, rels)
	}

	if code := m.api("PATCH", "/apps/"+app+"/config-vars", `{"NEEDED":"from-config"}`, nil); code != http.StatusOK {
		t.Fatalf("PATCH config-vars: %d", code)
	}
	writeAppJSON(`{
		"name": "manifest demo",
		"env": {
			"GREETING": {"description": "what the app says", "value": "hi"},
			"NEEDED": {"description": "set before the push", "value": "from-app-json"},
			"SESSION_SECRET": {"generator": "secret"},
			"OPTIONAL": {"required": false}
		},
		"buildpacks": [{"url": "heroku/go"}],
		"formation": {"web": {"quantity": 2}},
		"scripts": {"postdeploy": "echo postdeploy saw $NEEDED on $DYNO; test ${#SESSION_SECRET} -eq 64"}
	}`)
	out, err := push()
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	for _, want := range []string{
		"Setting up the app from app.json", "Set config vars GREETING, SESSION_SECRET",
		"Buildpacks: go", "Scaled to web=2", "Running postdeploy script", "postdeploy saw from-config on run.", "postdeploy script done",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q", want)
		}
	}
	var cfg map[string]string
	if code := m.api("GET", "/apps/"+app+"/config-vars", "", &cfg); code != http.StatusOK {
		t.Fatalf("config-vars: %d", code)
	}
	secret := cfg["SESSION_SECRET"]
	if b, err := hex.DecodeString(secret); err != nil || len(b) != 32 {
		t.Errorf("SESSION_SECRET is not 64 hex digits (%d characters)", len(secret))
	}
	if secret != "" && strings.Contains(out, secret) {
		t.Error("the generated secret appears in the push output")
	}
	if cfg["NEEDED"] != "from-config" || cfg["GREETING"] != "hi" {
		t.Errorf("NEEDED %q, GREETING %q: want from-config (set first) and hi", cfg["NEEDED"], cfg["GREETING"])
	}
	if _, ok := cfg["OPTIONAL"]; ok {
		t.Error("OPTIONAL, with no value, was set")
	}
	seen := map[string]bool{}
	m.waitFor(app, "two web dynos with app.json's GREETING", func(status int, body string) bool {
		if status == http.StatusOK && strings.HasPrefix(body, "hi from ") {
			seen[strings.TrimSpace(strings.TrimPrefix(body, "hi from "))] = true
		}
		return seen["web.1"] && seen["web.2"]
	})

	// A later push ignores app.json: no new secret, no scaling, no
	// postdeploy.
	writeAppJSON(`{"env": {"SESSION_SECRET": {"generator": "secret"}}, "formation": {"web": {"quantity": 1}}, "scripts": {"postdeploy": "echo again"}}`)
	out, err = push()
	if err != nil {
		t.Fatalf("second push: %v", err)
	}
	if strings.Contains(out, "app.json") || strings.Contains(out, "postdeploy") {
		t.Errorf("the second push applied app.json:\n%s", out)
	}
	if code := m.api("GET", "/apps/"+app+"/config-vars", "", &cfg); code != http.StatusOK || cfg["SESSION_SECRET"] != secret {
		t.Errorf("SESSION_SECRET changed on the second push (%d)", code)
	}
	var form []struct {
		Type     string
		Quantity int
	}
	if code := m.api("GET", "/apps/"+app+"/formation", "", &form); code != http.StatusOK || len(form) != 1 || form[0].Quantity != 2 {
		t.Errorf("formation after the second push: %d %+v", code, form)
	}
}
