package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/internal/oomwatch"
	"github.com/dynokit/dynokit/internal/pty"
)

// DefaultPath is the PATH a dyno starts with, before .profile.d scripts
// extend it (Heroku's base PATH).
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// Runtime runs dynos as process groups on this host. The zero value is
// ready to use; fields must not change after the first Start.
type Runtime struct {
	// BaseDir holds one directory per running dyno (its copy of the slug
	// and its private tmp). Empty means $TMPDIR/dynokit-dynos.
	BaseDir string
	// Shell is the bash used to start dynos; empty means "bash" on PATH.
	Shell string
	// WaitDelay bounds how long Wait waits for the dyno's output pipes to
	// close once its processes are gone (a process that left the process
	// group can hold them). Zero means 2 s.
	WaitDelay time.Duration
	// DisableCgroups turns resource limits off even where cgroups work.
	DisableCgroups bool
	// CgroupParent is the cgroup under which dyno cgroups are made, relative
	// to each controller's root. Empty means "dynokit".
	CgroupParent string
	// RequireLimits makes Start fail for a dyno with Resources when the
	// machine cannot enforce them. By default such a dyno runs unlimited
	// and a warning is logged.
	RequireLimits bool
	// Subreaper makes this process a child subreaper (prctl
	// PR_SET_CHILD_SUBREAPER) on the first Start, so dyno processes that
	// outlive their parent are reparented to it and reaped here instead of
	// by init. It is process-wide: orphans of every child of the host
	// program become its children too, and only those in a dyno's process
	// group are reaped by this runtime. Enable it only when the host program
	// runs no other subprocess trees (or reaps them itself).
	Subreaper bool
	// InPlace runs dynos in DynoSpec.SlugDir itself instead of a copy, and
	// leaves HOME as the spec's Env sets it: what a development runner
	// (heroku local) wants. Dynos can then modify the directory, so the
	// SlugDir contract of formation.DynoSpec does not hold.
	InPlace bool
	// Logger receives warnings; nil discards.
	Logger *slog.Logger

	initOnce sync.Once
	cg       cgroupSetup
	cgErr    error
	subErr   error

	mu   sync.Mutex
	live map[string]*Dyno
}

var _ formation.Runtime = (*Runtime)(nil)

// Dyno is a dyno started by Runtime.
type Dyno struct {
	id     string
	pgid   int
	cgroup *dynoCgroup // nil when running without limits
	term   *pty.Relay  // nil unless DynoSpec.Terminal

	// What Exec starts processes with: the dyno's own shell, bootstrap,
	// directory and environment.
	shell, name, appDir, joinLines string
	env                            []string
	waitDelay                      time.Duration

	mu         sync.Mutex
	leaderDone bool // the main process has exited (it may not be reaped yet)
	execs      map[*process]struct{}

	done chan struct{}
	exit formation.Exit
}

var (
	_ formation.Dyno         = (*Dyno)(nil)
	_ formation.MemoryReader = (*Dyno)(nil)
	_ formation.Execer       = (*Dyno)(nil)
)

func (r *Runtime) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Runtime) init() {
	r.initOnce.Do(func() {
		if r.DisableCgroups {
			r.cgErr = errors.New("cgroups disabled")
		} else {
			parent := r.CgroupParent
			if parent == "" {
				parent = "dynokit"
			}
			r.cg, r.cgErr = detectCgroups("/sys/fs/cgroup", parent)
		}
		if r.Subreaper {
			r.subErr = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		}
	})
}

// MemoryLimits reports whether this runtime can enforce memory limits on
// this machine, and why not when it cannot.
func (r *Runtime) MemoryLimits() (bool, error) {
	r.init()
	if r.cgErr != nil {
		return false, fmt.Errorf("local: memory limits: %w", r.cgErr)
	}
	return true, nil
}

// CPUWeights reports whether this runtime can apply Resources.CPUShares on
// this machine (the cpu controller, v1 cpu.shares or v2 cpu.weight), and
// why not when it cannot.
func (r *Runtime) CPUWeights() (bool, error) {
	r.init()
	switch {
	case r.cgErr != nil:
		return false, fmt.Errorf("local: cpu weights: %w", r.cgErr)
	case r.cg.cpuErr != nil:
		return false, fmt.Errorf("local: cpu weights: %w", r.cg.cpuErr)
	}
	return true, nil
}

