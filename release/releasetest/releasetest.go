package releasetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynokit/dynokit/release"
)

// StoreSuite runs every conformance test against fresh, empty stores made
// by newStore (which should register its own cleanup). Subtests run in
// parallel, so newStore must be safe to call concurrently.
func StoreSuite(t *testing.T, newStore func(t *testing.T) release.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s release.Store)
	}{
		{"Empty", testEmpty},
		{"AppendAssignsVersions", testAppendAssignsVersions},
		{"RoundTrip", testRoundTrip},
		{"StaleExpectConflicts", testStaleExpect},
		{"InvalidAppendStoresNothing", testInvalidAppend},
		{"AppsAreIsolated", testAppsIsolated},
		{"StatusAndCurrent", testStatusAndCurrent},
		{"CurrentPastManyFailures", testCurrentPastFailures},
		{"List", testList},
		{"ListPaging", testListPaging},
		{"NoAliasing", testNoAliasing},
		{"CancelledContext", testCancelled},
		{"ConcurrentFirstAppendOneWins", testConcurrentOneWins},
		{"ConcurrentAppendsNoLossNoDuplicate", testConcurrentAppends},
		{"ConcurrentSetStatusOnce", testConcurrentSetStatus},
		{"ManagerScenario", testManagerScenario},
		{"DeleteApp", testDeleteApp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

var (
	t0       = time.Date(2026, 11, 21, 12, 0, 0, 123456789, time.UTC)
	checksum = "SHA256:" + strings.Repeat("ab", 32)
)

// Sample returns a succeeded release with every field set; i varies it.
func Sample(i int) release.Release {
	return release.Release{
		Slug:         release.SlugRef{ID: fmt.Sprintf("slug-%d", i), Checksum: checksum},
		Config:       release.ConfigVars{"GREETING": fmt.Sprintf("héllo %d", i), "EMPTY": "", "DATABASE_URL": "postgres://u:p@h/db"},
		ProcessTypes: map[string]string{"web": "bin/web --port $PORT", "worker": "bin/worker"},
		Addons:       map[string][]string{"DATABASE": {"DATABASE_URL"}},
		Description:  fmt.Sprintf("Deploy %07d", i),
		Status:       release.StatusSucceeded,
		User:         "dev@example.com",
		Commit:       fmt.Sprintf("%040d", i),
		CreatedAt:    t0.Add(time.Duration(i) * time.Second),
		UpdatedAt:    t0.Add(time.Duration(i) * time.Second),
	}
}

var ctx = context.Background()

func mustAppend(t *testing.T, s release.Store, app string, r release.Release, expect int) release.Release {
	t.Helper()
	got, err := s.Append(ctx, app, r, expect)
	if err != nil {
		t.Fatalf("Append(%s, expect %d): %v", app, expect, err)
	}
	return got
}

func fill(t *testing.T, s release.Store, app string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		mustAppend(t, s, app, Sample(i), i-1)
	}
}

// Equal compares releases field by field: times with time.Equal and nil
// maps equal to empty ones (stores may encode either way).
func Equal(a, b release.Release) bool {
	return a.App == b.App && a.Version == b.Version && a.Slug == b.Slug &&
		maps.Equal(a.Config, b.Config) && maps.Equal(a.ProcessTypes, b.ProcessTypes) &&
		maps.EqualFunc(a.Addons, b.Addons, slices.Equal[[]string]) &&
		a.Description == b.Description && a.Status == b.Status && a.User == b.User &&
		a.Commit == b.Commit && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func versions(rs []release.Release) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Version
	}
	return out
}

func seq(from, to int) []int {
	out := []int{}
	step := 1
	if to < from {
		step = -1
	}
	for v := from; ; v += step {
		out = append(out, v)
		if v == to {
			return out
		}
	}
}

