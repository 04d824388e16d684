package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
)

// Server runs a Router on an HTTP listener and, optionally, an HTTPS one
// (HTTP/1.1 and HTTP/2, certificates chosen per SNI name by GetCertificate,
// e.g. a *CertStore's). The zero value with Router set serves HTTP on
// ":80".
type Server struct {
	Router *Router

	// Addr and TLSAddr are listen addresses; Listener and TLSListener, when
	// set, are used instead (and closed by Run). TLS is served only when
	// TLSAddr or TLSListener is set.
	Addr, TLSAddr         string
	Listener, TLSListener net.Listener
	// GetCertificate picks the certificate for a TLS handshake. Required for
	// TLS unless ACME is set; with both, it is asked first and ACME only
	// when it fails (so a CertStore with a Default belongs in ACME.Certs).
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ACME, when set, issues certificates for the router's hosts: HTTP-01
	// challenges are answered on the plain listener before routing,
	// TLS-ALPN-01 on the TLS listener. Nil: no ACME.
	ACME *ACME

	// ReadHeaderTimeout bounds reading a request head (slowloris); default
	// 10s. IdleTimeout closes idle client keep-alive connections; default
	// 90s. ShutdownTimeout bounds the graceful drain on cancellation;
	// default 30s.
	ReadHeaderTimeout, IdleTimeout, ShutdownTimeout time.Duration
	// MaxHeaderBytes bounds the whole request head (default 1 MiB; both
	// front ends allow 4 KiB of slack above it, then answer 431); the
	// router's own per-line, per-name and count limits (8 KiB, 1000 bytes,
	// 1000 headers) then apply with Heroku's statuses.
	MaxHeaderBytes int
	// Logger receives server errors; nil discards them.
	Logger *slog.Logger
	// NetHTTP serves both listeners with net/http's server instead of the
	// router's own HTTP/1.1 front end (about 1.4× the CPU per request; see
	// the package doc). Without it, HTTP/2 connections (ALPN "h2") are
	// still net/http's.
	NetHTTP bool

	ready atomic.Pointer[serverAddrs]
}

type serverAddrs struct{ http, https net.Addr }

// Addrs returns the bound HTTP and HTTPS addresses once Run is serving
// (nil before, or when not served).
func (s *Server) Addrs() (httpAddr, httpsAddr net.Addr) {
	if a := s.ready.Load(); a != nil {
		return a.http, a.https
	}
	return nil, nil
}

// Run serves until ctx is cancelled, then shuts down gracefully: listeners
// close, in-flight requests finish (bounded by ShutdownTimeout), upgraded
// connections are closed.
func (s *Server) Run(ctx context.Context) error {
	if s.Router == nil {
		return errors.New("router: Server.Router is nil")
	}
	withTLS := s.TLSAddr != "" || s.TLSListener != nil
	if withTLS && s.GetCertificate == nil && s.ACME == nil {
		return errors.New("router: Server: TLS listener set but GetCertificate and ACME are nil")
	}
	if s.ACME != nil {
		if err := s.ACME.init(); err != nil {
			return err
		}
	}
	ln := s.Listener
	if ln == nil {
		addr := s.Addr
		if addr == "" {
			addr = ":80"
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("router: listen %s: %w", addr, err)
		}
	}
	tln := s.TLSListener
	if withTLS && tln == nil {
		var err error
		if tln, err = net.Listen("tcp", s.TLSAddr); err != nil {
			ln.Close()
			return fmt.Errorf("router: listen %s: %w", s.TLSAddr, err)
		}
	}
	dur := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	maxHdr := s.MaxHeaderBytes
	if maxHdr <= 0 {
		maxHdr = 1 << 20
	}
	var errLog *slogWriter
	if s.Logger != nil {
		errLog = &slogWriter{l: s.Logger}
	}
	newServer := func() *http.Server {
		hs := &http.Server{
			Handler:           s.Router,
			ReadHeaderTimeout: dur(s.ReadHeaderTimeout, 10*time.Second),
			IdleTimeout:       dur(s.IdleTimeout, 90*time.Second),
			MaxHeaderBytes:    maxHdr,
			// "OPTIONS *" belongs to the dyno, not to the router.
			DisableGeneralOptionsHandler: true,
		}
		hs.ErrorLog = newStdLogger(errLog)
		return hs
	}
	var servers []*http.Server
	var fronts []*front
	var split *tlsSplit
	hctx, endHandshakes := context.WithCancel(ctx)
	defer endHandshakes()
	addrs := &serverAddrs{http: ln.Addr()}
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Add(1)
	if s.NetHTTP {
		plain := newServer()
		if s.ACME != nil {
			plain.Handler = s.ACME.HTTPHandler(s.Router)
		}
		servers = append(servers, plain)
		go func() {
			defer wg.Done()
			errc <- plain.Serve(ln)
		}()
	} else {
		fe := newFront(s.Router, dur(s.ReadHeaderTimeout, 10*time.Second), dur(s.IdleTimeout, 90*time.Second), maxHdr, s.Logger)
		fe.challenge = s.ACME.challengeHandler()
		fronts = append(fronts, fe)
		go func() {
			defer wg.Done()
			errc <- fe.Serve(ln)
		}()
	}
	if withTLS {
		hs := newServer()
		hs.TLSConfig = &tls.Config{
			GetCertificate: s.getCertificate(),
			NextProtos:     []string{"h2", "http/1.1"},
			MinVersion:     tls.VersionTLS12,
		}
		if s.ACME != nil {
			// TLS-ALPN-01 validations offer only this protocol; without it
			// crypto/tls would refuse their handshakes.
			hs.TLSConfig.NextProtos = append(hs.TLSConfig.NextProtos, acme.ALPNProto)
		}
		servers = append(servers, hs)
		addrs.https = tln.Addr()
		if s.NetHTTP {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errc <- hs.ServeTLS(tln, "", "")
			}()
		} else {
			split = newTLSSplit(hctx, tln, hs.TLSConfig, dur(s.ReadHeaderTimeout, 10*time.Second), s.Logger)
			fe := newFront(s.Router, dur(s.ReadHeaderTimeout, 10*time.Second), dur(s.IdleTimeout, 90*time.Second), maxHdr, s.Logger)
			fronts = append(fronts, fe)
			wg.Add(3)
			go func() {
				defer wg.Done()
				errc <- split.run()
			}()
			go func() {
				defer wg.Done()
				errc <- fe.Serve(split.h1)
			}()
			go func() {
				defer wg.Done()
				errc <- hs.Serve(split.h2)
			}()
		}
	}
	s.ready.Store(addrs)
	defer s.ready.Store(nil)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		runErr = fmt.Errorf("router: serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dur(s.ShutdownTimeout, 30*time.Second))
	defer cancel()
	endHandshakes()
	if split != nil {
		tln.Close() // the split's; net/http closes its own
	}
	// Every server drains at once, so that none keeps taking requests
	// while another drains, and each gets the whole ShutdownTimeout.
	var drain sync.WaitGroup
	for _, fe := range fronts {
		fe.shutting.Store(true)
	}
	for _, fe := range fronts {
		drain.Go(func() {
			if err := fe.shutdown(sctx); err != nil {
				fe.close()
			}
		})
	}
	for _, hs := range servers {
		drain.Go(func() {
			if err := hs.Shutdown(sctx); err != nil {
				hs.Close()
			}
		})
	}
	drain.Wait()
	s.Router.CloseTunnels()
	s.Router.CloseIdleConnections()
	if split != nil {
		// A handshake blocked in GetCertificate (an ACME order) ignores
		// its cancelled context until the callback returns; it is not
		// waited for past ShutdownTimeout, and its connection is closed
		// when it ends.
		split.wait(sctx)
	}
	wg.Wait()
	return runErr
}

