package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/logplex"
)

// Scheduled jobs, as Heroku Scheduler runs them: a command run in a
// one-off dyno of the app's current release every 10 minutes, every hour
// at a minute (:00, :10 … :50) or every day at a time (on the hour or
// half hour, UTC). A job's output goes to the app's log like any detached
// one-off's. Jobs are kept with the app; one whose time passes while the
// platform is stopped is not run late. The dyno is a one-off of type
// "scheduler", named scheduler.N as on Heroku.

// SchedulerJob is one scheduled command of an app.
type SchedulerJob struct {
	ID      string        `json:"id"`
	AppID   string        `json:"app_id"`
	Command string        `json:"command"`
	Every   time.Duration `json:"every"` // 10 minutes, an hour or a day
	// At is the offset of the run within each period: 0 for every 10
	// minutes, a multiple of 10 minutes under an hour for hourly jobs, a
	// multiple of 30 minutes under a day (UTC) for daily ones.
	At        time.Duration `json:"at"`
	CreatedAt time.Time     `json:"created_at"`
}

// Next is the first run time of j strictly after t.
func (j SchedulerJob) Next(t time.Time) time.Time {
	n := t.UTC().Truncate(j.Every).Add(j.At)
	for !n.After(t) {
		n = n.Add(j.Every)
	}
	return n
}

// Validate checks a job's command and schedule, naming what is wrong.
func (j SchedulerJob) Validate() error {
	if strings.TrimSpace(j.Command) == "" {
		return errors.New("the command is empty")
	}
	switch j.Every {
	case 10 * time.Minute:
		if j.At != 0 {
			return errors.New("a job every 10 minutes has no time of its own")
		}
	case time.Hour:
		if j.At < 0 || j.At >= time.Hour || j.At%(10*time.Minute) != 0 {
			return fmt.Errorf("an hourly job runs at :00, :10, :20, :30, :40 or :50, not at %v past the hour", j.At)
		}
	case 24 * time.Hour:
		if j.At < 0 || j.At >= 24*time.Hour || j.At%(30*time.Minute) != 0 {
			return fmt.Errorf("a daily job runs on the hour or half hour (UTC), not %v after midnight", j.At)
		}
	default:
		return fmt.Errorf("a job runs every 10 minutes, every hour or every day, not every %v", j.Every)
	}
	return nil
}

const schedulerNS = "minipaas.scheduler" // keyed by app ID + "/" + job ID

// AddJob schedules command for app; the job is returned with its ID.
func (p *Platform) AddJob(ctx context.Context, app string, j SchedulerJob) (SchedulerJob, error) {
	if err := j.Validate(); err != nil {
		return SchedulerJob{}, &SchedulerError{App: app, Reason: err.Error()}
	}
	_, rec, err := p.entry(app)
	if err != nil {
		return SchedulerJob{}, err
	}
	j.ID, j.AppID, j.CreatedAt = newID(), rec.ID, time.Now().UTC()
	b, err := json.Marshal(j)
	if err != nil {
		return SchedulerJob{}, err
	}
	if err := p.kv.Update(ctx, func(tx store.Tx) error { return tx.Put(schedulerNS, []byte(j.AppID+"/"+j.ID), b) }); err != nil {
		return SchedulerJob{}, fmt.Errorf("platform: schedule a job of %s: %w", app, err)
	}
	p.nudgeScheduler()
	return j, nil
}

// SchedulerError is a job the scheduler refuses, with the reason.
type SchedulerError struct{ App, Reason string }

func (e *SchedulerError) Error() string {
	return fmt.Sprintf("platform: scheduler of %s: %s", e.App, e.Reason)
}

// Jobs lists app's scheduled jobs, oldest first.
func (p *Platform) Jobs(ctx context.Context, app string) ([]SchedulerJob, error) {
	_, rec, err := p.entry(app)
	if err != nil {
		return nil, err
	}
	jobs, err := p.jobsWithPrefix(ctx, rec.ID+"/")
	if err != nil {
		return nil, fmt.Errorf("platform: jobs of %s: %w", app, err)
	}
	return jobs, nil
}

// jobsWithPrefix reads the jobs whose key starts with prefix ("" for all).
func (p *Platform) jobsWithPrefix(ctx context.Context, prefix string) ([]SchedulerJob, error) {
	var out []SchedulerJob
	err := p.kv.View(ctx, func(tx store.Tx) error {
		return tx.Scan(schedulerNS, []byte(prefix), false, 0, func(k, v []byte) bool {
			if !strings.HasPrefix(string(k), prefix) {
				return false
			}
			var j SchedulerJob
			if json.Unmarshal(v, &j) == nil {
				out = append(out, j)
			}
			return true
		})
	})
	slices.SortFunc(out, func(a, b SchedulerJob) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// RemoveJob unschedules app's job id.
func (p *Platform) RemoveJob(ctx context.Context, app, id string) error {
	_, rec, err := p.entry(app)
	if err != nil {
		return err
	}
	key := []byte(rec.ID + "/" + id)
	err = p.kv.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(schedulerNS, key); err != nil {
			return err
		}
		return tx.Delete(schedulerNS, key)
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("platform: job %q of %s: %w", id, app, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("platform: remove job %q of %s: %w", id, app, err)
	}
	p.nudgeScheduler()
	return nil
}

func (p *Platform) nudgeScheduler() {
	select {
	case p.schedulerNudge <- struct{}{}:
	default:
	}
}

// runScheduler runs the jobs when due until ctx ends.
func (p *Platform) runScheduler(ctx context.Context) {
	last := time.Now()
	for {
		jobs, err := p.jobsWithPrefix(ctx, "")
		if err != nil && ctx.Err() == nil {
			p.log.Error("platform: scheduler", "err", err)
		}
		wait := time.Hour
		for _, j := range jobs {
			wait = min(wait, time.Until(j.Next(last)))
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.schedulerNudge:
			t.Stop()
			continue // jobs changed: compute again from last
		case <-t.C:
		}
		now := time.Now()
		p.runDueJobs(ctx, jobs, last, now)
		last = now
	}
}

// runDueJobs starts the jobs with a run time in (from, to].
func (p *Platform) runDueJobs(ctx context.Context, jobs []SchedulerJob, from, to time.Time) {
	for _, j := range jobs {
		if j.Next(from).After(to) {
			continue
		}
		name, ok := p.appName(j.AppID)
		if !ok {
			continue
		}
		dyno, err := p.runDetached(ctx, name, "scheduler", j.Command, "", 0)
		text := "Scheduler: started " + dyno + " for job " + j.ID
		if err != nil {
			text = "Scheduler: job " + j.ID + " could not start: " + strings.TrimPrefix(err.Error(), "platform: ")
		}
		_ = p.logs.Send(ctx, logplex.Message{App: j.AppID, Source: logplex.SourceApp, Proc: "scheduler", Text: text})
	}
}