func testEmpty(t *testing.T, s release.Store) {
	if _, err := s.Latest(ctx, "nope"); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("Latest of an unknown app: %v, want ErrNotFound", err)
	}
	if _, err := s.Current(ctx, "nope"); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("Current of an unknown app: %v, want ErrNotFound", err)
	}
	for _, v := range []int{-1, 0, 1} {
		if _, err := s.Get(ctx, "nope", v); !errors.Is(err, release.ErrNotFound) {
			t.Errorf("Get(v%d) of an unknown app: %v, want ErrNotFound", v, err)
		}
	}
	if _, err := s.SetStatus(ctx, "nope", 1, release.StatusFailed); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("SetStatus of an unknown app: %v, want ErrNotFound", err)
	}
	got, err := s.List(ctx, "nope", release.ListOptions{})
	if err != nil || len(got) != 0 {
		t.Errorf("List of an unknown app = %v, %v; want empty", versions(got), err)
	}
}

func testAppendAssignsVersions(t *testing.T, s release.Store) {
	for i := 1; i <= 3; i++ {
		r := Sample(i)
		r.App, r.Version = "ignored", 99 // the store assigns both
		got := mustAppend(t, s, "app", r, i-1)
		if got.Version != i || got.App != "app" {
			t.Fatalf("append %d returned %s v%d, want app v%d", i, got.App, got.Version, i)
		}
		latest, err := s.Latest(ctx, "app")
		if err != nil || latest.Version != i {
			t.Fatalf("Latest after append %d = v%d, %v", i, latest.Version, err)
		}
	}
}

