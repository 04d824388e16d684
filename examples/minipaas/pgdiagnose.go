package main

// heroku pg:diagnose: the CLI posts a database's URL to Heroku's
// pgdiagnose service (PGDIAGNOSE_URL, a host name whose scheme and port
// stay HEROKU_HOST's, as for HEROKU_DATA_HOST), which runs health checks
// and keeps the report for a month (heroku pg:diagnose REPORT_ID shows it
// again). minipaas runs the checks through the add-on's provider
// (addons.Diagnoser) and keeps reports in memory: up to maxReports, for
// reportTTL, gone at a restart.

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

const (
	maxReports = 1000
	reportTTL  = 30 * 24 * time.Hour
)

type diagnoseReport struct {
	ID        string          `json:"id"`
	App       string          `json:"app"`
	Database  string          `json:"database"`
	CreatedAt string          `json:"created_at"`
	Checks    []diagnoseCheck `json:"checks"`
	created   time.Time
}

type diagnoseCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// Results is what a check found: a list of rows, or one measurement
	// ({"count": "12"}), as the CLI displays them.
	Results any `json:"results"`
}

// diagnoseReports keeps the reports made since minipaas started.
type diagnoseReports struct {
	mu      sync.Mutex
	reports []*diagnoseReport // oldest first
}

func (d *diagnoseReports) add(r *diagnoseReport) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pruneLocked(r.created)
	if len(d.reports) >= maxReports {
		d.reports = slices.Delete(d.reports, 0, len(d.reports)-maxReports+1)
	}
	d.reports = append(d.reports, r)
}

func (d *diagnoseReports) get(id string) *diagnoseReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pruneLocked(time.Now())
	for _, r := range d.reports {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func (d *diagnoseReports) pruneLocked(now time.Time) {
	i := 0
	for i < len(d.reports) && now.Sub(d.reports[i].created) > reportTTL {
		i++
	}
	d.reports = slices.Delete(d.reports, 0, i)
}

// createDiagnoseReport answers heroku pg:diagnose [DATABASE]: the body
// names the app, the database's config var and its URL, which must be a
// heroku-postgresql add-on's of this platform (minipaas connects nowhere
// else).
func (a *api) createDiagnoseReport(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		App      string `json:"app"`
		Database string `json:"database"`
		URL      string `json:"url"`
	}
	if err := platformapi.DecodeJSON(r, 64<<10, &body); err != nil {
		return err
	}
	if body.URL == "" {
		return platformapi.InvalidParams("url is required: the database's URL from the app's config")
	}
	v, ok := a.databaseByURL(r.Context(), body.URL)
	if !ok {
		// Never echo the URL: it holds a password.
		return platformapi.InvalidParams("the url is not a heroku-postgresql database of this platform (a credential's or pooler's URL is not diagnosed: use the database's own)")
	}
	checks, err := a.addons.m.Diagnose(r.Context(), v.rec.Name)
	if err != nil {
		return a.addons.apiError(err, "diagnose "+v.rec.Name)
	}
	now := time.Now()
	rep := &diagnoseReport{
		ID: platformapi.NewUUID(), App: truncate(body.App, 100), Database: truncate(body.Database, 100),
		CreatedAt: now.UTC().Format("2006-01-02 15:04:05 -0700"), created: now,
	}
	for _, c := range checks {
		dc := diagnoseCheck{Name: c.Name, Status: string(c.Status), Results: map[string]string{}}
		switch {
		case len(c.Rows) > 0:
			dc.Results = c.Rows
		case len(c.Value) > 0:
			dc.Results = c.Value // the CLI shows a green check's only with --json
		}
		rep.Checks = append(rep.Checks, dc)
	}
	a.reports.add(rep)
	platformapi.WriteJSON(w, http.StatusCreated, rep)
	return nil
}

// diagnoseReport answers heroku pg:diagnose REPORT_ID.
func (a *api) diagnoseReport(w http.ResponseWriter, r *http.Request) error {
	rep := a.reports.get(r.PathValue("id"))
	if rep == nil {
		return platformapi.NotFound("report", r.PathValue("id"))
	}
	platformapi.WriteJSON(w, http.StatusOK, rep)
	return nil
}
