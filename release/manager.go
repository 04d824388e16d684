package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// PhaseFunc runs a release's "release" process type to completion (in a
// one-off dyno, in practice through the formation runtime) and streams its
// output to output. It must return when ctx is done. A non-zero exit code
// or a non-nil error fails the release.
type PhaseFunc func(ctx context.Context, r Release, output io.Writer) (exitCode int, err error)

// DefaultPhaseTimeout is Heroku's release-phase limit (heroku.md §4.4).
const DefaultPhaseTimeout = time.Hour

// Manager creates releases the ways Heroku does (deploy, config change,
// add-on change, rollback, promotion) on top of any Store, and runs the
// release phase. Its zero value needs only Store. Safe for concurrent use;
// concurrent changes to one app race through Store.Append, and the loser
// gets an error wrapping ErrConflict (retry with fresh state).
type Manager struct {
	Store Store
	// RunPhase runs the release phase. When nil, creating a release whose
	// process types include "release" fails rather than skipping it.
	RunPhase PhaseFunc
	// PhaseTimeout bounds one release phase; 0 means DefaultPhaseTimeout.
	// A pending release older than twice this is taken as abandoned (its
	// runner crashed) and marked failed by the next change to the app.
	PhaseTimeout time.Duration
	// Limits bounds config vars; the zero value means Heroku's.
	Limits ConfigLimits
	Now    func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil discards
}

// Opts carries what every operation accepts.
type Opts struct {
	User   string    // recorded on the release, optional
	Output io.Writer // receives release-phase output; nil discards
}

// PhaseError reports a failed release phase. The release is recorded as
// failed and the previous release stays current.
type PhaseError struct {
	App      string
	Version  int
	ExitCode int
	TimedOut bool
	Err      error // runner error or context error; nil for a plain non-zero exit
}

func (e *PhaseError) Error() string {
	what := fmt.Sprintf("exit code %d", e.ExitCode)
	switch {
	case e.TimedOut:
		what = "timed out"
	case e.Err != nil:
		what = e.Err.Error()
	}
	return fmt.Sprintf("release: %s v%d: release phase failed: %s", e.App, e.Version, what)
}

func (e *PhaseError) Unwrap() error { return e.Err }

// Deploy describes a new slug to release.
type Deploy struct {
	Slug         SlugRef
	ProcessTypes map[string]string
	Commit       string // source commit; its first 7 characters name the release
	Description  string // overrides "Deploy <commit>"
}

// AddonAction is what happened to an add-on attachment.
type AddonAction string

const (
	AddonAttach AddonAction = "Attach"
	AddonDetach AddonAction = "Detach"
	AddonUpdate AddonAction = "Update" // plan change or provider config change
)

