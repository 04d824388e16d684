package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation/nomad/nomadtest"
	"github.com/dynokit/dynokit/logplex"
)

// -runtime nomad end to end: a git push builds the hello app, its web dyno
// runs as a Nomad job on a real dev agent, the router reaches it, and
// stopping the platform leaves no job behind.
func TestNomadRuntime(t *testing.T) {
	requireTools(t)
	var agents nomadtest.Shared
	a := agents.Get(t)
	t.Cleanup(agents.Stop) // after the platform's own cleanup (LIFO)

	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	m := startMinipaasWith(t, filepath.Join(t.TempDir(), "data"), token, "-runtime", "nomad", "-nomad-addr", a.Addr)
	if code := m.api("POST", "/apps", `{"name":"hello"}`, nil); code != http.StatusCreated {
		t.Fatalf("POST /apps: %d", code)
	}
	m.pushHello(newGitClient(t), "hello")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dynos, err := m.p.Dynos(ctx, "hello")
	if err != nil || len(dynos) != 1 {
		t.Fatalf("dynos of hello: %+v, %v", dynos, err)
	}
	// The dyno is a running Nomad job named by its dyno ID.
	var job struct{ Status string }
	if err := a.Get(ctx, "/v1/job/"+dynos[0].ID, &job); err != nil || job.Status != "running" {
		t.Errorf("Nomad job %s: %+v, %v", dynos[0].ID, job, err)
	}
	// Its output reaches the app's log stream through Nomad's log API.
	for {
		seq, err := m.p.Logs(ctx, "hello", logplex.TailOptions{Lines: 1000, Source: "app", Dyno: "web.1"})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for msg, err := range seq {
			if err == nil && strings.HasPrefix(msg.Text, "hello listening on") {
				found = true
			}
		}
		if found {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the dyno's output never reached the app's logs")
		case <-time.After(100 * time.Millisecond):
		}
	}
	// heroku run from a terminal: the task runs the command on one.
	checkTerminalRun(t, m, "hello")

	m.stop()
	jobIDs := func() []string {
		var jobs []struct{ ID string }
		if err := a.Get(ctx, "/v1/jobs", &jobs); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		return ids
	}
	if ids := jobIDs(); len(ids) != 0 {
		t.Errorf("jobs after the platform stopped: %q", ids)
	}

	// A platform killed with SIGKILL leaves its dynos' jobs running; the
	// next start on the same data dir purges them before starting the
	// app's dynos again.
	dataDir2 := filepath.Join(t.TempDir(), "data")
	m2, c := startChild(t, dataDir2, token, "-runtime", "nomad", "-nomad-addr", a.Addr)
	if code := m2.api("POST", "/apps", `{"name":"hello2"}`, nil); code != http.StatusCreated {
		t.Fatalf("create app: %d", code)
	}
	m2.pushHello(newGitClient(t), "hello2")
	c.signal(t, syscall.SIGKILL)
	left := jobIDs()
	if len(left) != 1 {
		t.Fatalf("jobs left by the killed platform: %q, want its one dyno", left)
	}
	m2, c = startChild(t, dataDir2, token, "-runtime", "nomad", "-nomad-addr", a.Addr)
	m2.waitFor("hello2", "the app after the restart", func(status int, body string) bool { return status == 200 })
	if ids := jobIDs(); len(ids) != 1 || ids[0] == left[0] {
		t.Errorf("jobs after the restart: %q (left before: %q)", ids, left)
	}
	c.signal(t, syscall.SIGTERM)
	if ids := jobIDs(); len(ids) != 0 {
		t.Errorf("jobs after the final stop: %q", ids)
	}
}

func TestNomadFlags(t *testing.T) {
	t.Setenv("NOMAD_ADDR", "http://10.1.2.3:4646")
	o, err := parseFlags([]string{"-runtime", "nomad"}, io.Discard)
	if err != nil || o.Runtime != "nomad" || o.NomadAddr != "http://10.1.2.3:4646" {
		t.Errorf("-runtime nomad with NOMAD_ADDR: %+v, %v", o, err)
	}
	o, err = parseFlags([]string{"-runtime", "nomad", "-nomad-addr", "http://127.0.0.1:1"}, io.Discard)
	if err != nil || o.NomadAddr != "http://127.0.0.1:1" {
		t.Errorf("-nomad-addr: %+v, %v", o, err)
	}
}
