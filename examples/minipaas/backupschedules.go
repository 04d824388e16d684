package main

// Daily backups (heroku pg:backups:schedule, schedules, unschedule): one
// schedule per database, an hour of the day in a time zone. A loop checks
// the schedules every tick and captures the backups that are due, named
// a001 and kept apart from manual ones (backups.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// backupSchedule is a database's daily backup time, as platform.db keeps it.
type backupSchedule struct {
	UUID     string `json:"uuid"`
	AddonID  string `json:"addon_id"`
	Name     string `json:"name"` // the attachment's config var, DATABASE_URL
	Hour     int    `json:"hour"`
	Timezone string `json:"timezone"`
	// CreatedAt, and LastRun once it ran: the next run is the first
	// Hour:00 in Timezone after the later of the two.
	CreatedAt time.Time `json:"created_at"`
	LastRun   time.Time `json:"last_run,omitzero"`
}

// next is the first Hour:00 in the schedule's time zone strictly after t.
func (s backupSchedule) next(t time.Time) (time.Time, error) {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return time.Time{}, err
	}
	local := t.In(loc)
	n := time.Date(local.Year(), local.Month(), local.Day(), s.Hour, 0, 0, 0, loc)
	for !n.After(t) {
		local = local.AddDate(0, 0, 1)
		n = time.Date(local.Year(), local.Month(), local.Day(), s.Hour, 0, 0, 0, loc)
	}
	return n, nil
}

// due reports whether s should run at now.
func (s backupSchedule) due(now time.Time) bool {
	from := s.CreatedAt
	if s.LastRun.After(from) {
		from = s.LastRun
	}
	n, err := s.next(from)
	return err == nil && !now.Before(n)
}

type scheduleJSON struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	Hour      int    `json:"hour"`
	Timezone  string `json:"timezone"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func (s backupSchedule) toJSON() scheduleJSON {
	return scheduleJSON{UUID: s.UUID, Name: s.Name, Hour: s.Hour, Timezone: s.Timezone,
		CreatedAt: timestamp(s.CreatedAt), UpdatedAt: timestamp(s.CreatedAt)}
}

func (b *pgBackups) loadSchedules(ctx context.Context) error {
	recs, err := b.p.Records(ctx, platform.BackupScheduleRecords)
	if err != nil {
		return err
	}
	for key, raw := range recs {
		var s backupSchedule
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("backups: schedule of %s: %w", key, err)
		}
		b.schedules[s.AddonID] = s
	}
	return nil
}

// putSchedule stores s, replacing the database's schedule.
func (b *pgBackups) putSchedule(ctx context.Context, s backupSchedule) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := b.p.PutRecord(context.WithoutCancel(ctx), platform.BackupScheduleRecords, s.AddonID, raw); err != nil {
		return err
	}
	b.mu.Lock()
	b.schedules[s.AddonID] = s
	b.mu.Unlock()
	return nil
}

func (b *pgBackups) deleteSchedule(ctx context.Context, addonID string) error {
	if err := b.p.DeleteRecord(context.WithoutCancel(ctx), platform.BackupScheduleRecords, addonID); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.schedules, addonID)
	b.mu.Unlock()
	return nil
}

func (a *api) transferSchedules(w http.ResponseWriter, r *http.Request) error {
	v, _, err := a.database(r)
	if err != nil {
		return err
	}
	out := []scheduleJSON{}
	a.backups.mu.Lock()
	if s, ok := a.backups.schedules[v.rec.ID]; ok {
		out = append(out, s.toJSON())
	}
	a.backups.mu.Unlock()
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// scheduleBackups answers pg:backups:schedule: {"hour": "2", "timezone":
// "UTC", "schedule_name": "DATABASE_URL"} (the CLI sends the hour as text).
func (a *api) scheduleBackups(w http.ResponseWriter, r *http.Request) error {
	v, _, err := a.database(r)
	if err != nil {
		return err
	}
	var body struct {
		Hour         json.RawMessage `json:"hour"`
		Timezone     string          `json:"timezone"`
		ScheduleName string          `json:"schedule_name"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	hour, err := strconv.Atoi(strings.Trim(string(body.Hour), `"`))
	if err != nil || hour < 0 || hour > 23 {
		return platformapi.InvalidParams("hour %s must be a whole hour from 0 to 23", truncate(string(body.Hour), 20))
	}
	s := backupSchedule{UUID: platformapi.NewUUID(), AddonID: v.rec.ID, Name: body.ScheduleName, Hour: hour,
		Timezone: body.Timezone, CreatedAt: a.backups.now()}
	if s.Timezone == "" {
		s.Timezone = "UTC"
	}
	if s.Name == "" {
		s.Name = v.rec.Attachment + "_URL"
	}
	if _, err := s.next(s.CreatedAt); err != nil {
		return platformapi.InvalidParams("timezone %q is not a time zone name such as UTC or Europe/Paris", truncate(s.Timezone, 60))
	}
	if err := a.backups.putSchedule(r.Context(), s); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, s.toJSON())
	return nil
}

func (a *api) unscheduleBackups(w http.ResponseWriter, r *http.Request) error {
	v, _, err := a.database(r)
	if err != nil {
		return err
	}
	a.backups.mu.Lock()
	s, ok := a.backups.schedules[v.rec.ID]
	a.backups.mu.Unlock()
	if !ok || s.UUID != r.PathValue("id") {
		return platformapi.NotFound("backup schedule", r.PathValue("id"))
	}
	if err := a.backups.deleteSchedule(r.Context(), v.rec.ID); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, s.toJSON())
	return nil
}

// runBackupSchedules captures the scheduled backups as they fall due,
// until ctx ends. A schedule whose database is gone is dropped; one whose
// database is busy with another transfer runs at the next tick.
func (a *api) runBackupSchedules(ctx context.Context) {
	b := a.backups
	ticker := time.NewTicker(b.tick)
	defer ticker.Stop()
	for {
		now := b.now()
		b.mu.Lock()
		var due []backupSchedule
		for _, s := range b.schedules {
			if s.due(now) {
				due = append(due, s)
			}
		}
		b.mu.Unlock()
		slices.SortFunc(due, func(x, y backupSchedule) int { return strings.Compare(x.AddonID, y.AddonID) })
		for _, s := range due {
			a.runSchedule(ctx, s, now)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (a *api) runSchedule(ctx context.Context, s backupSchedule, now time.Time) {
	b := a.backups
	v, err := a.findAddon("", s.AddonID)
	if err != nil {
		if err := b.deleteSchedule(ctx, s.AddonID); err != nil {
			b.log.Warn("minipaas: backup schedule of a destroyed database not removed", "addon", s.AddonID, "err", err)
		}
		return
	}
	if !v.live {
		return
	}
	app, err := a.appByNameOrID(ctx, v.rec.App)
	if err != nil {
		return
	}
	if _, err := a.capture(ctx, v, app.ID, s.Name); err != nil {
		b.log.Debug("minipaas: scheduled backup postponed", "addon", v.rec.Name, "err", err)
		return
	}
	b.mu.Lock()
	current := b.schedules[s.AddonID].UUID == s.UUID // not replaced meanwhile
	b.mu.Unlock()
	if !current {
		return
	}
	s.LastRun = now
	if err := b.putSchedule(ctx, s); err != nil {
		b.log.Warn("minipaas: backup schedule's last run not saved", "addon", v.rec.Name, "err", err)
	}
}
