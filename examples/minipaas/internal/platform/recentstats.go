package platform

import (
	"context"
	"time"

	"github.com/dynokit/dynokit/router"
)

// The router counts each app's requests since the app was added; the
// platform keeps a snapshot per app every statsEvery for the last
// RecentStatsWindow, so that the metrics of that window are a subtraction
// (router.AppStats.Sub) and cost the request path nothing.
const (
	RecentStatsWindow = 10 * time.Minute
	statsEvery        = time.Minute
)

type statsSample struct {
	at time.Time
	st router.AppStats
}

// sampleStats snapshots every app's router metrics every statsEvery until
// ctx is done.
func (p *Platform) sampleStats(ctx context.Context) {
	p.takeStatsSample(time.Now())
	every(ctx, statsEvery, p.takeStatsSample)
}

// takeStatsSample adds a snapshot of every app taken at now and drops
// those older than RecentStatsWindow and those of apps that are gone.
func (p *Platform) takeStatsSample(now time.Time) {
	names := p.appNames()
	keep := make(map[string][]statsSample, len(names))
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	for _, name := range names {
		st, ok := p.router.Stats(name)
		if !ok {
			continue
		}
		keep[name] = append(recent(p.stats[name], now), statsSample{at: now, st: st})
	}
	p.stats = keep
}

// RecentRouterStats returns the router's metrics of app for the span
// covered: from its oldest snapshot (at most RecentStatsWindow old) to
// now. span is 0 when there is no snapshot yet (the platform or the app
// has just started), and ok false for an app the router does not know.
func (p *Platform) RecentRouterStats(app string) (st router.AppStats, span time.Duration, ok bool) {
	return p.recentRouterStats(app, time.Now())
}

func (p *Platform) recentRouterStats(app string, now time.Time) (router.AppStats, time.Duration, bool) {
	cur, ok := p.router.Stats(app)
	if !ok {
		return cur, 0, false
	}
	p.statsMu.Lock()
	samples := recent(p.stats[app], now)
	p.statsMu.Unlock()
	if len(samples) == 0 {
		return router.AppStats{ByCode: map[string]int64{}}, 0, true
	}
	return cur.Sub(samples[0].st), now.Sub(samples[0].at), true
}

// recent returns the samples taken within RecentStatsWindow of now.
func recent(samples []statsSample, now time.Time) []statsSample {
	for len(samples) > 0 && now.Sub(samples[0].at) > RecentStatsWindow {
		samples = samples[1:]
	}
	return samples
}
