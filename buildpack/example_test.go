package buildpack_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/buildpack/builtin"
)

func ExampleParseRelease() {
	rel, err := buildpack.ParseRelease([]byte(`---
addons:
  - heroku-postgresql:essential-0
default_process_types:
  web: bin/server --port $PORT
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rel.DefaultProcessTypes["web"], rel.Addons)

	_, err = buildpack.ParseRelease([]byte("default_process_types:\n  web: [bin/a, bin/b]\n"))
	fmt.Println(err)
	// Output:
	// bin/server --port $PORT [heroku-postgresql:essential-0]
	// bin/release output line 2: field "default_process_types.web": want a string, got a list
}

// Build an app with the builtin buildpacks: the first to detect wins.
func ExampleBuilder_Build() {
	tmp, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(tmp)
	app := filepath.Join(tmp, "app")
	os.Mkdir(app, 0o755)
	os.WriteFile(filepath.Join(app, "Procfile"), []byte("web: ./server\nworker: ./worker\n"), 0o644)

	candidates, err := builtin.WriteAll(filepath.Join(tmp, "buildpacks"))
	if err != nil {
		fmt.Println(err)
		return
	}
	b := &buildpack.Builder{Cache: &buildpack.Cache{Dir: filepath.Join(tmp, "cache")}}
	res, err := b.Build(context.Background(), buildpack.BuildInput{
		App:    "example",
		AppDir: app,
		Detect: candidates,
		Output: os.Stdout, // a platform streams this to `git push`
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Buildpacks[0].Buildpack.Name, res.ProcessTypes["worker"])
	// Output:
	// -----> Building on the heroku-24 stack
	// -----> Procfile app detected
	//        Nothing to compile: the Procfile's commands run as they are
	// -----> Discovering process types
	//        Procfile declares types     -> web, worker
	// dynokit/procfile ./worker
}

// Sources are classified without touching the network.
func ExampleSource_Kind() {
	for _, url := range []string{
		"/srv/buildpacks/go",
		"https://example.com/buildpacks/go-v3.tgz",
		"https://github.com/heroku/heroku-buildpack-go#v200",
	} {
		kind, _ := buildpack.Source{URL: url}.Kind()
		fmt.Println(kind)
	}
	// Output:
	// directory
	// tarball
	// git
}
