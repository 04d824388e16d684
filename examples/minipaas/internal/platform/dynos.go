package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/slug"
)

// Dyno is one dyno as `heroku ps` shows it.
type Dyno struct {
	ID        string
	Name      string // "web.1", "run.4821"
	Type      string
	State     formation.State
	Command   string
	Release   int
	Size      string
	Addr      string    // host:port of a web dyno
	UpdatedAt time.Time // when the dyno started
	// OneOff marks a one-off dyno: heroku run's (type "run"), the release
	// phase's ("release") or a scheduled job's ("scheduler").
	OneOff bool
}

// setFormation hands the Reconciler the app's desired formation at rel:
// every process type of the release with its recorded scale ("release" is
// the release phase, never a long-running process). A release without a
// slug (config set before the first deploy) runs nothing.
func (p *Platform) setFormation(rec appRecord, rel release.Release) error {
	if rel.Slug.IsZero() {
		return nil
	}
	// Any change to the formation wakes a sleeping Eco app (sleep.go).
	p.routeMu.Lock()
	p.webAppLocked(rec.Name).sleeping = false
	p.routeMu.Unlock()
	f := p.formationOf(rec, rel)
	if err := p.rec.Set(f); err != nil {
		return fmt.Errorf("set formation: %w", err)
	}
	p.noteWebScale(rec.Name, f.Processes["web"].Quantity)
	return nil
}

// formationOf is the Reconciler's formation of rec at release rel.
func (p *Platform) formationOf(rec appRecord, rel release.Release) formation.Formation {
	procs := map[string]formation.Process{}
	for t, pr := range rec.Formation {
		if _, ok := rel.ProcessTypes[t]; ok && t != "release" {
			procs[t] = pr
		}
	}
	strategy := p.cfg.Strategy
	if rec.Preboot {
		strategy = formation.Preboot
	}
	return formation.Formation{App: rec.Name, Release: rel.Version, Processes: procs, Strategy: strategy}
}

// dynoSpec is the Reconciler's SpecFunc: the release's command and config
// vars, PORT and DYNO, and the slug extracted for it.
func (p *Platform) dynoSpec(ctx context.Context, req formation.SpecRequest) (formation.DynoSpec, error) {
	id, ok := p.appID(req.App)
	if !ok {
		return formation.DynoSpec{}, fmt.Errorf("platform: dyno %s of %s: app no longer exists", req.Name, req.App)
	}
	rel, err := p.rels.Get(ctx, id, req.Release)
	if err != nil {
		return formation.DynoSpec{}, fmt.Errorf("platform: dyno %s of %s: release v%d: %w", req.Name, req.App, req.Release, err)
	}
	dir, err := p.slugDir(ctx, id, rel.Slug)
	if err != nil {
		return formation.DynoSpec{}, fmt.Errorf("platform: dyno %s of %s: %w", req.Name, req.App, err)
	}
	cmd := req.Command
	if cmd == "" {
		if cmd, ok = rel.ProcessTypes[req.Type]; !ok {
			return formation.DynoSpec{}, fmt.Errorf("platform: dyno %s of %s: release v%d has no process type %q", req.Name, req.App, rel.Version, req.Type)
		}
	}
	env := make([]string, 0, len(rel.Config)+len(req.Env)+2)
	for _, k := range rel.Config.Names() {
		env = append(env, k+"="+rel.Config[k])
	}
	if _, rec, err := p.entry(req.App); err == nil && rec.DynoMetadata {
		env = append(env, p.dynoMetadata(rec, req.ID, rel)...)
	}
	env = append(env, req.Env...)
	spec := formation.DynoSpec{Command: cmd, SlugDir: dir, Resources: resourcesFor(req.Size)}
	// Every dyno gets a PORT, as on Heroku (release and one-off scripts
	// read it too); only a web dyno's is routed to and checked at boot.
	port, err := freePort()
	if err != nil {
		return formation.DynoSpec{}, fmt.Errorf("platform: dyno %s of %s: %w", req.Name, req.App, err)
	}
	env = append(env, "PORT="+strconv.Itoa(port))
	if req.Type == "web" {
		spec.Port = port
	}
	spec.Env = append(env, "DYNO="+req.Name)
	return spec, nil
}

