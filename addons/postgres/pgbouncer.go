package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/addons"
)

// PgBouncer runs PgBouncer (1.14 or later: the Debian package's
// /usr/sbin/pgbouncer) in front of a PostgreSQL server, in transaction
// pooling mode as Heroku's connection pooling: many client connections
// share a few server connections per database and role, so dynos may
// open more connections than the plan's limit. Every add-on database is
// served (a wildcard entry), and clients log in with their own
// credentials: PgBouncer reads each role's SCRAM secret from pg_shadow as
// the admin (auth_query), then logs in to the server with the client's
// SCRAM keys. The admin must therefore be a superuser.
//
// Clients get the pooled URL from Provider.PooledURL. In transaction
// mode session state does not survive a transaction: clients must not
// rely on named prepared statements (pgx: default_query_exec_mode
// simple_protocol or exec), advisory locks or SET outside a transaction.
type PgBouncer struct {
	AdminURL string // the server's superuser, as Provider.AdminURL
	Addr     string // host:port to listen on (a port, not 0)
	// Dir holds its configuration, the admin's secret and its log
	// (created 0700, owned by RunAs); empty: a new temporary directory,
	// removed when Run returns. PgBouncer's user must be able to reach it.
	Dir string
	// Bin is the pgbouncer executable; empty: "pgbouncer" on PATH, else
	// /usr/sbin/pgbouncer.
	Bin string
	// PoolSize is the server connections per database and role; zero
	// means 5. PgBouncer's own secret lookups (as the admin, in each
	// database) count against a database's connection limit too and
	// may use as many: keep PoolSize at most half the smallest plan's
	// limit.
	PoolSize int
	// RunAs is the OS user PgBouncer runs as when this process is root
	// (PgBouncer refuses to run as root); empty means "postgres".
	RunAs string
	// Ready, if set, is called once PgBouncer accepts connections.
	Ready  func()
	Logger *slog.Logger // nil discards
}

