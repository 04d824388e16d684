package nomad

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/router"
)

// Scheduler runs each app's formation as one Nomad service job: a task
// group per process type whose count is the quantity. Nomad places,
// restarts and reschedules the dynos; the Scheduler only writes the job and
// reads back what Nomad observes. The zero value talks to the agent at
// $NOMAD_ADDR (or http://127.0.0.1:4646) with the defaults documented on
// each field; fields must not change after first use.
type Scheduler struct {
	// Address is the Nomad HTTP API. Empty means $NOMAD_ADDR, then
	// http://127.0.0.1:4646.
	Address string
	// Token is sent as X-Nomad-Token when set (ACLs).
	Token string
	// Namespace and Region of the jobs; empty means Nomad's defaults.
	Namespace, Region string
	// Datacenters the jobs may run in; empty means all ("*").
	Datacenters []string
	// JobPrefix is prepended to the app name to make its job ID; empty
	// means "dynokit-".
	JobPrefix string
	// Driver is the task driver. "exec" isolates each dyno (cgroups, a
	// chroot, its own PID namespace) and is what production clusters should
	// use; "raw_exec" runs dynos as the Nomad client's user, unisolated,
	// and must be enabled on the clients. Empty means: the driver the app's
	// job already uses (a re-Apply must not replace every dyno because a
	// node changed), else exec when a ready node has it healthy, else
	// raw_exec when one has that.
	Driver string
	// Shell is the bash the task runs; empty means /bin/bash.
	Shell string
	// DefaultMemoryMB is reserved (and enforced) for a process type without
	// Resources.MemoryBytes. Zero means 512.
	DefaultMemoryMB int
	// HealthCheckPath, when set, makes the web service's check an HTTP GET
	// of that path (2xx passes); empty means a TCP connect to the port.
	HealthCheckPath string
	// CheckInterval is how often Nomad runs the web check; zero means 5 s.
	CheckInterval time.Duration
	// RestartPolicy, ReschedulePolicy and UpdateStrategy replace the
	// policies of every task group (nil means DefaultRestart,
	// DefaultReschedule and DefaultUpdate).
	RestartPolicy    *RestartPolicy
	ReschedulePolicy *ReschedulePolicy
	UpdateStrategy   *UpdateStrategy
	// StdinAddr is where this process listens to hand an attached one-off
	// its stdin (see Runtime.StdinAddr); empty means 127.0.0.1:0.
	StdinAddr string
	// HTTPClient is used for API calls; nil means a client without timeout
	// (blocking queries and log streams are long).
	HTTPClient *http.Client
	// Logger receives warnings; nil discards.
	Logger *slog.Logger
}

var (
	_ formation.Scheduler   = (*Scheduler)(nil)
	_ formation.Restarter   = (*Scheduler)(nil)
	_ formation.LogFollower = (*Scheduler)(nil)
)

// The default policies approximate Heroku's handling of crashes.

// DefaultRestart restarts a crashed dyno at once the first time; a second
// crash within 20 minutes waits until those 20 minutes have passed (mode
// "delay"), then the count starts over. Heroku restarts the first crash at
// once and later ones after a cool-off of up to 20 minutes.
func DefaultRestart() RestartPolicy {
	return RestartPolicy{Attempts: 1, Interval: 20 * time.Minute, Delay: 0, Mode: "delay"}
}

// DefaultReschedule replaces allocations Nomad gives up on (a lost node, a
// failed placement): after 30 s, doubling up to one hour, without limit, as
// Heroku keeps a formation's dynos coming back.
func DefaultReschedule() ReschedulePolicy {
	return ReschedulePolicy{Unlimited: true, Delay: 30 * time.Second, DelayFunction: "exponential", MaxDelay: time.Hour}
}

// DefaultUpdate is a rolling deploy, one dyno of each process type at a
// time, each healthy for 10 s before the next; a dyno not healthy within 5
// minutes fails the deploy (no automatic revert: the platform decides).
func DefaultUpdate() UpdateStrategy {
	return UpdateStrategy{MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10 * time.Second,
		HealthyDeadline: 5 * time.Minute, ProgressDeadline: 10 * time.Minute}
}

