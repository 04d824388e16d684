package platform

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/release"
)

// Feature is an app feature the platform implements (heroku features,
// heroku labs), off unless turned on with SetFeature. Turning one on or
// off restarts nothing, as on Heroku.
type Feature string

const (
	// Preboot: from the next release on, new web dynos start next to the
	// old ones and take over once up (formation.Preboot), instead of the
	// platform's Config.Strategy.
	Preboot Feature = "preboot"
	// RuntimeDynoMetadata (a Heroku labs feature): dynos started from now
	// on get HEROKU_APP_ID, HEROKU_APP_NAME, HEROKU_APP_DEFAULT_DOMAIN_NAME,
	// HEROKU_DYNO_ID, HEROKU_RELEASE_CREATED_AT, HEROKU_RELEASE_VERSION,
	// HEROKU_SLUG_COMMIT and HEROKU_SLUG_DESCRIPTION.
	RuntimeDynoMetadata Feature = "runtime-dyno-metadata"
	// LogRuntimeMetrics (a Heroku labs feature): every dyno's memory use
	// is logged each Config.MetricsEvery as a heroku[web.1] line of
	// sample#memory_* values, as Heroku's log-runtime-metrics does (load
	// averages are not sampled). Memory is read from the dyno's cgroup,
	// which dynos with a size have (unsized ones run unlimited).
	LogRuntimeMetrics Feature = "log-runtime-metrics"
	// RuntimeHerokuExec (Heroku Exec): processes can be run in the app's
	// running dynos with Exec (heroku ps:exec), and connections made to
	// ports they listen on (ps:forward, ps:socks).
	RuntimeHerokuExec Feature = "runtime-heroku-exec"
)

// flag is where rec keeps f, or nil for a feature the platform does not
// have.
func (f Feature) flag(rec *appRecord) *bool {
	switch f {
	case Preboot:
		return &rec.Preboot
	case RuntimeDynoMetadata:
		return &rec.DynoMetadata
	case LogRuntimeMetrics:
		return &rec.RuntimeMetrics
	case RuntimeHerokuExec:
		return &rec.HerokuExec
	}
	return nil
}

// SetFeature turns the app's feature f on or off.
func (p *Platform) SetFeature(ctx context.Context, app string, f Feature, on bool) error {
	if f.flag(&appRecord{}) == nil {
		return fmt.Errorf("platform: feature %q: %w", f, ErrNotFound)
	}
	e, _, err := p.lockApp(app)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	if _, err := p.updateApp(ctx, e, func(r *appRecord) error { *f.flag(r) = on; return nil }); err != nil {
		return fmt.Errorf("platform: feature %s of %s: %w", f, app, err)
	}
	return nil
}

// FeatureOn reports whether the app's feature f is on.
func (p *Platform) FeatureOn(ctx context.Context, app string, f Feature) (bool, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return false, err
	}
	flag := f.flag(&rec)
	if flag == nil {
		return false, fmt.Errorf("platform: feature %q: %w", f, ErrNotFound)
	}
	return *flag, nil
}

// dynoMetadata is the environment RuntimeDynoMetadata gives dyno dynoID
// (the Reconciler's) of rec at release rel.
func (p *Platform) dynoMetadata(rec appRecord, dynoID string, rel release.Release) []string {
	return []string{
		"HEROKU_APP_ID=" + rec.ID,
		"HEROKU_APP_NAME=" + rec.Name,
		"HEROKU_APP_DEFAULT_DOMAIN_NAME=" + rec.Name + "." + p.cfg.BaseDomain,
		"HEROKU_DYNO_ID=" + DynoUUID(rec.ID, dynoID),
		"HEROKU_RELEASE_CREATED_AT=" + rel.CreatedAt.UTC().Format(time.RFC3339),
		"HEROKU_RELEASE_VERSION=" + rel.Name(),
		"HEROKU_SLUG_COMMIT=" + rel.Commit,
		"HEROKU_SLUG_DESCRIPTION=" + rel.Description,
	}
}

// onDynoMemory is the Reconciler's OnMemory: with LogRuntimeMetrics on,
// Heroku's memory sample line for the dyno.
func (p *Platform) onDynoMemory(d formation.DynoStatus, u formation.MemoryUsage) {
	_, rec, err := p.entry(d.App)
	if err != nil || !rec.RuntimeMetrics {
		return
	}
	mb := func(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 2, 64) + "MB" }
	text := fmt.Sprintf("source=%s dyno=heroku.%s.%s sample#memory_total=%s sample#memory_rss=%s sample#memory_cache=%s sample#memory_swap=%s",
		d.Name, rec.ID, DynoUUID(rec.ID, d.ID), mb(u.UsedBytes), mb(u.RSSBytes), mb(u.CacheBytes), mb(u.SwapBytes))
	if u.LimitBytes > 0 {
		text += " sample#memory_quota=" + mb(u.LimitBytes)
	}
	_ = p.logs.Send(context.Background(), logplex.Message{App: rec.ID, Source: logplex.SourceHeroku, Proc: d.Name, Text: text})
}
