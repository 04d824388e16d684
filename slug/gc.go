package slug

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultGCGrace is how old an unreferenced slug must be before
// CollectGarbage deletes it when GCOptions.Grace is zero. It is well above
// Heroku's 15-minute build limit, so a slug uploaded by a build whose
// release is not recorded yet survives.
const DefaultGCGrace = time.Hour

// GCOptions configures CollectGarbage. The zero value is ready to use.
type GCOptions struct {
	// Grace protects slugs put less than this long ago, referenced or not.
	// Zero means DefaultGCGrace; it cannot be turned off, only shortened.
	Grace time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// DryRun reports what would be deleted without deleting it.
	DryRun bool
	// Logger receives a line per deleted slug; nil discards.
	Logger *slog.Logger
}

// GCResult reports what CollectGarbage did.
type GCResult struct {
	Deleted    []Digest // deleted (or, with DryRun, to be deleted)
	Referenced int      // slugs kept because keep returned true
	Young      int      // unreferenced slugs kept because of the grace period
}

// CollectGarbage deletes the slugs in s that keep does not claim and that
// are older than the grace period. keep is typically "referenced by a
// release the platform still keeps" (current releases and the history
// rollbacks may need); compute that set before calling, and let the grace
// period cover releases being created meanwhile.
//
// A slug deleted concurrently by someone else is not an error. The first
// error from listing or deleting stops the collection and is returned with
// what was done so far.
func CollectGarbage(ctx context.Context, s Store, keep func(Digest) bool, opts GCOptions) (GCResult, error) {
	var res GCResult
	grace := opts.Grace
	if grace <= 0 {
		grace = DefaultGCGrace
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Decide first, delete after: deleting while a store's listing is in
	// progress is allowed but makes the listing's behaviour murkier.
	var doomed []Digest
	cutoff := now().Add(-grace)
	for info, err := range s.List(ctx) {
		if err != nil {
			return res, fmt.Errorf("slug: gc: listing: %w", err)
		}
		switch {
		case keep(info.Digest):
			res.Referenced++
		case info.CreatedAt.After(cutoff):
			res.Young++
		default:
			doomed = append(doomed, info.Digest)
		}
	}
	for _, d := range doomed {
		if opts.DryRun {
			res.Deleted = append(res.Deleted, d)
			continue
		}
		// Check again: the slug may have been put again since it was
		// listed (a deploy reusing an old build refreshes CreatedAt).
		info, err := s.Stat(ctx, d)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("slug: gc: %w", err)
		}
		if info.CreatedAt.After(cutoff) {
			res.Young++
			continue
		}
		if err := s.Delete(ctx, d); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return res, fmt.Errorf("slug: gc: %w", err)
		}
		logger.Info("slug: gc: deleted unreferenced slug", "digest", string(d), "size", info.Size, "created_at", info.CreatedAt)
		res.Deleted = append(res.Deleted, d)
	}
	return res, nil
}
