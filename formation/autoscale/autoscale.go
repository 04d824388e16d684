package autoscale

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/router"
)

// Defaults of the Autoscaler's optional fields.
const (
	// DefaultInterval: Heroku's autoscaling events are at least a minute
	// apart.
	DefaultInterval = time.Minute
	// DefaultDownAfter: a dyno is removed after five calm intervals in a
	// row, so scaling down is slower than scaling up.
	DefaultDownAfter = 5
	// DefaultMinRequests: fewer requests in an interval say too little
	// about latency to add a dyno.
	DefaultMinRequests = 10
	// DefaultNotifyEvery: Heroku sends at most one notification a day.
	DefaultNotifyEvery = 24 * time.Hour
)

// Policy is an app's autoscaling range and target, as Heroku's dashboard
// sets them: the web dyno count stays within Min and Max, and moves to
// keep the p95 service time of web requests at or under P95.
type Policy struct {
	Min, Max int
	P95      time.Duration
}

// Validate reports a Policy that cannot be applied, naming the field.
func (p Policy) Validate() error {
	switch {
	case p.Min < 1:
		return fmt.Errorf("autoscale: minimum %d: must be at least 1", p.Min)
	case p.Max < p.Min:
		return fmt.Errorf("autoscale: maximum %d: must be at least the minimum %d", p.Max, p.Min)
	case p.Max > formation.MaxQuantity:
		return fmt.Errorf("autoscale: maximum %d: must be at most %d", p.Max, formation.MaxQuantity)
	case p.P95 < time.Millisecond:
		return fmt.Errorf("autoscale: desired p95 %v: must be at least 1ms", p.P95)
	}
	return nil
}

// Metrics gives an app's request metrics since it was added;
// *router.Router has it.
type Metrics interface {
	Stats(app string) (router.AppStats, bool)
}

// Scaler reads and changes the number of an app's web dynos; the platform
// implements it (and records who scaled, and why, from the Event).
type Scaler interface {
	WebQuantity(ctx context.Context, app string) (int, error)
	ScaleWeb(ctx context.Context, e Event) error
}

// MaxNotifier is an optional capability of a Scaler: it is told when an
// app needs more web dynos than its policy's maximum (the p95 is over the
// desired one with Max dynos), at most once per Autoscaler.NotifyEvery,
// as Heroku mails the app's collaborators at most once a day. e.From and
// e.To are both the maximum.
type MaxNotifier interface {
	AtMaximum(ctx context.Context, e Event) error
}

// Event is one scaling decision.
type Event struct {
	App      string
	From, To int
	// Reason says why, e.g. "p95 1.2s over the desired 500ms".
	Reason string
	// The interval's metrics behind the decision; zero when the count
	// was only brought into the policy's range.
	Requests int64
	P95      time.Duration
}

// Autoscaler evaluates every enabled app once per Interval and adds or
// removes one web dyno when the interval's p95 says so. Set the fields
// before calling any method; the zero value of each optional one is its
// default. Run drives it; Evaluate is one round, for platforms with their
// own clock.
type Autoscaler struct {
	Metrics Metrics // required
	Scaler  Scaler  // required
	// Interval between evaluations: the least time between two scaling
	// events of an app, and the window each looks at; zero means
	// DefaultInterval.
	Interval time.Duration
	// DownAfter is how many intervals in a row must have a p95 under half
	// the desired one before a dyno is removed; zero means
	// DefaultDownAfter.
	DownAfter int
	// MinRequests is the fewest requests reaching a dyno that an interval
	// needs to add one; zero means DefaultMinRequests.
	MinRequests int64
	// NotifyEvery is the least time between two MaxNotifier calls for an
	// app; zero means DefaultNotifyEvery.
	NotifyEvery time.Duration
	Logger      *slog.Logger // nil: no logging

	// evalMu serialises the rounds and Enable, which both scale.
	evalMu sync.Mutex
	mu     sync.Mutex // guards apps
	apps   map[string]*appState
}

type appState struct {
	policy   Policy
	prev     router.AppStats // the metrics at the start of the interval
	havePrev bool
	calm     int       // intervals in a row with p95 under half the target
	notified time.Time // the last MaxNotifier call
}

func (a *Autoscaler) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

func (a *Autoscaler) interval() time.Duration {
	if a.Interval > 0 {
		return a.Interval
	}
	return DefaultInterval
}

// Enable starts (or changes) autoscaling of app with p. As on Heroku, a web
// dyno count outside the new range is brought into it at once; the first
// interval starts now.
func (a *Autoscaler) Enable(ctx context.Context, app string, p Policy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("autoscale: enable %s: %w", app, err)
	}
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	st := &appState{policy: p}
	st.prev, st.havePrev = a.Metrics.Stats(app)
	n, err := a.Scaler.WebQuantity(ctx, app)
	if err != nil {
		return fmt.Errorf("autoscale: enable %s: %w", app, err)
	}
	if to := min(max(n, p.Min), p.Max); to != n {
		if err := a.scale(ctx, Event{App: app, From: n, To: to, Reason: rangeReason(n, p)}); err != nil {
			return fmt.Errorf("autoscale: enable %s: %w", app, err)
		}
	}
	a.mu.Lock()
	if a.apps == nil {
		a.apps = map[string]*appState{}
	}
	a.apps[app] = st
	a.mu.Unlock()
	return nil
}