func testRoundTrip(t *testing.T, s release.Store) {
	r := Sample(7)
	r.Config["BIG"] = strings.Repeat("x", 30*1024)
	r.Config["UNICODE"] = "日本語 ✓ \t\n quotes\"'"
	r.Status = release.StatusPending
	got := mustAppend(t, s, "app", r, 0)
	want := r
	want.App, want.Version = "app", 1
	if !Equal(got, want) {
		t.Fatalf("Append returned\n%+v\nwant\n%+v", got, want)
	}
	back, err := s.Get(ctx, "app", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(back, want) {
		t.Fatalf("Get returned\n%+v\nwant\n%+v", back, want)
	}
	if back.Config["BIG"] != want.Config["BIG"] || back.Config["UNICODE"] != want.Config["UNICODE"] {
		t.Fatal("config var values changed in the store")
	}
	// A config-only release before the first deploy has no slug.
	bare := release.Release{Status: release.StatusSucceeded, Description: "Set A config vars", Config: release.ConfigVars{"A": "1"}, CreatedAt: t0}
	got = mustAppend(t, s, "bare", bare, 0)
	back, err = s.Get(ctx, "bare", 1)
	if err != nil || !Equal(back, got) || !back.Slug.IsZero() {
		t.Fatalf("slug-less release: Get = %+v, %v; want %+v", back, err, got)
	}
}

func testStaleExpect(t *testing.T, s release.Store) {
	fill(t, s, "app", 3)
	for _, expect := range []int{0, 1, 2, 4, 10} {
		if _, err := s.Append(ctx, "app", Sample(9), expect); !errors.Is(err, release.ErrConflict) {
			t.Errorf("Append with expect %d when latest is v3: %v, want ErrConflict", expect, err)
		}
	}
	if got, _ := s.List(ctx, "app", release.ListOptions{}); !slices.Equal(versions(got), []int{3, 2, 1}) {
		t.Fatalf("after conflicts the history is %v, want [3 2 1]", versions(got))
	}
}

func testInvalidAppend(t *testing.T, s release.Store) {
	bad := func(mut func(*release.Release)) release.Release { r := Sample(1); mut(&r); return r }
	cases := []struct {
		name   string
		app    string
		r      release.Release
		expect int
	}{
		{"empty app", "", Sample(1), 0},
		{"NUL in app", "a\x00b", Sample(1), 0},
		{"slash in app", "a/b", Sample(1), 0},
		{"negative expect", "app", Sample(1), -1},
		{"failed status", "app", bad(func(r *release.Release) { r.Status = release.StatusFailed }), 0},
		{"no status", "app", bad(func(r *release.Release) { r.Status = "" }), 0},
		{"bad checksum", "app", bad(func(r *release.Release) { r.Slug.Checksum = "md5:abc" }), 0},
		{"checksum without slug id", "app", bad(func(r *release.Release) { r.Slug.ID = "" }), 0},
	}
	for _, c := range cases {
		if _, err := s.Append(ctx, c.app, c.r, c.expect); err == nil {
			t.Errorf("%s: Append succeeded", c.name)
		}
	}
	if _, err := s.Latest(ctx, "app"); !errors.Is(err, release.ErrNotFound) {
		t.Fatalf("a rejected append left a release behind: %v", err)
	}
}

func testAppsIsolated(t *testing.T, s release.Store) {
	apps := []string{"a", "ab", "a-b", "a.b", "b", "münchen", "A"}
	for i, app := range apps {
		fill(t, s, app, i+1)
	}
	for i, app := range apps {
		got, err := s.List(ctx, app, release.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(versions(got), seq(i+1, 1)) {
			t.Errorf("List(%q) = %v, want %v", app, versions(got), seq(i+1, 1))
		}
		for _, r := range got {
			if r.App != app {
				t.Errorf("List(%q) returned a release of %q", app, r.App)
			}
		}
	}
}

func testStatusAndCurrent(t *testing.T, s release.Store) {
	mustAppend(t, s, "app", Sample(1), 0)
	p := Sample(2)
	p.Status = release.StatusPending
	mustAppend(t, s, "app", p, 1)
	cur, err := s.Current(ctx, "app")
	if err != nil || cur.Version != 1 {
		t.Fatalf("Current with v2 pending = v%d, %v; want v1", cur.Version, err)
	}
	if _, err := s.SetStatus(ctx, "app", 2, release.StatusPending); err == nil {
		t.Error("SetStatus to pending succeeded")
	}
	if _, err := s.SetStatus(ctx, "app", 2, "expired"); err == nil {
		t.Error("SetStatus to an unknown status succeeded")
	}
	failed, err := s.SetStatus(ctx, "app", 2, release.StatusFailed)
	if err != nil || failed.Status != release.StatusFailed || failed.Version != 2 {
		t.Fatalf("SetStatus(v2, failed) = %+v, %v", failed, err)
	}
	if failed.UpdatedAt.Before(failed.CreatedAt) {
		t.Errorf("UpdatedAt %v before CreatedAt %v", failed.UpdatedAt, failed.CreatedAt)
	}
	if _, err := s.SetStatus(ctx, "app", 2, release.StatusSucceeded); !errors.Is(err, release.ErrConflict) {
		t.Errorf("failed → succeeded: %v, want ErrConflict", err)
	}
	if _, err := s.SetStatus(ctx, "app", 1, release.StatusFailed); !errors.Is(err, release.ErrConflict) {
		t.Errorf("succeeded → failed: %v, want ErrConflict", err)
	}
	if _, err := s.SetStatus(ctx, "app", 3, release.StatusFailed); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("SetStatus of a missing version: %v, want ErrNotFound", err)
	}
	if got, _ := s.Get(ctx, "app", 2); got.Status != release.StatusFailed {
		t.Errorf("Get(v2).Status = %s after SetStatus, want failed", got.Status)
	}
	if cur, _ := s.Current(ctx, "app"); cur.Version != 1 {
		t.Errorf("Current after v2 failed = v%d, want v1", cur.Version)
	}
	if l, _ := s.Latest(ctx, "app"); l.Version != 2 {
		t.Errorf("Latest = v%d, want v2 (failed releases stay in history)", l.Version)
	}
	p = Sample(3)
	p.Status = release.StatusPending
	mustAppend(t, s, "app", p, 2)
	if _, err := s.SetStatus(ctx, "app", 3, release.StatusSucceeded); err != nil {
		t.Fatal(err)
	}
	if cur, _ := s.Current(ctx, "app"); cur.Version != 3 || cur.Status != release.StatusSucceeded {
		t.Errorf("Current after v3 succeeded = v%d %s, want v3 succeeded", cur.Version, cur.Status)
	}
	// An app whose only release failed has no current release.
	p.Status = release.StatusPending
	mustAppend(t, s, "other", p, 0)
	if _, err := s.SetStatus(ctx, "other", 1, release.StatusFailed); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Current(ctx, "other"); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("Current with only a failed release: %v, want ErrNotFound", err)
	}
}