// webPortLabel is the dynamic port of web dynos; the task sees it as
// NOMAD_PORT_http and gets it as PORT.
const webPortLabel = "http"

func (s *Scheduler) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Scheduler) client() *client {
	return newClient(s.Address, s.Token, s.Namespace, s.Region, s.HTTPClient)
}

// JobID is the Nomad job that runs app's formation.
func (s *Scheduler) JobID(app string) string { return cmp.Or(s.JobPrefix, "dynokit-") + app }

// ServiceName is the Nomad service under which app's web dynos register.
func (s *Scheduler) ServiceName(app string) string { return s.JobID(app) + "-web" }

// checkApp keeps app names usable in job IDs and service names (which
// Nomad restricts to DNS labels).
func (s *Scheduler) checkApp(app string) error {
	if app == "" {
		return errors.New("app name must not be empty")
	}
	for _, c := range app {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("app name %q contains %q (allowed: letters, digits, '-')", app, c)
		}
	}
	if n := len(s.ServiceName(app)); n > 63 {
		return fmt.Errorf("app name %q is too long for a Nomad service name (%d > 63)", app, n)
	}
	return nil
}

// Job returns the Nomad job Apply registers for d, with Driver, or exec
// when Driver is empty (Apply may then choose raw_exec: see Driver).
func (s *Scheduler) Job(d formation.Deployment) *Job {
	return s.buildJob(d, cmp.Or(s.Driver, "exec"))
}

func (s *Scheduler) buildJob(d formation.Deployment, driver string) *Job {
	types := make([]string, 0, len(d.Processes))
	for t := range d.Processes {
		types = append(types, t)
	}
	slices.Sort(types)
	grace := d.Grace
	if grace <= 0 {
		grace = formation.DefaultGrace
	}
	dcs := s.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	job := &Job{
		ID:          s.JobID(d.App),
		Name:        s.JobID(d.App),
		Type:        "service", // dynos run until stopped; an exit is a crash
		Datacenters: dcs,
		Namespace:   s.Namespace,
		Region:      s.Region,
		Meta:        map[string]string{"dynokit.app": d.App, "dynokit.release": strconv.Itoa(d.Release)},
	}
	for _, typ := range types {
		job.TaskGroups = append(job.TaskGroups, s.group(d, typ, d.Processes[typ], grace, driver))
	}
	return job
}

