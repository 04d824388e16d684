package oci

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/internal/oomwatch"
	"github.com/dynokit/dynokit/internal/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultDir holds bundles and the OCI runtime's state when Runtime.Dir is
// empty.
const DefaultDir = "/var/lib/dynokit/oci"

// DefaultCgroupParent is the cgroup under which dynos are placed when
// Runtime.CgroupParent is empty.
const DefaultCgroupParent = "/dynokit"

// Runtime starts dynos as OCI containers with runc or crun. The zero value
// uses runc from PATH, DefaultDir, the minimal host rootfs and the user
// DefaultUID:DefaultGID. A Runtime must not be copied after first use.
type Runtime struct {
	// Binary is the OCI runtime: "runc" (the default), "crun", or a path.
	Binary string
	// Dir holds this runtime's state: state/ is passed to the OCI runtime
	// as --root and bundles/<id> holds each dyno's bundle and writable /app
	// layer. Runtimes with different Dirs never see each other's dynos.
	Dir string
	// Rootfs, when set, is a stack root filesystem used instead of the
	// minimal rootfs built from the host's system directories.
	Rootfs string
	// UID and GID run the dyno's processes; zero means DefaultUID and
	// DefaultGID. Root is refused.
	UID, GID uint32
	// CgroupParent is the cgroup under which each dyno gets its own
	// (DefaultCgroupParent when empty).
	CgroupParent string
	// Opts are applied to every dyno's spec after the runtime's own.
	Opts []Opt
	// Logger receives cleanup problems that have no caller to return to;
	// nil discards.
	Logger *slog.Logger

	mu      sync.Mutex
	live    map[string]*Dyno
	cgroups *cgroupMounts
}

var (
	_ formation.Runtime      = (*Runtime)(nil)
	_ formation.Dyno         = (*Dyno)(nil)
	_ formation.MemoryReader = (*Dyno)(nil)
	_ formation.Execer       = (*Dyno)(nil)
)

// Dyno is a dyno running in an OCI container.
type Dyno struct {
	rt      *Runtime
	id      string
	bin     string
	state   string // --root of the OCI runtime
	bundle  string
	cgroup  string
	cgroups cgroupMounts
	spec    *specs.Spec // the container's, for Exec

	started    chan struct{} // init reported "started"
	mainExited atomic.Bool   // init reported the command's exit
	reported   atomic.Int64  // the command's status, once mainExited
	oom        atomic.Bool
	done       chan struct{}
	exit       formation.Exit
	startErr   error
	term       *pty.Relay // the runtime's terminal (DynoSpec.Terminal)
}

func (r *Runtime) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Runtime) dir() (string, error) {
	dir := r.Dir
	if dir == "" {
		dir = DefaultDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("oci: runtime dir %q: %w", dir, err)
	}
	if strings.ContainsAny(abs, ",:") {
		return "", fmt.Errorf("oci: runtime dir %q contains ',' or ':', which overlayfs options cannot hold", abs)
	}
	return abs, nil
}

func (r *Runtime) binary() (string, error) {
	name := r.Binary
	if name == "" {
		name = "runc"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("oci: runtime binary %q: %w", name, err)
	}
	return p, nil
}

func (r *Runtime) cgroupMounts() (cgroupMounts, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cgroups == nil {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return cgroupMounts{}, fmt.Errorf("oci: find cgroup mounts: %w", err)
		}
		cm := readCgroupMounts(b)
		r.cgroups = &cm
	}
	return *r.cgroups, nil
}

// cgroupPath is the dyno's cgroup: under CgroupParent, prefixed with a hash
// of Dir so that runtimes with different Dirs can reuse dyno IDs.
func (r *Runtime) cgroupPath(dir, id string) (string, error) {
	parent := r.CgroupParent
	if parent == "" {
		parent = DefaultCgroupParent
	}
	if !path.IsAbs(parent) || path.Clean(parent) != parent {
		return "", fmt.Errorf("oci: cgroup parent %q: want an absolute, clean path", parent)
	}
	sum := sha256.Sum256([]byte(dir))
	return path.Join(parent, hex.EncodeToString(sum[:4])+"-"+id), nil
}

func (r *Runtime) reserve(id string, d *Dyno) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.live[id]; ok {
		return fmt.Errorf("oci: start %s: %w", id, formation.ErrExists)
	}
	if r.live == nil {
		r.live = map[string]*Dyno{}
	}
	r.live[id] = d
	return nil
}

func (r *Runtime) release(id string, d *Dyno) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live[id] == d {
		delete(r.live, id)
	}
}