// validID keeps IDs usable as directory and cgroup names.
func validID(id string) error {
	if id == "" {
		return errors.New("must not be empty")
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%q is not allowed", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%q contains %q (allowed: letters, digits, '.', '-', '_')", id, c)
		}
	}
	return nil
}

// Start copies the slug into a fresh directory for the dyno, then starts
// bash there in a new process group: bash sources .profile.d/*.sh and
// .profile, then runs spec.Command with bash -c.
func (r *Runtime) Start(ctx context.Context, spec formation.DynoSpec, stdio formation.Stdio) (formation.Dyno, error) {
	if err := validID(spec.ID); err != nil {
		return nil, fmt.Errorf("local: start: DynoSpec.ID %w", err)
	}
	if strings.TrimSpace(spec.Command) == "" {
		return nil, fmt.Errorf("local: start %s: DynoSpec.Command must not be empty", spec.ID)
	}
	if err := spec.Resources.Validate(); err != nil {
		return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
	}
	if spec.Terminal != nil {
		if err := spec.Terminal.Validate(); err != nil {
			return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
		}
	}
	if fi, err := os.Stat(spec.SlugDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("local: start %s: DynoSpec.SlugDir %q must be a directory", spec.ID, spec.SlugDir)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
	}
	r.init()
	if r.subErr != nil {
		return nil, fmt.Errorf("local: start %s: become subreaper: %w", spec.ID, r.subErr)
	}

	r.mu.Lock()
	if _, ok := r.live[spec.ID]; ok {
		r.mu.Unlock()
		return nil, fmt.Errorf("local: start %s: %w", spec.ID, formation.ErrExists)
	}
	if r.live == nil {
		r.live = make(map[string]*Dyno)
	}
	d := &Dyno{id: spec.ID, done: make(chan struct{})}
	r.live[spec.ID] = d // reserved; removed again on failure or exit
	r.mu.Unlock()

	started := false
	defer func() {
		if !started {
			r.release(spec.ID, d)
		}
	}()

	base := r.BaseDir
	if base == "" {
		base = filepath.Join(os.TempDir(), "dynokit-dynos")
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
	}
	if !r.InPlace && within(base, spec.SlugDir) {
		return nil, fmt.Errorf("local: start %s: Runtime.BaseDir %q must not be inside DynoSpec.SlugDir %q (the copy would copy itself)", spec.ID, base, spec.SlugDir)
	}
	dir, err := os.MkdirTemp(base, spec.ID+"-")
	if err != nil {
		return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
	}
	cleanDir := func() { _ = os.RemoveAll(dir) }
	appDir, tmpDir := filepath.Join(dir, "app"), filepath.Join(dir, "tmp")
	if r.InPlace {
		if appDir, err = filepath.Abs(spec.SlugDir); err != nil {
			cleanDir()
			return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
		}
	} else if err := copyTree(ctx, spec.SlugDir, appDir); err != nil {
		cleanDir()
		return nil, fmt.Errorf("local: start %s: copy slug: %w", spec.ID, err)
	}
	if err := os.Mkdir(tmpDir, 0o1777); err != nil {
		cleanDir()
		return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
	}

	var joinLines string
	res := spec.Resources
	if res.CPUShares > 0 && r.cgErr == nil && r.cg.cpuErr != nil {
		if r.RequireLimits {
			cleanDir()
			return nil, fmt.Errorf("local: start %s: CPU shares requested but unavailable: %w", spec.ID, r.cg.cpuErr)
		}
		r.logger().Warn("local: running dyno without a CPU weight", "dyno", spec.ID, "reason", r.cg.cpuErr)
		res.CPUShares = 0
	}
	if res != (formation.Resources{}) {
		if r.cgErr != nil {
			if r.RequireLimits {
				cleanDir()
				return nil, fmt.Errorf("local: start %s: resource limits requested but unavailable: %w", spec.ID, r.cgErr)
			}
			r.logger().Warn("local: running dyno without resource limits", "dyno", spec.ID, "reason", r.cgErr)
		} else {
			cg, err := r.cg.create(filepath.Base(dir), res)
			if err != nil {
				cleanDir()
				return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
			}
			d.cgroup = cg
			joinLines = cg.joinScript()
		}
	}
	cleanup := func() {
		if d.cgroup != nil {
			d.cgroup.destroy()
		}
		cleanDir()
	}

	shell := r.Shell
	if shell == "" {
		shell = "bash"
	}
	cmd := exec.Command(shell, "-c", joinLines+bootstrap, spec.Name, spec.Command, appDir)
	cmd.Dir = appDir
	cmd.Env = make([]string, 0, len(spec.Env)+3)
	cmd.Env = append(cmd.Env, "PATH="+DefaultPath, "TMPDIR="+tmpDir)
	cmd.Env = append(cmd.Env, spec.Env...)
	if !r.InPlace {
		cmd.Env = append(cmd.Env, "HOME="+appDir) // the runtime owns where the app lives
	}
	cmd.Stdin = spec.Stdin
	cmd.Stdout = nonNil(stdio.Stdout)
	cmd.Stderr = nonNil(stdio.Stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if spec.Terminal != nil {
		t, err := pty.NewRelay(spec.Terminal.Cols, spec.Terminal.Rows)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
		}
		d.term = t
		cmd.Stdin, cmd.Stdout, cmd.Stderr = t.Slave, t.Slave, t.Slave
		// A new session (so also a new process group, the dyno's) whose
		// controlling terminal is the dyno's.
		cmd.SysProcAttr = pty.Attr()
	}
	if d.cgroup != nil {
		d.cgroup.prepare(cmd.SysProcAttr)
	}
	cmd.WaitDelay = r.WaitDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = 2 * time.Second
	}
	d.shell, d.name, d.appDir, d.joinLines, d.env, d.waitDelay = shell, spec.Name, appDir, joinLines, cmd.Env, cmd.WaitDelay
	err = cmd.Start()
	if d.cgroup != nil {
		d.cgroup.started()
	}
	if err != nil {
		if d.term != nil {
			d.term.Abandon()
		}
		cleanup()
		return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
	}
	if d.term != nil {
		d.term.Started(spec.Stdin, stdio.Stdout)
	}
	d.pgid = cmd.Process.Pid
	if d.cgroup != nil {
		// bash joins by itself before running anything; joining from here
		// too makes failures visible to the caller.
		if err := d.cgroup.add(cmd.Process.Pid); err != nil {
			_ = syscall.Kill(-d.pgid, syscall.SIGKILL)
			_ = cmd.Wait()
			cleanup()
			return nil, fmt.Errorf("local: start %s: %w", spec.ID, err)
		}
	}
	started = true
	go r.supervise(d, cmd, cleanup)
	return d, nil
}

