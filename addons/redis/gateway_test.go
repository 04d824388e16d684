package redis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/redis"
)

// startGateway serves a Gateway for the test server on loopback (plain
// TCP: TLS is the listener's business) and returns its address.
func startGateway(t *testing.T, g *redis.Gateway) string {
	t.Helper()
	if g.Addr == "" {
		g.Addr = server.Start(t).Addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// gatewayToken is the password a client presents to the gateway.
func gatewayToken(t *testing.T, redisURL, gw string) string {
	t.Helper()
	gu, err := redis.GatewayURL(redisURL, gw)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(gu)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "rediss" || u.Host != gw || u.User.Username() != "" {
		t.Fatalf("GatewayURL = %s, want rediss://:<token>@%s", gu, gw)
	}
	pw, _ := u.User.Password()
	return pw
}

// session is a raw client: it writes what it is given and reads reply
// lines, as heroku redis:cli does.
type session struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialSession(t *testing.T, addr string) *session {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &session{t: t, c: c, br: bufio.NewReader(c)}
}

// do sends raw and returns the next reply line (a bulk string's value for
// $N replies).
func (s *session) do(raw string) string {
	s.t.Helper()
	if _, err := io.WriteString(s.c, raw); err != nil {
		s.t.Fatalf("write %q: %v", raw, err)
	}
	return s.reply()
}

func (s *session) reply() string {
	s.t.Helper()
	line, err := s.br.ReadString('\n')
	if err != nil {
		s.t.Fatalf("reading a reply: %v (got %q)", err, line)
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "$") && line != "$-1" {
		v, err := s.br.ReadString('\n')
		if err != nil {
			s.t.Fatal(err)
		}
		return strings.TrimRight(v, "\r\n")
	}
	return line
}

// closed reports whether the gateway has closed the connection.
func (s *session) closed() bool {
	s.t.Helper()
	_ = s.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := s.br.ReadByte()
	return errors.Is(err, io.EOF)
}

func TestGatewayInlineAuth(t *testing.T) {
	p := newProvider(t)
	res := provision(t, p)
	other := provision(t, p)
	gw := startGateway(t, &redis.Gateway{})
	token := gatewayToken(t, res.Config["REDIS_URL"], gw)
	prefix := res.Config["REDIS_KEY_PREFIX"]

	// What heroku redis:cli sends: inline commands, AUTH <password> first.
	s := dialSession(t, gw)
	if got := s.do("PING\n"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Errorf("PING before AUTH = %q, want NOAUTH", got)
	}
	if got := s.do("AUTH " + token + "x\n"); !strings.HasPrefix(got, "-WRONGPASS") {
		t.Errorf("AUTH with a wrong password = %q, want WRONGPASS", got)
	}
	if got := s.do("AUTH " + token + "\n"); got != "+OK" {
		t.Fatalf("AUTH = %q, want +OK", got)
	}
	if got := s.do("ACL WHOAMI\n"); got != res.ID {
		t.Errorf("ACL WHOAMI = %q, want the add-on's user %s", got, res.ID)
	}
	if got := s.do("SET " + prefix + "k v\n"); got != "+OK" {
		t.Errorf("SET under the prefix = %q", got)
	}
	if got := s.do("GET " + prefix + "k\n"); got != "v" {
		t.Errorf("GET = %q, want v", got)
	}
	if got := s.do("GET " + other.Config["REDIS_KEY_PREFIX"] + "k\n"); !strings.HasPrefix(got, "-NOPERM") {
		t.Errorf("GET of another add-on's key = %q, want NOPERM", got)
	}
	if got := s.do("QUIT\n"); got != "+OK" {
		t.Errorf("QUIT = %q", got)
	}
	if !s.closed() {
		t.Error("the session was not closed after QUIT")
	}
}

func TestGatewayPasswordOnlyClient(t *testing.T) {
	p := newProvider(t)
	res := provision(t, p)
	gw := startGateway(t, &redis.Gateway{})
	// A client library given a password and no user, as Heroku's URLs
	// are: go-redis tries HELLO 3 AUTH default <password>, gets NOAUTH,
	// and falls back to AUTH <password>.
	c := goredis.NewClient(&goredis.Options{Addr: gw, Password: gatewayToken(t, res.Config["REDIS_URL"], gw), MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	t.Cleanup(func() { c.Close() })
	prefix := res.Config["REDIS_KEY_PREFIX"]
	if err := c.Set(ctx(t), prefix+"n", 41, 0).Err(); err != nil {
		t.Fatalf("SET through the gateway: %v", err)
	}
	if n, err := c.Incr(ctx(t), prefix+"n").Result(); err != nil || n != 42 {
		t.Fatalf("INCR = %d, %v", n, err)
	}
	// Its connection pool makes more connections as needed.
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- c.Incr(ctx(t), prefix+"n").Err() }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n, _ := c.Get(ctx(t), prefix+"n").Int(); n != 50 {
		t.Errorf("n = %d, want 50", n)
	}
	// Through the add-on's own URL the data is the same.
	if n, _ := client(t, res).Get(ctx(t), prefix+"n").Int(); n != 50 {
		t.Errorf("n through REDIS_URL = %d, want 50", n)
	}
}

func TestGatewayRefuses(t *testing.T) {
	p := newProvider(t)
	res := provision(t, p)
	info := server.Start(t)
	gw := startGateway(t, &redis.Gateway{AuthTimeout: time.Second})
	token := gatewayToken(t, res.Config["REDIS_URL"], gw)
	user, pw, _ := strings.Cut(token, ".")

	t.Run("admin and default users are not reachable", func(t *testing.T) {
		s := dialSession(t, gw)
		for _, auth := range []string{
			"AUTH " + info.Password + "\n",                  // the default user
			fmt.Sprintf("AUTH default.%s\n", info.Password), // named
			fmt.Sprintf("*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$%d\r\n%s\r\n", len(info.Password), info.Password),
		} {
			if got := s.do(auth); !strings.HasPrefix(got, "-WRONGPASS") {
				t.Errorf("%q = %q, want WRONGPASS", auth, got)
			}
		}
	})
	t.Run("multibulk AUTH with user and password", func(t *testing.T) {
		s := dialSession(t, gw)
		got := s.do(fmt.Sprintf("*3\r\n$4\r\nauth\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(user), user, len(pw), pw))
		if got != "+OK" {
			t.Fatalf("AUTH user password = %q", got)
		}
		if got := s.do("*2\r\n$3\r\nACL\r\n$6\r\nWHOAMI\r\n"); got != res.ID {
			t.Errorf("WHOAMI = %q", got)
		}
	})
	t.Run("pipelined commands after AUTH reach the session", func(t *testing.T) {
		s := dialSession(t, gw)
		if got := s.do("AUTH " + token + "\r\nACL WHOAMI\r\n"); got != "+OK" {
			t.Fatalf("AUTH = %q", got)
		}
		if got := s.reply(); got != res.ID {
			t.Errorf("WHOAMI sent with AUTH = %q", got)
		}
	})
	t.Run("ten commands without AUTH", func(t *testing.T) {
		s := dialSession(t, gw)
		for range 10 {
			if got := s.do("PING\n"); !strings.HasPrefix(got, "-NOAUTH") {
				t.Fatalf("PING = %q", got)
			}
		}
		if !s.closed() {
			t.Error("still open after ten commands without AUTH")
		}
	})
	for name, raw := range map[string]string{
		"too many arguments": "*11\r\n",
		"a long argument":    "*2\r\n$4\r\nAUTH\r\n$16385\r\n",
		"a long line":        strings.Repeat("x", 17<<10) + "\n",
		"a bad length":       "*2\r\n$-4\r\n",
		"quotes":             "AUTH \"a b\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			s := dialSession(t, gw)
			if got := s.do(raw); !strings.HasPrefix(got, "-ERR Protocol error") {
				t.Errorf("%s: %q, want a protocol error", name, got)
			}
			if !s.closed() {
				t.Errorf("%s: the connection stays open", name)
			}
		})
	}
	t.Run("a client that never authenticates", func(t *testing.T) {
		s := dialSession(t, gw)
		start := time.Now()
		if !s.closed() {
			t.Fatal("not closed")
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("closed after %v; AuthTimeout is 1s", d)
		}
	})
}

func TestGatewayServeEndsSessions(t *testing.T) {
	p := newProvider(t)
	res := provision(t, p)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&redis.Gateway{Addr: server.Start(t).Addr}).Serve(ctx, ln) }()
	s := dialSession(t, ln.Addr().String())
	if got := s.do("AUTH " + gatewayToken(t, res.Config["REDIS_URL"], ln.Addr().String()) + "\n"); got != "+OK" {
		t.Fatalf("AUTH = %q", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended with a session open")
	}
	if !s.closed() {
		t.Error("the session survived Serve")
	}
}

func TestGatewayURL(t *testing.T) {
	got, err := redis.GatewayURL("redis://rd00112233445566778899aabb:pw-_x@127.0.0.1:6379", "gw.example:5002")
	if want := "rediss://:rd00112233445566778899aabb.pw-_x@gw.example:5002"; err != nil || got != want {
		t.Errorf("GatewayURL = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"redis://:pw@h:1", "redis://user@h:1", "redis://a.b:pw@h:1", "::"} {
		if _, err := redis.GatewayURL(bad, "gw:1"); err == nil {
			t.Errorf("GatewayURL(%q) accepted", bad)
		}
	}
}

// BenchmarkGatewayPing: one PING round trip on an authenticated session,
// through the gateway and straight to the server, for the cost of the hop.
func BenchmarkGatewayPing(b *testing.B) {
	info := server.Start(b)
	p := &redis.Provider{Addr: info.Addr, Password: info.Password}
	b.Cleanup(func() { _ = p.Close() })
	res, err := p.Provision(context.Background(), addons.ProvisionRequest{ID: "bench-gateway", Plan: "mini"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Deprovision(context.Background(), res.ID) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go (&redis.Gateway{Addr: info.Addr}).Serve(ctx, ln)
	u, _ := url.Parse(res.Config["REDIS_URL"])
	pw, _ := u.User.Password()
	for _, tc := range []struct{ name, addr, auth string }{
		{"direct", info.Addr, "AUTH " + u.User.Username() + " " + pw + "\r\n"},
		{"gateway", ln.Addr().String(), "AUTH " + u.User.Username() + "." + pw + "\r\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := net.Dial("tcp", tc.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			io.WriteString(c, tc.auth)
			if line, _ := br.ReadString('\n'); line != "+OK\r\n" {
				b.Fatalf("AUTH = %q", line)
			}
			ping := []byte("*1\r\n$4\r\nPING\r\n")
			for b.Loop() {
				c.Write(ping)
				if line, err := br.ReadString('\n'); err != nil || line != "+PONG\r\n" {
					b.Fatalf("PING = %q, %v", line, err)
				}
			}
		})
	}
}
