package nomad_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/nomad"
	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/router"
)

// testScheduler is a Scheduler tuned for tests: checks every second and
// rolling deploys that do not wait for a dyno to stay healthy.
func testScheduler(a *testAgent) *nomad.Scheduler {
	return &nomad.Scheduler{
		Address:       a.addr,
		Driver:        "raw_exec", // exec takes 25 s per dyno here (BenchmarkSchedulerWebUp)
		CheckInterval: time.Second,
		UpdateStrategy: &nomad.UpdateStrategy{MaxParallel: 1, HealthCheck: "checks",
			HealthyDeadline: time.Minute, ProgressDeadline: 2 * time.Minute},
	}
}

// desiredCounts reads the job's group counts: what the Scheduler asked for.
func desiredCounts(a *testAgent, s *nomad.Scheduler) func(ctx context.Context, app string) (map[string]int, error) {
	return func(ctx context.Context, app string) (map[string]int, error) {
		var job struct {
			TaskGroups []struct {
				Name  string
				Count int
			}
		}
		if err := a.get(ctx, "/v1/job/"+s.JobID(app), &job); err != nil {
			if strings.Contains(err.Error(), "404") {
				return map[string]int{}, nil
			}
			return nil, err
		}
		out := map[string]int{}
		for _, tg := range job.TaskGroups {
			out[tg.Name] = tg.Count
		}
		return out, nil
	}
}

func TestSchedulerConformance(t *testing.T) {
	a := agent(t)
	src := formationtest.ServeSlug(t)
	formationtest.TestScheduler(t, func(t *testing.T) formation.Scheduler {
		return testScheduler(a)
	}, formationtest.SchedulerOptions{
		RunsDynos: true,
		Slug:      src,
		Desired:   desiredCounts(a, testScheduler(a)),
		Timeout:   90 * time.Second,
	})
}