// bootstrap runs as bash -c with $0 = dyno name, $1 = the command and
// $2 = the app directory (HOME, except InPlace), in the app directory:
// Heroku's startup sequence (heroku.md §5.4).
const bootstrap = `
__dynokit_cmd=$1 __dynokit_app=$2
set --
for __dynokit_f in "$__dynokit_app"/.profile.d/*.sh; do
  if [ -r "$__dynokit_f" ]; then . "$__dynokit_f"; fi
done
if [ -r "$__dynokit_app/.profile" ]; then . "$__dynokit_app/.profile"; fi
unset __dynokit_f __dynokit_app
exec bash -c "$__dynokit_cmd"
`

// within reports whether path is dir or inside it, after resolving
// symlinks where the paths exist.
func within(path, dir string) bool {
	resolve := func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return p
	}
	rel, err := filepath.Rel(resolve(dir), resolve(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func nonNil(w io.Writer) io.Writer {
	if w == nil {
		return nil // os/exec connects /dev/null
	}
	return w
}

// supervise owns the one cmd.Wait. It learns the main process has exited
// without reaping it (waitid WNOWAIT), so the zombie still pins the process
// group ID while the rest of the group is killed: a late kill(-pgid) can
// never hit a recycled group.
func (r *Runtime) supervise(d *Dyno, cmd *exec.Cmd, cleanup func()) {
	pid := cmd.Process.Pid
	if d.cgroup != nil {
		stop := make(chan struct{})
		defer close(stop)
		go oomwatch.Watch(stop, d.cgroup.oomKilled, func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			if !d.leaderDone {
				_ = syscall.Kill(-d.pgid, syscall.SIGKILL)
				d.cgroup.signal(syscall.SIGKILL)
			}
		})
	}
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	d.mu.Lock()
	d.leaderDone = true
	// The dyno ends with its main process: what it left behind goes too,
	// and so do processes Exec started in it.
	_ = syscall.Kill(-d.pgid, syscall.SIGKILL)
	for p := range d.execs {
		killSession(p.pgid)
	}
	if d.cgroup != nil {
		// Processes that left the group may hold the output pipes.
		d.cgroup.signal(syscall.SIGKILL)
	}
	d.mu.Unlock()

	_ = cmd.Wait() // errors are about pipes after WaitDelay; the status is what counts
	if d.term != nil {
		d.term.Close(cmd.WaitDelay)
	}
	exit := exitOf(cmd)
	if r.Subreaper {
		reapGroup(d.pgid)
	}
	if d.cgroup != nil {
		d.cgroup.killAll()
		exit.OOMKilled = d.cgroup.oomKilled()
		if exit.OOMKilled && exit.Signal == 0 && exit.Code == 0 {
			exit.Code = 137 // a child was killed; the dyno as a whole is reported killed
		}
	}
	cleanup()
	d.exit = exit
	r.release(d.id, d) // the ID is free again once Wait can return
	close(d.done)
}

// reapGroup waits for orphans of the group that were reparented to this
// process (only possible as a subreaper). They were just sent SIGKILL.
func reapGroup(pgid int) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-pgid, &ws, unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR || pid > 0:
			continue
		case err != nil: // ECHILD: none left
			return
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *Runtime) release(id string, d *Dyno) {
	r.mu.Lock()
	if r.live[id] == d {
		delete(r.live, id)
	}
	r.mu.Unlock()
}

