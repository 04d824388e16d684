package nomad_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
)

// One-off dynos (heroku run, the release phase) run from the deployment's
// slug with its config vars, report the command's exit status, leave no
// job behind, and stop on formation.Stop.
func TestSchedulerOneOff(t *testing.T) {
	a := agent(t)
	s := testScheduler(a)
	src := formationtest.ServeSlug(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dep := formationtest.Deployment("oneoff", 4, src, nil, "GREETING=salut")

	var out formationtest.Buffer
	d, err := s.RunOneOff(ctx, dep, formation.OneOffSpec{Command: `echo "$DYNO says $GREETING from $(pwd)"; test -x bin/dynohelper; exit 3`}, formation.Stdio{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	exit, err := d.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 3 || exit.Signal != 0 {
		t.Errorf("exit = %v, want status 3", exit)
	}
	line := strings.TrimSpace(out.String())
	if !strings.HasPrefix(line, "run.") || !strings.Contains(line, " says salut from ") || !strings.HasSuffix(line, "/app") {
		t.Errorf("output %q, want \"run.N says salut from .../app\"", line)
	}
	var job struct{ Status string }
	if err := a.get(ctx, "/v1/job/"+d.ID(), &job); err == nil {
		t.Errorf("job %s still there after the one-off ended (%s)", d.ID(), job.Status)
	}

	// Attached: stdin reaches the command (heroku run).
	var echoed formationtest.Buffer
	attached, err := s.RunOneOff(ctx, dep, formation.OneOffSpec{Command: `read -r line; echo "got: $line"`, Stdin: strings.NewReader("hello stdin\n")}, formation.Stdio{Stdout: &echoed})
	if err != nil {
		t.Fatal(err)
	}
	if exit, err := attached.Wait(ctx); err != nil || exit.Code != 0 {
		t.Errorf("attached one-off: exit %v, err %v", exit, err)
	}
	if got := strings.TrimSpace(echoed.String()); got != "got: hello stdin" {
		t.Errorf("attached one-off printed %q, want %q", got, "got: hello stdin")
	}

	// On a terminal (heroku run from one): its size, and CR ends a line.
	var onTerm formationtest.Buffer
	term, err := s.RunOneOff(ctx, dep, formation.OneOffSpec{Command: `stty size; read -r line; echo "got: $line"`,
		Stdin: strings.NewReader("typed\r"), Terminal: &formation.Terminal{Cols: 90, Rows: 20}}, formation.Stdio{Stdout: &onTerm})
	if err != nil {
		t.Fatal(err)
	}
	if exit, err := term.Wait(ctx); err != nil || exit.Code != 0 {
		t.Errorf("one-off on a terminal: exit %v, err %v", exit, err)
	}
	if got := onTerm.String(); !strings.Contains(got, "20 90\r\n") || !strings.Contains(got, "got: typed\r\n") {
		t.Errorf("one-off on a terminal printed %q", got)
	}

	// Stopped on a terminal, it gets its grace period: SIGTERM reaches the
	// command's session, not script, which would kill it at once.
	var graceful formationtest.Buffer
	termStop, err := s.RunOneOff(ctx, dep, formation.OneOffSpec{Command: `trap 'echo got-term; sleep 3; echo graceful; exit 0' TERM; echo ready; while :; do sleep 0.1; done`,
		Stdin: strings.NewReader(""), Terminal: &formation.Terminal{Cols: 80, Rows: 24}}, formation.Stdio{Stdout: &graceful})
	if err != nil {
		t.Fatal(err)
	}
	if err := graceful.WaitFor(ctx, "ready"); err != nil {
		t.Fatal(err)
	}
	if exit, err := formation.Stop(ctx, termStop, 20*time.Second); err != nil || exit.Code != 0 || !strings.Contains(graceful.String(), "graceful") {
		t.Errorf("a terminal one-off stopped with a grace period: exit %v, err %v, output %q; want its TERM trap to finish", exit, err, graceful.String())
	}

	long, err := s.RunOneOff(ctx, dep, formation.OneOffSpec{Command: "echo started; exec sleep 600"}, formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	exit, err = formation.Stop(ctx, long, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Signal == 0 {
		t.Errorf("stopped one-off: exit %v, want killed by a signal", exit)
	}

	// Delete stops the app's one-offs; another app's stay.
	running, err := s.RunOneOff(ctx, dep, formation.OneOffSpec{Command: "exec sleep 600"}, formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.RunOneOff(ctx, formationtest.Deployment("oneoff-run", 1, src, nil), formation.OneOffSpec{Command: "exec sleep 600"}, formation.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	defer formation.Stop(context.Background(), other, time.Second)
	if err := s.Delete(ctx, "oneoff"); err != nil {
		t.Fatal(err)
	}
	if exit, err := running.Wait(ctx); err != nil || exit.Code == 0 {
		t.Errorf("one-off after Delete: exit %v, err %v; want it killed", exit, err)
	}
	if err := a.get(ctx, "/v1/job/"+running.ID(), &job); err == nil {
		t.Errorf("one-off job %s still there after Delete (%s)", running.ID(), job.Status)
	}
	if err := a.get(ctx, "/v1/job/"+other.ID(), &job); err != nil || job.Status != "running" {
		t.Errorf("another app's one-off after Delete: %+v, %v; want running", job, err)
	}

	if _, err := s.RunOneOff(ctx, dep, formation.OneOffSpec{Command: "  "}, formation.Stdio{}); err == nil {
		t.Error("empty command: no error")
	}
}
