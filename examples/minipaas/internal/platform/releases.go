package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/release"
)

// Config returns the app's config vars (those of its current release).
func (p *Platform) Config(ctx context.Context, app string) (release.ConfigVars, error) {
	cur, err := p.current(ctx, app)
	if errors.Is(err, ErrNoRelease) {
		return release.ConfigVars{}, nil
	}
	if err != nil {
		return nil, err
	}
	if cur.Config == nil {
		cur.Config = release.ConfigVars{}
	}
	return cur.Config, nil
}

// SetConfig sets and unsets config vars in one new release and restarts
// the app's dynos with them. Errors name the var and the rule, never a value.
func (p *Platform) SetConfig(ctx context.Context, app string, set map[string]string, unset []string) (release.Release, error) {
	return p.change(ctx, app, "set config", func(id string, o release.Opts) (release.Release, error) {
		return p.mgr.SetConfig(ctx, id, release.ConfigChange{Set: set, Unset: unset}, o)
	})
}

// Rollback makes a new release running the slug, process types and config
// vars of version (heroku rollback), and replaces the dynos.
func (p *Platform) Rollback(ctx context.Context, app string, version int) (release.Release, error) {
	return p.change(ctx, app, fmt.Sprintf("roll back to v%d", version), func(id string, o release.Opts) (release.Release, error) {
		return p.mgr.Rollback(ctx, id, version, o)
	})
}

// change runs one release-creating operation and applies the new release
// to the formation.
func (p *Platform) change(ctx context.Context, app, what string, do func(id string, o release.Opts) (release.Release, error)) (release.Release, error) {
	e, rec, err := p.lockApp(app)
	if err != nil {
		return release.Release{}, err
	}
	defer e.op.Unlock()
	user := p.userOf(ctx)
	rel, err := do(rec.ID, release.Opts{User: user})
	if err != nil {
		if errors.Is(err, release.ErrNotFound) {
			err = fmt.Errorf("%w: %w", err, ErrNotFound)
		} else if errors.Is(err, release.ErrConflict) {
			err = fmt.Errorf("%w: %w", err, ErrConflict)
		}
		return release.Release{}, fmt.Errorf("platform: %s on %s: %w", what, app, err)
	}
	// As Heroku's API lines: what was done, then the release it made.
	p.apiLog(rec.ID, fmt.Sprintf("%s by %s", rel.Description, user))
	p.apiLog(rec.ID, fmt.Sprintf("Release %s created by %s", rel.Name(), user))
	p.emitRelease(rec.ID, user, rel)
	if err := p.applyRelease(ctx, e, rel); err != nil {
		return release.Release{}, fmt.Errorf("platform: %s on %s: %w", what, app, err)
	}
	return releaseOf(rel, app), nil
}

