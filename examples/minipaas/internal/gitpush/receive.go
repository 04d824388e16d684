package gitpush

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// channelEnv names the environment variable through which git http-backend,
// git receive-pack and finally the pre-receive hook learn the channel
// directory of their push.
const channelEnv = "DYNOKIT_GITPUSH_CHANNEL"

// hookScript is installed as hooks/pre-receive in every repository. It needs
// only sh and cat. Protocol (see doc.go): open output first, so the Go side
// can never close it before the hook is reading; send the quarantine paths and
// the ref updates, terminated by "end"; copy output to stdout (git relays it
// as "remote:" lines) until the Go side closes it; exit with the status the Go
// side wrote.
const hookScript = `#!/bin/sh
# Installed by dynokit gitpush and rewritten on every push: do not edit.
# Relays this push to the Go process serving it (see gitpush's doc.go).
ch=$` + channelEnv + `
if [ -z "$ch" ] || [ ! -p "$ch/request" ] || [ ! -p "$ch/output" ]; then
	echo "push rejected: this repository accepts pushes only through its dynokit git server" >&2
	exit 1
fi
exec 3<"$ch/output" || exit 1
{
	printf 'object-directory %s\n' "$GIT_OBJECT_DIRECTORY"
	printf 'alternate-object-directories %s\n' "$GIT_ALTERNATE_OBJECT_DIRECTORIES"
	printf 'quarantine-path %s\n' "$GIT_QUARANTINE_PATH"
	printf '\n'
	cat
	printf 'end\n'
} >"$ch/request" || exit 1
cat <&3
exec 3<&-
status=$(cat "$ch/status" 2>/dev/null)
[ "$status" = 0 ] && exit 0
exit 1
`