// Disable stops autoscaling app, leaving its dynos as they are; false if it
// was not enabled.
func (a *Autoscaler) Disable(app string) bool {
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.apps[app]
	delete(a.apps, app)
	return ok
}

// Policy returns app's policy; false if autoscaling is off for it.
func (a *Autoscaler) Policy(app string) (Policy, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st, ok := a.apps[app]; ok {
		return st.policy, true
	}
	return Policy{}, false
}

// Run evaluates every Interval until ctx is done; it returns nil then. A
// failed evaluation is logged and retried at the next interval.
func (a *Autoscaler) Run(ctx context.Context) error {
	t := time.NewTicker(a.interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := a.Evaluate(ctx); err != nil && ctx.Err() == nil {
				a.logger().Warn("autoscale: evaluation failed", "err", err)
			}
		}
	}
}

// Evaluate runs one round: for each enabled app, the metrics since the
// previous round decide whether a web dyno is added (p95 over the desired
// one, with at least MinRequests requests), removed (p95 under half of it,
// or no timed request, for DownAfter rounds in a row) or neither; a count
// moved out of the range by hand is brought back. Call it once per
// Interval. The errors of all apps are returned together.
func (a *Autoscaler) Evaluate(ctx context.Context) error {
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	a.mu.Lock()
	apps := make([]string, 0, len(a.apps))
	for app := range a.apps {
		apps = append(apps, app)
	}
	a.mu.Unlock()
	sort.Strings(apps)
	var errs *multierror.Error
	for _, app := range apps {
		if err := ctx.Err(); err != nil {
			return err
		}
		a.mu.Lock()
		st := a.apps[app]
		a.mu.Unlock()
		if err := a.evaluate(ctx, app, st); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("autoscale: %s: %w", app, err))
		}
	}
	return errs.ErrorOrNil()
}

func (a *Autoscaler) evaluate(ctx context.Context, app string, st *appState) error {
	cur, ok := a.Metrics.Stats(app)
	if !ok {
		st.havePrev = false // the router does not know the app (yet)
		return nil
	}
	win := cur.Sub(st.prev)
	first := !st.havePrev
	st.prev, st.havePrev = cur, true
	n, err := a.Scaler.WebQuantity(ctx, app)
	if err != nil {
		return err
	}
	p := st.policy
	if to := min(max(n, p.Min), p.Max); to != n {
		st.calm = 0
		return a.scale(ctx, Event{App: app, From: n, To: to, Reason: rangeReason(n, p)})
	}
	if first {
		return nil // no interval measured yet
	}
	timed := win.Timed()
	minReq := a.MinRequests
	if minReq <= 0 {
		minReq = DefaultMinRequests
	}
	downAfter := a.DownAfter
	if downAfter <= 0 {
		downAfter = DefaultDownAfter
	}
	switch {
	case timed >= minReq && win.P95 > p.P95:
		st.calm = 0
		if n >= p.Max {
			a.logger().Info("autoscale: at the maximum", "app", app, "web", n, "p95", win.P95, "desired", p.P95)
			return a.notifyMax(ctx, st, Event{App: app, From: n, To: n, Requests: win.Requests, P95: win.P95,
				Reason: fmt.Sprintf("p95 %v over the desired %v at the maximum of %d dynos", round(win.P95), p.P95, p.Max)})
		}
		return a.scale(ctx, Event{App: app, From: n, To: n + 1, Requests: win.Requests, P95: win.P95,
			Reason: fmt.Sprintf("p95 %v over the desired %v", round(win.P95), p.P95)})
	case timed == 0 || win.P95 < p.P95/2:
		st.calm++
		if st.calm < downAfter || n <= p.Min {
			return nil
		}
		st.calm = 0
		reason := fmt.Sprintf("p95 under half the desired %v for %d intervals", p.P95, downAfter)
		if timed == 0 {
			reason = fmt.Sprintf("no requests for %d intervals", downAfter)
		}
		return a.scale(ctx, Event{App: app, From: n, To: n - 1, Requests: win.Requests, P95: win.P95, Reason: reason})
	default:
		st.calm = 0
		return nil
	}
}

// notifyMax tells a MaxNotifier Scaler, unless it was told within
// NotifyEvery.
func (a *Autoscaler) notifyMax(ctx context.Context, st *appState, e Event) error {
	n, ok := a.Scaler.(MaxNotifier)
	every := a.NotifyEvery
	if every <= 0 {
		every = DefaultNotifyEvery
	}
	now := time.Now()
	if !ok || !st.notified.IsZero() && now.Sub(st.notified) < every {
		return nil
	}
	st.notified = now
	if err := n.AtMaximum(ctx, e); err != nil {
		return fmt.Errorf("notify the maximum: %w", err)
	}
	return nil
}

func (a *Autoscaler) scale(ctx context.Context, e Event) error {
	if err := a.Scaler.ScaleWeb(ctx, e); err != nil {
		return fmt.Errorf("scale web from %d to %d: %w", e.From, e.To, err)
	}
	a.logger().Info("autoscale: scaled", "app", e.App, "from", e.From, "to", e.To, "reason", e.Reason)
	return nil
}

func rangeReason(n int, p Policy) string {
	if n < p.Min {
		return fmt.Sprintf("below the minimum of %d", p.Min)
	}
	return fmt.Sprintf("above the maximum of %d", p.Max)
}

// round shortens an interpolated percentile for a message.
func round(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}