// freePort asks the kernel for an unused loopback port. Another process
// could take it before the dyno binds; the boot check then fails and the
// dyno is restarted with a new port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// slugDir returns the directory the slug is extracted to, extracting it on
// first use. Every dyno of every release sharing the slug starts from it;
// the local runtime copies it per dyno, so it stays read-only.
func (p *Platform) slugDir(ctx context.Context, appID string, ref release.SlugRef) (string, error) {
	if ref.IsZero() {
		return "", ErrNoRelease
	}
	d, err := slug.ParseDigest(ref.Checksum)
	if err != nil {
		return "", fmt.Errorf("slug checksum: %w", err)
	}
	dir := filepath.Join(p.cfg.DataDir, "apps", appID, "slugs", d.Hex())
	p.extractMu.Lock()
	defer p.extractMu.Unlock()
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", fmt.Errorf("extract slug: %w", err)
	}
	rc, _, err := p.slugs.Open(ctx, d)
	if err != nil {
		return "", fmt.Errorf("open slug %s: %w", d, err)
	}
	defer rc.Close()
	if _, err := slug.Extract(ctx, rc, dir, slug.ExtractOptions{Want: d, Logger: p.log}); err != nil {
		return "", fmt.Errorf("extract slug %s: %w", d, err)
	}
	return dir, nil
}

// dynoOutput sends a dyno's stdout and stderr into the app's log stream,
// as app[web.1] lines.
func (p *Platform) dynoOutput(app, dyno string) formation.Stdio {
	id, ok := p.appID(app)
	if !ok {
		return formation.Stdio{}
	}
	w := logplex.NewLineWriter(p.logs, logplex.Message{App: id, Source: logplex.SourceApp, Proc: dyno})
	return formation.Stdio{Stdout: w, Stderr: w}
}

