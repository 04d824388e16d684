package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/internal/copytree"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/slug"
)

// DeployStats are the phases of one successful deploy.
type DeployStats struct {
	App     string
	Version int
	// Build is copying the source and running the buildpacks; Pack is
	// packing and storing the slug; Release is extracting it, creating the
	// release (with its release phase) and handing the formation to the
	// Reconciler. Booting the new dynos follows asynchronously.
	Build, Pack, Release time.Duration
	SlugBytes            int64
}

// BuildError is a deploy whose build failed; the running release is
// untouched. The build output went to the deploy's writer.
type BuildError struct {
	App string
	Err error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("platform: deploy %s: build failed: %v", e.App, e.Err)
}

func (e *BuildError) Unwrap() error { return e.Err }

// Deploy builds srcDir (left unmodified) with the app's buildpacks
// (SetBuildpacks) or, when it has none, the builtin one that detects,
// packs and stores the slug, creates the release (running its release
// phase), and replaces the app's dynos. Progress is written to out the way
// Heroku's build output reads. commit names the release ("Deploy 1a2b3c4")
// and may be empty. On any failure the current release keeps running.
func (p *Platform) Deploy(ctx context.Context, app, srcDir, commit string, out io.Writer) (release.Release, error) {
	return p.deploy(ctx, app, srcDir, commit, nil, out)
}

// deploy is Deploy with a list of builtin buildpack names, used when the
// app has no list of its own (nil: detect among the builtin ones).
func (p *Platform) deploy(ctx context.Context, app, srcDir, commit string, names []string, out io.Writer) (release.Release, error) {
	run, err := p.startBuild(ctx, app, BuildSource{Version: commit}, names, out)
	if err != nil {
		return release.Release{}, err
	}
	rel, err := p.runBuild(ctx, app, run, srcDir, commit, names)
	run.finish(rel, err)
	return rel, err
}

