package release_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/testutil"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/memstore"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var ctx = context.Background()

func slug(n int) release.SlugRef {
	return release.SlugRef{ID: fmt.Sprintf("slug-%d", n), Checksum: "SHA256:" + strings.Repeat(fmt.Sprintf("%02x", n), 32)}
}

// clock is a manual clock for Manager.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// phase is a scripted release-phase runner.
type phase struct {
	mu    sync.Mutex
	calls []int // versions run
	exit  int
	err   error
	block bool // wait for ctx
}

func (p *phase) run(ctx context.Context, r release.Release, out io.Writer) (int, error) {
	p.mu.Lock()
	p.calls = append(p.calls, r.Version)
	exit, err, block := p.exit, p.err, p.block
	p.mu.Unlock()
	fmt.Fprintf(out, "running release command for %s v%d (%s)\n", r.App, r.Version, r.ProcessTypes["release"])
	if block {
		<-ctx.Done()
		return -1, ctx.Err()
	}
	return exit, err
}

func newManager(p *phase) (*release.Manager, *clock) {
	c := &clock{t: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	m := &release.Manager{Store: memstore.New(), Now: c.Now}
	if p != nil {
		m.RunPhase = p.run
	}
	return m, c
}

func must(t *testing.T) func(release.Release, error) release.Release {
	return func(r release.Release, err error) release.Release {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

var web = map[string]string{"web": "bin/web"}
var webRelease = map[string]string{"web": "bin/web", "release": "bin/migrate"}

// TestHistoryGolden drives every kind of release through one app and
// compares the history, as `heroku releases` would show it, to a golden
// file. Run with -update to rewrite it.
func TestHistoryGolden(t *testing.T) {
	p := &phase{}
	m, _ := newManager(p)
	var out bytes.Buffer
	o := release.Opts{User: "dev@example.com", Output: &out}
	var log []string
	step := func(what string, r release.Release, err error) {
		t.Helper()
		if err != nil {
			log = append(log, fmt.Sprintf("%-34s → error: %v", what, err))
			return
		}
		log = append(log, fmt.Sprintf("%-34s → %s %s", what, r.Name(), r.Status))
	}
	r, err := m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"FOO": "1", "BAR": "2"}}, o)
	step("config:set FOO BAR", r, err)
	r, err = m.Deploy(ctx, "app", release.Deploy{Slug: slug(1), ProcessTypes: web, Commit: "1a2b3c4d5e6f"}, o)
	step("deploy 1a2b3c4", r, err)
	r, err = m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonAttach, Name: "DATABASE",
		Config: map[string]string{"DATABASE_URL": "postgres://one"}}, o)
	step("addons:attach DATABASE", r, err)
	r, err = m.SetConfig(ctx, "app", release.ConfigChange{Unset: []string{"FOO"}}, o)
	step("config:unset FOO", r, err)
	r, err = m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"BAZ": "3"}, Unset: []string{"BAR"}}, o)
	step("config:set BAZ, unset BAR", r, err)
	r, err = m.Deploy(ctx, "app", release.Deploy{Slug: slug(2), ProcessTypes: webRelease, Commit: "9f8e7d6c"}, o)
	step("deploy 9f8e7d6 (release phase ok)", r, err)
	p.exit = 1
	r, err = m.Deploy(ctx, "app", release.Deploy{Slug: slug(3), ProcessTypes: webRelease, Commit: "deadbeef"}, o)
	step("deploy deadbee (release phase 1)", r, err)
	p.exit = 0
	r, err = m.Rollback(ctx, "app", 2, o)
	step("rollback v2", r, err)
	r, err = m.Rollback(ctx, "app", 7, o)
	step("rollback v7", r, err)
	r, err = m.Rollback(ctx, "app", 4, o)
	step("rollback v4", r, err)
	r, err = m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonUpdate, Name: "DATABASE",
		Config: map[string]string{"DATABASE_URL": "postgres://two"}, ByProvider: true}, release.Opts{})
	step("provider updates DATABASE", r, err)
	must(t)(m.Deploy(ctx, "app-staging", release.Deploy{Slug: slug(4), ProcessTypes: webRelease, Commit: "cafef00d"}, o))
	r, err = m.Promote(ctx, "app-staging", 1, "app", o)
	step("promote app-staging v1", r, err)
	r, err = m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonDetach, Name: "DATABASE"}, o)
	step("addons:detach DATABASE", r, err)

	var b strings.Builder
	b.WriteString("# steps\n")
	for _, l := range log {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n# heroku releases --app app\n")
	hist, err := m.Store.List(ctx, "app", release.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := m.Store.Current(ctx, "app")
	for _, r := range hist {
		mark := " "
		if r.Version == cur.Version {
			mark = "*"
		}
		fmt.Fprintf(&b, "%s%-4s %-34s %-9s %-8s vars=%s addons=%v types=%s\n", mark, r.Name(), r.Description, r.Status,
			r.Slug.ID, strings.Join(r.Config.Names(), ","), r.Addons, strings.Join(slices.Sorted(mapsKeys(r.ProcessTypes)), ","))
	}
	b.WriteString("\n# release phase output\n")
	b.WriteString(out.String())
	fmt.Fprintf(&b, "\n# release phase ran for versions %v\n", p.calls)

	testutil.Golden(t, filepath.Join("testdata", "history.golden"), []byte(b.String()), *update)
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestReleasePhase(t *testing.T) {
	runnerErr := errors.New("dyno crashed")
	tests := []struct {
		name     string
		phase    phase
		timeout  time.Duration
		cancel   bool
		status   release.Status
		exitCode int
		timedOut bool
		wantErr  error
	}{
		{name: "success", status: release.StatusSucceeded},
		{name: "non-zero exit", phase: phase{exit: 3}, status: release.StatusFailed, exitCode: 3},
		{name: "runner error", phase: phase{err: runnerErr}, status: release.StatusFailed, wantErr: runnerErr},
		{name: "timeout", phase: phase{block: true}, timeout: 20 * time.Millisecond, status: release.StatusFailed, exitCode: -1, timedOut: true, wantErr: context.DeadlineExceeded},
		{name: "cancel", phase: phase{block: true}, cancel: true, status: release.StatusFailed, exitCode: -1, wantErr: context.Canceled},
	}
	for i := range tests {
		tt := &tests[i]
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newManager(&tt.phase)
			m.PhaseTimeout = tt.timeout
			must(t)(m.Deploy(ctx, "app", release.Deploy{Slug: slug(1), ProcessTypes: web}, release.Opts{}))
			c, cancel := context.WithCancel(ctx)
			defer cancel()
			if tt.cancel {
				time.AfterFunc(20*time.Millisecond, cancel)
			}
			var out bytes.Buffer
			r, err := m.Deploy(c, "app", release.Deploy{Slug: slug(2), ProcessTypes: webRelease}, release.Opts{Output: &out})
			if r.Version != 2 || r.Status != tt.status {
				t.Fatalf("release = v%d %s, want v2 %s", r.Version, r.Status, tt.status)
			}
			if !strings.Contains(out.String(), "running release command for app v2 (bin/migrate)") {
				t.Errorf("phase output not streamed: %q", out.String())
			}
			stored, _ := m.Store.Get(ctx, "app", 2)
			if stored.Status != tt.status {
				t.Errorf("stored status %s, want %s", stored.Status, tt.status)
			}
			cur, _ := m.Store.Current(ctx, "app")
			if tt.status == release.StatusFailed {
				var pe *release.PhaseError
				if !errors.As(err, &pe) || pe.ExitCode != tt.exitCode || pe.TimedOut != tt.timedOut || pe.Version != 2 {
					t.Fatalf("err = %#v, want PhaseError exit %d timedOut %v", err, tt.exitCode, tt.timedOut)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err %v does not wrap %v", err, tt.wantErr)
				}
				if cur.Version != 1 {
					t.Errorf("current = v%d after a failed phase, want v1 (previous stays current)", cur.Version)
				}
				return
			}
			if err != nil || cur.Version != 2 {
				t.Fatalf("err %v, current v%d; want nil, v2", err, cur.Version)
			}
		})
	}
}