// Scale sets the quantity of process types ("web": 3). Types must exist in
// the current release; quantities are 0 to formation.MaxQuantity.
func (p *Platform) Scale(ctx context.Context, app string, quantities map[string]int) error {
	e, _, err := p.lockApp(app)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	cur, err := p.current(ctx, app)
	if err != nil {
		return err
	}
	for _, t := range slices.Sorted(maps.Keys(quantities)) {
		q := quantities[t]
		if t == "release" {
			return &ScaleError{App: app, Reason: "the release process type runs once per release, as its release phase, and cannot be scaled"}
		}
		if _, ok := cur.ProcessTypes[t]; !ok {
			return fmt.Errorf("platform: scale %s: no process type %q in release v%d (types: %s): %w", app, t, cur.Version, strings.Join(runnableTypes(cur), ", "), ErrNotFound)
		}
		if q < 0 || q > formation.MaxQuantity {
			return &ScaleError{App: app, Reason: fmt.Sprintf("%s=%d: quantity must be from 0 to %d", t, q, formation.MaxQuantity)}
		}
	}
	rec, err := p.updateApp(ctx, e, func(r *appRecord) error {
		for t, q := range quantities {
			pr := r.Formation[t]
			pr.Quantity = q
			r.Formation[t] = pr
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("platform: scale %s: %w", app, err)
	}
	if err := p.setFormation(rec, cur); err != nil {
		return fmt.Errorf("platform: scale %s: %w", app, err)
	}
	p.apiLog(rec.ID, scaledLine(rec.Formation, slices.Collect(maps.Keys(quantities)), p.userOf(ctx)))
	p.emitFormation(ctx, rec.ID, app, p.userOf(ctx), slices.Collect(maps.Keys(quantities)))
	return nil
}

// ScaleError is a scale request the platform refuses as given.
type ScaleError struct {
	App, Reason string
}

func (e *ScaleError) Error() string { return fmt.Sprintf("platform: scale %s: %s", e.App, e.Reason) }

// scaledLine is Heroku's app[api] line for a formation change, naming the
// changed types with their quantity and size: "Scaled to web@2:Standard-1X
// worker@1:Basic by user@example.com", sizes as SizeLabel shows them.
func scaledLine(f map[string]formation.Process, types []string, user string) string {
	var b strings.Builder
	b.WriteString("Scaled to")
	for _, t := range slices.Sorted(slices.Values(types)) {
		fmt.Fprintf(&b, " %s@%d:%s", t, f[t].Quantity, SizeLabel(f[t].Size))
	}
	b.WriteString(" by ")
	b.WriteString(user)
	return b.String()
}

func runnableTypes(r release.Release) []string {
	var ts []string
	for t := range r.ProcessTypes {
		if t != "release" {
			ts = append(ts, t)
		}
	}
	slices.Sort(ts)
	return ts
}

// Restart replaces the app's dynos (heroku ps:restart): all of them, those
// of a process type ("web"), or one dyno ("web.1"), which must exist.
func (p *Platform) Restart(ctx context.Context, app, typ string) error {
	if _, _, err := p.entry(app); err != nil {
		return err
	}
	if typ == "" {
		p.rec.Restart(app)
		return nil
	}
	if strings.Contains(typ, ".") {
		if !p.rec.RestartDyno(app, typ) {
			return fmt.Errorf("platform: restart %s: no dyno %q: %w", app, typ, ErrNotFound)
		}
		return nil
	}
	if !slices.ContainsFunc(p.rec.Dynos(app), func(d formation.DynoStatus) bool { return !d.OneOff && d.Type == typ }) {
		return fmt.Errorf("platform: restart %s: no dyno matches %q: %w", app, typ, ErrNotFound)
	}
	p.rec.Restart(app, typ)
	return nil
}

// Stop stops dynos (heroku ps:stop). name is a one-off dyno ("run.4821"),
// which stops for good, or a formation dyno or process type ("web.1",
// "web"), which Heroku's Common Runtime restarts at once after stopping:
// here it is replaced, as by Restart.
func (p *Platform) Stop(ctx context.Context, app, name string) error {
	if _, _, err := p.entry(app); err != nil {
		return err
	}
	if o, ok := p.rec.LookupOneOff(app, name); ok {
		// Bounded by the grace period; the caller need not wait for it.
		go o.Stop(context.WithoutCancel(ctx))
		return nil
	}
	return p.Restart(ctx, app, name)
}

// Dynos lists the app's dynos, formation and one-off, sorted by name.
func (p *Platform) Dynos(ctx context.Context, app string) ([]Dyno, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return nil, err
	}
	var out []Dyno
	for _, d := range p.rec.Dynos(app) {
		out = append(out, Dyno{
			ID: d.ID, Name: d.Name, Type: d.Type, State: d.State, Command: d.Command,
			Release: d.Release, Size: dynoSize(d, rec), Addr: d.Addr, UpdatedAt: d.StartedAt, OneOff: d.OneOff,
		})
	}
	return append(out, p.idleDynos(ctx, rec, out)...), nil
}

// dynoSize is the size heroku ps shows: a one-off's own, a formation
// dyno's type's (a resize shows at once, while the dynos are replaced).
func dynoSize(d formation.DynoStatus, rec appRecord) string {
	if d.OneOff {
		return d.Size
	}
	return rec.Formation[d.Type].Size
}

// OneOffIO attaches a one-off dyno like a terminal (heroku run).
type OneOffIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Env is merged onto the config vars ("heroku run --env").
	Env []string
	// Terminal, when set, runs the dyno on a pseudo-terminal of that size
	// (formation.DynoSpec.Terminal): Stdin is a terminal's keystrokes and
	// all output goes to Stdout. A runtime without terminals runs the dyno
	// without one; Stdin then gets a terminal's two essentials: a carriage
	// return ends a line and ^D (0x04) ends the input.
	Terminal *formation.Terminal
	// Name is the dyno's name if set (from NewRunName, announced before
	// the dyno starts); should another dyno have it by then, the dyno
	// gets a fresh one.
	Name string
	OneOffLimits
}

// OneOffLimits are what heroku run and run:detached may ask of a one-off
// dyno beyond its command.
type OneOffLimits struct {
	// Size is the dyno size ("standard-2x"; heroku run --size), with its
	// limits; empty runs unsized (Basic). Unknown sizes are refused.
	Size string
	// TTL, when positive, stops the dyno that long after it starts
	// (time_to_live; Heroku's maximum is MaxOneOffTTL).
	TTL time.Duration
}

// MaxOneOffTTL is the longest time_to_live Heroku accepts for a one-off.
const MaxOneOffTTL = 24 * time.Hour