// runBuild builds srcDir and releases it, writing the output to run.
func (p *Platform) runBuild(ctx context.Context, app string, run *buildRun, srcDir, commit string, names []string) (release.Release, error) {
	var out io.Writer = run
	e, rec, err := p.entry(app)
	if err != nil {
		return release.Release{}, err
	}
	bps, err := p.buildpacksFor(rec, names, out)
	if err != nil {
		return release.Release{}, fmt.Errorf("platform: deploy %s: %w", app, err)
	}
	user := p.userOf(ctx)
	t0 := time.Now()

	var config map[string]string
	if cur, err := p.rels.Current(ctx, rec.ID); err == nil {
		config = cur.Config
	} else if !errors.Is(err, release.ErrNotFound) {
		return release.Release{}, fmt.Errorf("platform: deploy %s: current release: %w", app, err)
	}

	// Buildpacks compile in place: build a private copy of the source.
	buildDir, err := os.MkdirTemp(filepath.Join(p.cfg.DataDir, "builds"), app+"-")
	if err != nil {
		return release.Release{}, fmt.Errorf("platform: deploy %s: %w", app, err)
	}
	defer os.RemoveAll(buildDir)
	appDir := filepath.Join(buildDir, "app")
	if err := copytree.Copy(ctx, srcDir, appDir, ".git"); err != nil { // history is not built
		return release.Release{}, fmt.Errorf("platform: deploy %s: copy source %s: %w", app, srcDir, err)
	}
	// As on Heroku, .slugignore'd files are gone before the buildpacks run
	// (what the build makes stays: packAndStore ignores nothing more).
	if _, err := slug.RemoveIgnored(ctx, appDir); err != nil {
		fmt.Fprintf(out, " !     %v\n", err)
		fmt.Fprintf(out, " !     Push rejected, failed to compile app.\n")
		return release.Release{}, &BuildError{App: app, Err: err}
	}

	p.apiLog(rec.ID, "Build started by "+user)
	in := buildpack.BuildInput{
		App: rec.ID, AppDir: appDir, Detect: p.bps, ConfigVars: config,
		SourceVersion: commit, Output: out,
	}
	if len(bps) > 0 {
		in.Buildpacks, in.Detect = bps, nil
	}
	res, err := p.build.Build(ctx, in)
	if err != nil {
		fmt.Fprintf(out, " !     Push rejected, failed to compile app.\n")
		p.apiLog(rec.ID, "Build failed -- check your build output")
		return release.Release{}, &BuildError{App: app, Err: err}
	}
	tBuild := time.Now()

	fmt.Fprintf(out, "-----> Compressing...\n")
	info, err := p.packAndStore(ctx, appDir)
	if err != nil {
		return release.Release{}, fmt.Errorf("platform: deploy %s: %w", app, err)
	}
	run.setSlug(info.Digest.Hex())
	fmt.Fprintf(out, "       Done: %s\n", slug.FormatSize(info.Size))
	if info.Warning != "" {
		fmt.Fprintf(out, " !     %s\n", info.Warning)
	}
	tPack := time.Now()

	fmt.Fprintf(out, "-----> Launching...\n")
	// The build ran without the app's lock (the cache is safe for
	// concurrent builds, and scaling should not wait for a compiler);
	// releasing is serialised with other changes, and refused if the app
	// was destroyed meanwhile.
	e.op.Lock()
	defer e.op.Unlock()
	if e.gone {
		return release.Release{}, fmt.Errorf("platform: deploy %s: app was destroyed during the build: %w", app, ErrNotFound)
	}
	ref := release.SlugRef{ID: info.Digest.Hex(), Checksum: info.Digest.String()}
	// Extract before releasing: dynos of the new release start from it, and
	// a slug that cannot be extracted must not become current.
	if _, err := p.slugDir(ctx, rec.ID, ref); err != nil {
		return release.Release{}, fmt.Errorf("platform: deploy %s: %w", app, err)
	}
	rel, err := p.mgr.Deploy(ctx, rec.ID, release.Deploy{Slug: ref, ProcessTypes: res.ProcessTypes, Commit: commit},
		release.Opts{User: user, Output: out})
	if err != nil {
		fmt.Fprintf(out, " !     Release failed\n")
		return release.Release{}, fmt.Errorf("platform: deploy %s: release: %w", app, err)
	}
	if commit != "" {
		p.apiLog(rec.ID, fmt.Sprintf("Deploy %s by %s", short(commit), user))
	}
	p.apiLog(rec.ID, fmt.Sprintf("Release %s created by %s", rel.Name(), user))
	p.emitRelease(rec.ID, user, rel)

	if err := p.applyRelease(ctx, e, rel); err != nil {
		return release.Release{}, fmt.Errorf("platform: deploy %s: %w", app, err)
	}
	fmt.Fprintf(out, "       Released %s\n", rel.Name())
	fmt.Fprintf(out, "       http://%s.%s/ deployed\n", app, p.cfg.BaseDomain)
	stats := DeployStats{App: app, Version: rel.Version, Build: tBuild.Sub(t0), Pack: tPack.Sub(tBuild), Release: time.Since(tPack), SlugBytes: info.Size}
	p.log.Info("platform: deployed", "app", app, "release", rel.Name(),
		"build", stats.Build.Round(time.Millisecond), "pack", stats.Pack.Round(time.Millisecond),
		"release_time", stats.Release.Round(time.Millisecond), "slug_bytes", info.Size)
	if p.cfg.OnDeployed != nil {
		p.cfg.OnDeployed(stats)
	}
	return releaseOf(rel, app), nil
}

func short(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}

// packAndStore packs dir into a temporary file and puts it in the slug
// store under its digest.
func (p *Platform) packAndStore(ctx context.Context, dir string) (slug.PackInfo, error) {
	f, err := os.CreateTemp(filepath.Join(p.cfg.DataDir, "tmp"), "slug-*.tgz")
	if err != nil {
		return slug.PackInfo{}, fmt.Errorf("pack slug: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	info, err := slug.Pack(ctx, f, dir, slug.PackOptions{Ignore: &slug.Ignore{}, Logger: p.log}) // .slugignore applied before the build
	if err != nil {
		return slug.PackInfo{}, fmt.Errorf("pack slug: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return slug.PackInfo{}, fmt.Errorf("pack slug: %w", err)
	}
	if _, err := p.slugs.Put(ctx, f, info.Digest); err != nil {
		return slug.PackInfo{}, fmt.Errorf("store slug: %w", err)
	}
	return info, nil
}
