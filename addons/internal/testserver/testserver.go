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
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/pgtest"
)

// process is a server child with a parent-death signal.
type process struct {
	proc   *os.Process
	exited chan struct{}
}

// start runs cmd on a goroutine locked to its OS thread: Pdeathsig fires
// when the forking thread exits, and the runtime may retire threads.
func start(cmd *exec.Cmd) (*process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(exited)
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return &process{proc: cmd.Process, exited: exited}, nil
}

func (p *process) stop(sig syscall.Signal) {
	if p == nil {
		return
	}
	_ = p.proc.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.proc.Kill()
		<-p.exited
	}
}

func (p *process) dead() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

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
	s.init.Do(func() { s.srv.RequirePassword = true })
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
	proc     *process
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
	port, err := freePort()
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
	proc, err := start(cmd)
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
		if proc.dead() {
			logged, _ := os.ReadFile(logPath)
			return fmt.Errorf("redis-server exited during startup on port %d:\n%s", port, logged)
		}
		if time.Now().After(deadline) {
			proc.stop(syscall.SIGKILL)
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
		s.proc.stop(syscall.SIGTERM)
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	})
}

// PID returns the server's process id, 0 if it is not running.
func (s *Redis) PID() int { return s.proc.pid() }

func (p *process) pid() int {
	if p == nil || p.dead() {
		return 0
	}
	return p.proc.Pid
}