// Start writes the dyno's bundle and runs it with `<binary> run`, returning
// once the container's init is running. ctx bounds starting only.
func (r *Runtime) Start(ctx context.Context, spec formation.DynoSpec, stdio formation.Stdio) (formation.Dyno, error) {
	if err := ValidateDynoSpec(spec); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("oci: start %s: %w", spec.ID, err)
	}
	if fi, err := os.Stat(spec.SlugDir); err != nil {
		return nil, fmt.Errorf("oci: start %s: slug dir: %w", spec.ID, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("oci: start %s: slug dir %s is not a directory", spec.ID, spec.SlugDir)
	}
	bin, err := r.binary()
	if err != nil {
		return nil, err
	}
	dir, err := r.dir()
	if err != nil {
		return nil, err
	}
	cgPath, err := r.cgroupPath(dir, spec.ID)
	if err != nil {
		return nil, err
	}
	cm, err := r.cgroupMounts()
	if err != nil {
		return nil, err
	}
	d := &Dyno{
		rt:      r,
		id:      spec.ID,
		bin:     bin,
		state:   filepath.Join(dir, "state"),
		bundle:  filepath.Join(dir, "bundles", spec.ID),
		cgroup:  cgPath,
		cgroups: cm,
		started: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := r.reserve(spec.ID, d); err != nil {
		return nil, err
	}
	if err := d.start(ctx, spec, stdio); err != nil {
		r.release(spec.ID, d)
		return nil, err
	}
	return d, nil
}

func (d *Dyno) start(ctx context.Context, spec formation.DynoSpec, stdio formation.Stdio) error {
	r := d.rt
	if err := d.clearLeftover(ctx); err != nil {
		return err
	}
	uid, gid := r.UID, r.GID
	if uid == 0 {
		uid = DefaultUID
	}
	if gid == 0 {
		gid = DefaultGID
	}
	upper, work := filepath.Join(d.bundle, "app", "upper"), filepath.Join(d.bundle, "app", "work")
	if err := prepareAppLayer(upper, work, int(uid), int(gid)); err != nil {
		d.removeBundle()
		return fmt.Errorf("oci: start %s: %w", d.id, err)
	}
	opts := []Opt{WithUser(uid, gid), WithAppLayer(upper, work), WithCgroupsPath(d.cgroup)}
	if r.Rootfs != "" {
		opts = append(opts, WithRootfs(r.Rootfs))
	} else {
		opts = append(opts, WithHostBinds(existingHostDirs()...))
	}
	opts = append(opts, r.Opts...)
	s, err := Spec(spec, opts...)
	if err == nil {
		err = WriteBundle(d.bundle, s)
	}
	if err != nil {
		d.removeBundle()
		return err
	}
	d.spec = s
	logPath := filepath.Join(d.bundle, "runtime.log")

	// fd 3 in the container: the host closes its end to let init exit.
	holdR, holdW, err := os.Pipe()
	if err != nil {
		d.removeBundle()
		return fmt.Errorf("oci: start %s: %w", d.id, err)
	}
	// fd 4 in the container: init reports "started" and "exited N".
	reportR, reportW, err := os.Pipe()
	if err != nil {
		holdR.Close()
		holdW.Close()
		d.removeBundle()
		return fmt.Errorf("oci: start %s: %w", d.id, err)
	}
	cmd := exec.Command(d.bin, "--root="+d.state, "--log="+logPath,
		"run", "--bundle="+d.bundle, "--preserve-fds=2", d.id)
	cmd.Stdin = spec.Stdin
	cmd.Stdout = stdio.Stdout
	cmd.Stderr = stdio.Stderr
	cmd.ExtraFiles = []*os.File{holdR, reportW}
	// Its own process group: a terminal's Ctrl-C goes to the platform, which
	// stops dynos gracefully, not straight to the runtime.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Bounds Wait when a caller's stdin reader never returns.
	cmd.WaitDelay = 2 * time.Second
	if spec.Terminal != nil {
		// The runtime in the foreground gives the container a terminal
		// only from a terminal of its own, which it puts in raw mode and
		// relays to the container's: this one, with the same size.
		t, err := pty.NewRelay(spec.Terminal.Cols, spec.Terminal.Rows)
		if err != nil {
			holdR.Close()
			holdW.Close()
			reportR.Close()
			reportW.Close()
			d.removeBundle()
			return fmt.Errorf("oci: start %s: %w", d.id, err)
		}
		d.term = t
		cmd.Stdin, cmd.Stdout, cmd.Stderr = t.Slave, t.Slave, t.Slave
		cmd.SysProcAttr = pty.Attr()
	}
	err = cmd.Start()
	holdR.Close()
	reportW.Close()
	if err != nil {
		if d.term != nil {
			d.term.Abandon()
		}
		holdW.Close()
		reportR.Close()
		d.removeBundle()
		return fmt.Errorf("oci: start %s: %s run: %w", d.id, filepath.Base(d.bin), err)
	}
	if d.term != nil {
		d.term.Started(spec.Stdin, stdio.Stdout)
	}
	readerDone := make(chan struct{})
	go d.readReports(reportR, holdW, readerDone)
	go d.waitRuntime(cmd, readerDone, logPath)
	go oomwatch.Watch(readerDone, func() bool {
		n, err := d.cgroups.oomKills(d.cgroup)
		return err == nil && n > 0 && !d.exited()
	}, func() {
		d.oom.Store(true) // the kill may take init with it, and its report
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.runtimeKill(ctx, syscall.SIGKILL); err != nil {
			d.rt.logger().Warn("oci: kill after an OOM kill", "dyno", d.id, "err", err)
		}
	})

	select {
	case <-d.started:
		return nil
	case <-d.done:
		if d.startErr != nil {
			return d.startErr
		}
		return nil
	case <-ctx.Done():
		// Starting was abandoned: take the dyno down rather than leave it
		// running unowned.
		d.abort(cmd)
		<-d.done
		return fmt.Errorf("oci: start %s: %w", d.id, ctx.Err())
	}
}

// abort kills a dyno whose start was abandoned: with the runtime once the
// container exists, else by killing the runtime process.
func (d *Dyno) abort(cmd *exec.Cmd) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for d.runtimeKill(ctx, syscall.SIGKILL) != nil {
		select {
		case <-d.done:
			return
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return
		case <-tick.C:
		}
	}
}

