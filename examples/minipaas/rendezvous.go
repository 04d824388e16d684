package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/addons/redis"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/formation"
)

// The rendezvous is how `heroku run` attaches to a one-off dyno
// (real-components.md §2): POST /apps/{app}/dynos answers an attach_url
// rendezvous://host:port/<secret>; the CLI opens TLS to it, writes the
// secret and a CRLF, discards the first line it gets back, then streams the
// dyno's output to its stdout and its stdin to the dyno, ending stdin with
// 0x04. The CLI verifies the certificate, so minipaas makes a private CA
// and tells the user to trust it with NODE_EXTRA_CA_CERTS.
type rendezvous struct {
	p   *platform.Platform
	log *slog.Logger
	// redis, if set, serves Redis clients that connect here (heroku
	// redis:cli, through the Data API's resource_url).
	redis *redis.Gateway
	// ttl bounds the wait between POST /dynos and the CLI's connection.
	ttl time.Duration

	// http, when set, serves the connections that open with an HTTP GET
	// or HEAD instead of a secret: the backup downloads (backups.go),
	// which the CLI makes over HTTPS only, with the CA it trusts here.
	http http.Handler

	mu      sync.Mutex
	pending map[string]pendingRun // by secret
	wg      sync.WaitGroup
	httpLn  *connListener
}

type pendingRun struct {
	app, command string
	env          []string
	terminal     *formation.Terminal // nil: the input is piped
	name         string              // the dyno's, as announced
	limits       platform.OneOffLimits
	expires      time.Time
}

const (
	rendezvousTTL = 60 * time.Second
	// eotByte ends the CLI's stdin.
	eotByte = 0x04
)

func newRendezvous(p *platform.Platform, log *slog.Logger) *rendezvous {
	return &rendezvous{p: p, log: log, ttl: rendezvousTTL, pending: map[string]pendingRun{}}
}

// connListener hands the connections the rendezvous found to be HTTP to
// an http.Server.
type connListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  net.Addr
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *connListener) Addr() net.Addr { return l.addr }

// replayConn reads what was read from the connection before, then the rest.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// add registers a run and returns the secret the CLI will present.
func (rv *rendezvous) add(app, command, name string, env []string, terminal *formation.Terminal, limits platform.OneOffLimits) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("rendezvous secret: %w", err)
	}
	secret := hex.EncodeToString(b)
	now := time.Now()
	rv.mu.Lock()
	defer rv.mu.Unlock()
	for s, r := range rv.pending {
		if now.After(r.expires) {
			delete(rv.pending, s)
		}
	}
	rv.pending[secret] = pendingRun{app: app, command: command, name: name, env: env, terminal: terminal, limits: limits, expires: now.Add(rv.ttl)}
	return secret, nil
}

// take returns and forgets the run of secret: a secret works once.
func (rv *rendezvous) take(secret string) (pendingRun, bool) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	r, ok := rv.pending[secret]
	delete(rv.pending, secret)
	if !ok || time.Now().After(r.expires) {
		return pendingRun{}, false
	}
	return r, true
}

// serve accepts attachments on ln (a TLS listener) until ctx is done, then
// waits for the runs in flight, whose dynos ctx stops.
func (rv *rendezvous) serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer rv.wg.Wait()
	if rv.http != nil {
		rv.httpLn = &connListener{conns: make(chan net.Conn), done: make(chan struct{}), addr: ln.Addr()}
		// Downloads may be long (no write timeout); requests are small
		// GETs, and idle connections are not kept.
		srv := &http.Server{Handler: rv.http, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10,
			ErrorLog: slog.NewLogLogger(rv.log.Handler(), slog.LevelWarn)}
		rv.wg.Go(func() { _ = srv.Serve(rv.httpLn) })
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if srv.Shutdown(sctx) != nil {
				srv.Close()
			}
		}()
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("rendezvous accept: %w", err)
		}
		rv.wg.Add(1)
		go func() {
			defer rv.wg.Done()
			rv.handle(ctx, conn)
		}()
	}
}