func TestReleasePhaseWithoutRunnerRefused(t *testing.T) {
	m, _ := newManager(nil)
	_, err := m.Deploy(ctx, "app", release.Deploy{Slug: slug(1), ProcessTypes: webRelease}, release.Opts{})
	if err == nil || !strings.Contains(err.Error(), "RunPhase is nil") {
		t.Fatalf("err = %v, want a RunPhase error", err)
	}
	if _, err := m.Store.Latest(ctx, "app"); !errors.Is(err, release.ErrNotFound) {
		t.Fatalf("a refused deploy was stored: %v", err)
	}
}

func TestPendingBlocksChangesUntilStale(t *testing.T) {
	p := &phase{block: true}
	m, clk := newManager(p)
	m.PhaseTimeout = time.Hour
	must(t)(m.Deploy(ctx, "app", release.Deploy{Slug: slug(1), ProcessTypes: web}, release.Opts{}))
	// Simulate a crashed runner: append a pending release directly.
	pending := release.Release{Slug: slug(2), ProcessTypes: webRelease, Status: release.StatusPending, CreatedAt: clk.Now()}
	must(t)(m.Store.Append(ctx, "app", pending, 1))
	_, err := m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"A": "1"}}, release.Opts{})
	if !errors.Is(err, release.ErrConflict) {
		t.Fatalf("change during a release phase: %v, want ErrConflict", err)
	}
	clk.Advance(2*time.Hour + time.Minute)
	r := must(t)(m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"A": "1"}}, release.Opts{}))
	if r.Version != 3 || r.Slug != slug(1) {
		t.Fatalf("after the stale phase: v%d slug %s, want v3 on slug-1", r.Version, r.Slug.ID)
	}
	if v2, _ := m.Store.Get(ctx, "app", 2); v2.Status != release.StatusFailed {
		t.Fatalf("abandoned v2 is %s, want failed", v2.Status)
	}
}

