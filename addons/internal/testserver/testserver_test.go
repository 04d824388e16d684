package testserver_test

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/addons/internal/testserver"
)

func TestPostgresChecksPasswords(t *testing.T) {
	var s testserver.Postgres
	defer s.Stop()
	info := s.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, info.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	u, _ := url.Parse(info.AdminURL)
	u.User = url.UserPassword("postgres", "wrong")
	if _, err := pgx.Connect(ctx, u.String()); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
	pid := s.PID()
	s.Stop()
	if pid == 0 || syscall.Kill(pid, 0) == nil {
		t.Errorf("postmaster %d still running after Stop", pid)
	}
	if _, err := os.Stat(s.Dir()); !os.IsNotExist(err) {
		t.Errorf("directory %s left behind", s.Dir())
	}
}

func TestRedisNeedsPassword(t *testing.T) {
	var s testserver.Redis
	defer s.Stop()
	info := s.Start(t)
	if info.Password == "" || !strings.HasPrefix(info.Addr, "127.0.0.1:") {
		t.Fatalf("info %+v", info)
	}
	c, err := net.DialTimeout("tcp", info.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("PING\r\n"))
	reply, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.HasPrefix(reply, "-NOAUTH") {
		t.Errorf("PING without a password answered %q, want -NOAUTH", reply)
	}
	pid := s.PID()
	s.Stop()
	if pid == 0 || syscall.Kill(pid, 0) == nil {
		t.Errorf("redis-server %d still running after Stop", pid)
	}
}
