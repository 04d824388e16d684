package platform

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dynokit/dynokit/slug"
)

// TestCollectSlugs: a destroyed app's slug goes; one in another app's
// history (a promotion) and one uploaded by API stay.
func TestCollectSlugs(t *testing.T) {
	ctx := context.Background()
	r := startWith(t, filepath.Join(t.TempDir(), "data"), func(c *Config) { c.SlugGrace = time.Nanosecond })
	defer r.stop(t)
	for _, app := range []string{"keeper", "promoted", "doomed"} {
		if _, err := r.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	hello, err := r.Deploy(ctx, "keeper", "testdata/hello", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Promote(ctx, "keeper", 0, "promoted"); err != nil {
		t.Fatal(err)
	}
	ww, err := r.Deploy(ctx, "doomed", "testdata/webworker", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := slug.Digest(hello.Slug.Checksum), slug.Digest(ww.Slug.Checksum)
	rc, _, err := r.slugs.Open(ctx, s2)
	if err != nil {
		t.Fatal(err)
	}
	s2bytes, _ := io.ReadAll(rc)
	rc.Close()
	stored := func() []slug.Digest {
		t.Helper()
		var ds []slug.Digest
		for info, err := range r.slugs.List(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, info.Digest)
		}
		return ds
	}
	if res, err := r.CollectSlugs(ctx); err != nil || len(res.Deleted) != 0 || res.Referenced != 2 {
		t.Fatalf("CollectSlugs with both slugs in use: %+v, %v", res, err)
	}

	if err := r.DestroyApp(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if res, err := r.CollectSlugs(ctx); err != nil || !slices.Equal(res.Deleted, []slug.Digest{s2}) {
		t.Fatalf("CollectSlugs after destroying doomed: %+v, %v; want %s deleted", res, err, s2)
	}
	if got := stored(); !slices.Equal(got, []slug.Digest{s1}) {
		t.Errorf("stored slugs %v, want only %s", got, s1)
	}

	// Uploaded by API (not released): kept. keeper's slug stays after
	// keeper is destroyed, as promoted runs it.
	up, err := r.CreateSlug(ctx, "promoted", SlugRequest{ProcessTypes: map[string]string{"web": "bin/web"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.UploadSlug(ctx, up.AppID, up.ID, r.SlugBlobToken(up.AppID, up.ID), bytes.NewReader(s2bytes)); err != nil {
		t.Fatal(err)
	}
	if err := r.DestroyApp(ctx, "keeper"); err != nil {
		t.Fatal(err)
	}
	if res, err := r.CollectSlugs(ctx); err != nil || len(res.Deleted) != 0 {
		t.Errorf("CollectSlugs with a promoted and an uploaded slug: %+v, %v", res, err)
	}
	if got := stored(); len(got) != 2 {
		t.Errorf("stored slugs %v, want %s and %s", got, s1, s2)
	}
}
