package releasetest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/release"
)

// testManagerScenario drives release.Manager over the store under test:
// the operations must behave the same whatever the backend encodes.
func testManagerScenario(t *testing.T, s release.Store) {
	now := t0
	failVersion := 0
	m := &release.Manager{
		Store: s,
		Now:   func() time.Time { now = now.Add(time.Second); return now },
		RunPhase: func(ctx context.Context, r release.Release, out io.Writer) (int, error) {
			io.WriteString(out, "phase "+r.Name()+"\n")
			if r.Version == failVersion {
				return 1, nil
			}
			return 0, nil
		},
	}
	var out strings.Builder
	o := release.Opts{User: "dev@example.com", Output: &out}
	slugA := release.SlugRef{ID: "slug-a", Checksum: checksum}
	slugB := release.SlugRef{ID: "slug-b", Checksum: checksum}
	procs := map[string]string{"web": "bin/web", "release": "bin/migrate"}
	step := func(want string, r release.Release, err error) release.Release {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		if r.Description != want || r.Status != release.StatusSucceeded {
			t.Fatalf("got %q %s, want %q succeeded", r.Description, r.Status, want)
		}
		return r
	}
	r, err := m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"A": "1", "B": "2"}}, o)
	step("Set A, B config vars", r, err)
	r, err = m.Deploy(ctx, "app", release.Deploy{Slug: slugA, ProcessTypes: procs, Commit: "aaaaaaaaaa"}, o)
	step("Deploy aaaaaaa", r, err)
	r, err = m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonAttach, Name: "DATABASE", Config: map[string]string{"DATABASE_URL": "db1"}}, o)
	step("Attach DATABASE", r, err)
	r, err = m.SetConfig(ctx, "app", release.ConfigChange{Set: map[string]string{"C": "3"}, Unset: []string{"A"}}, o)
	step("Set C, remove A config vars", r, err)
	failVersion = 5
	r, err = m.Deploy(ctx, "app", release.Deploy{Slug: slugB, ProcessTypes: procs, Commit: "bbbbbbbbbb"}, o)
	var pe *release.PhaseError
	if !errors.As(err, &pe) || r.Status != release.StatusFailed || r.Version != 5 {
		t.Fatalf("failing release phase: %v, v%d %s", err, r.Version, r.Status)
	}
	cur, err := s.Current(ctx, "app")
	if err != nil || cur.Version != 4 {
		t.Fatalf("current after a failed phase = v%d, %v; want v4", cur.Version, err)
	}
	r, err = m.Rollback(ctx, "app", 3, o)
	r = step("Rollback to v3", r, err)
	if r.Version != 6 || r.Config["A"] != "1" || r.Config["C"] != "" || r.Config["DATABASE_URL"] != "db1" || r.Slug != slugA {
		t.Fatalf("rollback = v%d slug %s A=%q C=%q DATABASE_URL=%q", r.Version, r.Slug.ID, r.Config["A"], r.Config["C"], r.Config["DATABASE_URL"])
	}
	r, err = m.Deploy(ctx, "staging", release.Deploy{Slug: slugB, ProcessTypes: procs, Commit: "cccccccccc"}, o)
	step("Deploy ccccccc", r, err)
	r, err = m.Promote(ctx, "staging", 1, "app", o)
	r = step("Promote staging v1", r, err)
	if r.Slug != slugB || r.Config["A"] != "1" || len(r.Addons) != 1 {
		t.Fatalf("promotion = %+v", r)
	}
	r, err = m.ChangeAddon(ctx, "app", release.AddonChange{Action: release.AddonDetach, Name: "DATABASE"}, o)
	r = step("Detach DATABASE", r, err)
	if _, ok := r.Config["DATABASE_URL"]; ok || len(r.Addons) != 0 {
		t.Fatalf("detach left %v %v", r.Config.Names(), r.Addons)
	}
	hist, err := s.List(ctx, "app", release.ListOptions{})
	if err != nil || len(hist) != 8 {
		t.Fatalf("history of %d releases, %v; want 8", len(hist), err)
	}
	for i, r := range hist {
		if r.Version != 8-i || r.User != "dev@example.com" {
			t.Fatalf("history[%d] = v%d by %q", i, r.Version, r.User)
		}
	}
	if got := strings.Count(out.String(), "phase "); got != 8 {
		t.Fatalf("release phase ran %d times, want 8 (app v2..v8 and staging v1):\n%s", got, out.String())
	}
}