// CheckOneOff validates a one-off's size and time to live (0: none) and
// returns the size's canonical name; errors are *FieldError.
func CheckOneOff(size string, ttl time.Duration) (string, error) {
	if ttl < 0 || ttl > MaxOneOffTTL {
		return "", &FieldError{Field: "time_to_live", Reason: fmt.Sprintf("must be between 1 and %d seconds", int(MaxOneOffTTL/time.Second))}
	}
	if size == "" {
		return "", nil
	}
	s, ok := LookupDynoSize(size)
	if !ok {
		return "", &FieldError{Field: "size", Reason: fmt.Sprintf("%q is not a dyno size (sizes: %s)", size, sizeNames())}
	}
	return s.Name, nil
}

// stopAfter stops o ttl after now unless it has exited by then.
func stopAfter(o *formation.OneOff, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ttl)
		defer cancel()
		if _, err := o.Wait(ctx); err != nil {
			_, _ = o.Stop(context.Background())
		}
	}()
}

// NewRunName picks a name ("run.N") for a one-off of app to start later:
// heroku run's API answer names the dyno before the CLI attaches.
func (p *Platform) NewRunName(app string) string { return p.rec.OneOffName(app) }

// RunOneOff runs command in a one-off dyno of the current release and
// returns its exit status. Cancelling ctx stops the dyno.
func (p *Platform) RunOneOff(ctx context.Context, app, command string, stdio OneOffIO) (int, error) {
	if strings.TrimSpace(command) == "" {
		return -1, fmt.Errorf("platform: run on %s: command is empty", app)
	}
	cur, err := p.current(ctx, app)
	if err != nil {
		return -1, err
	}
	if cur.Slug.IsZero() {
		return -1, fmt.Errorf("platform: run on %s: %w", app, ErrNoRelease)
	}
	if stdio.Size, err = CheckOneOff(stdio.Size, stdio.TTL); err != nil {
		return -1, err
	}
	return p.oneOff(ctx, app, "run", cur.Version, command, stdio)
}

// oneOff runs command attached in a one-off dyno of type typ ("run", or
// "release" for the release phase: Heroku names its dyno release.N).
func (p *Platform) oneOff(ctx context.Context, app, typ string, version int, command string, stdio OneOffIO) (int, error) {
	req := formation.OneOffRequest{
		App: app, Release: version, Type: typ, Command: command, Env: stdio.Env,
		Attach: true, Stdin: stdio.Stdin, Stdout: orDiscard(stdio.Stdout), Stderr: orDiscard(stdio.Stderr),
		Terminal: stdio.Terminal, Name: stdio.Name, Size: stdio.Size,
	}
	noTerminal := func() {
		req.Terminal = nil
		if req.Stdin != nil {
			req.Stdin = &keystrokes{r: req.Stdin}
		}
	}
	if req.Terminal != nil && p.noTerminals.Load() {
		noTerminal()
	}
	o, err := p.rec.RunOneOff(ctx, req)
	if req.Name != "" && errors.Is(err, formation.ErrExists) {
		req.Name = "" // taken since it was announced
		o, err = p.rec.RunOneOff(ctx, req)
	}
	if errors.Is(err, formation.ErrNoTerminal) {
		// Learnt once: later runs skip the failing start.
		p.noTerminals.Store(true)
		p.log.Info("platform: one-off dynos run without a terminal: the runtime has none", "app", app)
		noTerminal()
		o, err = p.rec.RunOneOff(ctx, req)
	}
	if err != nil {
		return -1, fmt.Errorf("platform: run on %s: %w", app, err)
	}
	stopAfter(o, stdio.TTL)
	exit, err := o.Wait(ctx)
	if err != nil {
		// ctx ended: stop the dyno, without a deadline of its own since
		// Stop is bounded by the grace period.
		exit, _ = o.Stop(context.WithoutCancel(ctx))
		return exit.Code, fmt.Errorf("platform: run on %s: %w", app, err)
	}
	return exit.Code, nil
}

// RunDetached starts command in a one-off dyno whose output goes to the
// app's logs (heroku run:detached) and returns the dyno's name. It runs
// until it exits, its TTL passes or the platform stops.
func (p *Platform) RunDetached(ctx context.Context, app, command string, lim OneOffLimits) (string, error) {
	size, err := CheckOneOff(lim.Size, lim.TTL)
	if err != nil {
		return "", err
	}
	return p.runDetached(ctx, app, "run", command, size, lim.TTL)
}