// AddonChange attaches, detaches or updates one add-on attachment.
type AddonChange struct {
	Action AddonAction
	Name   string // attachment name, e.g. "DATABASE"; its vars start with Name+"_"
	// Config is the attachment's complete set of vars after the change
	// (ignored for Detach). Platform-reserved HEROKU_ names are allowed.
	Config map[string]string
	// ByProvider marks config changes the provider made by itself (a
	// database failover): such releases skip the release phase.
	ByProvider bool
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (m *Manager) phaseTimeout() time.Duration {
	if m.PhaseTimeout > 0 {
		return m.PhaseTimeout
	}
	return DefaultPhaseTimeout
}

// Deploy releases a new slug with new process types, keeping config vars
// and add-ons of the current release. Description "Deploy 1a2b3c4".
func (m *Manager) Deploy(ctx context.Context, app string, d Deploy, o Opts) (Release, error) {
	if err := d.Slug.Validate(); err != nil {
		return Release{}, err
	}
	return m.create(ctx, app, o, false, func(base Release) (Release, error) {
		r := base
		r.Slug = d.Slug
		r.ProcessTypes = maps.Clone(d.ProcessTypes)
		r.Commit = d.Commit
		r.Description = d.Description
		if r.Description == "" {
			id := d.Commit
			if id == "" {
				id = d.Slug.ID
			}
			r.Description = "Deploy " + truncateRunes(id, 7)
		}
		return r, nil
	})
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// SetConfig sets and unsets config vars in one new release: "Set FOO, BAR
// config vars", "Remove FOO config vars" or "Set FOO, remove BAR config
// vars". Vars owned by an add-on cannot be changed this way.
func (m *Manager) SetConfig(ctx context.Context, app string, ch ConfigChange, o Opts) (Release, error) {
	if len(ch.Set) == 0 && len(ch.Unset) == 0 {
		return Release{}, errors.New("release: config change sets and unsets nothing")
	}
	return m.create(ctx, app, o, false, func(base Release) (Release, error) {
		owned := ownedVars(base.Addons)
		for _, k := range slices.Concat(slices.Sorted(maps.Keys(ch.Set)), ch.Unset) {
			if _, ok := owned[k]; ok {
				return Release{}, &ConfigVarError{Name: k, Rule: RuleAddonOwned, Offset: -1}
			}
		}
		cfg, err := m.Limits.Apply(base.Config, ch)
		if err != nil {
			return Release{}, err
		}
		r := base
		r.Config = cfg
		r.Description = configDescription(ch)
		return r, nil
	})
}

func configDescription(ch ConfigChange) string {
	var parts []string
	if len(ch.Set) > 0 {
		parts = append(parts, "Set "+strings.Join(slices.Sorted(maps.Keys(ch.Set)), ", "))
	}
	if len(ch.Unset) > 0 {
		unset := slices.Clone(ch.Unset)
		slices.Sort(unset)
		unset = slices.Compact(unset)
		verb := "Remove "
		if len(parts) > 0 {
			verb = "remove "
		}
		parts = append(parts, verb+strings.Join(unset, ", "))
	}
	return strings.Join(parts, ", ") + " config vars"
}

// ownedVars maps each add-on-owned var name to its attachment.
func ownedVars(addons map[string][]string) map[string]string {
	out := map[string]string{}
	for a, names := range addons {
		for _, n := range names {
			out[n] = a
		}
	}
	return out
}

// ChangeAddon records an add-on change as a release: "Attach DATABASE",
// "Detach DATABASE", "Update DATABASE".
func (m *Manager) ChangeAddon(ctx context.Context, app string, ch AddonChange, o Opts) (Release, error) {
	return m.ChangeAddons(ctx, app, []AddonChange{ch}, o)
}

// ChangeAddons records changes to several attachments as one release, as
// Heroku attaches a first Postgres database as DATABASE and
// HEROKU_POSTGRESQL_<COLOR> at once: "Attach DATABASE, HEROKU_POSTGRESQL_JADE".
// The changes apply in order and all must have the same Action; the
// release skips the release phase only if every change is ByProvider.
func (m *Manager) ChangeAddons(ctx context.Context, app string, chs []AddonChange, o Opts) (Release, error) {
	if len(chs) == 0 {
		return Release{}, errors.New("release: add-on change: no attachments named")
	}
	platform := m.Limits
	platform.AllowReserved = true
	byProvider := true
	names := make([]string, len(chs))
	for i, ch := range chs {
		if err := platform.ValidateName(ch.Name); err != nil {
			return Release{}, fmt.Errorf("release: add-on attachment name: %w", err)
		}
		if slices.Contains(names[:i], ch.Name) {
			return Release{}, fmt.Errorf("release: add-on attachment %s named twice in one change", ch.Name)
		}
		if ch.Action != chs[0].Action {
			return Release{}, fmt.Errorf("release: add-on changes %s %s and %s %s: one release has one action", chs[0].Action, chs[0].Name, ch.Action, ch.Name)
		}
		switch ch.Action {
		case AddonAttach, AddonUpdate:
			for _, k := range slices.Sorted(maps.Keys(ch.Config)) {
				if !strings.HasPrefix(k, ch.Name+"_") {
					return Release{}, &ConfigVarError{Name: k, Rule: RuleAddonPrefix, Offset: -1}
				}
				if err := platform.ValidateVar(k, ch.Config[k]); err != nil {
					return Release{}, err
				}
			}
		case AddonDetach:
		default:
			return Release{}, fmt.Errorf("release: add-on action %q: want Attach, Detach or Update", ch.Action)
		}
		byProvider = byProvider && ch.ByProvider
		names[i] = ch.Name
	}
	return m.create(ctx, app, o, byProvider, func(base Release) (Release, error) {
		r := base
		for _, ch := range chs {
			var err error
			if r, err = applyAddonChange(r, app, ch); err != nil {
				return Release{}, err
			}
		}
		r.Description = string(chs[0].Action) + " " + strings.Join(names, ", ")
		return r, nil
	})
}

// applyAddonChange returns r with ch applied to its config and add-ons.
func applyAddonChange(r Release, app string, ch AddonChange) (Release, error) {
	_, attached := r.Addons[ch.Name]
	switch {
	case ch.Action == AddonAttach && attached:
		return Release{}, fmt.Errorf("release: add-on attachment %s is already attached to %s", ch.Name, app)
	case ch.Action != AddonAttach && !attached:
		return Release{}, fmt.Errorf("release: add-on attachment %s is not attached to %s: %w", ch.Name, app, ErrNotFound)
	}
	cfg := maps.Clone(r.Config)
	if cfg == nil {
		cfg = ConfigVars{}
	}
	for _, k := range r.Addons[ch.Name] {
		delete(cfg, k)
	}
	addons := maps.Clone(r.Addons)
	if addons == nil {
		addons = map[string][]string{}
	}
	delete(addons, ch.Name)
	if ch.Action != AddonDetach {
		owned := ownedVars(addons)
		for k, v := range ch.Config {
			if other, ok := owned[k]; ok {
				return Release{}, fmt.Errorf("release: add-on attachment %s: var %s is already owned by %s", ch.Name, k, other)
			}
			if _, ok := cfg[k]; ok {
				return Release{}, fmt.Errorf("release: add-on attachment %s: var %s is already set by the user; unset it first", ch.Name, k)
			}
			cfg[k] = v
		}
		addons[ch.Name] = slices.Sorted(maps.Keys(ch.Config))
	}
	if len(addons) == 0 {
		addons = nil
	}
	r.Config, r.Addons = cfg, addons
	return r, nil
}

// Rollback appends a new release that runs the slug, process types and
// config vars of version to (heroku.md §4.3). Add-ons are never changed:
// the rollback is refused if the set of attachments differs from the
// current one, and add-on-owned vars keep their current values.
func (m *Manager) Rollback(ctx context.Context, app string, to int, o Opts) (Release, error) {
	target, err := m.Store.Get(ctx, app, to)
	if err != nil {
		return Release{}, fmt.Errorf("release: rollback %s to v%d: %w", app, to, err)
	}
	if target.Status != StatusSucceeded {
		return Release{}, fmt.Errorf("release: rollback %s to v%d: release is %s; only succeeded releases are eligible", app, to, target.Status)
	}
	return m.create(ctx, app, o, false, func(base Release) (Release, error) {
		now, then := slices.Sorted(maps.Keys(base.Addons)), slices.Sorted(maps.Keys(target.Addons))
		if !slices.Equal(now, then) {
			return Release{}, fmt.Errorf("release: rollback %s to v%d would change add-ons (attached now: %s; at v%d: %s); rollbacks never change add-ons",
				app, to, listOrNone(now), to, listOrNone(then))
		}
		cfg := maps.Clone(target.Config)
		if cfg == nil {
			cfg = ConfigVars{}
		}
		for k := range ownedVars(target.Addons) {
			delete(cfg, k)
		}
		for k := range ownedVars(base.Addons) {
			cfg[k] = base.Config[k]
		}
		r := base
		r.Slug = target.Slug
		r.ProcessTypes = maps.Clone(target.ProcessTypes)
		r.Commit = target.Commit
		r.Config = cfg
		r.Description = fmt.Sprintf("Rollback to v%d", to)
		return r, nil
	})
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Promote releases the slug and process types of version of app from on
// app to, without a rebuild; to keeps its own config vars and add-ons
// (heroku.md §4.5). Description "Promote app-staging v12".
func (m *Manager) Promote(ctx context.Context, from string, version int, to string, o Opts) (Release, error) {
	src, err := m.Store.Get(ctx, from, version)
	if err != nil {
		return Release{}, fmt.Errorf("release: promote %s v%d: %w", from, version, err)
	}
	if src.Status != StatusSucceeded {
		return Release{}, fmt.Errorf("release: promote %s v%d: release is %s; only succeeded releases can be promoted", from, version, src.Status)
	}
	if src.Slug.IsZero() {
		return Release{}, fmt.Errorf("release: promote %s v%d: release has no slug", from, version)
	}
	return m.create(ctx, to, o, false, func(base Release) (Release, error) {
		r := base
		r.Slug = src.Slug
		r.ProcessTypes = maps.Clone(src.ProcessTypes)
		r.Commit = src.Commit
		r.Description = fmt.Sprintf("Promote %s v%d", from, version)
		return r, nil
	})
}

// create is the one path every operation takes: read the latest version,
// derive the new release from the current one, append it against that
// version, then run the release phase if it has one.
func (m *Manager) create(ctx context.Context, app string, o Opts, skipPhase bool, derive func(base Release) (Release, error)) (Release, error) {
	if m.Store == nil {
		return Release{}, errors.New("release: Manager.Store is nil")
	}
	if err := ValidateApp(app); err != nil {
		return Release{}, err
	}
	expect := 0
	latest, err := m.Store.Latest(ctx, app)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return Release{}, err
	default:
		expect = latest.Version
		if latest.Status == StatusPending {
			if m.now().Sub(latest.CreatedAt) < 2*m.phaseTimeout() {
				return Release{}, fmt.Errorf("release: %s v%d is still running its release phase: %w", app, latest.Version, ErrConflict)
			}
			// Its runner is gone (a crash): fail it so the app is not stuck.
			if _, err := m.Store.SetStatus(ctx, app, latest.Version, StatusFailed); err != nil && !errors.Is(err, ErrConflict) {
				return Release{}, err
			}
			m.logger().Warn("release phase abandoned; marked failed", "app", app, "version", latest.Version)
		}
	}
	base, err := m.Store.Current(ctx, app)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Release{}, err
	}
	base = base.Clone()
	base.User, base.Description = "", "" // Commit stays: same code unless derive changes it
	r, err := derive(base)
	if err != nil {
		return Release{}, err
	}
	if err := m.Limits.withDefaults().totalOnly(r.Config); err != nil {
		return Release{}, err
	}
	r.App, r.User = app, o.User
	r.CreatedAt = m.now()
	r.UpdatedAt = r.CreatedAt
	r.Status = StatusSucceeded
	runPhase := r.HasReleasePhase() && !skipPhase
	if runPhase {
		if m.RunPhase == nil {
			return Release{}, fmt.Errorf("release: %s: process types include \"release\" but Manager.RunPhase is nil", app)
		}
		r.Status = StatusPending
	}
	r, err = m.Store.Append(ctx, app, r, expect)
	if err != nil {
		return Release{}, err
	}
	m.logger().Info("release created", "release", r)
	if !runPhase {
		return r, nil
	}
	return m.runPhase(ctx, r, o.Output)
}

func (l ConfigLimits) totalOnly(c ConfigVars) error {
	total := 0
	for k, v := range c {
		total += len(k) + len(v)
	}
	if total > l.MaxTotal {
		return &ConfigVarError{Rule: RuleTotalTooLarge, Offset: -1, Size: total, Limit: l.MaxTotal}
	}
	return nil
}

func (m *Manager) runPhase(ctx context.Context, r Release, out io.Writer) (Release, error) {
	if out == nil {
		out = io.Discard
	}
	pctx, cancel := context.WithTimeout(ctx, m.phaseTimeout())
	code, runErr := m.RunPhase(pctx, r.Clone(), out)
	ctxErr := pctx.Err()
	cancel()

	to := StatusSucceeded
	var perr *PhaseError
	if runErr != nil || code != 0 || ctxErr != nil {
		to = StatusFailed
		perr = &PhaseError{App: r.App, Version: r.Version, ExitCode: code, Err: runErr}
		if ctxErr != nil {
			perr.TimedOut = errors.Is(ctxErr, context.DeadlineExceeded) && ctx.Err() == nil
			if perr.Err == nil {
				perr.Err = ctxErr
			}
		}
	}
	// Record the outcome even if the caller's ctx was cancelled.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer scancel()
	done, err := m.Store.SetStatus(sctx, r.App, r.Version, to)
	if err != nil {
		return r, fmt.Errorf("release: %s v%d: recording release phase outcome %s: %w", r.App, r.Version, to, err)
	}
	if perr != nil {
		m.logger().Warn("release phase failed", "release", done, "exit_code", code, "err", perr.Err)
		return done, perr
	}
	m.logger().Info("release phase succeeded", "release", done)
	return done, nil
}
