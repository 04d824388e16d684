package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/dynokit/dynokit/formation"
)

// ErrExecOff is returned by Exec and ExecDyno for an app whose
// runtime-heroku-exec feature is off.
var ErrExecOff = errors.New("platform: Heroku Exec is off for this app (heroku features:enable runtime-heroku-exec)")

// Exec runs spec in the app's running dyno (heroku ps:exec), which needs
// the app's RuntimeHerokuExec feature. A dyno that is not up is
// ErrNotFound; a runtime that cannot run processes in dynos is
// formation.ErrNoExec.
func (p *Platform) Exec(ctx context.Context, app, dyno string, spec formation.ExecSpec, stdio formation.Stdio) (formation.ExecProcess, error) {
	d, err := p.ExecDyno(ctx, app, dyno)
	if err != nil {
		return nil, err
	}
	proc, err := p.rec.Exec(ctx, app, d.Name, spec, stdio)
	if errors.Is(err, formation.ErrUnknown) || errors.Is(err, formation.ErrExited) {
		return nil, fmt.Errorf("platform: exec in %s of %s: the dyno is not running: %w", dyno, app, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("platform: exec in %s of %s: %w", dyno, app, err)
	}
	return proc, nil
}

// ExecDyno is the app's dyno named dyno, when it is up and the app has
// Heroku Exec on: ErrExecOff when it is off, ErrNotFound when the dyno is
// not running.
func (p *Platform) ExecDyno(ctx context.Context, app, dyno string) (Dyno, error) {
	on, err := p.FeatureOn(ctx, app, RuntimeHerokuExec)
	if err != nil {
		return Dyno{}, err
	}
	if !on {
		return Dyno{}, fmt.Errorf("platform: %s: %w", app, ErrExecOff)
	}
	dynos, err := p.Dynos(ctx, app)
	if err != nil {
		return Dyno{}, err
	}
	for _, d := range dynos {
		if d.Name == dyno && d.State == formation.StateUp {
			return d, nil
		}
	}
	return Dyno{}, fmt.Errorf("platform: dyno %s of %s is not running: %w", dyno, app, ErrNotFound)
}