func testCurrentPastFailures(t *testing.T, s release.Store) {
	const failures = 40
	mustAppend(t, s, "app", Sample(1), 0)
	for v := 2; v <= failures+1; v++ {
		p := Sample(v)
		p.Status = release.StatusPending
		mustAppend(t, s, "app", p, v-1)
		mustAppend(t, s, "none", p, v-2)
		if _, err := s.SetStatus(ctx, "app", v, release.StatusFailed); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetStatus(ctx, "none", v-1, release.StatusFailed); err != nil {
			t.Fatal(err)
		}
	}
	if cur, err := s.Current(ctx, "app"); err != nil || cur.Version != 1 {
		t.Fatalf("Current behind %d failed releases = v%d, %v; want v1", failures, cur.Version, err)
	}
	if _, err := s.Current(ctx, "none"); !errors.Is(err, release.ErrNotFound) {
		t.Fatalf("Current of %d failed releases: %v, want ErrNotFound", failures, err)
	}
}

func testList(t *testing.T, s release.Store) {
	fill(t, s, "app", 25)
	cases := []struct {
		opt  release.ListOptions
		want []int
	}{
		{release.ListOptions{}, seq(25, 1)},
		{release.ListOptions{Max: 10}, seq(25, 16)},
		{release.ListOptions{Start: 16, Max: 10}, seq(16, 7)},
		{release.ListOptions{Start: 5, Max: 10}, seq(5, 1)},
		{release.ListOptions{Start: 100, Max: 3}, seq(25, 23)},
		{release.ListOptions{Start: 20, End: 18}, seq(20, 18)},
		{release.ListOptions{End: 24}, seq(25, 24)},
		{release.ListOptions{Order: release.Asc, Max: 4}, seq(1, 4)},
		{release.ListOptions{Order: release.Asc, Start: 20, Max: 10}, seq(20, 25)},
		{release.ListOptions{Order: release.Asc, Start: 3, End: 5}, seq(3, 5)},
		{release.ListOptions{Order: release.Asc, End: 2}, seq(1, 2)},
		{release.ListOptions{Order: release.Asc, Start: 26}, []int{}},
		{release.ListOptions{Max: 1}, []int{25}},
	}
	for _, c := range cases {
		got, err := s.List(ctx, "app", c.opt)
		if err != nil {
			t.Errorf("List(%+v): %v", c.opt, err)
			continue
		}
		if !slices.Equal(versions(got), c.want) {
			t.Errorf("List(%+v) = %v, want %v", c.opt, versions(got), c.want)
		}
		for _, r := range got {
			if !Equal(r, withID(Sample(r.Version), "app", r.Version)) {
				t.Errorf("List returned v%d with the wrong content: %+v", r.Version, r)
			}
		}
	}
	for _, bad := range []release.ListOptions{{Max: -1}, {Max: release.MaxMax + 1}, {Order: "sideways"}, {Start: -3}} {
		if _, err := s.List(ctx, "app", bad); err == nil {
			t.Errorf("List(%+v) succeeded", bad)
		}
	}
}

func withID(r release.Release, app string, v int) release.Release {
	r.App, r.Version = app, v
	return r
}

func testListPaging(t *testing.T, s release.Store) {
	fill(t, s, "app", 23)
	for _, order := range []release.Order{release.Desc, release.Asc} {
		opt := release.ListOptions{Max: 5, Order: order}
		var all []int
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("%s: paging does not end", order)
			}
			page, err := s.List(ctx, "app", opt)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, versions(page)...)
			next, ok := release.NextRange(opt, page)
			if !ok {
				break
			}
			// Round-trip through the header form, as an HTTP client would.
			if opt, err = release.ParseRange(release.FormatRange(next)); err != nil {
				t.Fatal(err)
			}
		}
		want := seq(23, 1)
		if order == release.Asc {
			want = seq(1, 23)
		}
		if !slices.Equal(all, want) {
			t.Errorf("%s pages joined = %v, want %v", order, all, want)
		}
	}
}

func testNoAliasing(t *testing.T, s release.Store) {
	in := Sample(1)
	got := mustAppend(t, s, "app", in, 0)
	in.Config["GREETING"] = "mutated input"
	in.ProcessTypes["web"] = "mutated"
	got.Config["GREETING"] = "mutated output"
	got.Addons["DATABASE"][0] = "MUTATED"
	back, err := s.Get(ctx, "app", 1)
	if err != nil {
		t.Fatal(err)
	}
	back.Config["EMPTY"] = "mutated get"
	again, _ := s.Get(ctx, "app", 1)
	if !Equal(again, withID(Sample(1), "app", 1)) {
		t.Fatalf("the store shares maps with its callers: %+v", again)
	}
}

