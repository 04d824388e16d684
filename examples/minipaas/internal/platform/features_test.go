package platform

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDynoMetadata: with runtime-dyno-metadata on, dynos started from then
// on have the HEROKU_* variables, HEROKU_DYNO_ID being the dyno's API id;
// with log-runtime-metrics on, their memory samples are logged.
func TestDynoMetadata(t *testing.T) {
	ctx := context.Background()
	r := startWith(t, filepath.Join(t.TempDir(), "data"), func(c *Config) { c.MetricsEvery = 100 * time.Millisecond })
	defer r.stop(t)
	app, err := r.CreateApp(ctx, "meta")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Deploy(ctx, "meta", "testdata/hello", "0123456789abcdef0123456789abcdef01234567", nil); err != nil {
		t.Fatal(err)
	}
	env := func(name string) string {
		t.Helper()
		status, body, err := r.getPath("meta", "/env/"+name)
		if err != nil || status != 200 {
			t.Fatalf("GET /env/%s: %d %v", name, status, err)
		}
		return body
	}
	r.waitFor(t, "meta", "the first deploy", ok("from web.1"))
	if got := env("HEROKU_APP_NAME"); got != "" {
		t.Errorf("HEROKU_APP_NAME = %q before the feature is on", got)
	}

	if err := r.SetFeature(ctx, "meta", RuntimeDynoMetadata, true); err != nil {
		t.Fatal(err)
	}
	if on, err := r.FeatureOn(ctx, "meta", RuntimeDynoMetadata); err != nil || !on {
		t.Fatalf("FeatureOn = %v, %v", on, err)
	}
	before := upDynos(t, r.Platform, "meta")
	ds, _ := r.Dynos(ctx, "meta")
	oldID := ds[0].ID
	if err := r.Restart(ctx, "meta", ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds, _ = r.Dynos(ctx, "meta")
		if len(ds) == 1 && ds[0].ID != oldID && ds[0].State == "up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web.1 not replaced after the restart: %+v (before %v)", ds, before)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.waitFor(t, "meta", "the restarted dyno", func(status int, _ string) bool { return status == 200 })
	for name, want := range map[string]string{
		"HEROKU_APP_NAME":                "meta",
		"HEROKU_APP_ID":                  app.ID,
		"HEROKU_APP_DEFAULT_DOMAIN_NAME": "meta.localhost",
		"HEROKU_DYNO_ID":                 DynoUUID(app.ID, ds[0].ID),
		"HEROKU_RELEASE_VERSION":         "v1",
		"HEROKU_SLUG_COMMIT":             "0123456789abcdef0123456789abcdef01234567",
		"HEROKU_SLUG_DESCRIPTION":        "Deploy 0123456",
	} {
		if got := env(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got, err := time.Parse(time.RFC3339, env("HEROKU_RELEASE_CREATED_AT")); err != nil || time.Since(got) > time.Hour {
		t.Errorf("HEROKU_RELEASE_CREATED_AT = %v, %v", got, err)
	}
	if strings.Contains(logText(t, r.Platform, "meta"), "sample#memory") {
		t.Error("memory samples logged before log-runtime-metrics is on")
	}
	// Memory is read from a dyno's cgroup: sized dynos have one.
	if err := r.Resize(ctx, "meta", map[string]string{"web": "basic"}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetFeature(ctx, "meta", LogRuntimeMetrics, true); err != nil {
		t.Fatal(err)
	}
	waitLog(t, r.Platform, "meta", "heroku[web.1]: source=web.1 dyno=heroku."+app.ID+".")
	var upID string // the sized web.1 that logged it
	ds, _ = r.Dynos(ctx, "meta")
	for _, d := range ds {
		if d.State == "up" {
			upID = d.ID
		}
	}
	waitLog(t, r.Platform, "meta", "heroku[web.1]: source=web.1 dyno=heroku."+app.ID+"."+DynoUUID(app.ID, upID)+" sample#memory_total=")
	line := logText(t, r.Platform, "meta")
	line = line[strings.LastIndex(line, "source=web.1"):]
	line = line[:strings.IndexByte(line, '\n')]
	if !regexp.MustCompile(`^source=web\.1 dyno=\S+ sample#memory_total=\d+\.\d\dMB sample#memory_rss=\d+\.\d\dMB sample#memory_cache=\d+\.\d\dMB sample#memory_swap=\d+\.\d\dMB sample#memory_quota=512\.00MB$`).MatchString(line) {
		t.Errorf("memory sample %q", line)
	}
	if err := r.SetFeature(ctx, "meta", "nosuch", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetFeature of an unknown feature: %v", err)
	}
}
