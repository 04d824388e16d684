package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/formation/kubernetes/internal/dynoname"
	"github.com/dynokit/dynokit/slug"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// profileScript runs as bash -c with the Procfile command as $1: it sources
// the app's profile scripts and then execs a fresh bash for the command, so
// the command sees what they exported and a simple command replaces the
// shell (it then receives signals itself, not through bash).
const profileScript = `cd "$HOME" || exit 1
for f in .profile.d/*.sh; do
  if [ -r "$f" ]; then . "$f"; fi
done
unset f
if [ -r .profile ]; then . ./.profile; fi
exec bash -c "$1"`

func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("slugrunner", flag.ContinueOnError)
	flags.SetOutput(stderr)
	appDir := flags.String("app-dir", "/app", "directory to unpack the slug into (created if missing, must be empty)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 || strings.TrimSpace(flags.Arg(0)) == "" {
		fmt.Fprintln(stderr, "usage: slugrunner [-app-dir DIR] [--] COMMAND")
		return 2
	}
	command := flags.Arg(0)
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "slugrunner: "+format+"\n", a...)
		return 1
	}

	url := os.Getenv("SLUG_URL")
	if url == "" {
		return fail("SLUG_URL is not set")
	}
	var want slug.Digest
	if s := os.Getenv("SLUG_DIGEST"); s != "" {
		d, err := slug.ParseDigest(s)
		if err != nil {
			return fail("SLUG_DIGEST: %v", err)
		}
		want = d
	} else {
		fmt.Fprintln(stderr, "slugrunner: warning: SLUG_DIGEST is empty, the slug is not verified")
	}

	// Signals that arrive while the slug is downloading end the download;
	// afterwards they are forwarded to the command.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded()...)
	ctx, cancel := context.WithCancel(context.Background())
	stopEarly := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-stopEarly:
		}
	}()
	info, err := fetch(ctx, url, want, *appDir, stderr)
	close(stopEarly)
	cancel()
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stderr, "slugrunner: unpacked %s (%d bytes) into %s\n", info.Digest, info.Size, *appDir)

	env := childEnv(os.Environ(), *appDir)
	bash, err := lookBash()
	if err != nil {
		return fail("%v", err)
	}
	p, err := os.StartProcess(bash, []string{"bash", "-c", profileScript, "bash", command}, &os.ProcAttr{
		Dir:   *appDir,
		Env:   env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return fail("starting bash: %v", err)
	}
	return supervise(p.Pid, sigs, stderr)
}

// forwarded returns the signals passed on to the command's process group.
func forwarded() []os.Signal {
	return []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}
}

// supervise forwards signals to the group of pid and reaps every child
// until pid exits, then returns its exit status.
func supervise(pid int, sigs <-chan os.Signal, stderr io.Writer) int {
	type reaped struct {
		pid int
		ws  syscall.WaitStatus
	}
	exited := make(chan reaped)
	go func() {
		for {
			var ws syscall.WaitStatus
			// -1: orphans re-parented to PID 1 are reaped too.
			wpid, err := syscall.Wait4(-1, &ws, 0, nil)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil {
				// ECHILD: nothing left, which cannot happen before pid
				// itself has been reaped.
				exited <- reaped{pid: pid, ws: 1 << 8}
				return
			}
			if wpid == pid {
				exited <- reaped{pid: wpid, ws: ws}
				return
			}
		}
	}()
	for {
		select {
		case s := <-sigs:
			if err := syscall.Kill(-pid, s.(syscall.Signal)); err != nil && !errors.Is(err, syscall.ESRCH) {
				fmt.Fprintf(stderr, "slugrunner: forwarding %v: %v\n", s, err)
			}
		case r := <-exited:
			signal.Reset()
			switch {
			case r.ws.Exited():
				return r.ws.ExitStatus()
			case r.ws.Signaled():
				return 128 + int(r.ws.Signal())
			default:
				return 1
			}
		}
	}
}

// childEnv is the command's environment: the runner's own with HOME set to
// the app directory and DYNO derived from the pod when missing.
func childEnv(environ []string, appDir string) []string {
	env := make([]string, 0, len(environ)+2)
	var typ, pod string
	hasDyno := false
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME":
			continue
		case "DYNO":
			hasDyno = true
		case "DYNOKIT_PROCESS_TYPE":
			typ = v
		case "DYNOKIT_POD_NAME":
			pod = v
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+appDir)
	if !hasDyno && typ != "" {
		env = append(env, "DYNO="+dynoname.Of(typ, pod))
	}
	return env
}

func lookBash() (string, error) {
	for _, p := range []string{"/bin/bash", "/usr/bin/bash"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("bash not found in /bin or /usr/bin: the stack image must provide it")
}

// fetch downloads the slug at url into dir, retrying transient failures.
// A digest mismatch or a refused archive is not retried: the same bytes
// would come back.
func fetch(ctx context.Context, url string, want slug.Digest, dir string, stderr io.Writer) (slug.ExtractInfo, error) {
	delay := time.Second
	var err error
	for attempt := 1; ; attempt++ {
		var info slug.ExtractInfo
		info, err = fetchOnce(ctx, url, want, dir)
		if err == nil {
			return info, nil
		}
		var retry retryable
		if !errors.As(err, &retry) || attempt == 5 || ctx.Err() != nil {
			return info, err
		}
		fmt.Fprintf(stderr, "slugrunner: %v; retrying in %v\n", err, delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return info, fmt.Errorf("downloading %s: %w", url, ctx.Err())
		}
		delay *= 2
	}
}

// retryable marks download errors worth another attempt.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

func fetchOnce(ctx context.Context, url string, want slug.Digest, dir string) (slug.ExtractInfo, error) {
	if err := emptyDir(dir); err != nil {
		return slug.ExtractInfo{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return slug.ExtractInfo{}, fmt.Errorf("SLUG_URL %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return slug.ExtractInfo{}, retryable{fmt.Errorf("downloading slug: %w", err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		err := fmt.Errorf("downloading slug %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			err = retryable{err}
		}
		return slug.ExtractInfo{}, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return slug.ExtractInfo{}, err
	}
	defer root.Close()
	info, err := slug.ExtractRoot(ctx, resp.Body, root, slug.ExtractOptions{Want: want})
	if err != nil {
		var ee *slug.EntryError
		if !errors.Is(err, slug.ErrDigestMismatch) && !errors.As(err, &ee) && !errors.Is(err, slug.ErrTooLarge) {
			// A connection cut mid-stream looks like a truncated gzip.
			err = retryable{err}
		}
		return info, err
	}
	return info, nil
}

// emptyDir makes dir exist and be empty (a failed attempt may have left
// part of a slug behind). Its own mode is kept: it may be a volume mount.
func emptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		// Extracted directories may be read-only, which RemoveAll cannot
		// empty unless running as root.
		_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(q, 0o700)
			}
			return nil
		})
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}
