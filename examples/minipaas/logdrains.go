package main

// App log drains: heroku drains:add / drains / drains:remove (heroku.md
// §7.5, §9.5 log-drain). An app drain is a logDrains runner like an
// add-on's (addondrains.go) plus a record in platform.db (id, app ID and
// name, URL, token, times), so it runs again after a restart; records
// name the app by ID, so one left behind by a crash during apps:destroy is
// dropped at the next start rather than reattached to a new app of the
// same name. Each drain gets a new random token, so removing and adding a
// URL again changes it, as on Heroku. An app has at most maxLogDrains
// drains, add-on drains included; add-on drains are listed (with their
// add-on) but only go with their add-on.
//
// Drain URLs carry credentials (https://user:pass@…): they are shown in
// the drain objects, as Heroku does, but never in errors or logs.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

// maxLogDrains is Heroku's limit of drains per app.
const maxLogDrains = 5

// logDrainRecord is what platform.db keeps per app drain.
type logDrainRecord struct {
	ID        string    `json:"id"`
	AppID     string    `json:"app_id"`
	App       string    `json:"app"`
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (r logDrainRecord) info() drainInfo {
	return drainInfo{ID: r.ID, App: r.App, AppID: r.AppID, URL: r.URL, Token: r.Token, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (i drainInfo) record() logDrainRecord {
	return logDrainRecord{ID: i.ID, AppID: i.AppID, App: i.App, URL: i.URL, Token: i.Token, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
}

// addAppDrain validates, records and starts a drain of app to rawURL.
func (d *logDrains) addAppDrain(ctx context.Context, app platform.App, rawURL string) (drainInfo, error) {
	if rawURL == "" {
		return drainInfo{}, platformapi.InvalidParams("Url can't be blank")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.active == nil {
		d.active = map[string]*activeDrain{}
	}
	n := 0
	for _, a := range d.active {
		if a.App != app.Name {
			continue
		}
		n++
		if a.URL == rawURL {
			return drainInfo{}, platformapi.InvalidParams("Url has already been taken")
		}
	}
	if n >= maxLogDrains {
		return drainInfo{}, platformapi.InvalidParams("App %s already has %d log drains, the most an app can have; remove one first (heroku drains:remove)", app.Name, maxLogDrains)
	}
	now := time.Now().UTC()
	info := drainInfo{ID: platformapi.NewUUID(), App: app.Name, AppID: app.ID, URL: rawURL, Token: "d." + platformapi.NewUUID(), CreatedAt: now, UpdatedAt: now}
	a, err := d.start(info)
	var bad errDrainURL
	if errors.As(err, &bad) {
		return drainInfo{}, platformapi.InvalidParams("%s", bad.Error())
	}
	if err != nil {
		return drainInfo{}, apiError(err)
	}
	b, err := json.Marshal(info.record())
	if err == nil {
		err = d.p.PutRecord(ctx, platform.LogDrainRecords, info.ID, b)
	}
	if err != nil {
		a.stop(ctx)
		return drainInfo{}, err
	}
	d.active[drainKey(app.Name, rawURL)] = a
	return info, nil
}

// find resolves one of app's drains by id, token or URL.
func (d *logDrains) find(app, idOrTokenOrURL string) (drainInfo, error) {
	for _, i := range d.list(app) {
		if i.ID == idOrTokenOrURL || i.Token == idOrTokenOrURL || i.URL == idOrTokenOrURL {
			return i, nil
		}
	}
	return drainInfo{}, platformapi.NotFound("log drain", redactURL(idOrTokenOrURL))
}

// removeAppDrain stops one of app's drains and deletes its record; an
// add-on's drain is refused.
func (d *logDrains) removeAppDrain(ctx context.Context, app, idOrTokenOrURL string, addonOf func(drainInfo) (string, bool)) (drainInfo, error) {
	info, err := d.find(app, idOrTokenOrURL)
	if err != nil {
		return drainInfo{}, err
	}
	if info.Addon {
		name, _ := addonOf(info)
		if name == "" {
			name = "that provides it"
		}
		return drainInfo{}, platformapi.InvalidParams("This drain belongs to the add-on %s: it can only be removed by removing the add-on (heroku addons:destroy)", name)
	}
	if err := d.p.DeleteRecord(ctx, platform.LogDrainRecords, info.ID); err != nil {
		return drainInfo{}, err
	}
	d.mu.Lock()
	a := d.active[drainKey(app, info.URL)]
	if a != nil && a.ID == info.ID {
		delete(d.active, drainKey(app, info.URL))
	} else {
		a = nil
	}
	d.mu.Unlock()
	if a != nil {
		a.stop(ctx)
	}
	return info, nil
}

// removeApp stops the drains of a destroyed app and deletes their
// records. An app drain whose record cannot be deleted is dropped by
// the next start's restore anyway (its app is gone).
func (d *logDrains) removeApp(ctx context.Context, app string) error {
	d.mu.Lock()
	var gone []*activeDrain
	for k, a := range d.active {
		if a.App == app {
			gone = append(gone, a)
			delete(d.active, k)
		}
	}
	d.mu.Unlock()
	var errs []error
	for _, a := range gone {
		a.stop(ctx)
		if !a.Addon {
			errs = append(errs, d.p.DeleteRecord(ctx, platform.LogDrainRecords, a.ID))
		}
	}
	return errors.Join(errs...)
}

// renameApp follows an app rename: the app's drains, add-on drains
// included, keep running (they follow the log stream by app ID) under the
// new name, and the app drains' records name it.
func (d *logDrains) renameApp(ctx context.Context, old, name string) error {
	d.mu.Lock()
	var moved []drainInfo
	for key, a := range d.active {
		if a.App != old {
			continue
		}
		delete(d.active, key)
		a.App = name
		d.active[drainKey(name, a.URL)] = a
		if !a.Addon {
			moved = append(moved, a.drainInfo)
		}
	}
	d.mu.Unlock()
	var errs []error
	for _, info := range moved {
		b, err := json.Marshal(info.record())
		if err == nil {
			err = d.p.PutRecord(ctx, platform.LogDrainRecords, info.ID, b)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// restore starts the recorded app drains after a restart, dropping those
// of apps that no longer exist. A drain that cannot start is logged and
// keeps its record.
func (d *logDrains) restore(ctx context.Context) error {
	raw, err := d.p.Records(ctx, platform.LogDrainRecords)
	if err != nil {
		return fmt.Errorf("log drains: %w", err)
	}
	for id, b := range raw {
		var rec logDrainRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			d.log.Warn("minipaas: unreadable log drain record", "drain", id, "err", err)
			continue
		}
		app, err := d.p.AppByID(ctx, rec.AppID)
		if errors.Is(err, platform.ErrNotFound) {
			if err := d.p.DeleteRecord(ctx, platform.LogDrainRecords, id); err != nil {
				return fmt.Errorf("log drains: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("log drains: %w", err)
		}
		d.mu.Lock()
		if d.active == nil {
			d.active = map[string]*activeDrain{}
		}
		rec.App = app.Name // renamed since the record was written
		key := drainKey(rec.App, rec.URL)
		if _, dup := d.active[key]; dup {
			// An add-on restored first drains there already.
			d.mu.Unlock()
			d.log.Warn("minipaas: app log drain duplicates an add-on's; not started", "app", rec.App, "drain", id)
			continue
		}
		a, err := d.start(rec.info())
		if err == nil {
			d.active[key] = a
		}
		d.mu.Unlock()
		if err != nil {
			d.log.Warn("minipaas: could not restore log drain", "app", rec.App, "drain", id, "err", err)
		}
	}
	return nil
}

// redactURL drops the user info of a URL-looking string, for messages.
func redactURL(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(a URL)"
	}
	u.User = nil
	return u.String()
}

// --- HTTP ---

func (a *api) logDrainRoutes(h func(string, platformapi.HandlerFunc)) {
	h("GET /apps/{app}/log-drains", a.listLogDrains)
	h("POST /apps/{app}/log-drains", a.addLogDrain)
	h("GET /apps/{app}/log-drains/{drain}", a.getLogDrain)
	h("DELETE /apps/{app}/log-drains/{drain}", a.removeLogDrain)
}

type logDrainJSON struct {
	ID        string             `json:"id"`
	URL       string             `json:"url"`
	Token     string             `json:"token"`
	Addon     *logDrainAddonJSON `json:"addon"`
	App       ref                `json:"app"`
	CreatedAt string             `json:"created_at"`
	UpdatedAt string             `json:"updated_at"`
}

type logDrainAddonJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	App  ref    `json:"app"`
}

// drainAddon finds the add-on of app that provides drain i.
func (a *api) drainAddon(i drainInfo) (addonView, bool) {
	for _, v := range a.addons.list(i.App) {
		if v.live && v.rec.App == i.App && v.addon.LogDrainURL == i.URL {
			return v, true
		}
	}
	return addonView{}, false
}

func (a *api) logDrainJSON(app platform.App, i drainInfo) logDrainJSON {
	j := logDrainJSON{
		ID: i.ID, URL: i.URL, Token: i.Token, App: ref{ID: app.ID, Name: app.Name},
		CreatedAt: rfc3339(i.CreatedAt), UpdatedAt: rfc3339(i.UpdatedAt),
	}
	if i.Addon {
		// Set even when the add-on is not found (being created or
		// destroyed right now), so clients can tell the two kinds apart.
		j.Addon = &logDrainAddonJSON{App: j.App}
		if v, ok := a.drainAddon(i); ok {
			j.Addon.ID, j.Addon.Name = v.rec.ID, v.rec.Name
		}
	}
	return j
}

func (a *api) listLogDrains(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	out := []logDrainJSON{}
	for _, i := range a.addons.drains.list(app.Name) {
		out = append(out, a.logDrainJSON(app, i))
	}
	return platformapi.Paginate(w, r, out,
		platformapi.Field[logDrainJSON]{Name: "id", Key: func(j logDrainJSON) string { return j.ID }},
		platformapi.Field[logDrainJSON]{Name: "created_at", Key: func(j logDrainJSON) string { return j.CreatedAt }},
	)
}

func (a *api) addLogDrain(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var body struct {
		URL string `json:"url"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	i, err := a.addDrain(r.Context(), app, body.URL)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.logDrainJSON(app, i))
	return nil
}

// addDrain checks rawURL (blank, not a drain URL, taken, over the limit)
// and starts a drain of app to it: the core of POST
// /apps/{app}/log-drains, which the dashboard's form runs too. Errors are
// API errors and never hold the URL.
func (a *api) addDrain(ctx context.Context, app platform.App, rawURL string) (drainInfo, error) {
	i, err := a.addons.drains.addAppDrain(ctx, app, strings.TrimSpace(rawURL))
	if err != nil {
		return drainInfo{}, err
	}
	a.log.Info("minipaas: log drain added", "app", app.Name, "drain", i.ID, "token", i.Token)
	return i, nil
}

// removeDrain stops app's drain given by id, token or URL, refusing an
// add-on's: the core of DELETE /apps/{app}/log-drains/{drain}, which the
// dashboard's form runs too.
func (a *api) removeDrain(ctx context.Context, app platform.App, idOrTokenOrURL string) (drainInfo, error) {
	addonOf := func(i drainInfo) (string, bool) {
		v, ok := a.drainAddon(i)
		return v.rec.Name, ok
	}
	i, err := a.addons.drains.removeAppDrain(ctx, app.Name, idOrTokenOrURL, addonOf)
	if err != nil {
		return drainInfo{}, err
	}
	a.log.Info("minipaas: log drain removed", "app", app.Name, "drain", i.ID, "token", i.Token)
	return i, nil
}

func (a *api) getLogDrain(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	i, err := a.addons.drains.find(app.Name, r.PathValue("drain"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.logDrainJSON(app, i))
	return nil
}

func (a *api) removeLogDrain(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	i, err := a.removeDrain(r.Context(), app, r.PathValue("drain"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.logDrainJSON(app, i))
	return nil
}
