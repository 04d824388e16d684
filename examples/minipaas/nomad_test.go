package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
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

	m.stop()
	var jobs []struct{ ID string }
	if err := a.Get(ctx, "/v1/jobs", &jobs); err != nil || len(jobs) != 0 {
		t.Errorf("jobs after the platform stopped: %+v, %v", jobs, err)
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
