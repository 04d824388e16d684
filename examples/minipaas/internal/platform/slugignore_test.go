package platform

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dynokit/dynokit/internal/copytree"
)

// .slugignore'd files are gone before the buildpacks run, as on Heroku, and
// what the build makes stays in the slug even when a pattern matches it:
// the ignored broken.go would fail the Go build, and "bin" matches the
// directory the build puts the app's binary in.
func TestSlugIgnoreBeforeTheBuild(t *testing.T) {
	ctx := context.Background()
	p := start(t, t.TempDir())
	t.Cleanup(func() { p.stop(t) })
	if _, err := p.CreateApp(ctx, "ignoring"); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := copytree.Copy(ctx, "testdata/hello", src); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		".slugignore":     "broken.go\nbin\n*.pdf\n",
		"broken.go":       "package main\n\nfunc broken() { undefined() }\n",
		"docs/manual.pdf": "%PDF",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755)
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if _, err := p.Deploy(ctx, "ignoring", src, "", &out); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	p.waitFor(t, "ignoring", "the deployed app", ok("from web.1"))
	status, body, err := p.getPath("ignoring", "/env/HOME")
	if err != nil || status != 200 {
		t.Fatalf("HOME: %d %v", status, err)
	}
	if _, err := os.Stat(filepath.Join(body, "main.go")); err != nil {
		t.Fatalf("HOME %s does not hold the slug: %v", body, err)
	}
	for _, name := range []string{"broken.go", "docs/manual.pdf"} {
		if _, err := os.Stat(filepath.Join(body, name)); err == nil {
			t.Errorf("%s is in the slug", name)
		}
	}
}