func TestSetConfig(t *testing.T) {
	m, _ := newManager(nil)
	must(t)(m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonAttach, Name: "HEROKU_POSTGRESQL_JADE",
		Config: map[string]string{"HEROKU_POSTGRESQL_JADE_URL": "postgres://x"}}, release.Opts{}))
	r := must(t)(m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"A": "1", "B": "2"}}, release.Opts{}))
	if r.Description != "Set A, B config vars" || r.Config["A"] != "1" || r.Config["HEROKU_POSTGRESQL_JADE_URL"] != "postgres://x" {
		t.Fatalf("got %q %v", r.Description, r.Config)
	}
	r = must(t)(m.SetConfig(ctx, "app", release.ConfigChange{Unset: []string{"B", "A", "B"}}, release.Opts{}))
	if r.Description != "Remove A, B config vars" || len(r.Config) != 1 {
		t.Fatalf("got %q %v", r.Description, r.Config)
	}
	fails := []struct {
		ch   release.ConfigChange
		rule release.ConfigRule
	}{
		{release.ConfigChange{Set: map[string]string{"HEROKU_POSTGRESQL_JADE_URL": "x"}}, release.RuleAddonOwned},
		{release.ConfigChange{Unset: []string{"HEROKU_POSTGRESQL_JADE_URL"}}, release.RuleAddonOwned},
		{release.ConfigChange{Set: map[string]string{"HEROKU_API": "x"}}, release.RuleNameReserved},
		{release.ConfigChange{Set: map[string]string{"bad name": "x"}}, release.RuleNameChars},
		{release.ConfigChange{Set: map[string]string{"BIG": strings.Repeat("x", 40000)}}, release.RuleVarTooLarge},
	}
	for _, f := range fails {
		_, err := m.SetConfig(ctx, "app", f.ch, release.Opts{})
		var ce *release.ConfigVarError
		if !errors.As(err, &ce) || ce.Rule != f.rule {
			t.Errorf("SetConfig(%v) = %v, want rule %q", f.ch.Unset, err, f.rule)
		}
	}
	if _, err := m.SetConfig(ctx, "app", release.ConfigChange{}, release.Opts{}); err == nil {
		t.Error("an empty change made a release")
	}
	if l, _ := m.Store.Latest(ctx, "app"); l.Version != 3 {
		t.Errorf("failed changes made releases: latest v%d, want v3", l.Version)
	}
}

