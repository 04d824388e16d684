package release_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/memstore"
)

// A deploy, a config change, a deploy whose release phase fails, and a
// rollback, as `heroku releases` lists them.
func ExampleManager() {
	ctx := context.Background()
	m := &release.Manager{
		Store: memstore.New(),
		// In a platform this starts a one-off dyno running the "release"
		// command; here migrations of v3 fail.
		RunPhase: func(ctx context.Context, r release.Release, out io.Writer) (int, error) {
			fmt.Fprintf(out, "migrating for %s\n", r.Name())
			if r.Version == 3 {
				return 1, nil
			}
			return 0, nil
		},
	}
	sum := "SHA256:" + strings.Repeat("0f", 32)
	procs := map[string]string{"web": "bin/server", "release": "bin/migrate"}
	opts := release.Opts{User: "dev@example.com", Output: os.Stdout}

	m.Deploy(ctx, "shop", release.Deploy{Slug: release.SlugRef{ID: "s1", Checksum: sum}, ProcessTypes: procs, Commit: "1a2b3c4d"}, opts)
	m.SetConfig(ctx, "shop", release.ConfigChange{Set: map[string]string{"FOO": "1", "BAR": "2"}}, opts)
	_, err := m.Deploy(ctx, "shop", release.Deploy{Slug: release.SlugRef{ID: "s2", Checksum: sum}, ProcessTypes: procs, Commit: "5e6f7a8b"}, opts)
	fmt.Println(err)
	m.Rollback(ctx, "shop", 1, opts)

	history, _ := m.Store.List(ctx, "shop", release.ListOptions{})
	for _, r := range history {
		fmt.Printf("%s  %-25s %s\n", r.Name(), r.Description, r.Status)
	}
	// Output:
	// migrating for v1
	// migrating for v2
	// migrating for v3
	// release: shop v3: release phase failed: exit code 1
	// migrating for v4
	// v4  Rollback to v1            succeeded
	// v3  Deploy 5e6f7a8            failed
	// v2  Set BAR, FOO config vars  succeeded
	// v1  Deploy 1a2b3c4            succeeded
}

// Config var values never show when a release is printed or logged.
func ExampleConfigVars() {
	r := release.Release{App: "shop", Version: 7, Config: release.ConfigVars{"DATABASE_URL": "postgres://user:secret@db/shop"}}
	fmt.Printf("%v\n", r.Config)
	fmt.Printf("%#v\n", r.Config)
	// Output:
	// map[DATABASE_URL:[REDACTED]]
	// release.ConfigVars{"DATABASE_URL":"[REDACTED]"}
}

func ExampleConfigLimits_ValidateName() {
	var limits release.ConfigLimits // Heroku's rules
	for _, name := range []string{"DATABASE_URL", "API-KEY", "__INTERNAL", "HEROKU_APP_ID"} {
		fmt.Println(name, "→", limits.ValidateName(name))
	}
	// Output:
	// DATABASE_URL → <nil>
	// API-KEY → release: config var "API-KEY": name may contain only letters, digits and '_' (byte 3)
	// __INTERNAL → release: config var "__INTERNAL": name must not start with "__"
	// HEROKU_APP_ID → release: config var "HEROKU_APP_ID": names starting with "HEROKU_" are reserved for the platform
}

// Paging through a history the way an HTTP client follows Next-Range.
func ExampleNextRange() {
	ctx := context.Background()
	s := memstore.New()
	for v := 0; v < 5; v++ {
		s.Append(ctx, "shop", release.Release{Status: release.StatusSucceeded}, v)
	}
	opt, _ := release.ParseRange("version ..; max=2")
	for {
		page, _ := s.List(ctx, "shop", opt)
		fmt.Print(release.FormatRange(opt), " →")
		for _, r := range page {
			fmt.Print(" ", r.Name())
		}
		fmt.Println()
		next, more := release.NextRange(opt, page)
		if !more {
			break
		}
		opt = next
	}
	// Output:
	// version ..; max=2, order=desc → v5 v4
	// version 3..; max=2, order=desc → v3 v2
	// version 1..; max=2, order=desc → v1
}

// Add-on attachments own their config vars: one release attaches a first
// Postgres database under both of its names, as Heroku does, and a later
// config change cannot touch those vars.
func ExampleManager_ChangeAddons() {
	ctx := context.Background()
	m := &release.Manager{Store: memstore.New()}
	url := "postgres://u:p@db.internal:5432/d1"
	r, err := m.ChangeAddons(ctx, "shop", []release.AddonChange{
		{Action: release.AddonAttach, Name: "DATABASE", Config: map[string]string{"DATABASE_URL": url}},
		{Action: release.AddonAttach, Name: "HEROKU_POSTGRESQL_JADE", Config: map[string]string{"HEROKU_POSTGRESQL_JADE_URL": url}},
	}, release.Opts{})
	fmt.Println(r.Name(), r.Description, err)
	fmt.Println(r.Addons)
	_, err = m.SetConfig(ctx, "shop", release.ConfigChange{Set: map[string]string{"DATABASE_URL": "elsewhere"}}, release.Opts{})
	fmt.Println(err != nil)
	// Output:
	// v1 Attach DATABASE, HEROKU_POSTGRESQL_JADE <nil>
	// map[DATABASE:[DATABASE_URL] HEROKU_POSTGRESQL_JADE:[HEROKU_POSTGRESQL_JADE_URL]]
	// true
}
