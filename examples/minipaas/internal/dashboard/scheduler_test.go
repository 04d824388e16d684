package dashboard

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
)

// TestSchedulerForms: jobs are added and removed on the app page, with
// Heroku Scheduler's choices; what breaks a rule schedules nothing.
func TestSchedulerForms(t *testing.T) {
	p := openPlatform(t)
	ctx := context.Background()
	if _, err := p.CreateApp(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token, User: dashUser})
	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	if !strings.Contains(page, `<form id="add-job"`) || !strings.Contains(page, `id="no-jobs"`) {
		t.Fatal("the app page has no Scheduler section")
	}
	for _, tc := range []struct {
		form url.Values
		msg  string
	}{
		{url.Values{"command": {""}, "every": {"1h"}}, "Nothing was scheduled: the command is required."},
		{url.Values{"command": {"x"}, "every": {"1m"}}, "Nothing was scheduled: choose every 10 minutes, every hour or every day."},
		{url.Values{"command": {"x"}, "every": {"24h"}, "at": {"25:00"}}, `Nothing was scheduled: the time "25:00" is not HH:MM (UTC).`},
		{url.Values{"command": {"x"}, "every": {"1h"}, "at": {"00:15"}}, "Nothing was scheduled: an hourly job runs at :00, :10, :20, :30, :40 or :50, not at 15m0s past the hour."},
		{url.Values{"command": {"x"}, "every": {"24h"}, "at": {"13:45"}}, "Nothing was scheduled: a daily job runs on the hour or half hour (UTC), not 13h45m0s after midnight."},
	} {
		if level, text := b.submit("scheduler", tc.form); level != "error" || text != tc.msg {
			t.Errorf("%v: %s %q, want %q", tc.form, level, text, tc.msg)
		}
	}
	if jobs, _ := p.Jobs(ctx, "demo"); len(jobs) != 0 {
		t.Fatalf("refused forms scheduled %+v", jobs)
	}
	level, text := b.submit("scheduler", url.Values{"command": {"bin/cleanup --all"}, "every": {"24h"}, "at": {"03:30"}})
	if level != "ok" || !strings.HasPrefix(text, `Scheduled "bin/cleanup --all" every day at 03:30 UTC: next run `) {
		t.Errorf("add a daily job: %s %q", level, text)
	}
	if level, text := b.submit("scheduler", url.Values{"command": {"bin/poll"}, "every": {"1h"}, "at": {"07:20"}}); level != "ok" || !strings.Contains(text, "every hour at :20") {
		t.Errorf("add an hourly job: %s %q", level, text)
	}
	jobs, err := p.Jobs(ctx, "demo")
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs: %+v, %v", jobs, err)
	}
	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{`<td class="command"><code>bin/cleanup --all</code></td>`, `<td class="schedule">every day at 03:30 UTC</td>`, `<td class="schedule">every hour at :20</td>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if level, text := b.submit("scheduler/remove", url.Values{"job": {"nope"}}); level != "error" || text != "Nothing was removed: that is not one of demo's jobs." {
		t.Errorf("remove an unknown job: %s %q", level, text)
	}
	if level, text := b.submit("scheduler/remove", url.Values{"job": {jobs[0].ID}}); level != "ok" || text != `Removed the job "bin/cleanup --all" (every day at 03:30 UTC).` {
		t.Errorf("remove: %s %q", level, text)
	}
	if jobs, _ := p.Jobs(ctx, "demo"); len(jobs) != 1 || jobs[0].Command != "bin/poll" {
		t.Errorf("jobs after the removal: %+v", jobs)
	}
}

var _ Scheduler = (*platform.Platform)(nil)