// installHook writes the pre-receive hook of the bare repository dir unless it
// is already current.
func installHook(dir string) error {
	path := filepath.Join(dir, "hooks", "pre-receive")
	if cur, err := os.ReadFile(path); err == nil && string(cur) == hookScript {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o100 != 0 {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("gitpush: install hook: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(hookScript), 0o750); err != nil {
		return fmt.Errorf("gitpush: install hook: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("gitpush: install hook: %w", err)
	}
	return nil
}

// refUpdate is one line of what git gives a pre-receive hook.
type refUpdate struct{ Old, New, Ref string }

// hookRequest is what the hook sends over the request fifo.
type hookRequest struct {
	ObjectDir     string
	AlternateDirs string
	QuarantineDir string
	Updates       []refUpdate
}

// parseHookRequest reads the hook's request up to its "end" line.
func parseHookRequest(r io.Reader) (hookRequest, error) {
	var req hookRequest
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	headers := true
	for sc.Scan() {
		line := sc.Text()
		if headers {
			if line == "" {
				headers = false
				continue
			}
			key, val, _ := strings.Cut(line, " ")
			switch key {
			case "object-directory":
				req.ObjectDir = val
			case "alternate-object-directories":
				req.AlternateDirs = val
			case "quarantine-path":
				req.QuarantineDir = val
			default:
				return hookRequest{}, fmt.Errorf("gitpush: hook request: unknown header %q", key)
			}
			continue
		}
		if line == "end" {
			return req, nil
		}
		f := strings.Fields(line)
		if len(f) != 3 || !isObjectName(f[0]) || !isObjectName(f[1]) || !strings.HasPrefix(f[2], "refs/") {
			return hookRequest{}, fmt.Errorf("gitpush: hook request: malformed ref update %q (want \"<old> <new> refs/...\")", line)
		}
		req.Updates = append(req.Updates, refUpdate{Old: f[0], New: f[1], Ref: f[2]})
	}
	if err := sc.Err(); err != nil {
		return hookRequest{}, fmt.Errorf("gitpush: hook request: %w", err)
	}
	return hookRequest{}, errors.New("gitpush: hook request: ended before its \"end\" line")
}

func isObjectName(s string) bool {
	if len(s) != 40 && len(s) != 64 { // SHA-1 or SHA-256 repositories
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isZero(rev string) bool { return strings.Trim(rev, "0") == "" }

// receivePack serves one POST .../git-receive-pack: it opens the hook
// channel, runs git http-backend and, through the channel, the deploy.
func (h *Handler) receivePack(w http.ResponseWriter, r *http.Request, app string) {
	st := h.app(app)
	// Hold the app for the whole receive-pack, ref update included: a
	// second push deploying while the first moves the ref would leave the
	// deployed and the recorded revision apart.
	locked := st.push.TryLock()
	if locked {
		defer st.push.Unlock()
	}

	ch, err := openChannel()
	if err != nil {
		h.logger().Error("gitpush: opening hook channel", "app", app, "err", err)
		httpError(w, http.StatusInternalServerError, "cannot start the push of "+app)
		return
	}
	defer ch.remove()

	ctx, cancel := context.WithCancel(r.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.serveHook(ctx, ch, app, locked)
	}()
	h.runBackend(w, r, []string{channelEnv + "=" + ch.dir})
	// git http-backend has exited, so the hook has too (or never ran):
	// unblock whatever the hook side still waits for.
	cancel()
	ch.closeAll()
	<-done
}

// boundBody limits a POST body to MaxPushBytes and, because net/http/cgi
// refuses chunked bodies while git sends requests over 1 MiB (http.postBuffer)
// chunked, spools such bodies to a file first. It answers the request itself
// and returns ok=false when the body is too large or unreadable.
func (h *Handler) boundBody(w http.ResponseWriter, r *http.Request, app string) (cleanup func(), ok bool) {
	limit := h.MaxPushBytes
	if limit <= 0 {
		limit = DefaultMaxPushBytes
	}
	if r.ContentLength > limit {
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("push of %d bytes is larger than the limit of %d bytes", r.ContentLength, limit))
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength >= 0 && len(r.TransferEncoding) == 0 {
		return func() {}, true
	}
	spool, n, err := spoolBody(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("push is larger than the limit of %d bytes", limit))
			return nil, false
		}
		h.logger().Error("gitpush: reading request body", "app", app, "err", err)
		httpError(w, http.StatusBadRequest, "cannot read the request body")
		return nil, false
	}
	r.Body, r.ContentLength, r.TransferEncoding = spool, n, nil
	return func() { spool.Close() }, true
}

// spoolBody copies body to an unlinked temporary file.
func spoolBody(body io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "dynokit-gitpush-body-")
	if err != nil {
		return nil, 0, err
	}
	os.Remove(f.Name())
	n, err := io.Copy(f, body)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, n, nil
}

// channel is the per-push rendezvous with the pre-receive hook: a private
// directory holding two fifos and, at the end, a status file.
type channel struct {
	dir       string
	request   *os.File // read by us, written by the hook
	output    *os.File // written by us, read by the hook
	closeOnce sync.Once
}

func openChannel() (*channel, error) {
	dir, err := os.MkdirTemp("", "dynokit-gitpush-")
	if err != nil {
		return nil, err
	}
	ch := &channel{dir: dir}
	for _, name := range []string{"request", "output"} {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("mkfifo: %w", err)
		}
	}
	// O_RDWR opens a fifo without waiting for the other end (Linux), and
	// the Go runtime polls fifos, so Close interrupts a blocked Read/Write.
	if ch.request, err = os.OpenFile(filepath.Join(dir, "request"), os.O_RDWR, 0); err == nil {
		ch.output, err = os.OpenFile(filepath.Join(dir, "output"), os.O_RDWR, 0)
	}
	if err != nil {
		ch.closeAll()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open fifo: %w", err)
	}
	return ch, nil
}

func (c *channel) closeAll() {
	c.closeOnce.Do(func() {
		if c.request != nil {
			c.request.Close()
		}
		if c.output != nil {
			c.output.Close()
		}
	})
}

func (c *channel) remove() {
	c.closeAll()
	os.RemoveAll(c.dir)
}

// serveHook answers the pre-receive hook of one push, if it runs: decides,
// deploys, streams output and hands back the verdict. Closing the output fifo
// is what lets the hook finish, so the status file is written first.
func (h *Handler) serveHook(ctx context.Context, ch *channel, app string, locked bool) {
	req, err := parseHookRequest(ch.request)
	if err != nil {
		if ctx.Err() == nil {
			h.logger().Error("gitpush: hook", "app", app, "err", err)
		}
		return
	}
	out := &lockedWriter{w: ch.output}
	status := "0"
	if err := h.decide(ctx, out, app, locked, req); err != nil {
		status = "1"
		fmt.Fprintf(out, "\n !     Push rejected to %s: %v\n\n", app, err)
	}
	if err := os.WriteFile(filepath.Join(ch.dir, "status"), []byte(status+"\n"), 0o600); err != nil {
		h.logger().Error("gitpush: hook status", "app", app, "err", err)
	}
	ch.closeAll()
}

// decide applies the push policy and runs the deploy when due.
func (h *Handler) decide(ctx context.Context, out io.Writer, app string, locked bool, req hookRequest) error {
	if !locked {
		return fmt.Errorf("another push to %s is in progress; push again when it has finished", app)
	}
	var deploy *refUpdate
	for i, u := range req.Updates {
		if u.Ref != "refs/heads/main" && u.Ref != "refs/heads/master" {
			fmt.Fprintf(out, "Pushed to %s, not main or master: not deploying.\n", u.Ref)
			continue
		}
		if isZero(u.New) {
			return fmt.Errorf("deleting %s is not allowed: it is the deploy branch", u.Ref)
		}
		if deploy != nil {
			return errors.New("push main or master, not both")
		}
		deploy = &req.Updates[i]
	}
	if deploy == nil || h.Deploy == nil {
		return nil
	}
	var env []string
	if req.ObjectDir != "" {
		env = append(env, "GIT_OBJECT_DIRECTORY="+req.ObjectDir)
	}
	if req.AlternateDirs != "" {
		env = append(env, "GIT_ALTERNATE_OBJECT_DIRECTORIES="+req.AlternateDirs)
	}
	if req.QuarantineDir != "" {
		env = append(env, "GIT_QUARANTINE_PATH="+req.QuarantineDir)
	}
	return h.Deploy(ctx, DeployRequest{
		App:     app,
		Ref:     deploy.Ref,
		OldRev:  deploy.Old,
		NewRev:  deploy.New,
		RepoDir: h.RepoDir(app),
		Output:  out,
		gitEnv:  env,
		git:     h.gitPath,
	})
}

// lockedWriter lets a deploy write Output from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
