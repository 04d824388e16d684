package platform

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/buildpack/builtin"
	"github.com/dynokit/dynokit/release"
)

// DeployBuildpacks is Deploy with an explicit, ordered list of builtin
// buildpacks (builtin.Names: "go", "nodejs", "static", "procfile"), as an
// app.json's buildpacks or `heroku buildpacks:set` choose them: each must
// detect, and each compiles in turn. An empty list detects as Deploy does.
// A name that is not builtin is an error naming it; nothing is built.
func (p *Platform) DeployBuildpacks(ctx context.Context, app, srcDir, commit string, names []string, out io.Writer) (release.Release, error) {
	var bps []buildpack.Buildpack
	for _, n := range names {
		bp, ok := p.builtinBuildpack(n)
		if !ok {
			return release.Release{}, fmt.Errorf("platform: deploy %s: no builtin buildpack %q (have %s)", app, n, strings.Join(builtin.Names(), ", "))
		}
		bps = append(bps, bp)
	}
	return p.deploy(ctx, app, srcDir, commit, bps, out)
}

// builtinBuildpack finds a builtin buildpack by name among those Open wrote.
func (p *Platform) builtinBuildpack(name string) (buildpack.Buildpack, bool) {
	for i, n := range builtin.Names() {
		if n == name && i < len(p.bps) {
			return p.bps[i], true
		}
	}
	return buildpack.Buildpack{}, false
}
