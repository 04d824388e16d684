package redis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Gateway lets clients that authenticate with a password alone reach an
// add-on's ACL user. Heroku's REDIS_URLs carry no user name, so clients
// written for them — heroku redis:cli among them — send AUTH <password>,
// which Redis checks against its default user. Through the gateway such a
// client presents the token "<user>.<password>" (GatewayURL builds a URL
// holding it) and the gateway authenticates to the server as that user.
//
// The gateway reads commands until the client's first AUTH; before it
// every command gets NOAUTH, as from Redis, within Redis's limits for
// unauthenticated clients (10 arguments of at most 16 KiB, here also at
// most 10 commands and AuthTimeout). Only users AllowUser accepts are
// tried: the server's default and admin users are not reachable through
// the gateway, however it is exposed. After a successful AUTH the two
// connections are joined, and the client speaks to its own session on
// the server.
//
// The gateway does not terminate TLS: serve it on a tls.Listener (the CLI
// speaks TLS to it).
type Gateway struct {
	Addr string // host:port of the Redis server
	// AllowUser says which users may authenticate through the gateway;
	// nil allows add-on users only (IsResourceID).
	AllowUser func(name string) bool
	// AuthTimeout bounds the time from the connection to a successful
	// AUTH; zero means 10 s.
	AuthTimeout time.Duration
	Logger      *slog.Logger // nil discards
}

// Unauthenticated clients' limits, as Redis applies them.
const (
	gatewayMaxArgs     = 10
	gatewayMaxArgBytes = 16 << 10
	gatewayMaxCommands = 10
)

// IsResourceID reports whether name is a resource id (and so an ACL user
// name) the Provider makes.
func IsResourceID(name string) bool { return resourceIDPattern.MatchString(name) }

// GatewayURL returns the URL a password-only client uses to reach, through
// a gateway listening with TLS on gatewayAddr, the user of redisURL (an
// add-on's REDIS_URL): rediss://:<user>.<password>@gatewayAddr.
func GatewayURL(redisURL, gatewayAddr string) (string, error) {
	u, err := url.Parse(redisURL)
	if err != nil {
		return "", fmt.Errorf("redis: gateway URL: %w", err)
	}
	pw, ok := u.User.Password()
	user := u.User.Username()
	if !ok || user == "" || strings.Contains(user, ".") {
		return "", fmt.Errorf("redis: gateway URL: %q has no user and password, or its user name holds a '.'", u.Redacted())
	}
	g := url.URL{Scheme: "rediss", User: url.UserPassword("", user+"."+pw), Host: gatewayAddr}
	return g.String(), nil
}

// Serve accepts connections on ln and serves each until ctx is done; it
// closes ln, and waits for the connections it served to close.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("redis: gateway: accept: %w", err)
		}
		wg.Go(func() { g.ServeConn(ctx, c) })
	}
}

// ServeConn serves one client connection and closes it. It returns when
// the client or the server ends the session, or ctx is done.
func (g *Gateway) ServeConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	timeout := g.AuthTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReaderSize(c, 4096)
	server, err := g.authenticate(ctx, c, br)
	if err != nil {
		g.log().Debug("redis: gateway: client not authenticated", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	// Either side ending ends the session: closing both stops the other
	// copy (ctx's end closes c, so it ends the session too).
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(server, br) // what the client sent after AUTH first
		server.Close()
		c.Close()
		close(done)
	}()
	_, _ = io.Copy(c, server)
	server.Close()
	c.Close()
	<-done
}

// authenticate answers the client's commands until an AUTH succeeds, and
// returns the server connection that AUTH authenticated.
func (g *Gateway) authenticate(ctx context.Context, c net.Conn, br *bufio.Reader) (net.Conn, error) {
	for range gatewayMaxCommands {
		args, err := readCommand(br)
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				fmt.Fprintf(c, "-ERR Protocol error: %s\r\n", pe.Rule)
			}
			return nil, err
		}
		if len(args) == 0 {
			continue // an empty inline line, which Redis ignores too
		}
		var user, password string
		switch cmd := strings.ToUpper(args[0]); {
		case cmd == "AUTH" && len(args) == 2:
			var ok bool
			if user, password, ok = strings.Cut(args[1], "."); !ok {
				user = "default"
			}
		case cmd == "AUTH" && len(args) == 3:
			user, password = args[1], args[2]
		case cmd == "AUTH":
			io.WriteString(c, "-ERR wrong number of arguments for 'auth' command\r\n")
			continue
		case cmd == "QUIT":
			io.WriteString(c, "+OK\r\n")
			return nil, errors.New("quit before AUTH")
		default:
			io.WriteString(c, "-NOAUTH Authentication required.\r\n")
			continue
		}
		allow := g.AllowUser
		if allow == nil {
			allow = IsResourceID
		}
		if !allow(user) {
			// The same answer as a wrong password: which users exist
			// behind the gateway is not told.
			io.WriteString(c, wrongPass)
			continue
		}
		server, reply, err := g.dialAuth(ctx, user, password)
		if err != nil {
			io.WriteString(c, "-ERR gateway: the server cannot be reached\r\n")
			return nil, err
		}
		if _, err := io.WriteString(c, reply); err != nil {
			if server != nil {
				server.Close()
			}
			return nil, err
		}
		if server != nil {
			return server, nil
		}
	}
	return nil, fmt.Errorf("no successful AUTH in %d commands", gatewayMaxCommands)
}

const wrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"

// dialAuth connects to the server and authenticates as user. It returns
// the connection when the server said +OK, else nil and the server's
// reply line (its error) for the client.
func (g *Gateway) dialAuth(ctx context.Context, user, password string) (net.Conn, string, error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	s, err := d.DialContext(dctx, "tcp", g.Addr)
	if err != nil {
		return nil, "", fmt.Errorf("redis: gateway: %w", err)
	}
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	var cmd bytes.Buffer
	writeArray(&cmd, "AUTH", user, password)
	if _, err := s.Write(cmd.Bytes()); err != nil {
		s.Close()
		return nil, "", fmt.Errorf("redis: gateway: %w", err)
	}
	// The reply is a simple string or error line; read it a byte at a
	// time so that nothing after it is taken from the session.
	line, err := readLine(s, 1024)
	if err != nil {
		s.Close()
		return nil, "", fmt.Errorf("redis: gateway: reading AUTH reply: %w", err)
	}
	if line != "+OK\r\n" {
		s.Close()
		if !strings.HasPrefix(line, "-") {
			return nil, "", fmt.Errorf("redis: gateway: unexpected AUTH reply %q", line)
		}
		return nil, line, nil
	}
	_ = s.SetDeadline(time.Time{})
	return s, line, nil
}

func (g *Gateway) log() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}

func writeArray(b *bytes.Buffer, args ...string) {
	fmt.Fprintf(b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(b, "$%d\r\n%s\r\n", len(a), a)
	}
}

func readLine(r io.Reader, max int) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for len(b) < max {
		if _, err := io.ReadFull(r, one); err != nil {
			return "", err
		}
		b = append(b, one[0])
		if one[0] == '\n' {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("reply longer than %d bytes", max)
}

// ProtocolError is a client command the gateway cannot read: Offset is
// where in the connection's stream, Rule what it broke.
type ProtocolError struct {
	Offset int64
	Rule   string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("redis: gateway: command at byte %d: %s", e.Offset, e.Rule)
}

// readCommand reads one command, in the multibulk form (*N, then N
// $len bulk strings) or inline (one line of space-separated words), within
// the limits for unauthenticated clients. Inline quoting is not
// supported: a quote is a protocol error (no token or password needs one).
func readCommand(br *bufio.Reader) ([]string, error) {
	var read int64
	fail := func(rule string) error { return &ProtocolError{Offset: read, Rule: rule} }
	line, err := readCRLF(br, gatewayMaxArgBytes+16, &read)
	if err != nil {
		if errors.Is(err, errLineTooLong) {
			return nil, fail("line too long")
		}
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		if strings.ContainsAny(line, "\"'") {
			return nil, fail("quoted inline arguments are not supported before AUTH")
		}
		args := strings.Fields(line)
		if len(args) > gatewayMaxArgs {
			return nil, fail("too many arguments before AUTH")
		}
		return args, nil
	}
	n, err := strconv.Atoi(line[1:])
	switch {
	case err != nil || n < 0:
		return nil, fail("invalid multibulk length")
	case n > gatewayMaxArgs:
		return nil, fail("too many arguments before AUTH")
	}
	args := make([]string, 0, n)
	for range n {
		h, err := readCRLF(br, 32, &read)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				return nil, fail("invalid bulk length")
			}
			return nil, err
		}
		if !strings.HasPrefix(h, "$") {
			return nil, fail(fmt.Sprintf("expected '$', got %q", truncate(h)))
		}
		size, err := strconv.Atoi(h[1:])
		switch {
		case err != nil || size < 0:
			return nil, fail("invalid bulk length")
		case size > gatewayMaxArgBytes:
			return nil, fail("argument longer than 16 KiB before AUTH")
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, noEOF(err)
		}
		read += int64(size + 2)
		if buf[size] != '\r' || buf[size+1] != '\n' {
			return nil, fail("bulk string not ended by CRLF")
		}
		args = append(args, string(buf[:size]))
	}
	return args, nil
}

var errLineTooLong = errors.New("line too long")

// readCRLF reads a line ended by "\n" (a "\r" before it is dropped), of at
// most max bytes, and adds its length to *read.
func readCRLF(br *bufio.Reader, max int, read *int64) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > max {
			return "", errLineTooLong
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if len(b) > 0 {
				return "", noEOF(err)
			}
			return "", err
		}
	}
	*read += int64(len(b))
	line := strings.TrimSuffix(string(b[:len(b)-1]), "\r")
	return line, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
