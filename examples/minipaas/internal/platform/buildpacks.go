package platform

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/buildpack/builtin"
	"github.com/dynokit/dynokit/release"
)

// Which buildpacks build a deploy, first match wins:
//
//  1. the app's own list (SetBuildpacks, `heroku buildpacks:set`), as on
//     Heroku, where a git push builds with the app's buildpacks;
//  2. the list passed to DeployBuildpacks (minipaas passes app.json's on
//     an app's first deploy);
//  3. detection among the builtin buildpacks (Deploy).
//
// An explicit list runs every buildpack in order, and each must detect
// (heroku.md §2.4).

// BuildpackInstallation is one entry of an app's buildpack list.
type BuildpackInstallation struct {
	// URL is the buildpack as the user named it: a registry name such as
	// heroku/go or a URL. It is kept as given so clients find it again.
	URL string `json:"url"`
	// Builtin is the builtin buildpack it stands for (builtin.Names).
	Builtin string `json:"builtin"`
}

// Buildpacks returns the app's buildpack list in build order; empty means
// the next deploy detects.
func (p *Platform) Buildpacks(ctx context.Context, app string) ([]BuildpackInstallation, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return nil, err
	}
	return rec.Buildpacks, nil
}

// BuildpackError is a buildpack list the platform cannot build with.
type BuildpackError struct {
	App    string
	Reason string
}

func (e *BuildpackError) Error() string {
	return fmt.Sprintf("platform: buildpacks of %s: %s", e.App, e.Reason)
}

// SetBuildpacks replaces the app's buildpack list; an empty list restores
// detection. Each entry's Builtin must name a builtin buildpack, at most
// once (*BuildpackError otherwise). Mapping what users type (heroku/go, a
// GitHub URL) to Builtin is the caller's job. The list takes effect at the
// next deploy; nothing is rebuilt now, as on Heroku.
func (p *Platform) SetBuildpacks(ctx context.Context, app string, list []BuildpackInstallation) ([]BuildpackInstallation, error) {
	seen := map[string]bool{}
	for i, b := range list {
		if !slices.Contains(builtin.Names(), b.Builtin) {
			return nil, &BuildpackError{App: app, Reason: fmt.Sprintf("entry %d (%q): no builtin buildpack %q (have %s)", i, b.URL, b.Builtin, strings.Join(builtin.Names(), ", "))}
		}
		if seen[b.Builtin] {
			return nil, &BuildpackError{App: app, Reason: fmt.Sprintf("entry %d (%q): buildpack %s is listed twice", i, b.URL, b.Builtin)}
		}
		seen[b.Builtin] = true
	}
	e, _, err := p.lockApp(app)
	if err != nil {
		return nil, err
	}
	defer e.op.Unlock()
	rec, err := p.updateApp(ctx, e, func(r *appRecord) error {
		r.Buildpacks = append([]BuildpackInstallation(nil), list...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("platform: buildpacks of %s: %w", app, err)
	}
	return rec.Buildpacks, nil
}

// DeployBuildpacks is Deploy with an ordered list of builtin buildpacks
// (builtin.Names: "go", "nodejs", "static", "procfile"), as an app.json's
// buildpacks choose them: each must detect, and each compiles in turn. The
// app's own list (SetBuildpacks), when set, wins over names; an empty list
// detects as Deploy does. A name that is not builtin is an error naming
// it; nothing is built.
func (p *Platform) DeployBuildpacks(ctx context.Context, app, srcDir, commit string, names []string, out io.Writer) (release.Release, error) {
	for _, n := range names {
		if _, ok := p.builtinBuildpack(n); !ok {
			return release.Release{}, fmt.Errorf("platform: deploy %s: no builtin buildpack %q (have %s)", app, n, strings.Join(builtin.Names(), ", "))
		}
	}
	return p.deploy(ctx, app, srcDir, commit, names, out)
}

// buildpacksFor resolves which buildpacks build rec's next deploy (see the
// order above): nil means detection. It tells out when the app's list is
// used, since the build output alone would not say why detection did not
// run.
func (p *Platform) buildpacksFor(rec appRecord, names []string, out io.Writer) ([]buildpack.Buildpack, error) {
	if len(rec.Buildpacks) > 0 {
		var urls []string
		for _, b := range rec.Buildpacks {
			urls = append(urls, b.URL)
		}
		fmt.Fprintf(out, "-----> Using the app's buildpacks: %s\n", strings.Join(urls, ", "))
		if len(names) > 0 {
			fmt.Fprintf(out, "       (app.json's buildpacks are not used: the app's list wins)\n")
		}
		names = nil
		for _, b := range rec.Buildpacks {
			names = append(names, b.Builtin)
		}
	}
	var bps []buildpack.Buildpack
	for _, n := range names {
		bp, ok := p.builtinBuildpack(n)
		if !ok {
			return nil, fmt.Errorf("no builtin buildpack %q (have %s)", n, strings.Join(builtin.Names(), ", "))
		}
		bps = append(bps, bp)
	}
	return bps, nil
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