// applyRelease runs a new succeeded release: process types seen for the
// first time join the formation at 0 dynos, except web, which starts with
// one as on Heroku; then the Reconciler replaces the dynos. Callers hold
// e.op.
func (p *Platform) applyRelease(ctx context.Context, e *appEntry, rel release.Release) error {
	if rel.Status != release.StatusSucceeded {
		return nil
	}
	rec, err := p.updateApp(ctx, e, func(r *appRecord) error {
		for t := range rel.ProcessTypes {
			if _, ok := r.Formation[t]; !ok && t != "release" {
				q := 0
				if t == "web" {
					q = 1
				}
				r.Formation[t] = formation.Process{Quantity: q}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("formation: %w", err)
	}
	return p.setFormation(rec, rel)
}

// History is the app's whole release history, oldest first, read a page
// at a time.
func (p *Platform) History(ctx context.Context, app string) ([]release.Release, error) {
	var out []release.Release
	opt := release.ListOptions{Max: release.MaxMax, Order: release.Asc}
	for {
		page, err := p.Releases(ctx, app, opt)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		next, more := release.NextRange(opt, page)
		if !more {
			return out, nil
		}
		opt = next
	}
}

// Releases lists the app's release history (newest first by default).
func (p *Platform) Releases(ctx context.Context, app string, opt release.ListOptions) ([]release.Release, error) {
	id, ok := p.appID(app)
	if !ok {
		return nil, fmt.Errorf("platform: releases of %q: %w", app, ErrNotFound)
	}
	rs, err := p.rels.List(ctx, id, opt)
	if err != nil {
		return nil, fmt.Errorf("platform: releases of %s: %w", app, err)
	}
	for i := range rs {
		rs[i] = releaseOf(rs[i], app)
	}
	return rs, nil
}

// Release returns one version of the app.
func (p *Platform) Release(ctx context.Context, app string, version int) (release.Release, error) {
	id, ok := p.appID(app)
	if !ok {
		return release.Release{}, fmt.Errorf("platform: release of %q: %w", app, ErrNotFound)
	}
	r, err := p.rels.Get(ctx, id, version)
	if errors.Is(err, release.ErrNotFound) {
		return release.Release{}, fmt.Errorf("platform: %s has no release v%d: %w", app, version, ErrNotFound)
	}
	if err != nil {
		return release.Release{}, fmt.Errorf("platform: release v%d of %s: %w", version, app, err)
	}
	return releaseOf(r, app), nil
}

// Promote releases the slug and process types of version of app from on
// app to, without a rebuild (pipelines:promote); to keeps its own config
// vars and add-ons. Version 0 means from's current release.
func (p *Platform) Promote(ctx context.Context, from string, version int, to string) (release.Release, error) {
	src, err := p.current(ctx, from)
	if version != 0 {
		src, err = p.Release(ctx, from, version)
	}
	if err != nil {
		return release.Release{}, err
	}
	if src.Status != release.StatusSucceeded || src.Slug.IsZero() {
		return release.Release{}, fmt.Errorf("platform: promote %s v%d: only a succeeded release with a slug can be promoted", from, src.Version)
	}
	// release.Manager.Promote would describe the release with from's store
	// key (its ID); a deploy of the same slug with Heroku's wording is the
	// same promotion under the app's name.
	return p.change(ctx, to, "promote", func(id string, o release.Opts) (release.Release, error) {
		if _, err := p.slugDir(ctx, id, src.Slug); err != nil {
			return release.Release{}, fmt.Errorf("slug of %s v%d: %w", from, src.Version, err)
		}
		return p.mgr.Deploy(ctx, id, release.Deploy{
			Slug: src.Slug, ProcessTypes: src.ProcessTypes, Commit: src.Commit,
			Description: fmt.Sprintf("Promote %s %s", from, src.Name()),
		}, o)
	})
}

// ReleaseSlug makes a new release of app running slug slugID (AppSlug:
// one created and uploaded by API, or one a release of the app ran) with
// its process types and the app's current config vars: the Platform API's
// POST /apps/{app}/releases with a slug, which heroku releases:retry uses
// to run the release phase again. description names the release; empty
// means "Deploy <commit or slug>".
func (p *Platform) ReleaseSlug(ctx context.Context, app, slugID, description string) (release.Release, error) {
	s, err := p.AppSlug(ctx, app, slugID)
	if err != nil {
		return release.Release{}, err
	}
	if !s.Uploaded {
		return release.Release{}, fmt.Errorf("platform: release slug %s on %s: upload it first: %w", slugID, app, ErrNoRelease)
	}
	ref := release.SlugRef{ID: s.ID, Checksum: s.Checksum}
	return p.change(ctx, app, "release slug", func(id string, o release.Opts) (release.Release, error) {
		if _, err := p.slugDir(ctx, id, ref); err != nil {
			return release.Release{}, fmt.Errorf("slug %s: %w", s.ID, err)
		}
		return p.mgr.Deploy(ctx, id, release.Deploy{
			Slug: ref, ProcessTypes: s.ProcessTypes, Commit: s.Commit, Description: description,
		}, o)
	})
}