// Many concurrent config changes, each retried on conflict: every var ends
// up set, none is lost to a race on the base release.
func TestConcurrentConfigChangesLoseNothing(t *testing.T) {
	m, _ := newManager(nil)
	const n = 12
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := release.ConfigChange{Set: map[string]string{fmt.Sprintf("VAR_%d", i): "x"}}
			for {
				_, err := m.SetConfig(ctx, "app", ch, release.Opts{})
				if err == nil {
					return
				}
				if !errors.Is(err, release.ErrConflict) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	cur, err := m.Store.Current(ctx, "app")
	if err != nil || cur.Version != n || len(cur.Config) != n {
		t.Fatalf("current v%d with %d vars (%v); want v%d with %d", cur.Version, len(cur.Config), err, n, n)
	}
}

func TestAddons(t *testing.T) {
	p := &phase{}
	m, _ := newManager(p)
	must(t)(m.Deploy(ctx, "app", release.Deploy{Slug: slug(1), ProcessTypes: webRelease}, release.Opts{}))
	must(t)(m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"REDIS_URL": "mine"}}, release.Opts{}))
	attach := func(name string, cfg map[string]string) error {
		_, err := m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonAttach, Name: name, Config: cfg}, release.Opts{})
		return err
	}
	var ce *release.ConfigVarError
	if err := attach("DATABASE", map[string]string{"OTHER_URL": "x"}); !errors.As(err, &ce) || ce.Rule != release.RuleAddonPrefix {
		t.Errorf("var without the attachment prefix: %v", err)
	}
	if err := attach("REDIS", map[string]string{"REDIS_URL": "x"}); err == nil {
		t.Error("attaching over a user-set var succeeded")
	}
	if err := attach("bad-name", nil); err == nil {
		t.Error("invalid attachment name accepted")
	}
	if err := attach("DATABASE", map[string]string{"DATABASE_URL": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := attach("DATABASE", map[string]string{"DATABASE_URL": "x"}); err == nil {
		t.Error("attaching twice succeeded")
	}
	_, err := m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonDetach, Name: "NOPE"}, release.Opts{})
	if !errors.Is(err, release.ErrNotFound) {
		t.Errorf("detaching an unknown attachment: %v, want ErrNotFound", err)
	}
	before := len(p.calls)
	r := must(t)(m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonUpdate, Name: "DATABASE",
		Config: map[string]string{"DATABASE_URL": "y"}, ByProvider: true}, release.Opts{}))
	if len(p.calls) != before || r.Status != release.StatusSucceeded || r.Config["DATABASE_URL"] != "y" {
		t.Errorf("provider update: phase runs %d→%d, status %s; want no phase, succeeded", before, len(p.calls), r.Status)
	}
	r = must(t)(m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonDetach, Name: "DATABASE"}, release.Opts{}))
	if _, ok := r.Config["DATABASE_URL"]; ok || r.Addons != nil || len(p.calls) != before+1 {
		t.Errorf("detach left %v %v or skipped the phase", r.Config.Names(), r.Addons)
	}

	// Two attachments in one release, as a first Postgres database gets.
	n := must(t)(m.Store.Current(ctx, "app")).Version
	r = must(t)(m.ChangeAddons(ctx, "app", []release.AddonChange{
		{Action: release.AddonAttach, Name: "DATABASE", Config: map[string]string{"DATABASE_URL": "pg://1"}},
		{Action: release.AddonAttach, Name: "HEROKU_POSTGRESQL_JADE", Config: map[string]string{"HEROKU_POSTGRESQL_JADE_URL": "pg://1"}},
	}, release.Opts{}))
	if r.Description != "Attach DATABASE, HEROKU_POSTGRESQL_JADE" || r.Config["DATABASE_URL"] != "pg://1" || r.Config["HEROKU_POSTGRESQL_JADE_URL"] != "pg://1" || len(r.Addons) != 2 {
		t.Errorf("two attachments: %q %v %v", r.Description, r.Config, r.Addons)
	}
	if r.Version != n+1 {
		t.Errorf("two attachments made %d releases, want 1", r.Version-n)
	}
	// All or nothing: the second change fails, so neither is made.
	_, err = m.ChangeAddons(ctx, "app", []release.AddonChange{
		{Action: release.AddonDetach, Name: "HEROKU_POSTGRESQL_JADE"},
		{Action: release.AddonDetach, Name: "NOPE"},
	}, release.Opts{})
	if cur := must(t)(m.Store.Current(ctx, "app")); !errors.Is(err, release.ErrNotFound) || cur.Config["HEROKU_POSTGRESQL_JADE_URL"] == "" {
		t.Errorf("a failing second change: %v; JADE still attached: %v", err, cur.Addons)
	}
	if _, err := m.ChangeAddons(ctx, "app", []release.AddonChange{
		{Action: release.AddonDetach, Name: "DATABASE"},
		{Action: release.AddonAttach, Name: "OTHER", Config: map[string]string{"OTHER_URL": "x"}},
	}, release.Opts{}); err == nil {
		t.Error("one release with two actions was accepted")
	}
	if _, err := m.ChangeAddons(ctx, "app", []release.AddonChange{
		{Action: release.AddonUpdate, Name: "DATABASE", Config: map[string]string{"DATABASE_URL": "a"}},
		{Action: release.AddonUpdate, Name: "DATABASE", Config: map[string]string{"DATABASE_URL": "b"}},
	}, release.Opts{}); err == nil {
		t.Error("one attachment named twice was accepted")
	}
	r = must(t)(m.ChangeAddons(ctx, "app", []release.AddonChange{
		{Action: release.AddonDetach, Name: "DATABASE"}, {Action: release.AddonDetach, Name: "HEROKU_POSTGRESQL_JADE"},
	}, release.Opts{}))
	if r.Description != "Detach DATABASE, HEROKU_POSTGRESQL_JADE" || r.Addons != nil || len(r.Config) != 1 {
		t.Errorf("detaching both: %q %v %v", r.Description, r.Config, r.Addons)
	}
}