func (s *Scheduler) group(d formation.Deployment, typ string, p formation.ProcessSpec, grace time.Duration, driver string) *TaskGroup {
	env := map[string]string{"PATH": DefaultPath}
	for _, kv := range d.Env { // later entries win
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	delete(env, "DYNO") // set by the bootstrap from the allocation index
	verbatim := splitVerbatim(env)
	if typ == "web" {
		// Interpolated by Nomad: the port it picked for this allocation.
		env["PORT"] = "${NOMAD_PORT_" + webPortLabel + "}"
	}
	memMB := s.DefaultMemoryMB
	if memMB <= 0 {
		memMB = 512
	}
	if b := p.Resources.MemoryBytes; b > 0 {
		memMB = max(int((b+1<<20-1)>>20), 10) // Nomad's minimum is 10
	}
	opts := map[string]string{"archive": "tar.gz"}
	if sum := artifactChecksum(d.Slug.Digest); sum != "" {
		opts["checksum"] = sum
	}
	task := &Task{
		Name:   taskName,
		Driver: driver,
		Config: map[string]any{
			"command": cmp.Or(s.Shell, "/bin/bash"),
			// $0 is the process type (the prelude names the dyno from it);
			// no slug directory to copy, no stdin.
			"args": escapeArgs(append([]string{"-c", dynoPrelude + bootstrap, typ, p.Command, "", "", "", ""}, verbatim...)),
		},
		Env: env,
		// The slug's entries are ./app/..., so it unpacks into local/app.
		Artifacts:   []*Artifact{{GetterSource: d.Slug.URL, GetterOptions: opts, RelativeDest: "local/"}},
		KillTimeout: grace,
		KillSignal:  "SIGTERM",
		Resources:   &TaskResources{CPU: taskCPU(p.Resources), MemoryMB: memMB},
		LogConfig:   &LogConfig{MaxFiles: 10, MaxFileSizeMB: 10},
	}
	// Copies: a job must not alias the Scheduler's policies.
	restart, resched, update := DefaultRestart(), DefaultReschedule(), DefaultUpdate()
	if s.RestartPolicy != nil {
		restart = *s.RestartPolicy
	}
	if s.ReschedulePolicy != nil {
		resched = *s.ReschedulePolicy
	}
	if s.UpdateStrategy != nil {
		update = *s.UpdateStrategy
	}
	tg := &TaskGroup{
		Name:             typ,
		Count:            p.Quantity,
		RestartPolicy:    &restart,
		ReschedulePolicy: &resched,
		Update:           &update,
		// Read back by Dynos; changing them replaces the dynos, as a new
		// release does on Heroku.
		Meta:  map[string]string{"dynokit.command": p.Command, "dynokit.release": strconv.Itoa(d.Release)},
		Tasks: []*Task{task},
	}
	if p.Size != "" {
		tg.Meta["dynokit.size"] = p.Size
	}
	if typ == "web" {
		tg.Networks = []*Network{{DynamicPorts: []Port{{Label: webPortLabel}}}}
		interval := cmp.Or(s.CheckInterval, 5*time.Second)
		check := ServiceCheck{Name: "port", Type: "tcp", Interval: interval, Timeout: min(interval, 2*time.Second)}
		if s.HealthCheckPath != "" {
			check = ServiceCheck{Name: "http", Type: "http", Path: s.HealthCheckPath, Interval: interval, Timeout: min(interval, 2*time.Second)}
		}
		tg.Services = []*Service{{
			Name:      s.ServiceName(d.App),
			PortLabel: webPortLabel,
			Provider:  "nomad",
			Tags:      []string{"dynokit", "app=" + d.App},
			Checks:    []ServiceCheck{check},
		}}
	}
	return tg
}

// dynoPrelude runs before bootstrap in a formation job: DYNO is the process
// type ($0) and the allocation's index counted from 1 (Nomad counts from 0
// and reuses an index for the replacement of a dyno, as Heroku reuses
// web.1).
const dynoPrelude = `export DYNO="$0.$((NOMAD_ALLOC_INDEX + 1))"
`

// Apply registers the app's job; Nomad then starts, replaces (rolling, per
// the update policy) and stops dynos to match. A Deployment without
// process types purges the job.
func (s *Scheduler) Apply(ctx context.Context, d formation.Deployment) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("nomad: apply: %w", err)
	}
	if err := s.checkApp(d.App); err != nil {
		return fmt.Errorf("nomad: apply: %w", err)
	}
	if len(d.Processes) == 0 {
		// Nomad rejects a job without task groups.
		if err := s.Delete(ctx, d.App); err != nil {
			return fmt.Errorf("nomad: apply %s: %w", d.App, err)
		}
		return nil
	}
	c := s.client()
	driver, err := s.pickDriver(ctx, c, d.App)
	if err != nil {
		return fmt.Errorf("nomad: apply %s: %w", d.App, err)
	}
	var resp registerResponse
	if _, err := c.do(ctx, http.MethodPost, "/v1/jobs", nil, map[string]any{"Job": s.buildJob(d, driver)}, &resp); err != nil {
		return fmt.Errorf("nomad: apply %s: register job: %w", d.App, err)
	}
	return nil
}