// clearLeftover deals with a container of the same ID left in the state
// dir, for example by a host process that crashed: a live one is
// ErrExists, a stopped one is deleted.
func (d *Dyno) clearLeftover(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(d.state, d.id)); errors.Is(err, fs.ErrNotExist) {
		d.removeBundle()
		return nil
	}
	status, err := d.runtimeState(ctx)
	if err == nil && status != "stopped" {
		return fmt.Errorf("oci: start %s: container is %s: %w", d.id, status, formation.ErrExists)
	}
	if out, err := d.runtime(ctx, "delete", "--force", d.id); err != nil {
		return fmt.Errorf("oci: start %s: delete leftover container: %w: %s", d.id, err, bytes.TrimSpace(out))
	}
	d.removeBundle()
	return nil
}

func prepareAppLayer(upper, work string, uid, gid int) error {
	if err := os.MkdirAll(upper, 0o755); err != nil {
		return fmt.Errorf("app layer: %w", err)
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return fmt.Errorf("app layer: %w", err)
	}
	// The upper dir's root becomes /app's root: owned by the dyno user, so
	// the app can create files in its home as on Heroku.
	if err := os.Chown(upper, uid, gid); err != nil {
		return fmt.Errorf("app layer: %w", err)
	}
	return nil
}

// existingHostDirs is HostSystemDirs without the ones this host lacks.
func existingHostDirs() []string {
	var dirs []string
	for _, dir := range HostSystemDirs() {
		if _, err := os.Stat(dir); err == nil {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// readReports follows init's reports on fd 4. When the command has exited
// it reads the cgroup's OOM counter (the cgroup goes away with init) and
// then lets init exit by closing hold.
func (d *Dyno) readReports(report, hold *os.File, done chan<- struct{}) {
	defer close(done)
	defer report.Close()
	defer hold.Close()
	startedOnce := false
	sc := bufio.NewScanner(report)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "started" && !startedOnce:
			startedOnce = true
			close(d.started)
		case strings.HasPrefix(line, "exited "):
			status, err := strconv.Atoi(strings.TrimPrefix(line, "exited "))
			if err != nil {
				continue
			}
			n, err := d.cgroups.oomKills(d.cgroup)
			if err != nil {
				d.rt.logger().Warn("oci: read OOM counter", "dyno", d.id, "err", err)
			}
			d.oom.Store(n > 0)
			d.reported.Store(int64(status))
			d.mainExited.Store(true)
			hold.Close()
		}
	}
}

// waitRuntime waits for `<binary> run` to exit, records the Exit, removes
// the container, its cgroup and its bundle, and then releases the ID.
func (d *Dyno) waitRuntime(cmd *exec.Cmd, readerDone <-chan struct{}, logPath string) {
	waitErr := cmd.Wait()
	at := time.Now()
	if d.term != nil {
		d.term.Close(cmd.WaitDelay)
	}
	<-readerDone
	code := -1
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		} else {
			code = ps.ExitCode()
		}
	}
	select {
	case <-d.started:
	default:
		msg := readRuntimeLog(logPath)
		if msg == "" && waitErr != nil {
			msg = waitErr.Error()
		}
		d.startErr = fmt.Errorf("oci: start %s: %s run exited with status %d: %s", d.id, filepath.Base(d.bin), code, msg)
	}
	if d.mainExited.Load() {
		code = int(d.reported.Load())
	}
	exit := formation.Exit{Code: code, OOMKilled: d.oom.Load(), At: at}
	// A process killed by signal n exits with 128+n by the time the status
	// has passed through init and the runtime; like a shell, read it back.
	if code > 128 && code <= 128+64 {
		exit.Signal = syscall.Signal(code - 128)
	}
	d.exit = exit
	d.cleanup()
	d.rt.release(d.id, d)
	close(d.done)
}