// Run writes PgBouncer's configuration, runs it until ctx is done, then
// stops it. It returns an error if PgBouncer cannot start or exits on
// its own.
func (b *PgBouncer) Run(ctx context.Context) error {
	dir := b.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "dynokit-pgbouncer-")
		if err != nil {
			return fmt.Errorf("postgres: pgbouncer: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	cmd, err := b.command(dir)
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: pgbouncer: %w", err)
	}
	if b.Logger != nil {
		b.Logger.Info("postgres: pgbouncer started", "addr", b.Addr, "pid", cmd.Process.Pid)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if b.Ready != nil {
		stopPoll := make(chan struct{})
		defer close(stopPoll)
		go func() {
			for {
				if c, err := net.DialTimeout("tcp", b.Addr, time.Second); err == nil {
					c.Close()
					b.Ready()
					return
				}
				select {
				case <-stopPoll:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
	}
	select {
	case err := <-done:
		log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
		return fmt.Errorf("postgres: pgbouncer exited: %v; its log ends: %s", err, lastLines(string(log), 3))
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return nil
	}
}

// command writes the configuration and prepares the process.
func (b *PgBouncer) command(dir string) (*exec.Cmd, error) {
	admin, err := url.Parse(b.AdminURL)
	if err != nil || admin.Host == "" || admin.User.Username() == "" {
		return nil, fmt.Errorf("postgres: pgbouncer: AdminURL must be postgres://user:password@host:port/…: %w", addons.ErrInvalid)
	}
	host, port, err := net.SplitHostPort(b.Addr)
	if err != nil || port == "0" {
		return nil, fmt.Errorf("postgres: pgbouncer: Addr %q must be host:port with a port: %w", b.Addr, addons.ErrInvalid)
	}
	bin := b.Bin
	if bin == "" {
		if bin, err = FindPgBouncer(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("postgres: pgbouncer: %w", err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		name := b.RunAs
		if name == "" {
			name = "postgres"
		}
		u, err := user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("postgres: pgbouncer refuses to run as root, and user %s: %w", name, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("postgres: pgbouncer: %w", err)
		}
	}
	serverHost, serverPort, err := net.SplitHostPort(admin.Host)
	if err != nil {
		serverHost, serverPort = admin.Host, "5432"
	}
	pool := b.PoolSize
	if pool <= 0 {
		pool = 5
	}
	adminPassword, _ := admin.User.Password()
	files := map[string]string{
		// Only the admin's own secret is on disk; every other role's is
		// read from the server as it logs in.
		"userlist.txt": fmt.Sprintf("%s %s\n", pgbQuote(admin.User.Username()), pgbQuote(adminPassword)),
		"pgbouncer.ini": strings.Join([]string{
			"[databases]",
			fmt.Sprintf("* = host=%s port=%s auth_user=%s", serverHost, serverPort, admin.User.Username()),
			"[pgbouncer]",
			"listen_addr = " + host,
			"listen_port = " + port,
			"unix_socket_dir =",
			"auth_type = scram-sha-256",
			"auth_file = " + filepath.Join(dir, "userlist.txt"),
			"auth_query = SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = $1",
			"pool_mode = transaction",
			"default_pool_size = " + strconv.Itoa(pool),
			"max_client_conn = 10000",
			"server_tls_sslmode = prefer",
			"ignore_startup_parameters = extra_float_digits,options",
			"logfile = " + filepath.Join(dir, "pgbouncer.log"),
			"",
		}, "\n"),
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return nil, fmt.Errorf("postgres: pgbouncer: %w", err)
		}
		if cred != nil {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("postgres: pgbouncer: %w", err)
			}
		}
	}
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGTERM}
	return cmd, nil
}

// Check reports whether PgBouncer can work with AdminURL: the admin must
// reach the server and read pg_shadow (a superuser), which is where
// PgBouncer looks up each client's secret. Run does not check, so that a
// platform can decide what a failed check means (minipaas runs without
// pooling).
func (b *PgBouncer) Check(ctx context.Context) error {
	conn, err := connectAdminURL(ctx, b.AdminURL)
	if err != nil {
		return fmt.Errorf("postgres: pgbouncer: connecting as the admin: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_shadow WHERE false").Scan(&n); err != nil {
		return fmt.Errorf("postgres: pgbouncer looks up secrets in pg_shadow, which the admin cannot read (it must be a superuser): %w", err)
	}
	return nil
}

// FindPgBouncer returns the pgbouncer executable: "pgbouncer" on PATH,
// else Debian's /usr/sbin/pgbouncer (sbin is not on every user's PATH).
func FindPgBouncer() (string, error) {
	if bin, err := exec.LookPath("pgbouncer"); err == nil {
		return bin, nil
	}
	const debian = "/usr/sbin/pgbouncer"
	if _, err := os.Stat(debian); err != nil {
		return "", fmt.Errorf("postgres: pgbouncer is not installed (not on PATH nor at %s)", debian)
	}
	return debian, nil
}

// lastLines is the last n lines of s, on one line.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// pgbQuote quotes s for PgBouncer's auth file ("…", with " doubled).
func pgbQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

var _ addons.Pooler = (*Provider)(nil)

// PooledURL implements addons.Pooler: resourceURL (an add-on's
// DATABASE_URL or a named credential's) with PoolerAddr, the address of
// a PgBouncer in front of the server, as its host and port. Without
// PoolerAddr there is no pooler: ErrNotFound.
func (p *Provider) PooledURL(resourceURL string) (string, error) {
	if p.PoolerAddr == "" {
		return "", fmt.Errorf("postgres: no connection pooler (Provider.PoolerAddr is empty): %w", addons.ErrNotFound)
	}
	u, err := url.Parse(resourceURL)
	if err != nil || u.Host == "" {
		return "", errors.New("postgres: pooled URL: the resource URL does not parse")
	}
	u.Host = p.PoolerAddr
	return u.String(), nil
}
