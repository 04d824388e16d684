package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/drain"
)

var _ addons.LogDrainer = (*logDrains)(nil)

// logDrains runs the apps' log drains: those an add-on's provider returns
// a URL for (it is the addons.Manager's LogDrainer) and those added through
// the API (heroku drains:add, logdrains.go). Every drain, of either kind,
// is one runner from logplex/drain (syslog://, syslog+tls:// or
// http(s)://) fed by its own follow of the app's logplex buffer from the
// time it is added, so no platform code changes to feed it. A restart
// re-adds the drains: restoring the add-ons calls AddDrain again, and
// restore starts the recorded app drains.
type logDrains struct {
	p   *platform.Platform
	log *slog.Logger

	mu     sync.Mutex
	active map[string]*activeDrain // app + "\x00" + URL
}

// drainInfo is what the API shows of a running drain.
type drainInfo struct {
	ID, App, URL, Token  string
	AppID                string // app drains only (records name apps by ID)
	Addon                bool   // provided by an add-on: removed with it only
	CreatedAt, UpdatedAt time.Time
}

type activeDrain struct {
	drainInfo
	stopTail, stopRun context.CancelFunc
	runner            drain.Runner
	tailDone, runDone chan struct{}
}

func drainKey(app, url string) string { return app + "\x00" + url }

// drainFeedBuffer bounds the lines queued between the app's log and one
// drain's feed: far more than one burst (a 64 KiB pipe read of short
// lines) holds.
const drainFeedBuffer = 1 << 16

// errDrainURL explains a URL drain.New refuses. It never holds the URL:
// drain URLs carry credentials.
type errDrainURL struct{}

func (errDrainURL) Error() string {
	return "Url is invalid: want syslog://host:port, syslog+tls://host:port, https://host/path or http://host/path"
}

// start runs a drain of app to rawURL. The caller holds d.mu and stores
// the result in d.active.
func (d *logDrains) start(info drainInfo) (*activeDrain, error) {
	r, err := drain.New(info.URL, info.Token, nil)
	if err != nil {
		return nil, errDrainURL{}
	}
	if s, ok := r.(*drain.Syslog); ok {
		// A TLS endpoint whose certificate does not verify: an L14 line
		// in the app's log says so (once until a connection succeeds).
		s.Errors = logplex.SinkFunc(func(ctx context.Context, m logplex.Message) error {
			return d.p.Log(ctx, info.App, m)
		})
	}
	tailCtx, stopTail := context.WithCancel(context.Background())
	// The feed below only hands lines on, so a burst waits whole in the
	// tail's queue; the drain's own buffer then drops the oldest lines
	// with an L10 notice, as Heroku's drains do, instead of the tail
	// cutting the newest with an L11.
	tail, err := d.p.Logs(tailCtx, info.App, logplex.TailOptions{Follow: true, Buffer: drainFeedBuffer})
	if err != nil {
		stopTail()
		return nil, fmt.Errorf("log drain for app %s: %w", info.App, err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	a := &activeDrain{drainInfo: info, stopTail: stopTail, stopRun: stopRun, runner: r, tailDone: make(chan struct{}), runDone: make(chan struct{})}
	go func() {
		defer close(a.runDone)
		if err := r.Run(runCtx); err != nil && runCtx.Err() == nil {
			d.log.Warn("minipaas: log drain stopped", "app", info.App, "drain", info.ID, "err", scrubURL(err, info.URL))
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
	return a, nil
}

// AddDrain starts an add-on's drain. Adding one that runs is a no-op.
func (d *logDrains) AddDrain(ctx context.Context, app, url string) error {
	key := drainKey(app, url)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.active == nil {
		d.active = map[string]*activeDrain{}
	}
	if cur, ok := d.active[key]; ok {
		if cur.Addon {
			return nil
		}
		return fmt.Errorf("log drain for app %s: the app already drains to the add-on's URL (heroku drains:remove %s)", app, cur.Token)
	}
	// Its ID and token are stable per app and URL, so a restart keeps them.
	now := time.Now().UTC()
	a, err := d.start(drainInfo{
		ID: nameUUID("log-drain-id", app, url), App: app, URL: url, Token: "d." + nameUUID("log-drain", app, url),
		Addon: true, CreatedAt: now, UpdatedAt: now,
	})
	if errors.As(err, new(errDrainURL)) {
		return fmt.Errorf("log drain for app %s: the add-on's drain URL is not a syslog://, syslog+tls:// or http(s):// URL", app)
	}
	if err != nil {
		return err
	}
	d.active[key] = a
	return nil
}

// RemoveDrain stops an add-on's drain (an app drain of the same URL
// stays).
func (d *logDrains) RemoveDrain(ctx context.Context, app, url string) error {
	d.mu.Lock()
	a := d.active[drainKey(app, url)]
	if a != nil && a.Addon {
		delete(d.active, drainKey(app, url))
	} else {
		a = nil
	}
	d.mu.Unlock()
	if a != nil {
		a.stop(ctx)
	}
	return nil
}

// list returns app's drains, oldest first.
func (d *logDrains) list(app string) []drainInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []drainInfo
	for _, a := range d.active {
		if a.App == app {
			out = append(out, a.drainInfo)
		}
	}
	slices.SortFunc(out, func(a, b drainInfo) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
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

// close stops every drain (the platform is stopping; the records stay).
func (d *logDrains) close() {
	d.mu.Lock()
	all := d.active
	d.active = nil
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range all {
		wg.Add(1)
		go func() { defer wg.Done(); a.stop(context.Background()) }()
	}
	wg.Wait()
}

// scrubURL removes the user info of rawURL (drain credentials) from err's
// text, for logs.
func scrubURL(err error, rawURL string) string {
	msg := err.Error()
	u, perr := url.Parse(rawURL)
	if perr != nil {
		return strings.ReplaceAll(msg, rawURL, "<drain URL>")
	}
	if u.User != nil {
		msg = strings.ReplaceAll(msg, u.User.String()+"@", "")
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		if name := u.User.Username(); name != "" {
			msg = strings.ReplaceAll(msg, name, "xxxxx")
		}
	}
	return msg
}
