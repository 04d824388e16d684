package nomad

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dynokit/dynokit/formation"
)

// DefaultPath is the PATH a dyno starts with, before .profile.d scripts
// extend it.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// Runtime runs each dyno as a Nomad job. The zero value talks to the agent
// at $NOMAD_ADDR (or http://127.0.0.1:4646); fields must not change after
// the first Start.
type Runtime struct {
	// Address is the Nomad HTTP API ("http://127.0.0.1:4646"). Empty means
	// $NOMAD_ADDR, then http://127.0.0.1:4646.
	Address string
	// Token is sent as X-Nomad-Token when set (ACLs).
	Token string
	// Namespace and Region of the jobs; empty means Nomad's defaults.
	Namespace, Region string
	// Datacenters the jobs may run in; empty means all ("*").
	Datacenters []string
	// Driver is the task driver: "raw_exec" (the default) or "exec".
	// exec isolates the dyno (cgroups, chroot, its own PID namespace) and is
	// what production clusters should use; it needs the slug as an artifact
	// (SlugURL), since a host path is not visible in its chroot.
	Driver string
	// Shell is the bash the task runs; empty means /bin/bash.
	Shell string
	// KillTimeout is the job's kill_timeout: how long Nomad waits after
	// SIGTERM before SIGKILL when Nomad itself stops the dyno (a node drain,
	// a deregistered job). formation.Stop signals through this package
	// instead and applies its own grace. Zero means formation.DefaultGrace;
	// the client's max_kill_timeout caps it.
	KillTimeout time.Duration
	// DefaultMemoryMB is the memory reserved for a dyno without
	// Resources.MemoryBytes, and its limit: Nomad enforces what it
	// reserves. Zero means 512 (Heroku's standard-1X).
	DefaultMemoryMB int
	// SlugURL, when set and ok, makes Nomad download the slug (a slug
	// package tar.gz, for example from slug.Handler) as an artifact instead
	// of copying DynoSpec.SlugDir; checksum is "sha256:<hex>" (empty skips
	// the check).
	SlugURL func(spec formation.DynoSpec) (url, checksum string, ok bool)
	// StdinAddr is the host:port this process listens on to hand an
	// attached dyno its DynoSpec.Stdin (the dyno's bash connects to it). It
	// must be reachable from the Nomad client; empty means 127.0.0.1:0,
	// which is enough when the client runs on this host.
	StdinAddr string
	// Owner, when set, is written into every job's meta (dynokit.owner) so
	// that PurgeOwned can find the jobs an earlier process with the same
	// Owner left running when it died without stopping them (a platform
	// that was SIGKILLed). It must be stable across restarts of that
	// process and unique among the platforms sharing a cluster.
	Owner string
	// HTTPClient is used for API calls; nil means a client without timeout
	// (blocking queries and log streams are long).
	HTTPClient *http.Client
	// Logger receives warnings; nil discards.
	Logger *slog.Logger

	mu   sync.Mutex
	live map[string]*Dyno
}

var _ formation.Runtime = (*Runtime)(nil)

// Dyno is a dyno running as a Nomad job.
type Dyno struct {
	id      string
	jobID   string
	allocID string
	rt      *Runtime

	stop context.CancelFunc // ends the watcher's API calls (never the dyno)
	done chan struct{}
	exit formation.Exit
	err  error // why the dyno's end could not be observed
}

var _ formation.Dyno = (*Dyno)(nil)

func (r *Runtime) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Runtime) driver() string {
	if r.Driver == "" {
		return "raw_exec"
	}
	return r.Driver
}

func (r *Runtime) shell() string {
	if r.Shell == "" {
		return "/bin/bash"
	}
	return r.Shell
}

func (r *Runtime) jobID(dynoID string) string { return dynoID }

func (r *Runtime) client() *client {
	return newClient(r.Address, r.Token, r.Namespace, r.Region, r.HTTPClient)
}

// validID keeps IDs usable as Nomad job IDs and in URL paths.
func validID(id string) error {
	if id == "" {
		return errors.New("must not be empty")
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%q contains %q (allowed: letters, digits, '.', '-', '_')", id, c)
		}
	}
	return nil
}

