package syslog

import (
	"fmt"

	"github.com/dynokit/dynokit/logplex"
)

// A Route turns a received syslog message into a line of an app's log, or
// refuses it (unknown token, say). It must be safe for concurrent use.
type Route func(m Message) (logplex.Message, error)

// DrainRoute routes every message to app, reading the source from
// APP-NAME and the process from PROCID: the layout drains send.
func DrainRoute(app string) Route {
	return func(m Message) (logplex.Message, error) {
		return m.Logplex(app), nil
	}
}

// TokenRoute routes log input (heroku.md §7.4): APP-NAME carries a token
// ("t.<uuid>") that lookup maps to an app and the source its lines get;
// PROCID is the process.
func TokenRoute(lookup func(token string) (app, source string, ok bool)) Route {
	return func(m Message) (logplex.Message, error) {
		app, source, ok := lookup(m.AppName)
		if !ok {
			return logplex.Message{}, fmt.Errorf("syslog: route: unknown token %q in APP-NAME", m.AppName)
		}
		lm := m.Logplex(app)
		lm.Source = source
		return lm, nil
	}
}
