package release

import (
	"fmt"
	"time"
)

// The helpers below keep the rules every Store enforces in one place, so
// that implementations stay small and agree (releasetest checks them).

// CheckAppend validates the arguments of Store.Append.
func CheckAppend(app string, r Release, expectVersion int) error {
	if err := ValidateApp(app); err != nil {
		return err
	}
	if expectVersion < 0 {
		return fmt.Errorf("release: append to %s: expected version %d is negative", app, expectVersion)
	}
	if r.Status != StatusPending && r.Status != StatusSucceeded {
		return fmt.Errorf("release: append to %s: status %q: new releases are pending or succeeded", app, r.Status)
	}
	if !r.Slug.IsZero() {
		if err := r.Slug.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// ConflictError is the error Append returns when expectVersion is stale.
func ConflictError(app string, expectVersion, latest int) error {
	return fmt.Errorf("release: append to %s: expected latest v%d, found v%d: %w", app, expectVersion, latest, ErrConflict)
}

// Transition returns r moved to status to, or an error wrapping
// ErrConflict when r is not pending or to is not final.
func Transition(r Release, to Status, now time.Time) (Release, error) {
	if to != StatusSucceeded && to != StatusFailed {
		return Release{}, fmt.Errorf("release: %s v%d: cannot set status %q: want succeeded or failed", r.App, r.Version, to)
	}
	if r.Status != StatusPending {
		return Release{}, fmt.Errorf("release: %s v%d: cannot move a %s release to %s: %w", r.App, r.Version, r.Status, to, ErrConflict)
	}
	r.Status = to
	r.UpdatedAt = now.UTC()
	return r, nil
}
