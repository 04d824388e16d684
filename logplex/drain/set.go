package drain

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"

	"github.com/hashicorp/go-multierror"

	"github.com/dynokit/dynokit/logplex"
)

// Runner is a drain with its delivery loop: Syslog and HTTPS.
type Runner interface {
	logplex.Drain
	Run(ctx context.Context) error
	Stats() Stats
}

var (
	_ Runner = (*Syslog)(nil)
	_ Runner = (*HTTPS)(nil)
)

// New returns the drain for a Heroku drain URL: syslog://host:port,
// syslog+tls://host:port (verified against tlsConfig, nil meaning the
// system roots), https://… or http://…. Other fields keep their defaults.
func New(rawURL, token string, tlsConfig *tls.Config) (Runner, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("drain: url: %w", err)
	}
	switch u.Scheme {
	case "syslog", "syslog+tls":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			return nil, fmt.Errorf("drain: url %q: want %s://host:port", u.Redacted(), u.Scheme)
		}
		d := &Syslog{Addr: u.Host, Token: token}
		if u.Scheme == "syslog+tls" {
			cfg := &tls.Config{}
			if tlsConfig != nil {
				cfg = tlsConfig.Clone()
			}
			if cfg.ServerName == "" {
				cfg.ServerName = u.Hostname()
			}
			d.TLS = cfg
		}
		return d, nil
	case "https", "http":
		if u.Host == "" {
			return nil, fmt.Errorf("drain: url %q: want %s://host/path", u.Redacted(), u.Scheme)
		}
		return &HTTPS{URL: rawURL, Token: token}, nil
	}
	return nil, fmt.Errorf("drain: url %q: scheme %q: want syslog, syslog+tls, https or http", u.Redacted(), u.Scheme)
}

// Set is the drains of an app: a Sink that queues every line on each
// drain, run and shut down together. Failures of several drains are
// aggregated into one error.
type Set struct {
	mu     sync.Mutex
	drains []Runner
}

var _ logplex.Drain = (*Set)(nil)

// Add adds d; it is run by the next Run call.
func (s *Set) Add(d Runner) {
	s.mu.Lock()
	s.drains = append(s.drains, d)
	s.mu.Unlock()
}

func (s *Set) list() []Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Runner(nil), s.drains...)
}

// Send queues m on every drain; a slow or dead drain delays none.
func (s *Set) Send(ctx context.Context, m logplex.Message) error {
	var errs *multierror.Error
	for _, d := range s.list() {
		if err := d.Send(ctx, m); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	return errs.ErrorOrNil()
}

// Run runs every drain until each has returned.
func (s *Set) Run(ctx context.Context) error {
	return s.each(func(d Runner) error { return d.Run(ctx) })
}

// Shutdown shuts every drain down concurrently, within ctx.
func (s *Set) Shutdown(ctx context.Context) error {
	return s.each(func(d Runner) error { return d.Shutdown(ctx) })
}

// each calls f on every drain concurrently and returns once all calls
// have, with their errors aggregated.
func (s *Set) each(f func(Runner) error) error {
	drains := s.list()
	errs := make([]error, len(drains))
	var wg sync.WaitGroup
	for i, d := range drains {
		wg.Go(func() { errs[i] = f(d) })
	}
	wg.Wait()
	return multierror.Append(nil, errs...).ErrorOrNil()
}