// A request through the real router reaches a web dyno Nomad scheduled,
// the router's table fed from Nomad's service registrations; the dynos'
// output arrives through FollowLogs; Restart restarts them in place.
func TestSchedulerRouterLogsRestart(t *testing.T) {
	a := agent(t)
	src := formationtest.ServeSlug(t)
	s := testScheduler(a)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	app := "rt-" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	defer func() {
		if err := s.Delete(context.Background(), app); err != nil {
			t.Error(err)
		}
	}()
	if err := s.Apply(ctx, formationtest.Deployment(app, 1, src, map[string]int{"web": 2}, "GREETING=routed")); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	logs := map[string]*formationtest.Buffer{}
	logBuf := func(dyno string) *formationtest.Buffer {
		mu.Lock()
		defer mu.Unlock()
		if logs[dyno] == nil {
			logs[dyno] = new(formationtest.Buffer)
		}
		return logs[dyno]
	}
	defer func() { // before the deferred Delete
		if !t.Failed() {
			return
		}
		ds, err := s.Dynos(context.Background(), app)
		t.Logf("dynos: %+v (%v)", ds, err)
		mu.Lock()
		defer mu.Unlock()
		for d, b := range logs {
			t.Logf("output of %s:\n%s", d, b.String())
		}
	}()
	bgCtx, stopBg := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer func() { stopBg(); bg.Wait() }()
	// Output goes to logplex, as a platform's would, and to a buffer per
	// dyno the test can wait on.
	var lp logplex.Buffer
	bg.Add(2)
	go func() {
		defer bg.Done()
		if err := s.FollowLogs(bgCtx, app, func(dyno string) formation.Stdio {
			lw := logplex.NewLineWriter(&lp, logplex.Message{App: app, Source: logplex.SourceApp, Proc: dyno})
			w := io.MultiWriter(logBuf(dyno), lw)
			return formation.Stdio{Stdout: w, Stderr: w}
		}); err != nil {
			t.Errorf("FollowLogs: %v", err)
		}
	}()
	r := router.New(router.Config{})
	go func() {
		defer bg.Done()
		if err := s.FeedRouter(bgCtx, r, app, 200*time.Millisecond); err != nil {
			t.Errorf("FeedRouter: %v", err)
		}
	}()

	// Both web dynos in the router's table, from their registrations.
	for len(r.Backends(app)) != 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("router backends: %d, want 2", len(r.Backends(app)))
		case <-time.After(100 * time.Millisecond):
		}
	}
	front := httptest.NewServer(r)
	defer front.Close()
	if body := get(ctx, t, front.URL+"/", app+".localhost"); !strings.HasPrefix(body, "dyno=web.") || !strings.HasSuffix(body, "greeting=routed\n") {
		t.Errorf("through the router: %q", body)
	}
	bs, err := s.WebBackends(ctx, app)
	if err != nil || len(bs) != 2 || bs[0].Name != "web.1" || bs[1].Name != "web.2" {
		t.Errorf("WebBackends = %+v, %v", bs, err)
	}

	for _, d := range []string{"web.1", "web.2"} {
		if err := logBuf(d).WaitFor(ctx, d+" listening on"); err != nil {
			t.Fatalf("logs of %s: %v", d, err)
		}
		// The line writer gets each write after the test's buffer does.
		for found := false; !found; {
			for m, err := range lp.Tail(ctx, app, logplex.TailOptions{Lines: 100, Dyno: d}) {
				if err == nil && strings.HasPrefix(m.Text, d+" listening on") && m.Source == logplex.SourceApp {
					found = true
				}
			}
			select {
			case <-ctx.Done():
				t.Fatalf("logplex never got %q from %s", d+" listening on", d)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}

	if err := s.Restart(ctx, "no-such-app"); !errors.Is(err, formation.ErrUnknown) {
		t.Errorf("Restart of an unknown app: %v, want ErrUnknown", err)
	}
	if err := s.Restart(ctx, app, "worker"); !errors.Is(err, formation.ErrUnknown) {
		t.Errorf("Restart of an unknown type: %v, want ErrUnknown", err)
	}
	restarted := time.Now()
	if err := s.Restart(ctx, app, "web"); err != nil {
		t.Fatal(err)
	}
	// In place: the same allocation (and log stream) sees SIGTERM, then
	// the dyno listening again.
	for _, d := range bs {
		checkRestartOutput(ctx, t, a, s, app, d.ID, d.Name, restarted, logBuf(d.Name))
	}
}

// checkRestartOutput checks that FollowLogs delivered what the dyno name
// (allocation allocID) wrote across an in-place restart begun at
// restarted: its old task's SIGTERM line, then its new task's first line.
// Nomad's log collector (logmon) sometimes never collects a restarted
// task's output (a race in Nomad: see Scheduler.Restart), so the new line
// is required only once Nomad's own log file has it; a loss by Nomad is
// logged, not failed, since no client of the log API can see that output.
func checkRestartOutput(ctx context.Context, t *testing.T, a *testAgent, s *nomad.Scheduler, app, allocID, name string, restarted time.Time, buf *formationtest.Buffer) {
	t.Helper()
	if err := buf.WaitFor(ctx, name+" got SIGTERM\n"); err != nil {
		t.Errorf("%s after Restart: %v", name, err)
		return
	}
	want := name + " got SIGTERM\n" + name + " listening on"
	// Nomad's collected file is read directly, not through the log API
	// FollowLogs uses.
	collected := func() string {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.addr+"/v1/client/fs/cat/"+allocID+"?path=alloc/logs/"+"dyno.stdout.0", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// upAgain is when the new task was first seen up (its check passing:
	// it printed its line before listening).
	var upAgain, inFile time.Time
	for !strings.Contains(buf.String(), want) {
		now := time.Now()
		if inFile.IsZero() && strings.Contains(collected(), want) {
			inFile = now
		}
		if upAgain.IsZero() {
			ds, _ := s.Dynos(ctx, app)
			for _, d := range ds {
				if d.ID == allocID && d.State == formation.StateUp && d.StartedAt.After(restarted) {
					upAgain = now
				}
			}
		}
		switch {
		case !inFile.IsZero() && now.Sub(inFile) > 30*time.Second:
			t.Errorf("%s: Nomad collected %q 30 s ago; FollowLogs delivered only %q", name, want, buf.String())
			return
		case inFile.IsZero() && !upAgain.IsZero() && now.Sub(upAgain) > 15*time.Second:
			t.Logf("%s: up again for 15 s but Nomad's log collector never wrote its output (Nomad's logmon restart race); Nomad's file: %q", name, collected())
			return
		}
		select {
		case <-ctx.Done():
			t.Errorf("%s after Restart: %q in output %q (Nomad's file: %q; up again: %v): %v", name, want, buf.String(), collected(), !upAgain.IsZero(), ctx.Err())
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// An empty Driver prefers exec when a node has it, and keeps the driver of
// an existing job (no dyno replaced because the cluster changed).
func TestSchedulerDriverChoice(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	auto := &nomad.Scheduler{Address: a.addr}
	jobDriver := func(app string) string {
		var job struct {
			TaskGroups []struct{ Tasks []struct{ Driver string } }
		}
		if err := a.get(ctx, "/v1/job/"+auto.JobID(app), &job); err != nil {
			t.Fatal(err)
		}
		return job.TaskGroups[0].Tasks[0].Driver
	}
	src := formation.SlugSource{URL: "http://127.0.0.1:9/slugs/none"} // nothing runs: quantity 0
	want := "raw_exec"
	if a.nodeAttr(t, "driver.exec") == "1" {
		want = "exec"
	}
	for app, first := range map[string]*nomad.Scheduler{"drv-new": auto, "drv-kept": {Address: a.addr, Driver: "raw_exec"}} {
		defer auto.Delete(context.Background(), app)
		if err := first.Apply(ctx, formationtest.Deployment(app, 1, src, map[string]int{"worker": 0})); err != nil {
			t.Fatal(err)
		}
		if err := auto.Apply(ctx, formationtest.Deployment(app, 2, src, map[string]int{"worker": 0})); err != nil {
			t.Fatal(err)
		}
		w := want
		if first.Driver != "" {
			w = first.Driver
		}
		if got := jobDriver(app); got != w {
			t.Errorf("%s: driver %q, want %q", app, got, w)
		}
	}
}

// BenchmarkSchedulerWebUp measures how long a one-web-dyno app takes from
// Apply to its dyno being up (its check passing), per driver (exec builds
// a chroot per allocation):
//
//	go test -run '^$' -bench SchedulerWebUp -benchtime 3x ./formation/nomad/
func BenchmarkSchedulerWebUp(b *testing.B) {
	a := agent(b)
	src := formationtest.ServeSlug(b)
	for _, driver := range []string{"raw_exec", "exec"} {
		b.Run(driver, func(b *testing.B) {
			s := testScheduler(a)
			s.Driver = driver
			ctx := context.Background()
			var up time.Duration
			for i := 0; b.Loop(); i++ {
				app := fmt.Sprintf("bench-%s-%d-%d", driver[:3], os.Getpid(), i)
				begin := time.Now()
				if err := s.Apply(ctx, formationtest.Deployment(app, 1, src, map[string]int{"web": 1})); err != nil {
					b.Fatal(err)
				}
				for {
					ds, err := s.Dynos(ctx, app)
					if err != nil {
						b.Fatal(err)
					}
					if len(ds) == 1 && ds[0].State == formation.StateUp {
						break
					}
					if time.Since(begin) > 3*time.Minute {
						b.Fatalf("not up after 3 minutes: %+v", ds)
					}
					time.Sleep(50 * time.Millisecond)
				}
				up += time.Since(begin)
				if err := s.Delete(ctx, app); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "ms-to-up/op")
		})
	}
}

// The exec driver, the one a production cluster should use: the slug
// arrives as an artifact in a chroot and the web dyno answers with its
// config. Slow (a chroot per allocation: about 25 s here), so one dyno.
func TestSchedulerExecDriver(t *testing.T) {
	a := agent(t)
	if a.nodeAttr(t, "driver.exec") != "1" {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatal("the Nomad client has no exec driver (it needs root and cgroups)")
		}
		t.Skip("the Nomad client has no exec driver (it needs root and cgroups)")
	}
	s := testScheduler(a)
	s.Driver = "exec"
	src := formationtest.ServeSlug(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const app = "exec-web"
	t.Cleanup(func() { s.Delete(context.Background(), app) })
	if err := s.Apply(ctx, formationtest.Deployment(app, 1, src, map[string]int{"web": 1}, "GREETING=from-exec")); err != nil {
		t.Fatal(err)
	}
	var ds []formation.DynoStatus
	for {
		var err error
		ds, err = s.Dynos(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 && ds[0].State == formation.StateUp {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("exec web dyno never up: %+v", ds)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if ds[0].Name != "web.1" || ds[0].Addr == "" {
		t.Fatalf("dyno = %+v, want web.1 with an address", ds[0])
	}
	if resp, want := get(ctx, t, "http://"+ds[0].Addr+"/", ""), "dyno=web.1 greeting=from-exec\n"; resp != want {
		t.Fatalf("GET %s = %q, want %q", ds[0].Addr, resp, want)
	}
	if err := s.Delete(ctx, app); err != nil {
		t.Fatal(err)
	}
}
