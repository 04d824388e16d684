package platform

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildsOutliveNothing: a build by API stops with the platform and is
// failed; one left pending by a crash is failed when the platform opens
// again; destroying the app forgets its builds.
func TestBuildsOutliveNothing(t *testing.T) {
	fetching := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetching <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()

	r := start(t, dir)
	if _, err := r.CreateApp(ctx, "bld"); err != nil {
		t.Fatal(err)
	}
	b, err := r.CreateBuild(WithUser(ctx, "dev@example.com"), "bld", BuildRequest{Source: BuildSource{URL: srv.URL + "/s.tgz"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != BuildPending || b.User != "dev@example.com" {
		t.Errorf("created %+v", b)
	}
	out, err := r.BuildOutput(ctx, b.AppID, b.ID, b.OutputToken)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	<-fetching
	// The follower waits for more while the build runs.
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	follower, _ := r.BuildOutput(rctx, b.AppID, b.ID, b.OutputToken)
	if got, err := io.ReadAll(follower); err != context.DeadlineExceeded || !strings.Contains(string(got), "Fetching source code") {
		t.Errorf("following a running build: %q, %v; want its first line, then the deadline", got, err)
	}
	cancel()
	follower.Close()

	r.stop(t)
	if got, _ := io.ReadAll(out); !strings.Contains(string(got), "context canceled") {
		t.Errorf("output of a build stopped with the platform:\n%s", got)
	}

	// A crash leaves a pending record with no build behind it.
	r = start(t, dir)
	bs, err := r.Builds(ctx, "bld")
	if err != nil || len(bs) != 1 || bs[0].Status != BuildFailed || !strings.Contains(bs[0].Failure, "context canceled") {
		t.Fatalf("after a restart: %+v, %v", bs, err)
	}
	crashed := bs[0]
	crashed.ID, crashed.Status, crashed.Failure = newID(), BuildPending, ""
	if err := r.putBuild(ctx, crashed); err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	r = start(t, dir)
	defer r.stop(t)
	got, err := r.Build(ctx, "bld", crashed.ID)
	if err != nil || got.Status != BuildFailed || !strings.Contains(got.Failure, "interrupted") {
		t.Errorf("a build pending at start-up: %+v, %v", got, err)
	}
	if _, err := r.BuildOutput(ctx, b.AppID, b.ID, "wrong"); err == nil {
		t.Error("BuildOutput with a wrong token succeeded")
	}

	if err := r.DestroyApp(ctx, "bld"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateApp(ctx, "bld"); err != nil {
		t.Fatal(err)
	}
	if bs, err := r.Builds(ctx, "bld"); err != nil || len(bs) != 0 {
		t.Errorf("builds of a re-created app: %+v, %v", bs, err)
	}
}

// TestBuildSourceTimeout: a source that trickles in fails the build when
// the build's time limit ends.
func TestBuildSourceTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte{0x1f, 0x8b}) // a gzip stream that never goes on
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx := context.Background()
	r := startWith(t, filepath.Join(t.TempDir(), "data"), func(c *Config) { c.BuildTimeout = 500 * time.Millisecond })
	defer r.stop(t)
	if _, err := r.CreateApp(ctx, "slow"); err != nil {
		t.Fatal(err)
	}
	b, err := r.CreateBuild(ctx, "slow", BuildRequest{Source: BuildSource{URL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.BuildOutput(ctx, b.AppID, b.ID, b.OutputToken)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(out)
	out.Close()
	if b, _ = r.Build(ctx, "slow", b.ID); b.Status != BuildFailed || !strings.Contains(string(text), "deadline exceeded") {
		t.Errorf("build of a trickling source: %s, output %q", b.Status, text)
	}
}
