package platform

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// SetBuildpacks refuses what it cannot build with, keeps the order, and
// the list survives a reopen.
func TestSetBuildpacks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateApp(ctx, "bp-app"); err != nil {
		t.Fatal(err)
	}
	var bpErr *BuildpackError
	for _, bad := range [][]BuildpackInstallation{
		{{URL: "heroku/ruby", Builtin: "ruby"}},
		{{URL: "heroku/go", Builtin: "go"}, {URL: "https://github.com/heroku/heroku-buildpack-go", Builtin: "go"}},
	} {
		if _, err := p.SetBuildpacks(ctx, "bp-app", bad); !errors.As(err, &bpErr) {
			t.Errorf("SetBuildpacks(%v): %v, want a *BuildpackError", bad, err)
		}
	}
	if _, err := p.SetBuildpacks(ctx, "no-such-app", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetBuildpacks of a missing app: %v, want ErrNotFound", err)
	}
	want := []BuildpackInstallation{{URL: "heroku/static", Builtin: "static"}, {URL: "heroku/go", Builtin: "go"}}
	if got, err := p.SetBuildpacks(ctx, "bp-app", want); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("SetBuildpacks: %v, %v", got, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p, err = Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got, err := p.Buildpacks(ctx, "bp-app"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Buildpacks after reopen: %v, %v; want %v", got, err, want)
	}
	var out strings.Builder
	bps, err := p.buildpacksFor(appRecord{Buildpacks: want}, []string{"nodejs"}, &out)
	if err != nil || len(bps) != 2 || bps[0].Name != "dynokit/static" || bps[1].Name != "dynokit/go" {
		t.Errorf("buildpacksFor with the app's list and app.json's: %+v, %v; want static, go", bps, err)
	}
	if !strings.Contains(out.String(), "app.json's buildpacks are not used") {
		t.Errorf("buildpacksFor with both lists did not say app.json's is not used: %q", out.String())
	}
	if bps, err := p.buildpacksFor(appRecord{}, []string{"nodejs"}, io.Discard); err != nil || len(bps) != 1 || bps[0].Name != "dynokit/nodejs" {
		t.Errorf("buildpacksFor with app.json's only: %+v, %v; want nodejs", bps, err)
	}
}
