package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/formation"
)

// Heroku Exec (heroku ps:exec, ps:forward, ps:socks), as the CLI drives it:
//
//  1. The CLI asks the exec manager at HEROKU_EXEC_URL (minipaas's API
//     port, over HTTPS) for the dyno: PUT /api/v2/<dyno> with the app
//     name and API token as basic credentials and a fresh SSH public key;
//     the answer names an SSH host (tunnel_host), a user name for this
//     grant (client_user) and the host's key (proxy_public_key).
//  2. The CLI connects over SSH to port 80 of tunnel_host (the CLI fixes
//     the port) with that key, and runs a command or a shell on a
//     terminal (ps:exec), or opens direct-tcpip channels to the dyno's
//     address (ps:forward, ps:socks).
//
// minipaas runs the SSH server on -exec-addr; a session runs its command
// in the dyno with formation.Execer (Platform.Exec), with the dyno's
// environment, which Heroku's own sessions lack. Forwarding reaches only
// ports a process of that dyno listens on. SFTP (ps:copy) is not served.

const (
	execAPIPath  = "/api/v2"
	execGrantTTL = time.Hour // a grant's key works this long after the PUT
	// Bounds on what clients can hold: connections at once (handshakes
	// included), and channels per connection.
	execMaxConns    = 256
	execMaxChannels = 64
)

// execService is the exec manager and its SSH server.
type execService struct {
	p       *platform.Platform
	tokenOK func(string) bool
	log     *slog.Logger
	// addr is where the SSH server listens, "" when Heroku Exec is off;
	// host is the tunnel_host the CLI connects to (port 80).
	addr, host string
	signer     ssh.Signer

	mu     sync.Mutex
	grants map[string]execGrant // by SSH user name
}

// execGrant lets one SSH key into one dyno.
type execGrant struct {
	appID, dyno string
	key         ssh.PublicKey
	expires     time.Time
	token       string // the API token that asked: revoking it ends the grant
}

// newExecService loads or makes the SSH host key in dataDir. addr empty
// leaves Heroku Exec off (the exec manager says how to turn it on).
func newExecService(p *platform.Platform, dataDir, addr string, tokenOK func(string) bool, log *slog.Logger) (*execService, error) {
	s := &execService{p: p, tokenOK: tokenOK, log: log, addr: addr, grants: make(map[string]execGrant)}
	if addr == "" {
		return s, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "80" || host == "" {
		return nil, fmt.Errorf("exec: -exec-addr %q: must be host:80 with a host the CLI can reach (the heroku CLI connects to port 80)", addr)
	}
	s.host = host
	if s.signer, err = loadHostKey(dataDir + "/exec_host_key"); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	return s, nil
}

// loadHostKey reads the SSH host key at path, making it on first use, so
// that clients see the same key after a restart.
func loadHostKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, key, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, fmt.Errorf("generate host key: %w", gerr)
		}
		block, merr := ssh.MarshalPrivateKey(key, "minipaas exec")
		if merr != nil {
			return nil, fmt.Errorf("encode host key: %w", merr)
		}
		b = pem.EncodeToMemory(block)
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return signer, nil
}

// ServeHTTP is the exec manager: GET /api/v2 lists the dynos a session
// can reach (ps:exec --status), PUT /api/v2/<dyno> grants a key.
func (s *execService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Request-Id", platformapi.RequestID(r))
	if err := s.serveHTTP(w, r); err != nil {
		platformapi.WriteError(w, s.log, err)
	}
}

func (s *execService) serveHTTP(w http.ResponseWriter, r *http.Request) error {
	appName, tok, ok := r.BasicAuth()
	if !ok || !s.tokenOK(tok) {
		w.Header().Set("WWW-Authenticate", `Basic realm="minipaas exec"`)
		return platformapi.Errorf(http.StatusUnauthorized, platformapi.IDUnauthorized, "Invalid credentials provided: the app name and the API token, as basic credentials.")
	}
	app, err := s.p.App(r.Context(), appName)
	if errors.Is(err, platform.ErrNotFound) {
		return platformapi.NotFound("app", appName)
	}
	if err != nil {
		return apiError(err)
	}
	dyno, hasDyno := strings.CutPrefix(r.URL.Path, execAPIPath+"/")
	switch {
	case r.URL.Path == execAPIPath && r.Method == http.MethodGet:
		return s.list(w, r, app)
	case hasDyno && dyno != "" && !strings.Contains(dyno, "/") && r.Method == http.MethodPut:
		return s.grant(w, r, app, dyno)
	}
	return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "The exec manager answers GET %s and PUT %s/<dyno> only.", execAPIPath, execAPIPath)
}