func TestRollback(t *testing.T) {
	m, _ := newManager(&phase{})
	must(t)(m.Deploy(ctx, "app", release.Deploy{Slug: slug(1), ProcessTypes: web, Commit: "aaaaaaa"}, release.Opts{}))
	must(t)(m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"MODE": "old"}}, release.Opts{}))
	must(t)(m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonAttach, Name: "DATABASE", Config: map[string]string{"DATABASE_URL": "db1"}}, release.Opts{}))
	must(t)(m.Deploy(ctx, "app", release.Deploy{Slug: slug(2), ProcessTypes: webRelease, Commit: "bbbbbbb"}, release.Opts{}))
	must(t)(m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"MODE": "new", "EXTRA": "1"}}, release.Opts{}))
	must(t)(m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonUpdate, Name: "DATABASE", Config: map[string]string{"DATABASE_URL": "db2"}, ByProvider: true}, release.Opts{}))

	if _, err := m.Rollback(ctx, "app", 2, release.Opts{}); err == nil || !strings.Contains(err.Error(), "would change add-ons") {
		t.Fatalf("rollback across an attach: %v, want refusal", err)
	}
	if _, err := m.Rollback(ctx, "app", 99, release.Opts{}); !errors.Is(err, release.ErrNotFound) {
		t.Fatalf("rollback to a missing version: %v", err)
	}
	r := must(t)(m.Rollback(ctx, "app", 3, release.Opts{User: "ops@example.com"}))
	if r.Version != 7 || r.Description != "Rollback to v3" || r.Slug != slug(1) || r.Commit != "aaaaaaa" || r.User != "ops@example.com" {
		t.Fatalf("rollback = %+v", r)
	}
	if r.Config["MODE"] != "old" || r.Config["EXTRA"] != "" || len(r.Config) != 2 {
		t.Errorf("rollback config = %v (MODE=%q); want v3's vars", r.Config.Names(), r.Config["MODE"])
	}
	if r.Config["DATABASE_URL"] != "db2" {
		t.Errorf("add-on var after rollback = %q, want the current db2 (add-ons never roll back)", r.Config["DATABASE_URL"])
	}
	if r.HasReleasePhase() {
		t.Error("rollback kept the newer process types")
	}
	// Roll forward again: the release phase runs.
	p := &phase{exit: 1}
	m.RunPhase = p.run
	r, err := m.Rollback(ctx, "app", 4, release.Opts{})
	if err == nil || r.Status != release.StatusFailed || len(p.calls) != 1 {
		t.Fatalf("rollback to a release with a failing phase: %v %s", err, r.Status)
	}
	if _, err := m.Rollback(ctx, "app", 8, release.Opts{}); err == nil {
		t.Fatal("rollback to a failed release succeeded")
	}
}

