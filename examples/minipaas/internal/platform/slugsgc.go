package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/slug"
)

// Slugs are kept while anything may run them again: a release of any app
// (rollbacks and promotions need the whole history) or a slug created by
// API. The rest, a destroyed app's slugs above all, are deleted from the
// slug store once older than the grace period; a slug put by a build whose
// release is still being made is younger than that. The extracted copies
// under apps/<id>/slugs/ go with their app.

// CollectSlugs deletes the slugs nothing refers to (see above) and
// returns what it did.
func (p *Platform) CollectSlugs(ctx context.Context) (slug.GCResult, error) {
	keep := map[slug.Digest]bool{}
	apps, err := p.Apps(ctx)
	if err != nil {
		return slug.GCResult{}, err
	}
	for _, a := range apps {
		hist, err := p.History(ctx, a.Name)
		if err != nil {
			return slug.GCResult{}, fmt.Errorf("platform: collect slugs: %w", err)
		}
		for _, r := range hist {
			if d, err := slug.ParseDigest(r.Slug.Checksum); err == nil {
				keep[d] = true
			}
		}
	}
	err = p.kv.View(ctx, func(tx store.Tx) error {
		return tx.Scan(slugsNS, nil, false, 0, func(_, v []byte) bool {
			var s Slug
			if json.Unmarshal(v, &s) == nil {
				if d, err := slug.ParseDigest(s.Checksum); err == nil {
					keep[d] = true
				}
			}
			return true
		})
	})
	if err != nil {
		return slug.GCResult{}, fmt.Errorf("platform: collect slugs: %w", err)
	}
	res, err := slug.CollectGarbage(ctx, p.slugs, func(d slug.Digest) bool { return keep[d] },
		slug.GCOptions{Grace: p.cfg.SlugGrace, Logger: p.log})
	if err != nil {
		return res, fmt.Errorf("platform: collect slugs: %w", err)
	}
	return res, nil
}

// collectSlugs runs CollectSlugs every Config.SlugGCEvery until ctx ends.
func (p *Platform) collectSlugs(ctx context.Context) {
	period := p.cfg.SlugGCEvery
	if period == 0 {
		period = 24 * time.Hour
	}
	if period < 0 {
		return
	}
	every(ctx, period, func(time.Time) {
		res, err := p.CollectSlugs(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("platform: slug garbage collection", "err", err)
			}
			return
		}
		p.log.Info("platform: slug garbage collection", "deleted", len(res.Deleted), "referenced", res.Referenced, "young", res.Young)
	})
}