func testCancelled(t *testing.T, s release.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Append(c, "app", Sample(1), 0); err == nil {
		t.Error("Append with a cancelled context succeeded")
	}
	if _, err := s.Latest(ctx, "app"); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("a cancelled Append stored a release: %v", err)
	}
	if _, err := s.List(c, "app", release.ListOptions{}); err == nil {
		t.Error("List with a cancelled context succeeded")
	}
}

func testConcurrentOneWins(t *testing.T, s release.Store) {
	const n = 16
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Append(ctx, "app", Sample(i), 0)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, release.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("deploy %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("%d concurrent first deploys: %d won, %d conflicted; want 1 and %d", n, wins.Load(), conflicts.Load(), n-1)
	}
	got, _ := s.List(ctx, "app", release.ListOptions{})
	if len(got) != 1 {
		t.Fatalf("history has %d releases, want 1", len(got))
	}
}

// Many writers append with retry on conflict: every write lands exactly
// once and versions have no gap.
func testConcurrentAppends(t *testing.T, s release.Store) {
	const writers, each = 8, 6
	var wg sync.WaitGroup
	var conflicts atomic.Int32
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := Sample(i)
				r.Description = fmt.Sprintf("writer %d item %d", w, i)
				for attempt := 0; ; attempt++ {
					if attempt > 1000 {
						t.Errorf("writer %d: no progress after 1000 conflicts", w)
						return
					}
					expect := 0
					if l, err := s.Latest(ctx, "app"); err == nil {
						expect = l.Version
					} else if !errors.Is(err, release.ErrNotFound) {
						t.Error(err)
						return
					}
					_, err := s.Append(ctx, "app", r, expect)
					if err == nil {
						break
					}
					if !errors.Is(err, release.ErrConflict) {
						t.Error(err)
						return
					}
					conflicts.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	got, err := s.List(ctx, "app", release.ListOptions{Max: release.MaxMax, Order: release.Asc})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions(got), seq(1, writers*each)) {
		t.Fatalf("versions %v, want 1..%d without gap or duplicate", versions(got), writers*each)
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.Description] {
			t.Fatalf("%q stored twice", r.Description)
		}
		seen[r.Description] = true
	}
	t.Logf("%d appends, %d conflicts retried", writers*each, conflicts.Load())
}

func testConcurrentSetStatus(t *testing.T, s release.Store) {
	p := Sample(1)
	p.Status = release.StatusPending
	mustAppend(t, s, "app", p, 0)
	const n = 8
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := release.StatusSucceeded
			if i%2 == 1 {
				to = release.StatusFailed
			}
			_, err := s.SetStatus(ctx, "app", 1, to)
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, release.ErrConflict) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d concurrent SetStatus calls succeeded, want exactly 1", ok.Load())
	}
}

// testDeleteApp checks the optional AppDeleter capability: the app's
// history is gone, other apps are untouched, and the name starts again at
// v1.
func testDeleteApp(t *testing.T, s release.Store) {
	d, ok := s.(release.AppDeleter)
	if !ok {
		t.Skip("store does not implement release.AppDeleter")
	}
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.Append(ctx, "doomed", Sample(i), i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "kept", Sample(9), 0); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteApp(ctx, "doomed"); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	if _, err := s.Latest(ctx, "doomed"); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("Latest after DeleteApp: err = %v, want ErrNotFound", err)
	}
	if list, err := s.List(ctx, "doomed", release.ListOptions{}); err != nil || len(list) != 0 {
		t.Errorf("List after DeleteApp = %d releases, %v; want none", len(list), err)
	}
	if r, err := s.Latest(ctx, "kept"); err != nil || r.Version != 1 {
		t.Errorf("another app after DeleteApp: v%d, %v; want v1", r.Version, err)
	}
	if err := d.DeleteApp(ctx, "never-existed"); err != nil {
		t.Errorf("DeleteApp of an app without releases: %v", err)
	}
	r, err := s.Append(ctx, "doomed", Sample(5), 0)
	if err != nil || r.Version != 1 {
		t.Errorf("Append after DeleteApp: v%d, %v; want v1", r.Version, err)
	}
}