func TestPromote(t *testing.T) {
	p := &phase{}
	m, _ := newManager(p)
	must(t)(m.SetConfig(ctx, "staging", release.ConfigChange{Set: map[string]string{"ENV": "staging"}}, release.Opts{}))
	must(t)(m.Deploy(ctx, "staging", release.Deploy{Slug: slug(5), ProcessTypes: webRelease, Commit: "5555555"}, release.Opts{}))
	if _, err := m.Promote(ctx, "staging", 1, "prod", release.Opts{}); err == nil {
		t.Fatal("promoting a release without a slug succeeded")
	}
	if _, err := m.Promote(ctx, "staging", 9, "prod", release.Opts{}); !errors.Is(err, release.ErrNotFound) {
		t.Fatalf("promoting a missing release: %v", err)
	}
	must(t)(m.SetConfig(ctx, "prod", release.ConfigChange{Set: map[string]string{"ENV": "production"}}, release.Opts{}))
	r := must(t)(m.Promote(ctx, "staging", 2, "prod", release.Opts{}))
	if r.App != "prod" || r.Version != 2 || r.Slug != slug(5) || r.Description != "Promote staging v2" ||
		r.Config["ENV"] != "production" || r.ProcessTypes["release"] != "bin/migrate" || r.Commit != "5555555" {
		t.Fatalf("promotion = %+v (ENV=%q)", r, r.Config["ENV"])
	}
	if !slices.Equal(p.calls, []int{2, 2}) {
		t.Errorf("release phase ran for %v, want staging v2 and prod v2", p.calls)
	}
}

func TestDeployValidatesSlug(t *testing.T) {
	m, _ := newManager(nil)
	bad := []release.SlugRef{
		{},
		{ID: "s", Checksum: "sha256:" + strings.Repeat("a", 64)},
		{ID: "s", Checksum: "SHA256:" + strings.Repeat("a", 63)},
		{ID: "s", Checksum: "SHA256:" + strings.Repeat("A", 64)},
		{ID: "s", Checksum: "SHA256:" + strings.Repeat("g", 64)},
	}
	for _, s := range bad {
		if _, err := m.Deploy(ctx, "app", release.Deploy{Slug: s}, release.Opts{}); err == nil {
			t.Errorf("Deploy accepted slug %+v", s)
		}
	}
	if _, err := m.Deploy(ctx, "", release.Deploy{Slug: slug(1)}, release.Opts{}); err == nil {
		t.Error("Deploy accepted an empty app name")
	}
	r := must(t)(m.Deploy(ctx, "app", release.Deploy{Slug: slug(1)}, release.Opts{}))
	if r.Description != "Deploy slug-1" {
		t.Errorf("description without a commit = %q", r.Description)
	}
}
