package platform

import (
	"context"
	"fmt"
	"iter"

	"github.com/dynokit/dynokit/logplex"
)

// Logs yields the app's recent log lines and, with opt.Follow, live ones
// until ctx is done (heroku logs). Messages carry the app's name.
func (p *Platform) Logs(ctx context.Context, app string, opt logplex.TailOptions) (iter.Seq2[logplex.Message, error], error) {
	id, ok := p.appID(app)
	if !ok {
		return nil, fmt.Errorf("platform: logs of %q: %w", app, ErrNotFound)
	}
	if err := opt.Validate(); err != nil {
		return nil, fmt.Errorf("platform: logs of %s: %w", app, err)
	}
	return func(yield func(logplex.Message, error) bool) {
		for m, err := range p.logs.Tail(ctx, id, opt) {
			m.App = app
			if !yield(m, err) {
				return
			}
		}
	}, nil
}

// Log writes m to the app's log stream: the lines of services the app
// uses, such as its database's app[postgres.123] lines. m.App is set.
func (p *Platform) Log(ctx context.Context, app string, m logplex.Message) error {
	id, ok := p.appID(app)
	if !ok {
		return fmt.Errorf("platform: log to %q: %w", app, ErrNotFound)
	}
	m.App = id
	if err := p.logs.Send(ctx, m); err != nil {
		return fmt.Errorf("platform: log to %s: %w", app, err)
	}
	return nil
}

// CreateLogSession registers a log session for the app (POST
// /apps/{app}/log-sessions); serve LogSessions at the base URL given to
// Session.URL.
func (p *Platform) CreateLogSession(ctx context.Context, app string, opt logplex.SessionOptions) (logplex.Session, error) {
	id, ok := p.appID(app)
	if !ok {
		return logplex.Session{}, fmt.Errorf("platform: log session for %q: %w", app, ErrNotFound)
	}
	s, err := p.sess.Create(id, opt)
	if err != nil {
		return logplex.Session{}, fmt.Errorf("platform: log session for %s: %w", app, err)
	}
	return s, nil
}

// LogSessions serves the streams of sessions made by CreateLogSession
// (GET <base>/<id>?secret=…, Server-Sent Events or text).
func (p *Platform) LogSessions() *logplex.Sessions { return p.sess }

// apiLog writes a platform line about the app's releases, as Heroku's
// app[api] lines ("Deploy 1a2b3c4 by user", "Release v2 created by user").
func (p *Platform) apiLog(appID, text string) {
	_ = p.logs.Send(context.Background(), logplex.Message{App: appID, Source: logplex.SourceApp, Proc: "api", Text: text})
}