func (rv *rendezvous) handle(ctx context.Context, conn net.Conn) {
	handedOver := false
	defer func() {
		if !handedOver {
			conn.Close()
		}
	}()
	stopOnCancel := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopOnCancel()

	// The secret line, bounded in time and size.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(conn, 512)
	line, err := br.ReadSlice('\n')
	if err != nil {
		rv.log.Debug("minipaas: rendezvous: no secret line", "err", err)
		return
	}
	if rv.httpLn != nil && (bytes.HasPrefix(line, []byte("GET /")) || bytes.HasPrefix(line, []byte("HEAD /"))) {
		// A secret is hex: this is an HTTP request. Its server reads it
		// again from the start and owns the connection from here.
		replay := &replayConn{Conn: conn, r: io.MultiReader(bytes.NewReader(bytes.Clone(line)), br)}
		select {
		case rv.httpLn.conns <- replay:
			handedOver = stopOnCancel()
		case <-rv.httpLn.done:
		case <-ctx.Done():
		}
		return
	}
	if rv.redis != nil && (line[0] == '*' || len(line) > 5 && strings.EqualFold(string(line[:5]), "AUTH ")) {
		// A Redis client (heroku redis:cli): the gateway reads its
		// commands again from the start.
		rv.redis.ServeConn(ctx, &replayConn{Conn: conn, r: io.MultiReader(bytes.NewReader(bytes.Clone(line)), br)})
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	secret, _, _ := strings.Cut(strings.TrimRight(string(line), "\r\n"), "?")
	run, ok := rv.take(secret)
	out := &syncWriter{w: conn}
	// The CLI discards the first line it receives.
	if _, err := io.WriteString(out, "rendezvous\r\n"); err != nil {
		return
	}
	if !ok {
		io.WriteString(out, "minipaas: unknown or expired rendezvous; run the command again\r\n")
		return
	}

	// Copy the CLI's input to the dyno's stdin: for a terminal, every
	// keystroke (its ^D is the terminal's end of input); for piped input,
	// up to the EOT that ends it. The CLI starts sending only after it has
	// read the first line, so the dyno's output is held back until then
	// (or briefly, for a terminal that sends nothing), lest it arrive in
	// the same read and be discarded with it. A CLI that goes away (the
	// connection ends, or writing to it fails) hangs up: the dyno is
	// stopped, as Heroku stops a run whose terminal has gone.
	runCtx, hangUp := context.WithCancel(ctx)
	defer hangUp()
	out.onError = hangUp
	stdinR, stdinW := io.Pipe()
	firstInput := make(chan struct{})
	eotSeen := make(chan struct{})
	go func() {
		var once sync.Once
		seen := func() { once.Do(func() { close(firstInput) }) }
		defer seen()
		buf := make([]byte, 4096)
		eot := false
		for {
			n, err := br.Read(buf)
			if n > 0 && !eot {
				seen()
				data := buf[:n]
				if i := bytes.IndexByte(data, eotByte); i >= 0 && run.terminal == nil {
					stdinW.Write(data[:i])
					stdinW.Close()
					eot = true
					close(eotSeen)
				} else if _, werr := stdinW.Write(data); werr != nil {
					return // the run is over
				}
			}
			if err != nil {
				stdinW.CloseWithError(err)
				hangUp()
				return
			}
		}
	}()
	// A CLI on a terminal sends nothing until a key is pressed: waiting
	// long for it would hold back the shell's prompt, and the first line
	// has reached it well before a short wait ends.
	firstWait := 2 * time.Second
	if run.terminal != nil {
		firstWait = 250 * time.Millisecond
	}
	select {
	case <-firstInput:
	case <-time.After(firstWait):
	case <-ctx.Done():
		return
	}

	code, err := rv.p.RunOneOff(runCtx, run.app, run.command, platform.OneOffIO{Stdin: stdinR, Stdout: out, Stderr: out, Env: run.env, Terminal: run.terminal, Name: run.name, OneOffLimits: run.limits})
	stdinR.Close()
	switch {
	case err != nil && runCtx.Err() == nil:
		fmt.Fprintf(out, "minipaas: %s\r\n", strings.TrimPrefix(err.Error(), "platform: "))
	case err != nil && ctx.Err() == nil:
		rv.log.Info("minipaas: the CLI went away: one-off dyno stopped", "app", run.app, "dyno", run.name)
	}
	rv.log.Info("minipaas: one-off dyno exited", "app", run.app, "status", code)
	if run.terminal != nil {
		return // a terminal's CLI sends no EOT to wait for
	}
	// Closing before the CLI has sent its EOT makes it fail writing; give
	// it a moment.
	select {
	case <-eotSeen:
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
}

// syncWriter serialises the dyno's stdout and stderr onto one connection.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
	// onError, if set, runs when a write fails (the CLI has gone).
	onError func()
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.w.Write(p)
	if err != nil && s.onError != nil {
		s.onError()
	}
	return n, err
}

// rendezvousTLS makes a private CA (its certificate written to caFile for
// NODE_EXTRA_CA_CERTS) and a server certificate it signs for 127.0.0.1 and
// localhost. Both are made at every start; the CA key never leaves memory.
func rendezvousTLS(caFile string) (*tls.Config, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("rendezvous CA key: %w", err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "minipaas rendezvous CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("rendezvous CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("rendezvous CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("rendezvous key: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("rendezvous certificate: %w", err)
	}
	pemCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(caFile, pemCA, 0o644); err != nil {
		return nil, fmt.Errorf("rendezvous CA file: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}