// cleanup removes what the OCI runtime and this package left for the dyno.
// Errors are logged: the dyno is over and nobody waits for them.
func (d *Dyno) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := d.rt.logger()
	if _, err := os.Stat(filepath.Join(d.state, d.id)); err == nil {
		if out, err := d.runtime(ctx, "delete", "--force", d.id); err != nil {
			log.Warn("oci: delete container", "dyno", d.id, "err", err, "output", string(bytes.TrimSpace(out)))
		}
	}
	if err := d.cgroups.removeLeftovers(d.cgroup); err != nil {
		log.Warn("oci: remove cgroup", "dyno", d.id, "err", err)
	}
	d.removeBundle()
}

func (d *Dyno) removeBundle() {
	if err := os.RemoveAll(d.bundle); err != nil {
		d.rt.logger().Warn("oci: remove bundle", "dyno", d.id, "err", err)
	}
}

// readRuntimeLog returns the OCI runtime's log, trimmed to its last 2 KiB.
func readRuntimeLog(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	b = bytes.TrimSpace(b)
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}

// runtime runs the OCI runtime binary with this runtime's state dir.
func (d *Dyno) runtime(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.bin, append([]string{"--root=" + d.state}, args...)...)
	cmd.WaitDelay = time.Second
	return cmd.CombinedOutput()
}

func (d *Dyno) runtimeKill(ctx context.Context, sig syscall.Signal) error {
	out, err := d.runtime(ctx, "kill", "--all", d.id, strconv.Itoa(int(sig)))
	if err != nil {
		return fmt.Errorf("%s kill: %w: %s", filepath.Base(d.bin), err, bytes.TrimSpace(out))
	}
	return nil
}

// runtimeState returns the container's status ("running", "stopped"…).
func (d *Dyno) runtimeState(ctx context.Context) (string, error) {
	out, err := d.runtime(ctx, "state", d.id)
	if err != nil {
		return "", fmt.Errorf("%s state: %w: %s", filepath.Base(d.bin), err, bytes.TrimSpace(out))
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return "", fmt.Errorf("%s state: %w", filepath.Base(d.bin), err)
	}
	return st.Status, nil
}

// ID returns the dyno's ID, which is also its container ID.
func (d *Dyno) ID() string { return d.id }

// Signal delivers sig to every process in the container (`kill --all`).
func (d *Dyno) Signal(ctx context.Context, sig syscall.Signal) error {
	if d.exited() {
		return fmt.Errorf("oci: signal %s: %w", d.id, formation.ErrExited)
	}
	err := d.runtimeKill(ctx, sig)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("oci: signal %s: %w", d.id, ctx.Err())
	}
	// The dyno may have ended while the runtime was asked.
	if d.exited() {
		return fmt.Errorf("oci: signal %s: %w", d.id, formation.ErrExited)
	}
	if status, serr := d.runtimeState(ctx); serr != nil || status == "stopped" {
		return fmt.Errorf("oci: signal %s: %w", d.id, formation.ErrExited)
	}
	return fmt.Errorf("oci: signal %s: %w", d.id, err)
}

// exited reports whether the dyno's command has exited. From that moment
// the container is only being torn down, and signals would hit init alone.
func (d *Dyno) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return d.mainExited.Load()
	}
}

// Wait blocks until the dyno has exited and its container is removed, or
// ctx is done.
func (d *Dyno) Wait(ctx context.Context) (formation.Exit, error) {
	select {
	case <-d.done:
		return d.exit, nil
	case <-ctx.Done():
		return formation.Exit{}, fmt.Errorf("oci: wait %s: %w", d.id, ctx.Err())
	}
}

// Memory reports the dyno's memory use and limit from its cgroup.
func (d *Dyno) Memory(ctx context.Context) (formation.MemoryUsage, error) {
	if d.exited() {
		return formation.MemoryUsage{}, fmt.Errorf("oci: memory %s: %w", d.id, formation.ErrExited)
	}
	used, limit, err := d.cgroups.memoryUsage(d.cgroup)
	if err != nil {
		if d.exited() {
			return formation.MemoryUsage{}, fmt.Errorf("oci: memory %s: %w", d.id, formation.ErrExited)
		}
		return formation.MemoryUsage{}, fmt.Errorf("oci: memory %s: %w", d.id, err)
	}
	return formation.MemoryUsage{UsedBytes: used, LimitBytes: limit}, nil
}
