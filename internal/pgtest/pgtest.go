package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Server is a lazily started PostgreSQL server. The zero value is ready;
// it is safe for concurrent use by parallel tests.
type Server struct {
	// Durable turns fsync and synchronous commit back on, for benchmarks
	// that compare against stores that do sync. Set before first use.
	Durable bool
	// RequirePassword initialises the cluster with scram-sha-256 and a
	// generated superuser password, so that credentials are really
	// checked (tests of per-tenant roles need that; trust accepts any
	// password). Set before first use.
	RequirePassword bool
	// JSONLog has the server write its log as JSON lines through its
	// logging collector (log/ in the data directory), which
	// pg_current_logfile('jsonlog') names. Set before first use.
	JSONLog bool

	once     sync.Once
	password string // superuser password, with RequirePassword
	skip     string // non-empty: binaries missing
	err      error  // start failure
	dir      string
	port     int
	proc     *testutil.Process
	mu       sync.Mutex // serialises CREATE/DROP DATABASE and guards admin, n
	admin    *pgx.Conn
	shared   *pgx.Conn // connected to sharedDB, for NewSchema
	n        int
	stopOnce sync.Once
}

// sharedDB holds the schemas NewSchema hands out.
const sharedDB = "pgtest_shared"

// NewSchema creates an empty schema for tb in a database shared by the
// whole test binary, drops it when tb ends, and returns a DSN whose
// search_path is that schema, so unqualified table names land in it.
// Creating a schema takes milliseconds where CREATE DATABASE takes a
// checkpoint; use it for stores that create plain tables, and
// NewDatabase for code that needs a database of its own (roles,
// extensions, database-level settings).
func (s *Server) NewSchema(tb testing.TB) string {
	tb.Helper()
	s.ready(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("s%d_%s", s.n, sanitize(tb.Name()))
	var err error
	if s.shared == nil {
		_, err = s.admin.Exec(ctx, "CREATE DATABASE "+sharedDB+" TEMPLATE template0")
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: an earlier connect failed
			err = nil
		}
		if err == nil {
			s.shared, err = pgx.Connect(ctx, s.dsn(sharedDB))
		}
	}
	if err == nil {
		_, err = s.shared.Exec(ctx, "CREATE SCHEMA "+name)
	}
	s.mu.Unlock()
	if err != nil {
		tb.Fatalf("pgtest: create schema %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.shared == nil {
			return
		}
		if _, err := s.shared.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return s.dsn(sharedDB) + " search_path=" + name
}

// ready starts the server on first use, or skips or fails tb.
func (s *Server) ready(tb testing.TB) {
	tb.Helper()
	s.once.Do(s.start)
	if s.skip != "" {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			tb.Fatalf("pgtest: %s (DYNOKIT_TEST_REQUIRE=1; install postgresql-15)", s.skip)
		}
		tb.Skipf("pgtest: %s; install postgresql-15 to run this test", s.skip)
	}
	if s.err != nil {
		tb.Fatalf("pgtest: %v", s.err)
	}
}

// NewDatabase creates an empty database for tb, drops it when tb ends,
// and returns its DSN (user postgres, trust authentication, TCP on
// 127.0.0.1).
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	s.ready(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("t%d_%s", s.n, sanitize(tb.Name()))
	_, err := s.admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0")
	s.mu.Unlock()
	if err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.admin == nil { // Stop already ran
			return
		}
		if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

func (s *Server) dsn(db string) string {
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", s.port, db)
	if s.password != "" {
		dsn += " password=" + s.password
	}
	return dsn
}

// AdminURL starts the server if needed and returns a URL for its
// superuser, postgres, on the database "postgres" (with the password when
// RequirePassword is set).
func (s *Server) AdminURL(tb testing.TB) string {
	tb.Helper()
	s.ready(tb)
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), Path: "/postgres", RawQuery: "sslmode=disable"}
	if s.password != "" {
		u.User = url.UserPassword("postgres", s.password)
	} else {
		u.User = url.User("postgres")
	}
	return u.String()
}

