package platform

import (
	"context"
	"fmt"

	"github.com/dynokit/dynokit/formation/autoscale"
)

// AutoscalerUser is who the app[api] log line names for the autoscaler's
// scaling ("Scaled to web@3:Basic by autoscaling").
const AutoscalerUser = "autoscaling"

// SetAutoscaling turns web dyno autoscaling of app on with policy, or off
// when policy is nil (the dynos stay as they are). The app's release must
// have a web process type. The policy is kept with the app, so it survives
// a restart; while it is on, a count scaled by hand outside its range is
// brought back at the autoscaler's next round (a minute at most).
func (p *Platform) SetAutoscaling(ctx context.Context, app string, policy *autoscale.Policy) error {
	if policy != nil {
		if err := policy.Validate(); err != nil {
			return fmt.Errorf("platform: autoscaling of %s: %w", app, err)
		}
	}
	// The app's lock is released before the autoscaler is told: it
	// scales through Scale, which takes it.
	rec, err := p.storeAutoscaling(ctx, app, policy)
	if err != nil {
		return fmt.Errorf("platform: autoscaling of %s: %w", app, err)
	}
	if policy == nil {
		if p.autoscaler.Disable(app) {
			p.apiLog(rec.ID, "Disabled web autoscaling by "+p.userOf(ctx))
		}
		return nil
	}
	p.apiLog(rec.ID, fmt.Sprintf("Enabled web autoscaling (%d to %d dynos, desired p95 %v) by %s", policy.Min, policy.Max, policy.P95, p.userOf(ctx)))
	if err := p.autoscaler.Enable(WithUser(ctx, AutoscalerUser), app, *policy); err != nil {
		return fmt.Errorf("platform: autoscaling of %s: %w", app, err)
	}
	return nil
}

// storeAutoscaling records policy with the app, under its lock; a policy
// needs a web process type in the current release.
func (p *Platform) storeAutoscaling(ctx context.Context, app string, policy *autoscale.Policy) (appRecord, error) {
	e, _, err := p.lockApp(app)
	if err != nil {
		return appRecord{}, err
	}
	defer e.op.Unlock()
	if policy != nil {
		cur, err := p.current(ctx, app)
		if err != nil {
			return appRecord{}, err
		}
		if _, ok := cur.ProcessTypes["web"]; !ok {
			return appRecord{}, fmt.Errorf("release v%d has no web process type to scale: %w", cur.Version, ErrNotFound)
		}
	}
	return p.updateApp(ctx, e, func(r *appRecord) error {
		r.Autoscaling = policy
		return nil
	})
}

// Autoscaling returns app's autoscaling policy; false when it is off.
func (p *Platform) Autoscaling(ctx context.Context, app string) (autoscale.Policy, bool, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return autoscale.Policy{}, false, err
	}
	if rec.Autoscaling == nil {
		return autoscale.Policy{}, false, nil
	}
	return *rec.Autoscaling, true, nil
}

// resumeAutoscaling enables the autoscaler for every app that had a policy
// when the platform last stopped.
func (p *Platform) resumeAutoscaling(ctx context.Context) {
	p.mu.Lock()
	policies := map[string]autoscale.Policy{}
	for name, e := range p.apps {
		if e.rec.Autoscaling != nil {
			policies[name] = *e.rec.Autoscaling
		}
	}
	p.mu.Unlock()
	for app, policy := range policies {
		if err := p.autoscaler.Enable(WithUser(ctx, AutoscalerUser), app, policy); err != nil {
			p.log.Warn("platform: autoscaling not resumed", "app", app, "err", err)
		}
	}
}

// platformScaler is the platform as the autoscaler's Scaler.
type platformScaler struct{ p *Platform }

func (s platformScaler) WebQuantity(ctx context.Context, app string) (int, error) {
	_, rec, err := s.p.entry(app)
	if err != nil {
		return 0, err
	}
	return rec.Formation["web"].Quantity, nil
}

// ScaleWeb scales as the autoscaler and says why in the app's log.
func (s platformScaler) ScaleWeb(ctx context.Context, e autoscale.Event) error {
	if err := s.p.Scale(WithUser(ctx, AutoscalerUser), e.App, map[string]int{"web": e.To}); err != nil {
		return err
	}
	if _, rec, err := s.p.entry(e.App); err == nil {
		s.p.apiLog(rec.ID, fmt.Sprintf("Autoscaling: web %d → %d, %s", e.From, e.To, e.Reason))
	}
	return nil
}

// AtMaximum says in the app's log, at most once a day, that autoscaling
// wants more web dynos than the policy allows.
func (s platformScaler) AtMaximum(ctx context.Context, e autoscale.Event) error {
	_, rec, err := s.p.entry(e.App)
	if err != nil {
		return err
	}
	s.p.apiLog(rec.ID, fmt.Sprintf("Autoscaling: web is at its maximum, %s; raise the maximum to add dynos", e.Reason))
	return nil
}
