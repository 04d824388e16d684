package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/drain"
)

var _ addons.LogDrainer = (*logDrains)(nil)

// logDrains is the addons.Manager's LogDrainer: an add-on whose provider
// returns a log drain URL gets its app's log stream shipped there
// (syslog://, syslog+tls:// or http(s)://, through logplex/drain) while
// it exists. Each drain follows the app's logplex buffer from the time it
// is added, so no platform code changes to feed it. A restart re-adds the
// drains: restoring the add-ons calls AddDrain again.
type logDrains struct {
	p   *platform.Platform
	log *slog.Logger

	mu     sync.Mutex
	active map[string]*activeDrain // app + "\x00" + URL
}

type activeDrain struct {
	stopTail, stopRun context.CancelFunc
	runner            drain.Runner
	tailDone, runDone chan struct{}
}

func drainKey(app, url string) string { return app + "\x00" + url }

func (d *logDrains) AddDrain(ctx context.Context, app, url string) error {
	key := drainKey(app, url)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.active == nil {
		d.active = map[string]*activeDrain{}
	}
	if _, ok := d.active[key]; ok {
		return nil
	}
	// The drain token is stable per app and URL, so a restart keeps it.
	r, err := drain.New(url, "d."+nameUUID("log-drain", app, url), nil)
	if err != nil {
		// The URL may hold credentials: do not echo it.
		return fmt.Errorf("log drain for app %s: the add-on's drain URL is not a syslog://, syslog+tls:// or http(s):// URL", app)
	}
	tailCtx, stopTail := context.WithCancel(context.Background())
	tail, err := d.p.Logs(tailCtx, app, logplex.TailOptions{Follow: true})
	if err != nil {
		stopTail()
		return fmt.Errorf("log drain for app %s: %w", app, err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	a := &activeDrain{stopTail: stopTail, stopRun: stopRun, runner: r, tailDone: make(chan struct{}), runDone: make(chan struct{})}
	go func() {
		defer close(a.runDone)
		if err := r.Run(runCtx); err != nil && runCtx.Err() == nil {
			d.log.Warn("minipaas: log drain stopped", "app", app, "err", err)
		}
	}()
	go func() {
		defer close(a.tailDone)
		for m, err := range tail {
			if err != nil {
				return
			}
			_ = r.Send(tailCtx, m) // never blocks; overflow is counted and announced
		}
	}()
	d.active[key] = a
	return nil
}

func (d *logDrains) RemoveDrain(ctx context.Context, app, url string) error {
	d.mu.Lock()
	a := d.active[drainKey(app, url)]
	delete(d.active, drainKey(app, url))
	d.mu.Unlock()
	if a != nil {
		a.stop(ctx)
	}
	return nil
}

// stop ends the tail, lets the drain deliver what it holds (briefly), and
// waits for both goroutines.
func (a *activeDrain) stop(ctx context.Context) {
	a.stopTail()
	<-a.tailDone
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_ = a.runner.Shutdown(sctx)
	cancel()
	a.stopRun()
	<-a.runDone
}

// close stops every drain (the platform is stopping; the add-ons stay).
func (d *logDrains) close() {
	d.mu.Lock()
	all := d.active
	d.active = nil
	d.mu.Unlock()
	for _, a := range all {
		a.stop(context.Background())
	}
}