// ID returns the dyno's ID.
func (d *Dyno) ID() string { return d.id }

// Signal sends sig to the dyno's process group (and, when the dyno has a
// cgroup, to every process in it, so processes that left the group are
// reached too).
func (d *Dyno) Signal(ctx context.Context, sig syscall.Signal) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: signal %s: %w", d.id, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.leaderDone {
		return fmt.Errorf("local: signal %s: %w", d.id, formation.ErrExited)
	}
	err := syscall.Kill(-d.pgid, sig)
	if d.cgroup != nil {
		d.cgroup.signal(sig)
	}
	if errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("local: signal %s: %w", d.id, formation.ErrExited)
	}
	if err != nil {
		return fmt.Errorf("local: signal %s: %w", d.id, err)
	}
	return nil
}

// Wait blocks until the dyno has exited and its directory is removed.
func (d *Dyno) Wait(ctx context.Context) (formation.Exit, error) {
	select {
	case <-d.done:
		return d.exit, nil
	case <-ctx.Done():
		return formation.Exit{}, fmt.Errorf("local: wait %s: %w", d.id, ctx.Err())
	}
}

// Memory reports the dyno's memory use from its cgroup. It fails for a
// dyno started without resource limits.
func (d *Dyno) Memory(ctx context.Context) (formation.MemoryUsage, error) {
	if d.cgroup == nil {
		return formation.MemoryUsage{}, fmt.Errorf("local: memory %s: dyno has no cgroup (started without resource limits)", d.id)
	}
	select {
	case <-d.done:
		return formation.MemoryUsage{}, fmt.Errorf("local: memory %s: %w", d.id, formation.ErrExited)
	default:
	}
	u, err := d.cgroup.memory()
	if err != nil {
		return u, fmt.Errorf("local: memory %s: %w", d.id, err)
	}
	return u, nil
}
