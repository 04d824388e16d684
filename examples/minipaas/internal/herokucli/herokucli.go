package herokucli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/internal/pty"
)

// Version is the heroku CLI version scripts/install-heroku-cli installs.
const Version = "11.10.0"

// DefaultDir is where scripts/install-heroku-cli installs the CLI unless
// DYNOKIT_HEROKU_CLI_DIR says otherwise:
// ${XDG_CACHE_HOME:-$HOME/.cache}/dynokit/heroku-<Version>.
func DefaultDir() (string, error) {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home := os.Getenv("HOME")
		if home == "" {
			return "", errors.New("herokucli: neither XDG_CACHE_HOME nor HOME is set")
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "dynokit", "heroku-"+Version), nil
}

// Find returns the path of the heroku executable: $DYNOKIT_HEROKU_CLI if set,
// else node_modules/.bin/heroku under $DYNOKIT_HEROKU_CLI_DIR or DefaultDir.
func Find() (string, error) {
	if p := os.Getenv("DYNOKIT_HEROKU_CLI"); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("herokucli: DYNOKIT_HEROKU_CLI=%s: %w", p, err)
		}
		return p, nil
	}
	dir := os.Getenv("DYNOKIT_HEROKU_CLI_DIR")
	if dir == "" {
		var err error
		if dir, err = DefaultDir(); err != nil {
			return "", err
		}
	}
	p := filepath.Join(dir, "node_modules", ".bin", "heroku")
	if err := executable(p); err != nil {
		return "", fmt.Errorf("herokucli: heroku CLI not installed at %s (run scripts/install-heroku-cli): %w", p, err)
	}
	return p, nil
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// CLI runs heroku commands against one API in an isolated environment.
type CLI struct {
	// Path of the heroku executable.
	Path string
	// APIURL is the API's base URL, http://127.0.0.1:<port> (the CLI
	// accepts only heroku.com hosts, localhost and 127.0.0.1).
	APIURL string
	// APIKey goes to HEROKU_API_KEY; the CLI sends it as a bearer token.
	APIKey string
	// Home is the directory used as HOME and for the XDG directories.
	Home string
	// Env holds extra KEY=value entries, e.g. NODE_EXTRA_CA_CERTS for
	// `heroku run`'s TLS rendezvous or HEROKU_GIT_HOST.
	Env []string
}

// Require returns a CLI for apiURL and apiKey with a temporary home, or skips
// the test when the CLI is not installed (fails if DYNOKIT_TEST_REQUIRE=1).
func Require(t testing.TB, apiURL, apiKey string) *CLI {
	t.Helper()
	path, err := Find()
	if err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("the heroku CLI is required (DYNOKIT_TEST_REQUIRE=1): %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("node is required by the heroku CLI (DYNOKIT_TEST_REQUIRE=1): %v", err)
		}
		t.Skipf("skipping: node not found: %v", err)
	}
	return &CLI{Path: path, APIURL: apiURL, APIKey: apiKey, Home: t.TempDir()}
}

// Result is what a command did.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.ExitCode, r.Stdout, r.Stderr)
}

