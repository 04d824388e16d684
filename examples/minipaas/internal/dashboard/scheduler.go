package dashboard

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
)

// Scheduler is an optional capability of a Control: the app's scheduled
// jobs (Heroku Scheduler), listed in the Scheduler section with a form to
// add one and one to remove each. *platform.Platform has it.
type Scheduler interface {
	Jobs(ctx context.Context, app string) ([]platform.SchedulerJob, error)
	AddJob(ctx context.Context, app string, j platform.SchedulerJob) (platform.SchedulerJob, error)
	RemoveJob(ctx context.Context, app, id string) error
}

// jobRow is a job as the page shows it.
type jobRow struct {
	platform.SchedulerJob
	Schedule string
	Next     time.Time
}

// schedule describes a job's period as Heroku Scheduler's form does.
func schedule(j platform.SchedulerJob) string {
	switch j.Every {
	case 10 * time.Minute:
		return "every 10 minutes"
	case time.Hour:
		return fmt.Sprintf("every hour at :%02d", int(j.At/time.Minute))
	case 24 * time.Hour:
		return fmt.Sprintf("every day at %02d:%02d UTC", int(j.At/time.Hour), int(j.At%time.Hour/time.Minute))
	}
	return "every " + j.Every.String()
}

// schedulerData adds the Scheduler section's data when the Control can.
func (h *Handler) schedulerData(ctx context.Context, app string, data map[string]any) error {
	c, ok := h.Control.(Scheduler)
	if !ok {
		return nil
	}
	jobs, err := c.Jobs(ctx, app)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]jobRow, 0, len(jobs))
	for _, j := range jobs {
		rows = append(rows, jobRow{SchedulerJob: j, Schedule: schedule(j), Next: j.Next(now)})
	}
	data["SchedulerCapable"] = true
	data["Jobs"] = rows
	return nil
}

// addJob schedules a job (form: command; every, 10m, 1h or 24h; at,
// "HH:MM" UTC: the minutes for an hourly job, the time for a daily one).
func (h *Handler) addJob(ctx context.Context, app string, form url.Values) (string, error) {
	c, ok := h.Control.(Scheduler)
	if !ok {
		return "", badInput("Jobs cannot be scheduled on this platform.")
	}
	j := platform.SchedulerJob{Command: strings.TrimSpace(form.Get("command"))}
	if j.Command == "" {
		return "", badInput("Nothing was scheduled: the command is required.")
	}
	switch every := form.Get("every"); every {
	case "10m", "1h", "24h":
		j.Every, _ = time.ParseDuration(every)
	default:
		return "", badInput("Nothing was scheduled: choose every 10 minutes, every hour or every day.")
	}
	if j.Every > 10*time.Minute {
		at, err := parseClock(form.Get("at"))
		if err != nil {
			return "", badInput("Nothing was scheduled: %v.", err)
		}
		if j.Every == time.Hour {
			at %= time.Hour
		}
		j.At = at
	}
	j, err := c.AddJob(ctx, app, j)
	if err != nil {
		return "", err
	}
	return "Scheduled " + strconv.Quote(j.Command) + " " + schedule(j) + ": next run " + j.Next(time.Now()).Format("2006-01-02 15:04 MST") + ".", nil
}

// parseClock reads "HH:MM" (24-hour, UTC) as the time after midnight.
func parseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("the time %q is not HH:MM (UTC)", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// removeJob unschedules one of the app's jobs (form: job, its ID).
func (h *Handler) removeJob(ctx context.Context, app string, form url.Values) (string, error) {
	c, ok := h.Control.(Scheduler)
	if !ok {
		return "", badInput("Jobs cannot be scheduled on this platform.")
	}
	id := form.Get("job")
	jobs, err := c.Jobs(ctx, app)
	if err != nil {
		return "", err
	}
	for _, j := range jobs {
		if j.ID == id {
			if err := c.RemoveJob(ctx, app, id); err != nil {
				return "", err
			}
			return "Removed the job " + strconv.Quote(j.Command) + " (" + schedule(j) + ").", nil
		}
	}
	return "", badInput("Nothing was removed: that is not one of %s's jobs.", app)
}
