package platform

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/internal/store"
)

func TestSchedulerJobNext(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		every, at time.Duration
		after     string
		want      string
	}{
		{10 * time.Minute, 0, "2026-11-22T10:03:00Z", "2026-11-22T10:10:00Z"},
		{10 * time.Minute, 0, "2026-11-22T10:10:00Z", "2026-11-22T10:20:00Z"}, // strictly after
		{time.Hour, 30 * time.Minute, "2026-11-22T10:29:59Z", "2026-11-22T10:30:00Z"},
		{time.Hour, 30 * time.Minute, "2026-11-22T10:30:00Z", "2026-11-22T11:30:00Z"},
		{24 * time.Hour, 23*time.Hour + 30*time.Minute, "2026-11-22T23:45:00Z", "2026-11-23T23:30:00Z"},
		{24 * time.Hour, 0, "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"},
	} {
		j := SchedulerJob{Every: tc.every, At: tc.at}
		if got := j.Next(at(tc.after)); !got.Equal(at(tc.want)) {
			t.Errorf("every %v at %v, after %s: %s, want %s", tc.every, tc.at, tc.after, got.Format(time.RFC3339), tc.want)
		}
	}
}

func TestSchedulerJobValidate(t *testing.T) {
	for _, tc := range []struct {
		job  SchedulerJob
		want string // "" valid
	}{
		{SchedulerJob{Command: "rake x", Every: 10 * time.Minute}, ""},
		{SchedulerJob{Command: "rake x", Every: time.Hour, At: 50 * time.Minute}, ""},
		{SchedulerJob{Command: "rake x", Every: 24 * time.Hour, At: 13*time.Hour + 30*time.Minute}, ""},
		{SchedulerJob{Command: " ", Every: time.Hour}, "the command is empty"},
		{SchedulerJob{Command: "x", Every: time.Minute}, "every 10 minutes, every hour or every day"},
		{SchedulerJob{Command: "x", Every: time.Hour, At: 15 * time.Minute}, "an hourly job runs at :00"},
		{SchedulerJob{Command: "x", Every: 24 * time.Hour, At: 25 * time.Hour}, "on the hour or half hour"},
		{SchedulerJob{Command: "x", Every: 10 * time.Minute, At: time.Minute}, "no time of its own"},
	} {
		err := tc.job.Validate()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.job, err, tc.want)
		}
	}
}

// TestScheduler: a job is stored with the app and run in a one-off dyno
// when due, its output in the app's log; removed, it runs no more. The
// run loop is checked with a one-second job written to the store, as the
// API only takes Heroku's periods.
func TestScheduler(t *testing.T) {
	ctx := context.Background()
	r := start(t, filepath.Join(t.TempDir(), "data"))
	defer r.stop(t)
	if _, err := r.CreateApp(ctx, "cron"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Deploy(ctx, "cron", "testdata/hello", "", nil); err != nil {
		t.Fatal(err)
	}
	var sched *SchedulerError
	if _, err := r.AddJob(ctx, "cron", SchedulerJob{Command: "echo x", Every: time.Minute}); !errors.As(err, &sched) {
		t.Errorf("AddJob every minute: %v, want a SchedulerError", err)
	}
	j, err := r.AddJob(ctx, "cron", SchedulerJob{Command: "echo hourly-$DYNO", Every: time.Hour, At: 20 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if jobs, err := r.Jobs(ctx, "cron"); err != nil || len(jobs) != 1 || jobs[0].ID != j.ID {
		t.Fatalf("Jobs = %+v, %v", jobs, err)
	}
	// Due now: it runs.
	next := j.Next(time.Now())
	r.runDueJobs(ctx, []SchedulerJob{j}, next.Add(-time.Second), next)
	waitLog(t, r.Platform, "cron", "hourly-scheduler.")
	waitLog(t, r.Platform, "cron", "app[scheduler]: Scheduler: started scheduler.")
	waitLog(t, r.Platform, "cron", "app[scheduler.")

	// The loop: a job every second runs again and again.
	fast := SchedulerJob{ID: "fast", AppID: j.AppID, Command: "echo tick-$DYNO", Every: time.Second, CreatedAt: time.Now()}
	b, _ := json.Marshal(fast)
	if err := r.kv.Update(ctx, func(tx store.Tx) error { return tx.Put(schedulerNS, []byte(fast.AppID+"/fast"), b) }); err != nil {
		t.Fatal(err)
	}
	r.nudgeScheduler()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logText(t, r.Platform, "cron"), ": tick-scheduler.") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the one-second job did not run twice:\n%s", logText(t, r.Platform, "cron"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := r.RemoveJob(ctx, "cron", "fast"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a run in flight may still log
	n := strings.Count(logText(t, r.Platform, "cron"), ": tick-scheduler.")
	time.Sleep(2500 * time.Millisecond)
	if after := strings.Count(logText(t, r.Platform, "cron"), ": tick-scheduler."); after != n {
		t.Errorf("a removed job ran %d more times", after-n)
	}
	if err := r.RemoveJob(ctx, "cron", "fast"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing it again: %v", err)
	}
}