// Job returns the Nomad job Start would register for spec (with SlugDir as
// the slug unless SlugURL supplies a URL, and no stdin). It is for
// inspection and tests; Start adds the stdin address for attached dynos.
func (r *Runtime) Job(spec formation.DynoSpec) *Job {
	return r.buildJob(spec, r.slugSource(spec), stdinSource{})
}

func (r *Runtime) slugSource(spec formation.DynoSpec) slugSource {
	if r.SlugURL != nil {
		if u, sum, ok := r.SlugURL(spec); ok {
			return slugSource{url: u, checksum: sum}
		}
	}
	return slugSource{dir: spec.SlugDir}
}

// Start registers the dyno's job and returns once its task runs (or has
// already ended). A job Nomad cannot place, or a task that fails before
// its process starts, makes Start fail and leaves no job behind.
func (r *Runtime) Start(ctx context.Context, spec formation.DynoSpec, stdio formation.Stdio) (formation.Dyno, error) {
	if err := validID(spec.ID); err != nil {
		return nil, fmt.Errorf("nomad: start: DynoSpec.ID %w", err)
	}
	if strings.TrimSpace(spec.Command) == "" {
		return nil, fmt.Errorf("nomad: start %s: DynoSpec.Command must not be empty", spec.ID)
	}
	if err := spec.Resources.Validate(); err != nil {
		return nil, fmt.Errorf("nomad: start %s: %w", spec.ID, err)
	}
	if spec.Terminal != nil {
		if err := spec.Terminal.Validate(); err != nil {
			return nil, fmt.Errorf("nomad: start %s: %w", spec.ID, err)
		}
	}
	slug := r.slugSource(spec)
	if slug.url == "" {
		if fi, err := os.Stat(spec.SlugDir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("nomad: start %s: DynoSpec.SlugDir %q must be a directory", spec.ID, spec.SlugDir)
		}
		if r.driver() != "raw_exec" {
			return nil, fmt.Errorf("nomad: start %s: driver %q cannot see DynoSpec.SlugDir on the host: set Runtime.SlugURL", spec.ID, r.driver())
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nomad: start %s: %w", spec.ID, err)
	}

	r.mu.Lock()
	if _, ok := r.live[spec.ID]; ok {
		r.mu.Unlock()
		return nil, fmt.Errorf("nomad: start %s: %w", spec.ID, formation.ErrExists)
	}
	if r.live == nil {
		r.live = make(map[string]*Dyno)
	}
	watchCtx, stop := context.WithCancel(context.Background())
	d := &Dyno{id: spec.ID, jobID: r.jobID(spec.ID), rt: r, stop: stop, done: make(chan struct{})}
	r.live[spec.ID] = d // reserved; released on failure or exit
	r.mu.Unlock()

	c := r.client()
	started := false
	var in *stdinServer
	defer func() {
		if !started {
			if in != nil {
				in.close()
			}
			stop()
			r.release(d)
		}
	}()

	var stdin stdinSource
	if spec.Stdin != nil {
		var err error
		if in, err = newStdinServer(r.StdinAddr, spec.Stdin); err != nil {
			return nil, fmt.Errorf("nomad: start %s: stdin: %w", spec.ID, err)
		}
		stdin = stdinSource{addr: in.addr(), token: in.token}
	}
	job := r.buildJob(spec, slug, stdin)
	evalID, err := r.register(ctx, c, job)
	if err != nil {
		if ctx.Err() != nil {
			// The server may have registered the job before the call was
			// abandoned. IDs are unique per runtime, so the job is ours.
			r.purge(c, d.jobID)
		}
		return nil, fmt.Errorf("nomad: start %s: %w", spec.ID, err)
	}
	alloc, err := r.awaitStart(ctx, c, d.jobID, evalID)
	if err != nil {
		r.purge(c, d.jobID)
		return nil, fmt.Errorf("nomad: start %s: %w", spec.ID, err)
	}
	d.allocID = alloc.ID
	started = true
	go d.watch(watchCtx, c, alloc, stdio, in)
	return d, nil
}

// register submits the job only if no job has its ID. A dead job left by
// an earlier dyno with the same ID (a crash before purging) is purged
// first; a live one means the ID is taken.
func (r *Runtime) register(ctx context.Context, c *client, job *Job) (string, error) {
	req := map[string]any{"Job": job, "EnforceIndex": true, "JobModifyIndex": 0}
	for attempt := 0; ; attempt++ {
		var resp registerResponse
		_, err := c.do(ctx, http.MethodPost, "/v1/jobs", nil, req, &resp)
		if err == nil {
			return resp.EvalID, nil
		}
		if attempt > 0 || !strings.Contains(err.Error(), "job already exists") {
			return "", fmt.Errorf("register job: %w", err)
		}
		var old jobInfo
		if _, err := c.do(ctx, http.MethodGet, "/v1/job/"+url.PathEscape(job.ID), nil, nil, &old); err != nil {
			return "", fmt.Errorf("register job: look at the existing job: %w", err)
		}
		if old.Status != "dead" {
			return "", fmt.Errorf("job %s is %s: %w", job.ID, old.Status, formation.ErrExists)
		}
		if _, err := c.do(ctx, http.MethodDelete, "/v1/job/"+url.PathEscape(job.ID), url.Values{"purge": {"true"}}, nil, nil); err != nil {
			return "", fmt.Errorf("register job: purge the dead job of the same ID: %w", err)
		}
	}
}

// awaitStart waits for the job's evaluation to place the allocation, then
// for its task to run or end.
func (r *Runtime) awaitStart(ctx context.Context, c *client, jobID, evalID string) (*allocation, error) {
	var idx uint64
	for {
		var ev evaluation
		var err error
		if idx, err = c.block(ctx, "/v1/evaluation/"+url.PathEscape(evalID), idx, &ev); err != nil {
			return nil, fmt.Errorf("evaluation %s: %w", evalID, err)
		}
		if ev.Status == "pending" {
			continue
		}
		if len(ev.FailedTGAllocs) > 0 {
			var why []string
			for tg, m := range ev.FailedTGAllocs {
				why = append(why, tg+": "+m.String())
			}
			return nil, fmt.Errorf("no Nomad node can run the dyno (%s)", strings.Join(why, "; "))
		}
		if ev.Status != "complete" {
			return nil, fmt.Errorf("evaluation %s is %s: %s", evalID, ev.Status, ev.StatusDescription)
		}
		break
	}
	var allocID string
	idx = 0
	for allocID == "" {
		var allocs []allocation
		var err error
		if idx, err = c.block(ctx, "/v1/job/"+url.PathEscape(jobID)+"/allocations", idx, &allocs); err != nil {
			return nil, fmt.Errorf("allocations: %w", err)
		}
		if len(allocs) > 0 {
			allocID = allocs[0].ID
		}
	}
	idx = 0
	for {
		var a allocation
		var err error
		if idx, err = c.block(ctx, "/v1/allocation/"+allocID, idx, &a); err != nil {
			return nil, fmt.Errorf("allocation %s: %w", allocID, err)
		}
		ts := a.TaskStates[taskName]
		if ts != nil {
			if msg := setupFailure(ts); msg != "" {
				return nil, fmt.Errorf("allocation %s: task did not start: %s", allocID, msg)
			}
			if ts.State == "running" || ts.State == "dead" {
				return &a, nil
			}
		}
		if terminal(&a) {
			return nil, fmt.Errorf("allocation %s is %s before its task ran", allocID, a.ClientStatus)
		}
	}
}

// setupFailure returns why the task failed before its process started, or
// "".
func setupFailure(ts *taskState) string {
	for _, e := range ts.Events {
		switch e.Type {
		case "Driver Failure", "Failed Artifact Download", "Setup Failure", "Failed Validation":
			return e.Type + ": " + firstNonEmpty(e.DisplayMessage, e.Message, e.Details["driver_error"], e.Details["download_error"], e.Details["setup_error"], e.Details["validation_error"])
		}
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func terminal(a *allocation) bool {
	switch a.ClientStatus {
	case "complete", "failed", "lost":
		return true
	}
	return false
}

// purge removes the job and its history so the ID can be used again. It
// uses its own bounded context: it runs on cleanup paths.
func (r *Runtime) purge(c *client, jobID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.do(ctx, http.MethodDelete, "/v1/job/"+url.PathEscape(jobID), url.Values{"purge": {"true"}}, nil, nil); err != nil && !isStatus(err, http.StatusNotFound) {
		r.logger().Warn("nomad: purge job", "job", jobID, "err", err)
	}
}

// PurgeOwned stops and purges every job whose meta names Runtime.Owner and
// returns their IDs. A platform calls it once at start, before its first
// Start: any such job is then a dyno of an earlier run that nobody watches
// any more. Jobs of this Runtime's live dynos are left alone.
func (r *Runtime) PurgeOwned(ctx context.Context) ([]string, error) {
	if r.Owner == "" {
		return nil, errors.New("nomad: purge owned jobs: Runtime.Owner is empty")
	}
	c := r.client()
	var jobs []struct {
		ID   string
		Meta map[string]string
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/jobs", url.Values{"meta": {"true"}}, nil, &jobs); err != nil {
		return nil, fmt.Errorf("nomad: purge owned jobs: list: %w", err)
	}
	r.mu.Lock()
	live := map[string]bool{}
	for id := range r.live {
		live[r.jobID(id)] = true
	}
	r.mu.Unlock()
	var purged []string
	for _, j := range jobs {
		if j.Meta[metaOwner] != r.Owner || live[j.ID] {
			continue
		}
		if _, err := c.do(ctx, http.MethodDelete, "/v1/job/"+url.PathEscape(j.ID), url.Values{"purge": {"true"}}, nil, nil); err != nil && !isStatus(err, http.StatusNotFound) {
			return purged, fmt.Errorf("nomad: purge owned job %s: %w", j.ID, err)
		}
		purged = append(purged, j.ID)
	}
	return purged, nil
}

func (r *Runtime) release(d *Dyno) {
	r.mu.Lock()
	if r.live[d.id] == d {
		delete(r.live, d.id)
	}
	r.mu.Unlock()
}

// watch follows the dyno's output and its allocation until the task is
// dead, then records the Exit and purges the job.
func (d *Dyno) watch(ctx context.Context, c *client, alloc *allocation, stdio formation.Stdio, in *stdinServer) {
	defer d.stop()
	logCtx, stopLogs := context.WithCancel(ctx)
	var wg sync.WaitGroup
	outs := []*logStream{
		{kind: "stdout", w: stdio.Stdout},
		{kind: "stderr", w: stdio.Stderr},
	}
	for _, s := range outs {
		if s.w == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.follow(logCtx, c, d.allocID)
		}()
	}

	a, err := d.awaitDead(ctx, c, alloc)
	stopLogs()
	wg.Wait()
	if in != nil {
		in.close()
	}
	if err == nil {
		for _, s := range outs {
			if s.w != nil {
				s.drain(ctx, c, d.allocID)
			}
		}
		d.exit = exitOf(a)
		if !d.exit.OOMKilled && d.exit.Signal == syscall.SIGKILL && d.oomMarked(ctx, c) {
			d.exit.OOMKilled = true
		}
	} else {
		d.err = err
		d.exit = formation.Exit{Code: 137, Signal: syscall.SIGKILL, At: time.Now()}
	}
	d.rt.purge(c, d.jobID)
	d.rt.release(d)
	close(d.done)
}

// awaitDead blocks until the dyno's task is dead. Transient API errors are
// retried: the dyno's end must not be missed because the agent blinked.
func (d *Dyno) awaitDead(ctx context.Context, c *client, a *allocation) (*allocation, error) {
	idx := a.ModifyIndex
	failures := 0
	for {
		if ts := a.TaskStates[taskName]; ts != nil && ts.State == "dead" {
			return a, nil
		}
		if terminal(a) {
			return a, nil
		}
		var next allocation
		i, err := c.block(ctx, "/v1/allocation/"+d.allocID, idx, &next)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			failures++
			if isStatus(err, http.StatusNotFound) || failures > 30 {
				return nil, fmt.Errorf("nomad: watch allocation %s: %w", d.allocID, err)
			}
			d.rt.logger().Warn("nomad: watch allocation", "dyno", d.id, "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		failures = 0
		idx = i
		a = &next
	}
}

// oomMarked reports whether bootstrap found an OOM kill in the task's
// cgroup (raw_exec does not report them itself).
func (d *Dyno) oomMarked(ctx context.Context, c *client) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := c.do(ctx, http.MethodGet, "/v1/client/fs/stat/"+d.allocID, url.Values{"path": {"alloc/" + oomMark}}, nil, nil)
	return err == nil
}

// oomMark is the file bootstrap creates in the alloc dir after an OOM kill.
const oomMark = "dynokit-oom-killed"

// exitOf maps the task's last Terminated event onto a formation.Exit.
func exitOf(a *allocation) formation.Exit {
	exit := formation.Exit{At: time.Now()}
	ts := a.TaskStates[taskName]
	if ts == nil {
		exit.Code, exit.Signal = 137, syscall.SIGKILL
		return exit
	}
	var term *taskEvent
	for _, e := range ts.Events {
		if e.Type == "Terminated" {
			term = e
		}
	}
	if term == nil {
		// Killed without a recorded exit (for example lost with its node).
		exit.Code, exit.Signal = 137, syscall.SIGKILL
		return exit
	}
	if term.Time > 0 {
		exit.At = time.Unix(0, term.Time)
	}
	exit.OOMKilled = term.Details["oom_killed"] == "true"
	if term.Signal > 0 {
		exit.Signal = syscall.Signal(term.Signal)
		exit.Code = 128 + term.Signal
	} else {
		exit.Code = term.ExitCode
	}
	if exit.OOMKilled && exit.Code == 0 {
		exit.Code = 137
	}
	return exit
}

// ID returns the dyno's ID.
func (d *Dyno) ID() string { return d.id }

// AllocID returns the Nomad allocation the dyno runs in.
func (d *Dyno) AllocID() string { return d.allocID }

// Signal asks Nomad to deliver sig to the task's main process (bash), which
// forwards it to the process group the command runs in. SIGKILL cannot be
// forwarded: it ends bash, and Nomad then kills what is left of the task.
func (d *Dyno) Signal(ctx context.Context, sig syscall.Signal) error {
	select {
	case <-d.done:
		return fmt.Errorf("nomad: signal %s: %w", d.id, formation.ErrExited)
	default:
	}
	name := unix.SignalName(sig)
	if name == "" {
		return fmt.Errorf("nomad: signal %s: unknown signal %d", d.id, int(sig))
	}
	body := map[string]string{"Task": taskName, "Signal": name}
	_, err := d.rt.client().do(ctx, http.MethodPost, "/v1/client/allocation/"+d.allocID+"/signal", nil, body, nil)
	if err != nil {
		// The task may have ended between the check above and the call.
		select {
		case <-d.done:
			return fmt.Errorf("nomad: signal %s: %w", d.id, formation.ErrExited)
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
		}
		select {
		case <-d.done:
			return fmt.Errorf("nomad: signal %s: %w", d.id, formation.ErrExited)
		default:
		}
		return fmt.Errorf("nomad: signal %s: %w", d.id, err)
	}
	return nil
}

// Wait blocks until the dyno's task is dead and its output delivered.
func (d *Dyno) Wait(ctx context.Context) (formation.Exit, error) {
	select {
	case <-d.done:
		if d.err != nil {
			return d.exit, d.err
		}
		return d.exit, nil
	case <-ctx.Done():
		return formation.Exit{}, fmt.Errorf("nomad: wait %s: %w", d.id, ctx.Err())
	}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