// Environ returns the environment a command runs with.
func (c *CLI) Environ() ([]string, error) {
	u, err := url.Parse(c.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("herokucli: API URL %q is not an http(s) URL with a host", c.APIURL)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" {
		return nil, fmt.Errorf("herokucli: API URL %q: the CLI sends the key only to 127.0.0.1 or localhost (or heroku.com)", c.APIURL)
	}
	if c.Home == "" {
		return nil, errors.New("herokucli: CLI.Home is empty")
	}
	base := strings.TrimSuffix(c.APIURL, "/")
	path := filepath.Dir(c.Path)
	if p := os.Getenv("PATH"); p != "" {
		path += string(os.PathListSeparator) + p
	}
	env := []string{
		"HOME=" + c.Home,
		"XDG_CONFIG_HOME=" + filepath.Join(c.Home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(c.Home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(c.Home, ".local", "share"),
		"PATH=" + path,
		"HEROKU_HOST=" + base,
		"HEROKU_API_KEY=" + c.APIKey,
		"HEROKU_PARTICLEBOARD_URL=" + base,
		"HEROKU_ANALYTICS_URL=" + base + "/analytics",
		"DISABLE_TELEMETRY=true",
		"HEROKU_SKIP_NEW_VERSION_CHECK=true",
		// The init hook otherwise spawns a detached `heroku update
		// --autoupdate` that escapes the process group and lingers.
		"HEROKU_DISABLE_AUTOUPDATE=true",
		"HEROKU_SKIP_ANALYTICS=1",
		"GIT_CONFIG_NOSYSTEM=1",
		"NO_COLOR=1",
		"COLUMNS=200",
		"LANG=C.UTF-8",
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	return append(env, c.Env...), nil
}

// command prepares `heroku args...` in the isolated environment, in its
// own process group, which ctx's end kills.
func (c *CLI) command(ctx context.Context, args []string) (*exec.Cmd, error) {
	env, err := c.Environ()
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{"", ".config", ".cache", filepath.Join(".local", "share")} {
		if err := os.MkdirAll(filepath.Join(c.Home, dir), 0o700); err != nil {
			return nil, fmt.Errorf("herokucli: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, c.Path, args...)
	cmd.Env = env
	cmd.Dir = c.Home
	// Its own process group, so that the CLI and whatever it spawns go
	// away together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}

// Run runs `heroku args...` and returns its output and exit code. A non-zero
// exit is not an error; failing to start, or ctx ending, is.
func (c *CLI) Run(ctx context.Context, args ...string) (Result, error) {
	cmd, err := c.command(ctx, args)
	if err != nil {
		return Result{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stragglers; ESRCH when none
	}
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("herokucli: heroku %s: %w", strings.Join(args, " "), ctx.Err())
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return res, fmt.Errorf("herokucli: heroku %s: %w", strings.Join(args, " "), runErr)
	}
	return res, nil
}

// Running is a command started with Start that has not been stopped:
// `heroku logs --tail`, which only ends when it is killed.
type Running struct {
	cmd   *exec.Cmd
	out   formationtest.Buffer // stdout and stderr, interleaved as written
	done  chan struct{}
	typed *io.PipeWriter // keystrokes for the terminal (StartOnTerminal)
}

// Start starts `heroku args...` and returns while it runs. Output reads
// what it printed so far; Stop ends it. Cancelling ctx kills it too.
func (c *CLI) Start(ctx context.Context, args ...string) (*Running, error) {
	cmd, err := c.command(ctx, args)
	if err != nil {
		return nil, err
	}
	r := &Running{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("herokucli: heroku %s: %w", strings.Join(args, " "), err)
	}
	go func() {
		_ = cmd.Wait() // a killed command's status says nothing
		close(r.done)
	}()
	return r, nil
}

// StartOnTerminal is Start with the command on a new pseudo-terminal of
// cols × rows as its standard streams and controlling terminal, as when a
// user runs it: Type is what the user types, and Output what the terminal
// shows.
func (c *CLI) StartOnTerminal(ctx context.Context, cols, rows int, args ...string) (*Running, error) {
	cmd, err := c.command(ctx, args)
	if err != nil {
		return nil, err
	}
	term, err := pty.NewRelay(cols, rows)
	if err != nil {
		return nil, fmt.Errorf("herokucli: heroku %s: %w", strings.Join(args, " "), err)
	}
	keys, typed := io.Pipe()
	r := &Running{cmd: cmd, done: make(chan struct{}), typed: typed}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term.Slave, term.Slave, term.Slave
	cmd.SysProcAttr = pty.Attr() // a session, so also a process group as command's
	if err := cmd.Start(); err != nil {
		term.Abandon()
		return nil, fmt.Errorf("herokucli: heroku %s: %w", strings.Join(args, " "), err)
	}
	term.Started(keys, &r.out)
	go func() {
		_ = cmd.Wait()
		term.Close(5 * time.Second) // a straggler may hold the terminal
		typed.Close()
		close(r.done)
	}()
	return r, nil
}

// Type writes s to the terminal of a command started with
// StartOnTerminal, as keystrokes ("\r" is Enter, "\x03" ^C).
func (r *Running) Type(s string) error {
	if r.typed == nil {
		return errors.New("herokucli: Type: the command has no terminal (StartOnTerminal)")
	}
	_, err := io.WriteString(r.typed, s)
	return err
}

// ExitCode is the command's exit code once it has ended, else -1.
func (r *Running) ExitCode() int {
	if !r.Exited() {
		return -1
	}
	return r.cmd.ProcessState.ExitCode()
}

// Output returns everything the command printed so far.
func (r *Running) Output() string { return r.out.String() }

// Exited reports whether the command ended by itself (or was stopped).
func (r *Running) Exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// WaitOutput polls Output until match accepts it, the command exits, or
// timeout passes; it returns the last output and whether it matched.
func (r *Running) WaitOutput(timeout time.Duration, match func(string) bool) (string, bool) {
	deadline := time.Now().Add(timeout)
	for {
		out := r.Output()
		if match(out) {
			return out, true
		}
		if r.Exited() || time.Now().After(deadline) {
			return r.Output(), match(r.Output())
		}
		select {
		case <-r.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop kills the command's process group and waits for it; it returns
// what it printed. Calling it again is harmless.
func (r *Running) Stop() string {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL) // ESRCH once gone
	<-r.done
	return r.Output()
}
