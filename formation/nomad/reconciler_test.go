package nomad_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/nomad"
	"github.com/dynokit/dynokit/router"
)

// The Reconciler drives the Nomad runtime unchanged: deploy, route a
// request to a dyno Nomad scheduled, scale down, a crash restarted after
// its back-off, and everything stopped (no job left) when Run ends.
func TestReconcilerWithNomad(t *testing.T) {
	a := agent(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	slugDir := emptySlug(t)
	marker := filepath.Join(t.TempDir(), "crashed-once")
	var mu sync.Mutex
	var lines []string
	ports := map[string]int{}
	rec := &formation.Reconciler{
		Runtime: &nomad.Runtime{Address: a.addr},
		Spec: func(ctx context.Context, req formation.SpecRequest) (formation.DynoSpec, error) {
			spec := formation.DynoSpec{SlugDir: slugDir, Env: []string{"DYNO=" + req.Name}}
			switch req.Type {
			case "web":
				mu.Lock()
				if ports[req.Name] == 0 {
					ports[req.Name] = freePort(t)
				}
				spec.Port = ports[req.Name]
				mu.Unlock()
				spec.Command = "exec " + exe
				spec.Env = append(spec.Env, helperVar+"=http", fmt.Sprintf("PORT=%d", spec.Port))
			case "worker":
				// Crashes on its first run only.
				spec.Command = fmt.Sprintf(`if [ ! -e %[1]q ]; then : > %[1]q; exit 3; fi; echo working; sleep 30`, marker)
			}
			return spec, nil
		},
		OnEvent: func(e formation.Event) {
			mu.Lock()
			lines = append(lines, e.Dyno+": "+e.Message)
			mu.Unlock()
		},
		Grace:       5 * time.Second,
		BootTimeout: 20 * time.Second,
		Backoff:     []time.Duration{200 * time.Millisecond},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	defer stop()

	if err := rec.Set(formation.Formation{App: "app", Release: 1, Processes: map[string]formation.Process{
		"web": {Quantity: 2}, "worker": {Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, rec, "web.1", formation.StateUp)
	waitState(t, rec, "web.2", formation.StateUp)
	waitState(t, rec, "worker.1", formation.StateUp)

	// Route through the router to the dynos' addresses.
	var backends []router.Dyno
	for _, d := range rec.Dynos("app") {
		if d.Type == "web" {
			backends = append(backends, router.Dyno{ID: d.ID, Name: d.Name, Addr: d.Addr})
		}
	}
	r := router.New(router.Config{})
	if err := r.SetBackends("app", backends); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(r)
	defer front.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	if body := get(rctx, t, front.URL+"/", "app.localhost"); !strings.HasPrefix(body, "hello from web.") {
		t.Errorf("through the router: %q", body)
	}

	// Scale down: web.2 goes.
	if err := rec.Set(formation.Formation{App: "app", Release: 1, Processes: map[string]formation.Process{
		"web": {Quantity: 1}, "worker": {Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for _, d := range rec.Dynos("app") {
			if d.Type == "web" {
				n++
			}
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web never scaled to 1: %+v", rec.Dynos("app"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The worker crashed once and was restarted after its back-off.
	deadline = time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		i := slices.Index(lines, "worker.1: State changed from crashed to starting")
		restarted := i >= 0 && slices.Contains(lines[i:], "worker.1: State changed from starting to up")
		mu.Unlock()
		if restarted {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			got := strings.Join(lines, "\n")
			mu.Unlock() // the deferred stop needs it for OnEvent
			t.Fatalf("worker.1 was not restarted:\n%s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()

	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{
		"web.1: State changed from starting to up",
		"web.2: Stopping all processes with SIGTERM",
		"web.2: Process exited with status 0", // the helper exits cleanly on SIGTERM
		"worker.1: Process exited with status 3",
		"worker.1: Process exited with status 143", // stopped when Run ended
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("events lack %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	// It may have exited before Start returned (starting) or after (up).
	if !slices.Contains(lines, "worker.1: State changed from up to crashed") && !slices.Contains(lines, "worker.1: State changed from starting to crashed") {
		t.Errorf("worker.1 never crashed:\n%s", strings.Join(lines, "\n"))
	}
	// Run stopped every dyno; their jobs were purged.
	var jobs []struct{ ID string }
	if err := a.get(context.Background(), "/v1/jobs?prefix=app.", &jobs); err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 0 {
		t.Errorf("jobs left after Run: %+v", jobs)
	}
}

func waitState(t *testing.T, rec *formation.Reconciler, name string, want formation.State) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, d := range rec.Dynos("app") {
			if d.Name == name && d.State == want {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never reached %s: %+v", name, want, rec.Dynos("app"))
}