func (s *execService) list(w http.ResponseWriter, r *http.Request, app platform.App) error {
	out := []map[string]string{}
	on, err := s.p.FeatureOn(r.Context(), app.Name, platform.RuntimeHerokuExec)
	if err != nil {
		return apiError(err)
	}
	if on && s.addr != "" {
		dynos, err := s.p.Dynos(r.Context(), app.Name)
		if err != nil {
			return apiError(err)
		}
		for _, d := range dynos {
			if d.State == formation.StateUp {
				out = append(out, map[string]string{"dyno_name": d.Name})
			}
		}
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *execService) grant(w http.ResponseWriter, r *http.Request, app platform.App, dyno string) error {
	var body struct {
		ClientKey string `json:"client_key"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil {
		return platformapi.InvalidParams("the body must be JSON: {\"client_key\": \"<an SSH public key>\"}")
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(body.ClientKey))
	if err != nil {
		return platformapi.InvalidParams("client_key is not an SSH public key: %v", err)
	}
	if s.addr == "" {
		return platformapi.Errorf(http.StatusUnprocessableEntity, "exec_not_available",
			"Heroku Exec needs minipaas started with -exec-addr HOST:80 (the heroku CLI connects to port 80 of HOST).")
	}
	// The dyno must be up and the feature on now; a session checks again.
	d, err := s.dyno(r.Context(), app.Name, dyno)
	if err != nil {
		return err
	}
	user := make([]byte, 12)
	_, _ = rand.Read(user)
	name := app.Name + "-" + hex.EncodeToString(user)
	s.mu.Lock()
	now := time.Now()
	for u, g := range s.grants {
		if now.After(g.expires) {
			delete(s.grants, u)
		}
	}
	_, tok, _ := r.BasicAuth()
	s.grants[name] = execGrant{appID: app.ID, dyno: dyno, key: key, expires: now.Add(execGrantTTL), token: tok}
	s.mu.Unlock()
	platformapi.WriteJSON(w, http.StatusOK, map[string]string{
		"tunnel_host":      s.host,
		"client_user":      name,
		"proxy_public_key": strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.signer.PublicKey()))),
		"dyno_ip":          dynoIP(d),
		"dyno_name":        dyno,
	})
	return nil
}

// dyno is platform.ExecDyno as an API error.
func (s *execService) dyno(ctx context.Context, app, name string) (platform.Dyno, error) {
	d, err := s.p.ExecDyno(ctx, app, name)
	switch {
	case errors.Is(err, platform.ErrExecOff):
		return d, platformapi.Errorf(http.StatusUnprocessableEntity, "exec_disabled",
			"Heroku Exec is off for %s: heroku features:enable runtime-heroku-exec -a %s", app, app)
	case errors.Is(err, platform.ErrNotFound):
		return d, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "Dyno %s of %s is not running (heroku ps -a %s).", name, app, app)
	case err != nil:
		return d, apiError(err)
	}
	return d, nil
}

// dynoIP is the address ps:socks and ps:forward reach the dyno at.
func dynoIP(d platform.Dyno) string {
	if host, _, err := net.SplitHostPort(d.Addr); err == nil && host != "" {
		return host
	}
	return "127.0.0.1"
}

// run serves SSH on ln until ctx is done, then closes the sessions.
func (s *execService) run(ctx context.Context, ln net.Listener) error {
	cfg := &ssh.ServerConfig{PublicKeyCallback: s.authorize, ServerVersion: "SSH-2.0-minipaas-exec"}
	cfg.AddHostKey(s.signer)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := make(map[net.Conn]struct{})
	// At most this many connections at once, so that clients that never
	// finish a handshake cannot use up descriptors shared with the router.
	slots := make(chan struct{}, execMaxConns)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Out of descriptors and the like pass: wait and go on, as
			// net/http's server does, rather than stop the platform.
			s.log.Warn("minipaas: exec: accept", "err", err)
			select {
			case <-time.After(100 * time.Millisecond):
				continue
			case <-ctx.Done():
				return nil
			}
		}
		select {
		case slots <- struct{}{}:
		default:
			c.Close()
			continue
		}
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			c.Close()
			return nil
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			s.serveConn(ctx, c, cfg)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
}

// authorize accepts the key of a live grant for the user name it was
// given under.
func (s *execService) authorize(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	s.mu.Lock()
	g, ok := s.grants[meta.User()]
	s.mu.Unlock()
	if !ok || time.Now().After(g.expires) || string(g.key.Marshal()) != string(key.Marshal()) {
		return nil, fmt.Errorf("exec: no grant for user %q with this key", meta.User())
	}
	return &ssh.Permissions{Extensions: map[string]string{"user": meta.User()}}, nil
}

// live returns the grant a connection was let in under while it still
// holds: not expired, its token still valid.
func (s *execService) live(user string) (execGrant, bool) {
	s.mu.Lock()
	g, ok := s.grants[user]
	s.mu.Unlock()
	return g, ok && time.Now().Before(g.expires) && s.tokenOK(g.token)
}

func (s *execService) serveConn(ctx context.Context, c net.Conn, cfg *ssh.ServerConfig) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // the handshake
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		s.log.Debug("minipaas: exec: handshake", "remote", c.RemoteAddr(), "err", err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	user := sc.Permissions.Extensions["user"]
	g, ok := s.live(user)
	if !ok {
		return
	}
	appID, dyno := g.appID, g.dyno
	// The connection ends when its grant does, or minipaas stops;
	// sessions and forwards end with it.
	ctx, cancel := context.WithDeadline(ctx, g.expires)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { sc.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before the wait: forwards to a dyno that keeps its end open
	n := 0
	for nc := range chans {
		if _, ok := s.live(user); !ok || n >= execMaxChannels {
			_ = nc.Reject(ssh.Prohibited, "the grant has ended (token revoked or expired), or too many channels")
			continue
		}
		n++
		switch nc.ChannelType() {
		case "session":
			wg.Add(1)
			go func() { defer wg.Done(); s.session(ctx, nc, appID, dyno) }()
		case "direct-tcpip":
			wg.Add(1)
			go func() { defer wg.Done(); s.forward(ctx, nc, appID, dyno) }()
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "minipaas exec serves sessions and direct-tcpip forwarding only")
		}
	}
}

// session runs one command (or a shell) in the dyno, on a terminal when
// the client asked for one.
func (s *execService) session(ctx context.Context, nc ssh.NewChannel, appID, dyno string) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	// Requests must be read to the end: the connection's reader blocks on
	// a channel whose requests nobody takes.
	defer func() { go ssh.DiscardRequests(reqs) }()
	var (
		spec formation.ExecSpec
		proc formation.ExecProcess
		done = make(chan formation.Exit, 1)
		// The client's input reaches the process through a pipe, so that
		// after the exit the session can still read up to the client's
		// end of input (see below).
		stdin, feed = io.Pipe()
		clientEOF   = make(chan struct{})
	)
	defer stdin.Close()
	for {
		var req *ssh.Request
		var ok bool
		select {
		case req, ok = <-reqs:
		case exit := <-done:
			// Output is all written once Wait returns.
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(exit.Code)}))
			_ = ch.CloseWrite()
			// The heroku CLI writes ^D when its own input ends, and
			// fails if the channel closed first: wait a moment for the
			// client's end of input before closing.
			stdin.CloseWithError(io.ErrClosedPipe)
			wait := time.NewTimer(time.Second)
			defer wait.Stop()
			for {
				select {
				case req, ok := <-reqs:
					if !ok {
						return
					}
					if req.WantReply {
						_ = req.Reply(false, nil)
					}
					continue
				case <-clientEOF:
				case <-wait.C:
				case <-ctx.Done():
				}
				return
			}
		case <-ctx.Done():
			return
		}
		if !ok {
			if proc != nil {
				_ = proc.Signal(context.Background(), syscall.SIGHUP) // the client hung up
			}
			return
		}
		reply := false
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil && proc == nil && validEnvName(kv.Name) && len(spec.Env) < 64 && len(kv.Value) <= 4096 {
				spec.Env = append(spec.Env, kv.Name+"="+kv.Value)
				reply = true
			}
		case "pty-req":
			var pr struct {
				Term             string
				Cols, Rows, W, H uint32
				Modes            string
			}
			if ssh.Unmarshal(req.Payload, &pr) == nil && proc == nil && pr.Cols <= 0xffff && pr.Rows <= 0xffff {
				spec.Terminal = &formation.Terminal{Cols: int(pr.Cols), Rows: int(pr.Rows)}
				if pr.Term != "" && validTerm(pr.Term) {
					spec.Env = append(spec.Env, "TERM="+pr.Term)
				}
				reply = true
			}
		case "window-change":
			var wc struct{ Cols, Rows, W, H uint32 }
			if ssh.Unmarshal(req.Payload, &wc) == nil && proc != nil && wc.Cols <= 0xffff && wc.Rows <= 0xffff {
				reply = proc.Resize(formation.Terminal{Cols: int(wc.Cols), Rows: int(wc.Rows)}) == nil
			}
		case "signal":
			var sig struct{ Name string }
			if ssh.Unmarshal(req.Payload, &sig) == nil && proc != nil {
				if n, known := sshSignals[sig.Name]; known {
					reply = proc.Signal(ctx, n) == nil
				}
			}
		case "shell", "exec":
			if proc != nil {
				break
			}
			if req.Type == "exec" {
				var cmd struct{ Command string }
				if ssh.Unmarshal(req.Payload, &cmd) != nil {
					break
				}
				spec.Command = cmd.Command
			}
			spec.Stdin = stdin
			stdio := formation.Stdio{Stdout: ch, Stderr: ch.Stderr()}
			p, err := s.start(ctx, appID, dyno, spec, stdio)
			if err != nil {
				// As a command that could not run: the client shows the
				// reason and the session ends with status 1.
				if req.WantReply {
					_ = req.Reply(true, nil)
				}
				fmt.Fprintf(ch.Stderr(), "minipaas: %v\r\n", err)
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{1}))
				return
			}
			proc, reply = p, true
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := ch.Read(buf)
					if n > 0 {
						_, _ = feed.Write(buf[:n]) // fails once the process is gone: drain on
					}
					if err != nil {
						feed.Close()
						close(clientEOF)
						return
					}
				}
			}()
			go func() {
				exit, err := p.Wait(context.Background())
				if err == nil {
					done <- exit
				}
			}()
		}
		if req.WantReply {
			_ = req.Reply(reply, nil)
		}
	}
}

// start runs spec in the dyno, checking the app, the feature and the dyno
// as they are now.
func (s *execService) start(ctx context.Context, appID, dyno string, spec formation.ExecSpec, stdio formation.Stdio) (formation.ExecProcess, error) {
	app, err := s.p.AppByID(ctx, appID)
	if err != nil {
		return nil, errors.New("the app no longer exists")
	}
	proc, err := s.p.Exec(ctx, app.Name, dyno, spec, stdio)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "platform: "))
	}
	return proc, nil
}

// forward connects a direct-tcpip channel (ps:forward, ps:socks) to a port
// a process of the dyno listens on.
func (s *execService) forward(ctx context.Context, nc ssh.NewChannel, appID, dyno string) {
	var target struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if ssh.Unmarshal(nc.ExtraData(), &target) != nil || target.Port == 0 || target.Port > 65535 {
		_ = nc.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	app, err := s.p.AppByID(ctx, appID)
	if err != nil {
		_ = nc.Reject(ssh.Prohibited, "the app no longer exists")
		return
	}
	d, err := s.dyno(ctx, app.Name, dyno)
	if err != nil {
		_ = nc.Reject(ssh.Prohibited, err.Error())
		return
	}
	ip := dynoIP(d)
	// ps:forward asks for 0.0.0.0, which Heroku's proxy in the dyno
	// takes to mean the dyno itself.
	if target.Host != ip && target.Host != "localhost" && target.Host != "0.0.0.0" {
		_ = nc.Reject(ssh.Prohibited, fmt.Sprintf("only the dyno's own address %s is reachable", ip))
		return
	}
	if ok, err := s.p.Reconciler().DynoListens(d.ID, int(target.Port)); err != nil || !ok {
		_ = nc.Reject(ssh.Prohibited, fmt.Sprintf("no process of %s listens on port %d", dyno, target.Port))
		return
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(target.Port))))
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	defer conn.Close()
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	stop := context.AfterFunc(ctx, func() { conn.Close(); ch.Close() })
	defer stop()
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(conn, ch)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(copied)
	}()
	_, _ = io.Copy(ch, conn)
	_ = ch.CloseWrite()
	<-copied
}

// sshSignals are the signal names of RFC 4254 §6.10.
var sshSignals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP,
	"ILL": syscall.SIGILL, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE,
	"QUIT": syscall.SIGQUIT, "SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

// validEnvName accepts the variable names a client may set: a shell name.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validTerm accepts a terminal type name (xterm-256color).
func validTerm(t string) bool {
	if len(t) > 64 {
		return false
	}
	for _, c := range t {
		if !(c == '-' || c == '.' || c == '+' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
