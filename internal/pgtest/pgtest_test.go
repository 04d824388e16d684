package pgtest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/internal/pgtest"
)

// The helper process: start a server, report it, then die without Stop.
func TestMain(m *testing.M) {
	if os.Getenv("PGTEST_HELPER_DIE") == "1" {
		var s pgtest.Server
		helperDie(&s)
		return
	}
	os.Exit(m.Run())
}

func helperDie(s *pgtest.Server) {
	// NewDatabase needs a testing.TB; run it inside a real test harness.
	testing.Main(func(string, string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: "Helper", F: func(t *testing.T) {
			s.NewDatabase(t)
			fmt.Printf("pid=%d dir=%s\n", s.PID(), s.Dir())
			os.Stdout.Sync()
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}}}, nil, nil)
}

func TestNewDatabase(t *testing.T) {
	var s pgtest.Server
	defer s.Stop()
	dsn1 := s.NewDatabase(t)
	dsn2 := s.NewDatabase(t)
	if dsn1 == dsn2 {
		t.Fatalf("two databases share a DSN: %s", dsn1)
	}
	ctx := context.Background()
	for _, dsn := range []string{dsn1, dsn2} {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, `CREATE TABLE x (v int)`); err != nil { // fails if the databases were shared
			t.Fatal(err)
		}
		c.Close(ctx)
	}
	// Schemas: cheap, isolated by search_path.
	sch1, sch2 := s.NewSchema(t), s.NewSchema(t)
	for _, dsn := range []string{sch1, sch2} {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, `CREATE TABLE x (v int)`); err != nil { // fails if the schemas were shared
			t.Fatal(err)
		}
		c.Close(ctx)
	}
	pid, dir := s.PID(), s.Dir()
	if pid == 0 || dir == "" {
		t.Fatalf("PID %d, Dir %q after start", pid, dir)
	}
	s.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("postmaster %d still alive after Stop", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dir %s still there after Stop: %v", dir, err)
	}
}

func TestNoServerOutlivesKilledBinary(t *testing.T) {
	if _, err := pgtest.BinDir(); err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "PGTEST_HELPER_DIE=1")
	out, _ := cmd.Output() // the helper kills itself: an error is expected
	var pid int
	var dir string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "pid="); ok {
			f := strings.Fields(p)
			pid, _ = strconv.Atoi(f[0])
			dir = strings.TrimPrefix(f[1], "dir=")
		}
	}
	if pid == 0 {
		t.Fatalf("helper printed no pid; output:\n%s", out)
	}
	t.Cleanup(func() {
		// Backends may outlive the postmaster by a moment; retry briefly.
		for i := 0; i < 50; i++ {
			if os.RemoveAll(dir) == nil {
				if _, err := os.Stat(dir); os.IsNotExist(err) {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("could not remove %s", dir)
	})
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("postmaster %d survived its test binary for 20 s", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With RequirePassword the server checks credentials: the admin URL works,
// the same user with a wrong password is refused, and NewDatabase's DSNs
// carry the password.
func TestRequirePassword(t *testing.T) {
	s := &pgtest.Server{RequirePassword: true}
	t.Cleanup(s.Stop) // registered first, so it runs after NewDatabase's cleanup
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	conn, err := pgx.Connect(ctx, s.AdminURL(t))
	if err != nil {
		t.Fatalf("admin URL: %v", err)
	}
	conn.Close(ctx)

	wrong := fmt.Sprintf("postgres://postgres:wrong@127.0.0.1:%d/postgres?sslmode=disable", s.Port(t))
	if conn, err := pgx.Connect(ctx, wrong); err == nil {
		conn.Close(ctx)
		t.Fatal("a wrong password was accepted")
	} else if !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v, want a password authentication failure", err)
	}

	conn, err = pgx.Connect(ctx, s.NewDatabase(t))
	if err != nil {
		t.Fatalf("NewDatabase DSN: %v", err)
	}
	conn.Close(ctx)
}