// pickDriver resolves an empty Driver (see its documentation).
func (s *Scheduler) pickDriver(ctx context.Context, c *client, app string) (string, error) {
	if s.Driver != "" {
		return s.Driver, nil
	}
	var job struct {
		TaskGroups []struct{ Tasks []struct{ Driver string } }
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/job/"+url.PathEscape(s.JobID(app)), nil, nil, &job)
	switch {
	case err == nil:
		for _, tg := range job.TaskGroups {
			for _, t := range tg.Tasks {
				if t.Driver != "" {
					return t.Driver, nil
				}
			}
		}
	case !isStatus(err, http.StatusNotFound):
		return "", fmt.Errorf("choose a driver: read the job: %w", err)
	}
	var nodes []struct {
		Status                string
		SchedulingEligibility string
		Drivers               map[string]struct{ Detected, Healthy bool }
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/nodes", nil, nil, &nodes); err != nil {
		return "", fmt.Errorf("choose a driver: list nodes: %w", err)
	}
	for _, want := range []string{"exec", "raw_exec"} {
		for _, n := range nodes {
			if d := n.Drivers[want]; n.Status == "ready" && n.SchedulingEligibility == "eligible" && d.Detected && d.Healthy {
				return want, nil
			}
		}
	}
	return "exec", nil // Nomad's placement failure will say why
}

// jobGroups returns the task groups of the app's job, or ErrUnknown.
func (s *Scheduler) jobGroups(ctx context.Context, c *client, app string) (map[string]*TaskGroup, error) {
	var job struct {
		Stop       bool
		TaskGroups []*TaskGroup
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/job/"+url.PathEscape(s.JobID(app)), nil, nil, &job); err != nil {
		if isStatus(err, http.StatusNotFound) {
			return nil, fmt.Errorf("app %s: %w", app, formation.ErrUnknown)
		}
		return nil, err
	}
	if job.Stop {
		return nil, fmt.Errorf("app %s: job stopped: %w", app, formation.ErrUnknown)
	}
	groups := map[string]*TaskGroup{}
	for _, tg := range job.TaskGroups {
		groups[tg.Name] = tg
	}
	return groups, nil
}

// Scale sets one task group's count by registering the job again with
// only that count changed (Nomad's job scale API refuses while a deploy is
// rolling). The registration is conditional on the job's modify index, so
// a concurrent Apply is never overwritten with stale settings: Scale reads
// and tries again. A later Apply sets the Deployment's quantities again.
func (s *Scheduler) Scale(ctx context.Context, app, typ string, quantity int) error {
	if quantity < 0 || quantity > formation.MaxQuantity {
		return fmt.Errorf("nomad: scale %s %s: quantity %d must be from 0 to %d", app, typ, quantity, formation.MaxQuantity)
	}
	if err := s.checkApp(app); err != nil {
		return fmt.Errorf("nomad: scale: %w: %w", err, formation.ErrUnknown)
	}
	c := s.client()
	path := "/v1/job/" + url.PathEscape(s.JobID(app))
	for attempt := 0; ; attempt++ {
		// Kept as generic JSON so every field Nomad returns goes back as is.
		var job map[string]any
		if _, err := c.do(ctx, http.MethodGet, path, nil, nil, &job); err != nil {
			if isStatus(err, http.StatusNotFound) {
				return fmt.Errorf("nomad: scale %s: %w", app, formation.ErrUnknown)
			}
			return fmt.Errorf("nomad: scale %s %s: %w", app, typ, err)
		}
		if stop, _ := job["Stop"].(bool); stop {
			return fmt.Errorf("nomad: scale %s: job stopped: %w", app, formation.ErrUnknown)
		}
		found := false
		groups, _ := job["TaskGroups"].([]any)
		for _, g := range groups {
			if tg, ok := g.(map[string]any); ok && tg["Name"] == typ {
				tg["Count"] = quantity
				found = true
			}
		}
		if !found {
			return fmt.Errorf("nomad: scale %s: process type %s: %w", app, typ, formation.ErrUnknown)
		}
		req := map[string]any{"Job": job, "EnforceIndex": true, "JobModifyIndex": job["JobModifyIndex"]}
		_, err := c.do(ctx, http.MethodPost, "/v1/jobs", nil, req, nil)
		if err == nil {
			return nil
		}
		if attempt < 5 && strings.Contains(err.Error(), "Enforcing job modify index") {
			continue // changed since read
		}
		return fmt.Errorf("nomad: scale %s %s: %w", app, typ, err)
	}
}

// Delete purges the app's job: Nomad stops its dynos (SIGTERM, then
// SIGKILL after the grace) and forgets the job.
func (s *Scheduler) Delete(ctx context.Context, app string) error {
	if err := s.checkApp(app); err != nil {
		return nil // no job can have been applied under that name
	}
	c := s.client()
	_, err := c.do(ctx, http.MethodDelete, "/v1/job/"+url.PathEscape(s.JobID(app)), url.Values{"purge": {"true"}}, nil, nil)
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("nomad: delete %s: %w", app, err)
	}
	// The app's running one-offs (RunOneOff). The prefix alone could match
	// another app's ("a" and "a-run"), hence the meta check.
	var jobs []struct {
		ID   string
		Meta map[string]string
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/jobs", url.Values{"prefix": {s.JobID(app) + "-run-"}, "meta": {"true"}}, nil, &jobs); err != nil {
		return fmt.Errorf("nomad: delete %s: list one-offs: %w", app, err)
	}
	for _, j := range jobs {
		if j.Meta["dynokit.app"] != app || j.Meta["dynokit.type"] != "run" {
			continue
		}
		if err := s.stopOneOff(ctx, c, j.ID); err != nil {
			return fmt.Errorf("nomad: delete %s: one-off %s: %w", app, j.ID, err)
		}
	}
	return nil
}