// runDetached is RunDetached of a one-off of type typ ("scheduler" for
// scheduled jobs, named scheduler.N as on Heroku).
func (p *Platform) runDetached(ctx context.Context, app, typ, command, size string, ttl time.Duration) (string, error) {
	if strings.TrimSpace(command) == "" {
		return "", fmt.Errorf("platform: run on %s: command is empty", app)
	}
	cur, err := p.current(ctx, app)
	if err != nil {
		return "", err
	}
	if cur.Slug.IsZero() {
		return "", fmt.Errorf("platform: run on %s: %w", app, ErrNoRelease)
	}
	o, err := p.rec.RunOneOff(ctx, formation.OneOffRequest{App: app, Release: cur.Version, Type: typ, Command: command, Size: size})
	if err != nil {
		return "", fmt.Errorf("platform: run on %s: %w", app, err)
	}
	stopAfter(o, ttl)
	return o.Name, nil
}

// runReleasePhase is the release.Manager's PhaseFunc: the "release"
// command in a one-off dyno of the new (pending) release.
func (p *Platform) runReleasePhase(ctx context.Context, r release.Release, out io.Writer) (int, error) {
	name, ok := p.appName(r.App)
	if !ok {
		return -1, errors.New("app no longer exists")
	}
	p.apiLog(r.App, fmt.Sprintf("Running release %s commands by %s", r.Name(), r.User))
	out, done := p.recordPhase(r, orDiscard(out))
	defer done()
	if started, ok := ctx.Value(phaseStartedKey{}).(func(release.Release)); ok {
		started(releaseOf(r, name))
	}
	return p.oneOff(ctx, name, "release", r.Version, r.ProcessTypes["release"], OneOffIO{Stdout: out, Stderr: out})
}

// current returns the app's newest succeeded release, rewritten with its
// name; an app without releases is ErrNoRelease.
func (p *Platform) current(ctx context.Context, app string) (release.Release, error) {
	id, ok := p.appID(app)
	if !ok {
		return release.Release{}, fmt.Errorf("platform: app %q: %w", app, ErrNotFound)
	}
	cur, err := p.rels.Current(ctx, id)
	if errors.Is(err, release.ErrNotFound) {
		return release.Release{}, fmt.Errorf("platform: app %q: %w", app, ErrNoRelease)
	}
	if err != nil {
		return release.Release{}, fmt.Errorf("platform: app %q: current release: %w", app, err)
	}
	return releaseOf(cur, app), nil
}

// FormationEntry is the scale of one process type of the current release
// (what GET /apps/{app}/formation lists).
type FormationEntry struct {
	Type      string
	Command   string
	Quantity  int
	Size      string
	UpdatedAt time.Time
}

// Formation lists the process types of the app's current release with
// their scale, sorted by type. An app without a deploy has none.
func (p *Platform) Formation(ctx context.Context, app string) ([]FormationEntry, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return nil, err
	}
	cur, err := p.current(ctx, app)
	if errors.Is(err, ErrNoRelease) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []FormationEntry
	for _, t := range runnableTypes(cur) {
		pr := rec.Formation[t]
		out = append(out, FormationEntry{Type: t, Command: cur.ProcessTypes[t], Quantity: pr.Quantity, Size: pr.Size, UpdatedAt: rec.UpdatedAt})
	}
	return out, nil
}

// keystrokes reads a terminal's raw input for a dyno that has no terminal:
// a carriage return becomes a newline and ^D ends the input, which is
// what makes a typed command run and a typed ^D end it. Echo, line
// editing and ^C need the terminal.
type keystrokes struct {
	r    io.Reader
	done bool
}

func (k *keystrokes) Read(p []byte) (int, error) {
	if k.done {
		return 0, io.EOF
	}
	n, err := k.r.Read(p)
	if i := bytes.IndexByte(p[:n], 0x04); i >= 0 {
		n, err, k.done = i, nil, true
	}
	for i, b := range p[:n] {
		if b == '\r' {
			p[i] = '\n'
		}
	}
	if n == 0 && k.done {
		return 0, io.EOF
	}
	return n, err
}