// getCertificate combines GetCertificate and ACME (see their docs).
func (s *Server) getCertificate() func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	get, a := s.GetCertificate, s.ACME
	switch {
	case a == nil:
		return get
	case get == nil:
		return a.GetCertificate
	}
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		// A challenge handshake must reach ACME even when get has a
		// certificate (or a default) for the name.
		if !isALPNChallenge(hello) {
			if c, err := get(hello); err == nil {
				return c, nil
			}
		}
		return a.GetCertificate(hello)
	}
}

// CertStore holds TLS certificates by domain for SNI. Lookups are lock-free;
// Set and Remove copy the map. A wildcard certificate stored under
// "*.example.com" serves one-label subdomains of example.com. The zero value
// is ready to use.
type CertStore struct {
	mu    sync.Mutex
	certs atomic.Pointer[map[string]*tls.Certificate]
	// Default, when set, is served to clients that send no or an unknown
	// SNI name.
	Default *tls.Certificate
}

// Set stores cert for domain (lowercased; may be "*.example.com").
func (cs *CertStore) Set(domain string, cert *tls.Certificate) error {
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	check := strings.TrimPrefix(d, "*.")
	if err := validateDomain(check); err != nil {
		return fmt.Errorf("router: certificate: %w", err)
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return fmt.Errorf("router: certificate for %q: empty certificate", domain)
	}
	cs.update(func(m map[string]*tls.Certificate) { m[d] = cert })
	return nil
}

// Remove deletes the certificate of domain.
func (cs *CertStore) Remove(domain string) {
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	cs.update(func(m map[string]*tls.Certificate) { delete(m, d) })
}

func (cs *CertStore) update(f func(map[string]*tls.Certificate)) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := map[string]*tls.Certificate{}
	if old := cs.certs.Load(); old != nil {
		for k, v := range *old {
			n[k] = v
		}
	}
	f(n)
	cs.certs.Store(&n)
}

// ErrNoCertificate is returned for SNI names without a certificate (and no
// Default).
var ErrNoCertificate = errors.New("router: no certificate for server name")

// GetCertificate is a tls.Config.GetCertificate hook.
func (cs *CertStore) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := cs.lookup(hello.ServerName); c != nil {
		return c, nil
	}
	if cs.Default != nil {
		return cs.Default, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNoCertificate, hello.ServerName)
}

// lookup returns the certificate stored for serverName or its wildcard,
// ignoring Default.
func (cs *CertStore) lookup(serverName string) *tls.Certificate {
	name := strings.TrimSuffix(strings.ToLower(serverName), ".")
	if m := cs.certs.Load(); m != nil && name != "" {
		if c := (*m)[name]; c != nil {
			return c
		}
		if i := strings.IndexByte(name, '.'); i > 0 {
			if c := (*m)["*"+name[i:]]; c != nil {
				return c
			}
		}
	}
	return nil
}