// stopOneOff stops a one-off's job, waits for its allocations to end, then
// purges it. Stopping first updates the allocations, which wakes the
// Runtime watching the dyno (a purge alone deletes them, and a blocking
// query on a deleted allocation only returns at its timeout).
func (s *Scheduler) stopOneOff(ctx context.Context, c *client, jobID string) error {
	path := "/v1/job/" + url.PathEscape(jobID)
	if _, err := c.do(ctx, http.MethodDelete, path, nil, nil, nil); err != nil {
		if isStatus(err, http.StatusNotFound) {
			return nil
		}
		return err
	}
	for {
		var allocs []allocation
		if _, err := c.do(ctx, http.MethodGet, path+"/allocations", nil, nil, &allocs); err != nil && !isStatus(err, http.StatusNotFound) {
			return err
		}
		if !slices.ContainsFunc(allocs, func(a allocation) bool { return !terminal(&a) }) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, err := c.do(ctx, http.MethodDelete, path, url.Values{"purge": {"true"}}, nil, nil); err != nil && !isStatus(err, http.StatusNotFound) {
		return err
	}
	return nil
}

// allocs lists the app's allocations with their allocated ports.
func (s *Scheduler) allocs(ctx context.Context, c *client, app string) ([]allocation, error) {
	q := url.Values{"resources": {"true"}, "filter": {fmt.Sprintf("JobID == %q", s.JobID(app))}}
	var list []allocation
	if _, err := c.do(ctx, http.MethodGet, "/v1/allocations", q, nil, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// current reports whether an allocation is one of the dynos Nomad means to
// run: not stopped or evicted, and not a failed one already replaced.
func current(a *allocation) bool {
	return a.DesiredStatus == "run" && !(terminal(a) && a.NextAllocation != "")
}

// allocIndex is the index in "<job>.<group>[<index>]".
func allocIndex(name string) int {
	i := strings.LastIndexByte(name, '[')
	if i < 0 || !strings.HasSuffix(name, "]") {
		return 0
	}
	n, _ := strconv.Atoi(name[i+1 : len(name)-1])
	return n
}

// Dynos lists the app's current allocations as dynos (see the package
// documentation for how their states map onto formation's).
func (s *Scheduler) Dynos(ctx context.Context, app string) ([]formation.DynoStatus, error) {
	if s.checkApp(app) != nil {
		return nil, nil
	}
	c := s.client()
	list, err := s.allocs(ctx, c, app)
	if err != nil {
		return nil, fmt.Errorf("nomad: dynos of %s: %w", app, err)
	}
	var versions map[uint64]*versionInfo
	var out []formation.DynoStatus
	for i := range list {
		a := &list[i]
		if !current(a) {
			continue
		}
		if versions == nil {
			if versions, err = s.versions(ctx, c, app); err != nil {
				return nil, fmt.Errorf("nomad: dynos of %s: %w", app, err)
			}
		}
		st := formation.DynoStatus{
			ID:   a.ID,
			App:  app,
			Name: formation.DynoName(a.TaskGroup, allocIndex(a.Name)+1),
			Type: a.TaskGroup,
			Addr: allocAddr(a),
		}
		if v := versions[a.JobVersion]; v != nil {
			st.Release = v.release[a.TaskGroup]
			st.Command = v.command[a.TaskGroup]
		}
		ts := a.TaskStates[taskName]
		if ts != nil {
			st.StartedAt = ts.StartedAt
		}
		st.State, st.RestartAt = allocState(a)
		if st.State == formation.StateUp && a.TaskGroup == "web" {
			// Up once its checks pass, as the Reconciler waits for the port.
			if ok, err := s.checksPass(ctx, c, a.ID); err != nil || !ok {
				st.State = formation.StateStarting
			}
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b formation.DynoStatus) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(dynoIndex(a.Name), dynoIndex(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func dynoIndex(name string) int {
	_, n, _ := strings.Cut(name, ".")
	i, _ := strconv.Atoi(n)
	return i
}

// allocState maps an allocation onto a formation state and, for a crashed
// dyno Nomad will restart, when.
func allocState(a *allocation) (formation.State, time.Time) {
	ts := a.TaskStates[taskName]
	switch a.ClientStatus {
	case "failed", "lost":
		return formation.StateCrashed, time.Time{}
	case "complete":
		return formation.StateDown, time.Time{}
	}
	if ts == nil {
		return formation.StateStarting, time.Time{}
	}
	if ts.State == "dead" {
		return formation.StateCrashed, time.Time{}
	}
	if ts.State == "pending" && ts.Restarts > 0 {
		// Between a crash and Nomad's restart of it.
		for i := len(ts.Events) - 1; i >= 0; i-- {
			if e := ts.Events[i]; e.Type == "Restarting" {
				delay, _ := strconv.ParseInt(e.Details["start_delay"], 10, 64)
				return formation.StateCrashed, time.Unix(0, e.Time).Add(time.Duration(delay))
			}
		}
		return formation.StateCrashed, time.Time{}
	}
	if ts.State == "running" {
		return formation.StateUp, time.Time{}
	}
	return formation.StateStarting, time.Time{}
}

func allocAddr(a *allocation) string {
	if a.AllocatedResources == nil {
		return ""
	}
	for _, p := range a.AllocatedResources.Shared.Ports {
		if p.Label == webPortLabel && p.Value != 0 {
			return net.JoinHostPort(p.HostIP, strconv.Itoa(p.Value))
		}
	}
	return ""
}

// versionInfo is what Dynos reads from one version of the job.
type versionInfo struct {
	release map[string]int    // by task group
	command map[string]string // by task group
}

// versions reads the job's recent versions (Nomad keeps a few), so an
// allocation of an older version still shows its release and command.
func (s *Scheduler) versions(ctx context.Context, c *client, app string) (map[uint64]*versionInfo, error) {
	var resp struct {
		Versions []struct {
			Version    uint64
			TaskGroups []struct {
				Name string
				Meta map[string]string
			}
		}
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/job/"+url.PathEscape(s.JobID(app))+"/versions", nil, nil, &resp); err != nil {
		if isStatus(err, http.StatusNotFound) {
			return map[uint64]*versionInfo{}, nil // purged since the allocations were listed
		}
		return nil, err
	}
	out := map[uint64]*versionInfo{}
	for _, v := range resp.Versions {
		vi := &versionInfo{release: map[string]int{}, command: map[string]string{}}
		for _, tg := range v.TaskGroups {
			vi.release[tg.Name], _ = strconv.Atoi(tg.Meta["dynokit.release"])
			vi.command[tg.Name] = tg.Meta["dynokit.command"]
		}
		out[v.Version] = vi
	}
	return out, nil
}

// checksPass reports whether every check Nomad's client runs for the
// allocation has passed its latest run (false before the first run).
func (s *Scheduler) checksPass(ctx context.Context, c *client, allocID string) (bool, error) {
	var checks map[string]struct{ Status string }
	if _, err := c.do(ctx, http.MethodGet, "/v1/client/allocation/"+allocID+"/checks", nil, nil, &checks); err != nil {
		return false, err
	}
	if len(checks) == 0 {
		return false, nil
	}
	for _, ch := range checks {
		if ch.Status != "success" {
			return false, nil
		}
	}
	return true, nil
}

// WebBackends returns the app's web dynos whose health checks pass, with
// the addresses they registered in Nomad's service catalogue: the input of
// router.SetBackends.
func (s *Scheduler) WebBackends(ctx context.Context, app string) ([]router.Dyno, error) {
	if s.checkApp(app) != nil {
		return nil, nil
	}
	c := s.client()
	var regs []struct {
		AllocID string
		Address string
		Port    int
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/service/"+url.PathEscape(s.ServiceName(app)), nil, nil, &regs); err != nil {
		if isStatus(err, http.StatusNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("nomad: web backends of %s: %w", app, err)
	}
	if len(regs) == 0 {
		return nil, nil
	}
	list, err := s.allocs(ctx, c, app)
	if err != nil {
		return nil, fmt.Errorf("nomad: web backends of %s: %w", app, err)
	}
	names := map[string]string{}
	for i := range list {
		if a := &list[i]; current(a) && a.ClientStatus == "running" {
			names[a.ID] = formation.DynoName(a.TaskGroup, allocIndex(a.Name)+1)
		}
	}
	var out []router.Dyno
	for _, r := range regs {
		name, ok := names[r.AllocID]
		if !ok {
			continue // being stopped, or its registration outlived it
		}
		if pass, err := s.checksPass(ctx, c, r.AllocID); err != nil || !pass {
			continue
		}
		out = append(out, router.Dyno{ID: r.AllocID, Name: name, Addr: net.JoinHostPort(r.Address, strconv.Itoa(r.Port))})
	}
	slices.SortFunc(out, func(a, b router.Dyno) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// FeedRouter keeps r's backends for app equal to WebBackends, polling every
// interval (zero means 1 s; check results change no index Nomad could block
// on), until ctx is done. API errors are logged and retried.
func (s *Scheduler) FeedRouter(ctx context.Context, r *router.Router, app string, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Second
	}
	var last []router.Dyno
	first := true
	for {
		bs, err := s.WebBackends(ctx, app)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.logger().Warn("nomad: feed router", "app", app, "err", err)
		} else if first || !slices.Equal(bs, last) {
			if err := r.SetBackends(app, bs); err != nil {
				return fmt.Errorf("nomad: feed router %s: %w", app, err)
			}
			last, first = bs, false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// Restart restarts the app's running dynos in place (Nomad's allocation
// restart: SIGTERM, the job's kill_timeout, SIGKILL, then the task starts
// again in the same allocation with the same port), those of the given
// process types or all. A restart does not count against the restart
// policy.
//
// Known Nomad limitation (seen with 1.10.5, raw_exec): Nomad's log
// collector (logmon) sometimes never collects the restarted task's output.
// Its Start keeps the old collector when that has not yet read EOF from the
// task's FIFO; the old one then reads EOF, stops copying and keeps the FIFO
// open. The output reaches neither Nomad's log files nor FollowLogs, and
// a dyno writing more than the pipe buffer (64 KiB) would then block on
// the unread FIFO. A CPU-starved client makes this likely; the next
// restart starts a new collector.
func (s *Scheduler) Restart(ctx context.Context, app string, types ...string) error {
	if err := s.checkApp(app); err != nil {
		return fmt.Errorf("nomad: restart: %w: %w", err, formation.ErrUnknown)
	}
	c := s.client()
	groups, err := s.jobGroups(ctx, c, app)
	if err != nil {
		return fmt.Errorf("nomad: restart %s: %w", app, err)
	}
	for _, t := range types {
		if groups[t] == nil {
			return fmt.Errorf("nomad: restart %s: process type %s: %w", app, t, formation.ErrUnknown)
		}
	}
	list, err := s.allocs(ctx, c, app)
	if err != nil {
		return fmt.Errorf("nomad: restart %s: %w", app, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(list))
	for i := range list {
		a := &list[i]
		if !current(a) || a.ClientStatus != "running" || (len(types) > 0 && !slices.Contains(types, a.TaskGroup)) {
			continue
		}
		wg.Add(1)
		go func() { // all at once, as heroku ps:restart does
			defer wg.Done()
			_, err := c.do(ctx, http.MethodPost, "/v1/client/allocation/"+a.ID+"/restart", nil, map[string]string{"TaskName": taskName}, nil)
			if err != nil && !isStatus(err, http.StatusNotFound) {
				errs[i] = fmt.Errorf("%s: %w", a.Name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nomad: restart %s: %w", app, err)
	}
	return nil
}

// FollowLogs streams the output of each of the app's dynos, from its first
// byte, to the writers out returns for it (called once per allocation, as
// allocations appear; a dyno Nomad restarts in place keeps its
// allocation and its stream), until ctx is done.
func (s *Scheduler) FollowLogs(ctx context.Context, app string, out func(dyno string) formation.Stdio) error {
	if err := s.checkApp(app); err != nil {
		return fmt.Errorf("nomad: follow logs: %w", err)
	}
	c := s.client()
	type follower struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	following := map[string]*follower{}
	defer func() {
		for _, f := range following {
			f.cancel()
			<-f.done
		}
	}()
	var idx uint64
	for ctx.Err() == nil {
		var list []allocation
		i, err := c.block(ctx, "/v1/job/"+url.PathEscape(s.JobID(app))+"/allocations", idx, &list)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			s.logger().Warn("nomad: follow logs: list allocations", "app", app, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if i == idx || i == 0 {
			if i == 0 { // no index to block on: do not spin
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		idx = i
		listed := map[string]bool{}
		for k := range list {
			listed[list[k].ID] = true
		}
		for id, f := range following {
			if !listed[id] {
				f.cancel() // garbage-collected: nothing left to read
			}
		}
		for k := range list {
			a := &list[k]
			f := following[a.ID]
			switch {
			case f == nil && a.DesiredStatus == "run" && !terminal(a):
				stdio := out(formation.DynoName(a.TaskGroup, allocIndex(a.Name)+1))
				fctx, cancel := context.WithCancel(ctx)
				f = &follower{cancel: cancel, done: make(chan struct{})}
				following[a.ID] = f
				go func(id string) {
					defer close(f.done)
					followAlloc(ctx, fctx, c, id, stdio)
				}(a.ID)
			case f != nil && terminal(a):
				// followAlloc drains what is left once its context ends.
				f.cancel()
			}
		}
	}
	return nil
}

// followAlloc streams one allocation's stdout and stderr until ctx ends.
// When it ended because the allocation did (parent still live), it then
// reads what the live streams had not delivered yet.
func followAlloc(parent, ctx context.Context, c *client, allocID string, stdio formation.Stdio) {
	var wg sync.WaitGroup
	var streams []*logStream
	for _, s := range []*logStream{{kind: "stdout", w: stdio.Stdout}, {kind: "stderr", w: stdio.Stderr}} {
		if s.w == nil {
			continue
		}
		streams = append(streams, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.follow(ctx, c, allocID)
		}()
	}
	wg.Wait()
	if parent.Err() != nil {
		return
	}
	for _, s := range streams {
		s.drain(parent, c, allocID)
	}
}
