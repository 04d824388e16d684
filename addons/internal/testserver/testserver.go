// Package testserver starts the real servers the addons tests need, on
// free loopback ports in temp directories: PostgreSQL with password
// authentication that is really checked (internal/pgtest with
// RequirePassword), so that isolation between add-ons can be tested, and
// a Redis server with a password on its default user.
//
// One server of each kind serves a test binary: declare package-level
// values, call Stop from TestMain after m.Run. Servers start on first
// use. Each server process gets the Linux parent-death signal, so none
// outlives a killed test binary. Missing binaries skip the test unless
// DYNOKIT_TEST_REQUIRE=1, which makes them fail.
package testserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/pgtest"
	"github.com/dynokit/dynokit/internal/testutil"
)

func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func skipOrFail(tb testing.TB, why, pkg string) {
	tb.Helper()
	if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
		tb.Fatalf("testserver: %s (DYNOKIT_TEST_REQUIRE=1; install %s)", why, pkg)
	}
	tb.Skipf("testserver: %s; install %s to run this test", why, pkg)
}

// Postgres is a lazily started PostgreSQL server with scram-sha-256
// authentication: internal/pgtest's server with RequirePassword. The zero
// value is ready; safe for concurrent use.
type Postgres struct {
	init sync.Once
	srv  pgtest.Server
}

// PostgresInfo is how to reach a started server as its superuser.
type PostgresInfo struct {
	AdminURL string // postgres://postgres:<password>@127.0.0.1:<port>/postgres?sslmode=disable
	Host     string
	Port     int
	BinDir   string // server and client binaries (pg_dump, pg_restore, psql)
}

// Start returns the running server, starting it on first use, or skips
// or fails tb.
func (s *Postgres) Start(tb testing.TB) PostgresInfo {
	tb.Helper()
	s.init.Do(func() { s.srv.RequirePassword, s.srv.JSONLog = true, true })
	adminURL := s.srv.AdminURL(tb)
	bin, err := pgtest.BinDir()
	if err != nil {
		tb.Fatalf("testserver: postgres: %v", err)
	}
	return PostgresInfo{AdminURL: adminURL, Host: "127.0.0.1", Port: s.srv.Port(tb), BinDir: bin}
}

// Stop shuts the server down and removes its directory. Safe to call when
// it never started, and more than once.
func (s *Postgres) Stop() { s.srv.Stop() }

// PID is the postmaster's process id (0 when not running).
func (s *Postgres) PID() int { return s.srv.PID() }

// Dir is the server's temporary directory.
func (s *Postgres) Dir() string { return s.srv.Dir() }

// Redis is a lazily started redis-server whose default user has a
// password. The zero value is ready; safe for concurrent use.
type Redis struct {
	once     sync.Once
	skip     string
	err      error
	dir      string
	port     int
	password string
	proc     *testutil.Process
	stopOnce sync.Once
}

// RedisInfo is how to reach a started server as its admin (the default
// user).
type RedisInfo struct {
	Addr     string // 127.0.0.1:<port>
	Password string // of the default user
}

// Start returns the running server, starting it on first use, or skips
// or fails tb.
func (s *Redis) Start(tb testing.TB) RedisInfo {
	tb.Helper()
	s.once.Do(s.start)
	if s.skip != "" {
		skipOrFail(tb, s.skip, "redis-server (Redis 7)")
	}
	if s.err != nil {
		tb.Fatalf("testserver: redis: %v", s.err)
	}
	return RedisInfo{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), Password: s.password}
}

func (s *Redis) start() {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.skip = "redis-server not found in PATH"
		return
	}
	if s.dir, err = os.MkdirTemp("", "dynokit-addons-redis-"); err != nil {
		s.err = err
		return
	}
	s.password = randomPassword()
	for attempt := 0; attempt < 3; attempt++ {
		if s.err = s.startRedis(bin); s.err == nil {
			return
		}
	}
}

func (s *Redis) startRedis(bin string) error {
	port, err := testutil.FreePort()
	if err != nil {
		return err
	}
	// The password goes in a config file, not argv, so ps does not show it.
	conf := filepath.Join(s.dir, "redis.conf")
	if err := os.WriteFile(conf, []byte("requirepass "+s.password+"\n"), 0o600); err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, conf, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	proc, err := testutil.Start(cmd)
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err = ping(addr, s.password); err == nil {
			s.proc, s.port = proc, port
			return nil
		}
		if exited(proc) {
			logged, _ := os.ReadFile(logPath)
			return fmt.Errorf("redis-server exited during startup on port %d:\n%s", port, logged)
		}
		if time.Now().After(deadline) {
			proc.Stop(syscall.SIGKILL, 20*time.Second)
			return fmt.Errorf("redis-server not ready after 20 s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends AUTH and PING in inline RESP and expects +OK then +PONG.
func ping(addr, password string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n", len(password), password); err != nil {
		return err
	}
	buf := make([]byte, 0, 64)
	tmp := make([]byte, 64)
	for len(buf) < len("+OK\r\n+PONG\r\n") {
		n, err := c.Read(tmp)
		if err != nil {
			return err
		}
		buf = append(buf, tmp[:n]...)
	}
	if string(buf) != "+OK\r\n+PONG\r\n" {
		return errors.New("unexpected reply to AUTH/PING: " + strconv.Quote(string(buf)))
	}
	return nil
}

// Stop shuts redis-server down and removes its directory.
func (s *Redis) Stop() {
	s.once.Do(func() { s.skip = "stopped before first use" })
	s.stopOnce.Do(func() {
		s.proc.Stop(syscall.SIGTERM, 20*time.Second)
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	})
}

// PID returns the server's process id, 0 if it is not running.
func (s *Redis) PID() int {
	if s.proc == nil || exited(s.proc) {
		return 0
	}
	return s.proc.Pid
}

func exited(p *testutil.Process) bool {
	select {
	case <-p.Exited():
		return true
	default:
		return false
	}
}
