package nomad_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/nomad"
	"github.com/dynokit/dynokit/router"
	"github.com/dynokit/dynokit/slug"
)

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func emptySlug(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "slug")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// webSpec is a web dyno running this test binary as an HTTP server.
func webSpec(t *testing.T, name string) formation.DynoSpec {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	return formation.DynoSpec{
		ID:      fmt.Sprintf("nomadtest.%s.%d", name, time.Now().UnixNano()),
		App:     "nomadtest",
		Name:    name,
		Type:    "web",
		Release: 1,
		Command: "exec " + exe,
		Env:     []string{helperVar + "=http", "DYNO=" + name},
		SlugDir: emptySlug(t),
		Port:    port,
	}
}

func stopAtEnd(t *testing.T, d formation.Dyno) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = formation.Stop(ctx, d, time.Second)
	})
}

// get retries until the dyno answers: it was started, not necessarily
// listening yet.
func get(ctx context.Context, t *testing.T, url, host string) string {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("%s: %q", resp.Status, body)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// A web dyno scheduled by Nomad answers on its port from the host and
// through the router; SIGTERM (formation.Stop) shuts it down cleanly.
func TestWebDynoThroughRouter(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt := &nomad.Runtime{Address: a.addr}
	spec := webSpec(t, "web.1")
	var out formationtest.Buffer
	d, err := rt.Start(ctx, spec, formation.Stdio{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, d)
	addr := "127.0.0.1:" + strconv.Itoa(spec.Port)
	body := get(ctx, t, "http://"+addr+"/", "")
	alloc := d.(*nomad.Dyno).AllocID()
	if want := "hello from web.1 in " + alloc; body != want {
		t.Errorf("direct: body = %q, want %q", body, want)
	}

	r := router.New(router.Config{})
	if err := r.SetBackends("myapp", []router.Dyno{{ID: spec.ID, Name: spec.Name, Addr: addr}}); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(r)
	defer front.Close()
	if body := get(ctx, t, front.URL+"/", "myapp.localhost"); !strings.HasPrefix(body, "hello from web.1 in "+alloc) {
		t.Errorf("through the router: body = %q", body)
	}

	exit, err := formation.Stop(ctx, d, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 0 {
		t.Errorf("exit = %+v, want 0 (the app shuts down on SIGTERM)", exit)
	}
	if err := out.WaitFor(ctx, "got SIGTERM"); err != nil {
		t.Error(err)
	}
}

// A crashing dyno reports its status, and its job is gone afterwards so
// the Reconciler can start the replacement under a new (or the same) ID.
func TestCrash(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt := &nomad.Runtime{Address: a.addr}
	spec := formation.DynoSpec{ID: fmt.Sprintf("nomadtest.crash.%d", time.Now().UnixNano()), Name: "worker.1", Type: "worker",
		Command: "echo booting; echo failing >&2; exit 3", SlugDir: emptySlug(t)}
	var out, errOut formationtest.Buffer
	d, err := rt.Start(ctx, spec, formation.Stdio{Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	exit, err := d.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 3 || exit.Signal != 0 {
		t.Errorf("exit = %+v, want status 3", exit)
	}
	if out.String() != "booting\n" || errOut.String() != "failing\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errOut.String())
	}
	if err := a.get(ctx, "/v1/job/"+spec.ID, new(struct{})); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("job of the exited dyno: %v, want 404 (purged)", err)
	}
}

// Stop with a grace period: SIGTERM first, SIGKILL once the grace is over.
func TestStopGraceThenKill(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt := &nomad.Runtime{Address: a.addr}
	spec := formation.DynoSpec{ID: fmt.Sprintf("nomadtest.stop.%d", time.Now().UnixNano()), Name: "web.1", Type: "web",
		Command: `trap 'echo term-received' TERM; echo ready; while :; do sleep 0.05; done`, SlugDir: emptySlug(t)}
	var out formationtest.Buffer
	d, err := rt.Start(ctx, spec, formation.Stdio{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, d)
	if err := out.WaitFor(ctx, "ready"); err != nil {
		t.Fatal(err)
	}
	const grace = 500 * time.Millisecond
	begin := time.Now()
	exit, err := formation.Stop(ctx, d, grace)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < grace {
		t.Errorf("Stop took %v, less than the grace period", took)
	}
	if exit.Signal != syscall.SIGKILL || exit.Code != 137 {
		t.Errorf("exit = %+v, want SIGKILL", exit)
	}
	if err := out.WaitFor(ctx, "term-received"); err != nil {
		t.Errorf("SIGTERM did not reach the dyno first: %v", err)
	}
}

// The slug as an artifact: Nomad downloads it from slug.Handler, checks the
// checksum and unpacks it; a wrong checksum fails Start.
func TestSlugArtifact(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	build := t.TempDir()
	if err := os.WriteFile(filepath.Join(build, "hello.txt"), []byte("from the slug\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var tgz bytes.Buffer
	info, err := slug.Pack(ctx, &tgz, build, slug.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store := &slug.FSStore{Dir: t.TempDir()}
	if _, err := store.Put(ctx, &tgz, info.Digest); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/slugs/", &slug.Handler{Store: store}))
	defer srv.Close()
	sum := "sha256:" + info.Digest.Hex()

	for _, c := range []struct {
		name, checksum string
		wantErr        bool
	}{
		{"good", sum, false},
		{"bad", "sha256:" + strings.Repeat("0", 64), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt := &nomad.Runtime{Address: a.addr, SlugURL: func(s formation.DynoSpec) (string, string, bool) {
				return srv.URL + "/slugs/" + info.Digest.String(), c.checksum, true
			}}
			spec := formation.DynoSpec{ID: fmt.Sprintf("nomadtest.artifact.%s.%d", c.name, time.Now().UnixNano()), Name: "run.1", Type: "run",
				Command: `cat hello.txt; [ "$HOME" = "$PWD" ] && echo home-is-app`}
			var out formationtest.Buffer
			d, err := rt.Start(ctx, spec, formation.Stdio{Stdout: &out})
			if c.wantErr {
				if err == nil {
					stopAtEnd(t, d)
					t.Fatal("Start with a wrong checksum succeeded")
				}
				if !strings.Contains(err.Error(), "Artifact") {
					t.Errorf("err = %v, want an artifact failure", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			exit, err := d.Wait(ctx)
			if err != nil || exit.Code != 0 {
				t.Fatalf("exit = %+v, %v", exit, err)
			}
			if got := out.String(); got != "from the slug\nhome-is-app\n" {
				t.Errorf("output = %q", got)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	rt := &nomad.Runtime{Address: "http://127.0.0.1:1"}
	ctx := context.Background()
	for _, c := range []struct {
		spec formation.DynoSpec
		want string
	}{
		{formation.DynoSpec{ID: "a b", Command: "x", SlugDir: "."}, `"a b" contains ' '`},
		{formation.DynoSpec{ID: "a", Command: " ", SlugDir: "."}, "Command must not be empty"},
		{formation.DynoSpec{ID: "a", Command: "x", SlugDir: "/does/not/exist"}, `SlugDir "/does/not/exist"`},
		{formation.DynoSpec{ID: "a", Command: "x", SlugDir: ".", Resources: formation.Resources{CPUShares: -1}}, "Resources.CPUShares -1 must not be negative"},
		{formation.DynoSpec{ID: "a", Command: "x", SlugDir: "."}, "register job"},
	} {
		_, err := rt.Start(ctx, c.spec, formation.Stdio{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "nomad: start") {
			t.Errorf("Start(%+v) = %v, want an error containing %q", c.spec, err, c.want)
		}
	}
	if _, err := (&nomad.Runtime{Driver: "exec"}).Start(ctx, formation.DynoSpec{ID: "a", Command: "x", SlugDir: "."}, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), "SlugURL") {
		t.Errorf("exec without SlugURL: %v", err)
	}
	if errors.Is(nil, formation.ErrExists) {
		t.Fatal("unreachable")
	}
}

// Nomad evaluates ${...} in task config and env; commands and config vars
// must reach bash verbatim.
func TestNoNomadInterpolation(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt := &nomad.Runtime{Address: a.addr}
	spec := formation.DynoSpec{ID: fmt.Sprintf("nomadtest.interp.%d", time.Now().UnixNano()), Name: "run.1", Type: "run",
		Command: `NOMAD_TASK_NAME=mine; printf '%s|%s|%s\n' "${NOMAD_TASK_NAME}" "$CFG" '%{x}'`,
		Env:     []string{"CFG=${NOMAD_TASK_NAME}-${attr.kernel.name}"},
		SlugDir: emptySlug(t)}
	var out formationtest.Buffer
	d, err := rt.Start(ctx, spec, formation.Stdio{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if exit, err := d.Wait(ctx); err != nil || exit.Code != 0 {
		t.Fatalf("exit = %+v, %v", exit, err)
	}
	if want := "mine|${NOMAD_TASK_NAME}-${attr.kernel.name}|%{x}\n"; out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
}

// A job no node can run fails Start with Nomad's reason and leaves no job.
func TestUnplaceable(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt := &nomad.Runtime{Address: a.addr, Datacenters: []string{"nowhere"}}
	spec := formation.DynoSpec{ID: fmt.Sprintf("nomadtest.unplaceable.%d", time.Now().UnixNano()), Name: "web.1", Type: "web",
		Command: "sleep 30", SlugDir: emptySlug(t)}
	d, err := rt.Start(ctx, spec, formation.Stdio{})
	if err == nil {
		stopAtEnd(t, d)
		t.Fatal("Start succeeded in a datacenter with no nodes")
	}
	if !strings.Contains(err.Error(), "no Nomad node can run the dyno") {
		t.Errorf("err = %v", err)
	}
	if err := a.get(ctx, "/v1/job/"+spec.ID, new(struct{})); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("job after the failed Start: %v, want 404", err)
	}
}

// A platform that died without stopping its dynos finds their jobs by
// Owner when it starts again and purges them; jobs of another owner and
// its own live dynos are left alone.
func TestPurgeOwned(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := (&nomad.Runtime{Address: a.addr}).PurgeOwned(ctx); err == nil {
		t.Error("PurgeOwned without an Owner: no error")
	}
	owner := fmt.Sprintf("purge-test-%d", time.Now().UnixNano())
	dead := &nomad.Runtime{Address: a.addr, Owner: owner} // the platform that died
	other := &nomad.Runtime{Address: a.addr, Owner: owner + "-other"}
	orphan, err := dead.Start(ctx, webSpec(t, "web.1"), formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Start(ctx, webSpec(t, "web.2"), formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, foreign)

	restarted := &nomad.Runtime{Address: a.addr, Owner: owner}
	own, err := restarted.Start(ctx, webSpec(t, "web.3"), formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, own)
	purged, err := restarted.PurgeOwned(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(purged) != 1 || purged[0] != orphan.ID() {
		t.Fatalf("purged %q, want only the orphan %q", purged, orphan.ID())
	}
	// The orphan's process is gone (its job with it); the others run on.
	// Not waiting for the orphan: its watcher learns of the purge only when
	// its blocking query returns, as a dead platform's never would.
	for _, d := range []formation.Dyno{orphan, foreign, own} {
		var job struct{ Status string }
		err := a.get(ctx, "/v1/job/"+d.ID(), &job)
		switch {
		case d == orphan && err == nil:
			t.Errorf("orphan job %s still there (%s) after the purge", d.ID(), job.Status)
		case d != orphan && (err != nil || job.Status != "running"):
			t.Errorf("job %s after the purge: status %q, err %v; want running", d.ID(), job.Status, err)
		}
	}
}