// Port is the server's loopback port; it starts the server if needed.
func (s *Server) Port(tb testing.TB) int {
	tb.Helper()
	s.ready(tb)
	return s.port
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

// Dir returns the server's temp directory ("" before the first
// NewDatabase): cluster in Dir/data, log in Dir/postgres.log.
func (s *Server) Dir() string { return s.dir }

// PID returns the postmaster's process id, or 0 when it is not running.
func (s *Server) PID() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid
}

// Stop shuts the server down and removes its directory. It is safe to call
// when the server never started, and more than once.
func (s *Server) Stop() {
	s.once.Do(func() { s.skip = "stopped before first use" })
	s.stopOnce.Do(func() {
		s.mu.Lock()
		for _, c := range []**pgx.Conn{&s.shared, &s.admin} {
			if *c != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = (*c).Close(ctx)
				cancel()
				*c = nil
			}
		}
		s.mu.Unlock()
		s.shutdown()
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	})
}

func (s *Server) shutdown() {
	s.proc.Stop(syscall.SIGINT, 30*time.Second) // fast shutdown
}

// BinDir returns the directory holding the newest installed PostgreSQL
// server binaries, or an error saying none were found.
func BinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	slices.SortFunc(matches, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, m := range matches {
		dir := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
}

func versionOf(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

const dirPrefix = "dynokit-pgtest-"

func (s *Server) start() {
	bin, err := BinDir()
	if err != nil {
		s.skip = err.Error()
		return
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			s.skip = "running as root and there is no user postgres to run initdb as"
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	removeStaleDirs()
	s.dir, err = os.MkdirTemp("", dirPrefix)
	if err != nil {
		s.err = err
		return
	}
	if cred != nil {
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			s.err = err
			return
		}
	}
	data := filepath.Join(s.dir, "data")
	args := []string{"-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"}
	var pwfile string
	if s.RequirePassword {
		s.password = rand.Text()
		pwfile = filepath.Join(s.dir, "pwfile")
		if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
			s.err = err
			return
		}
		if cred != nil {
			if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
				s.err = err
				return
			}
		}
		args = append(args, "-A", "scram-sha-256", "--pwfile", pwfile)
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), args...)
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = s.dir
	out, err := initdb.CombinedOutput()
	if pwfile != "" {
		_ = os.Remove(pwfile)
	}
	if err != nil {
		s.err = fmt.Errorf("initdb: %v\n%s", err, out)
		return
	}
	for attempt := 0; ; attempt++ {
		err = s.startPostgres(bin, data, cred)
		if err == nil || attempt == 2 {
			break
		}
	}
	if err != nil {
		s.err = err
		s.shutdown()
	}
}

func (s *Server) startPostgres(bin, data string, cred *syscall.Credential) error {
	port, err := testutil.FreePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	args := []string{"-D", data, "-p", strconv.Itoa(port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
		// As on Heroku's servers, where every database has the extension.
		"-c", "shared_preload_libraries=pg_stat_statements"}
	if !s.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	if s.JSONLog {
		args = append(args, "-c", "logging_collector=on", "-c", "log_destination=stderr,jsonlog")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}

	proc, err := testutil.Start(cmd)
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.proc, s.port = proc, port

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.dsn("postgres"))
		cancel()
		if err == nil {
			s.admin = conn
			return nil
		}
		select {
		case <-proc.Exited():
			logged, _ := os.ReadFile(logPath)
			s.proc = nil
			return fmt.Errorf("postgres exited during startup on port %d:\n%s", port, logged)
		default:
		}
		if time.Now().After(deadline) {
			s.shutdown()
			s.proc = nil
			return fmt.Errorf("postgres not ready after 30 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeStaleDirs deletes directories of earlier servers whose postmaster
// is gone (their test binary was killed before Stop). Young directories
// are left alone: their server may still be starting.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if pidAlive(filepath.Join(d, "data", "postmaster.pid")) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

func pidAlive(pidFile string) bool {
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}
