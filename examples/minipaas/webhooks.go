package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/release/sealed"
)

// App webhooks (heroku webhooks:add, webhooks, webhooks:remove,
// webhooks:deliveries): an app's changes are POSTed to the URLs that
// subscribed to their kind (api:app, api:addon, api:addon-attachment,
// api:release, api:build, api:formation, api:domain, api:sni-endpoint,
// dyno),
// signed with the webhook's secret in Heroku-Webhook-Hmac-SHA256 (base64
// HMAC-SHA256 of the body). Level notify makes one attempt; sync retries
// with backoff until a 2xx or the retries run out. Webhooks, and their
// events and deliveries of the last week (at most the last 100 per app),
// are kept in platform.db; a delivery a stop interrupted is retried from
// its first attempt at the next start.

// webhookKinds maps the event kinds subscribers include to the platform's
// resources.
var webhookKinds = map[string]string{
	"api:app":              platform.ResourceApp,
	"api:addon":            resourceAddon,
	"api:addon-attachment": resourceAttachment,
	"api:sni-endpoint":     resourceSNIEndpoint,
	"api:release":          platform.ResourceRelease,
	"api:build":            platform.ResourceBuild,
	"api:formation":        platform.ResourceFormation,
	"api:domain":           platform.ResourceDomain,
	"dyno":                 platform.ResourceDyno,
}

// The resources of the events minipaas makes itself (the platform has no
// add-ons or certificates).
const (
	resourceAddon       = "addon"
	resourceAttachment  = "addon-attachment"
	resourceSNIEndpoint = "sni-endpoint"
)

func webhookKindNames() string { return strings.Join(slices.Sorted(maps.Keys(webhookKinds)), ", ") }

// keptPerApp bounds the events and deliveries remembered per app, and
// keptFor their age (Heroku keeps them for a week).
const (
	keptPerApp = 100
	keptFor    = 7 * 24 * time.Hour
)

type webhookRecord struct {
	ID            string    `json:"id"`
	AppID         string    `json:"app_id"`
	Include       []string  `json:"include"`
	Level         string    `json:"level"`
	URL           string    `json:"url"`
	Secret        string    `json:"secret"`
	Authorization string    `json:"authorization,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

type webhookEvent struct {
	ID        string
	AppID     string
	Include   string
	Payload   json.RawMessage
	CreatedAt time.Time
}

type webhookDelivery struct {
	ID, AppID, EventID, Include, WebhookID, Level string
	Status                                        string // pending, retrying, failed, succeeded
	Attempts                                      int
	LastCode                                      int
	LastError                                     string
	LastAt, NextAt                                time.Time
	CreatedAt, UpdatedAt                          time.Time
}

// webhookService delivers app events to webhooks.
type webhookService struct {
	p   *platform.Platform
	log *slog.Logger
	// box, when set, seals the webhooks' secrets in their records.
	box *sealed.Box
	// base is the API's URL, for the URLs inside payloads (build output).
	base string
	// appJSON is an app as the API shows it (api:app payloads).
	appJSON func(platform.App) any
	client  *http.Client
	// retry is the wait before each retry of a sync delivery.
	retry []time.Duration
	sem   *semaphore.Weighted // bounds deliveries in flight

	ctx  context.Context // deliveries stop with it
	wg   sync.WaitGroup
	mu   sync.Mutex
	hook map[string]webhookRecord
	evs  map[string][]*webhookEvent    // by app ID, oldest first
	dels map[string][]*webhookDelivery // by app ID, oldest first
	// interrupted are the deliveries found pending or retrying at load,
	// for resume.
	interrupted []func()
}

// newWebhookService loads the webhooks; ctx ends deliveries (close waits
// for them).
func newWebhookService(ctx context.Context, p *platform.Platform, box *sealed.Box, log *slog.Logger, base string) (*webhookService, error) {
	w := &webhookService{
		p: p, box: box, log: log, base: base, ctx: ctx,
		client: &http.Client{Timeout: 30 * time.Second},
		retry:  []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute},
		sem:    semaphore.NewWeighted(32),
		hook:   map[string]webhookRecord{}, evs: map[string][]*webhookEvent{}, dels: map[string][]*webhookDelivery{},
	}
	recs, err := p.Records(ctx, platform.WebhookRecords)
	if err != nil {
		return nil, err
	}
	for id, b := range recs {
		var r webhookRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("webhook %s: %w", id, err)
		}
		if strings.HasPrefix(r.Secret, sealed.Prefix) {
			if box == nil {
				return nil, fmt.Errorf("webhook %s: its secret is sealed: pass the key file (-config-key-file)", id)
			}
			secret, err := box.Open(secretLabel(id), r.Secret)
			if err != nil {
				return nil, fmt.Errorf("webhook %s: %w", id, err)
			}
			r.Secret = string(secret)
		}
		w.hook[id] = r
	}
	if err := w.loadHistory(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// loadHistory reads back the recent events and deliveries, drops those
// past keptFor or keptPerApp, and keeps the deliveries a stop interrupted
// for resume.
func (w *webhookService) loadHistory(ctx context.Context) error {
	cutoff := time.Now().Add(-keptFor)
	evs, err := loadRecords(ctx, w.p, platform.WebhookEventRecords, cutoff, func(e *webhookEvent) (string, string, time.Time) { return e.AppID, e.ID, e.CreatedAt })
	if err != nil {
		return err
	}
	dels, err := loadRecords(ctx, w.p, platform.WebhookDeliveryRecords, cutoff, func(d *webhookDelivery) (string, string, time.Time) { return d.AppID, d.ID, d.CreatedAt })
	if err != nil {
		return err
	}
	w.evs, w.dels = evs, dels
	for _, ds := range dels {
		for _, d := range ds {
			if d.Status != "pending" && d.Status != "retrying" {
				continue
			}
			h, hasHook := w.hook[d.WebhookID]
			ev := w.event(d.AppID, d.EventID)
			if !hasHook || ev == nil {
				d.Status, d.LastError, d.NextAt = "failed", "its webhook or event is gone", time.Time{}
				w.save(platform.WebhookDeliveryRecords, d.AppID, d.ID, d)
				continue
			}
			w.interrupted = append(w.interrupted, func() { w.deliver(h, ev, d) })
		}
	}
	return nil
}

// resume makes the deliveries a stop interrupted again, in the
// background. Call it once w is configured (retry).
func (w *webhookService) resume() {
	for _, deliver := range w.interrupted {
		w.wg.Go(deliver)
	}
	w.interrupted = nil
}

// loadRecords reads the records of kind into per-app lists, oldest first,
// deleting those older than cutoff or beyond keptPerApp.
func loadRecords[T any](ctx context.Context, p *platform.Platform, kind platform.RecordKind, cutoff time.Time, of func(*T) (app, id string, at time.Time)) (map[string][]*T, error) {
	raw, err := p.Records(ctx, kind)
	if err != nil {
		return nil, err
	}
	out := map[string][]*T{}
	var stale []string
	for key, b := range raw {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			stale = append(stale, key)
			continue
		}
		app, _, at := of(v)
		if at.Before(cutoff) {
			stale = append(stale, key)
			continue
		}
		out[app] = append(out[app], v)
	}
	for app, l := range out {
		slices.SortFunc(l, func(a, b *T) int { _, _, ta := of(a); _, _, tb := of(b); return ta.Compare(tb) })
		if n := len(l) - keptPerApp; n > 0 {
			for _, v := range l[:n] {
				_, id, _ := of(v)
				stale = append(stale, app+"/"+id)
			}
			out[app] = slices.Clone(l[n:])
		}
	}
	for _, key := range stale {
		if err := p.DeleteRecord(ctx, kind, key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// event finds an event of the app with ID appID (at load, before any
// other use of w).
func (w *webhookService) event(appID, id string) *webhookEvent {
	for _, ev := range w.evs[appID] {
		if ev.ID == id {
			return ev
		}
	}
	return nil
}

// save writes a copy of v (an event or a delivery) as the record of kind
// keyed by appID/id; a failure is logged: the delivery goes on.
func (w *webhookService) save(kind platform.RecordKind, appID, id string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = w.p.PutRecord(context.WithoutCancel(w.ctx), kind, appID+"/"+id, b)
	}
	if err != nil {
		w.log.Warn("minipaas: webhook history not saved", "app", appID, "id", id, "err", err)
	}
}

func (w *webhookService) close() { w.wg.Wait() }

// onEvent is the platform's OnAppEvent: it must not block, so the
// subscribers are found and the deliveries started in the background.
func (w *webhookService) onEvent(e platform.AppEvent) {
	include := ""
	for k, res := range webhookKinds {
		if res == e.Resource {
			include = k
		}
	}
	subs := w.subscribers(e.AppID, include)
	if len(subs) == 0 {
		return
	}
	payload, err := w.payload(e)
	if err != nil {
		w.log.Error("webhook payload", "app", e.App, "resource", e.Resource, "err", err)
		return
	}
	w.publish(e.AppID, include, subs, payload)
}

// subscribers are the webhooks of the app with ID appID that include kind.
func (w *webhookService) subscribers(appID, include string) []webhookRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	var subs []webhookRecord
	for _, h := range w.hook {
		if h.AppID == appID && slices.Contains(h.Include, include) {
			subs = append(subs, h)
		}
	}
	return subs
}

// onAddon is the add-on service's changed hook: api:addon events for the
// billing app, api:addon-attachment events for the attached app, with
// the add-on or the attachment in the API's JSON.
func (w *webhookService) onAddon(ctx context.Context, a *api, ev addonEvent) {
	app, err := w.p.App(ctx, ev.App)
	if err != nil {
		return
	}
	if ev.Attachment != nil {
		w.send(ctx, app, "api:addon-attachment", resourceAttachment, ev.Action, a.attachmentToJSON(ctx, ev.Addon, *ev.Attachment))
		return
	}
	w.send(ctx, app, "api:addon", resourceAddon, ev.Action, a.addonToJSON(ctx, ev.Addon))
}

// send delivers an event about resource, which minipaas (not the
// platform) changed, to app's webhooks that include kind. data is the
// resource in the API's JSON. A nil w sends nothing.
func (w *webhookService) send(ctx context.Context, app platform.App, include, resource, action string, data any) {
	if w == nil {
		return
	}
	subs := w.subscribers(app.ID, include)
	if len(subs) == 0 {
		return
	}
	payload, err := envelope(resource, action, platform.UserOf(ctx), time.Now().UTC(), data, nil)
	if err != nil {
		w.log.Error("webhook payload", "app", app.Name, "resource", resource, "err", err)
		return
	}
	w.publish(app.ID, include, subs, payload)
}

// publish records an event of the app with ID appID and delivers it to
// subs in the background.
func (w *webhookService) publish(appID, include string, subs []webhookRecord, payload json.RawMessage) {
	now := time.Now().UTC()
	ev := &webhookEvent{ID: platformapi.NewUUID(), AppID: appID, Include: include, Payload: payload, CreatedAt: now}
	w.mu.Lock()
	var droppedEv, droppedDel []string
	w.evs[appID], droppedEv = keepLast(append(w.evs[appID], ev), func(e *webhookEvent) string { return e.ID })
	var ds []*webhookDelivery
	var copies []webhookDelivery
	for _, h := range subs {
		d := &webhookDelivery{ID: platformapi.NewUUID(), AppID: appID, EventID: ev.ID, Include: include, WebhookID: h.ID, Level: h.Level,
			Status: "pending", CreatedAt: now, UpdatedAt: now}
		var gone []string
		w.dels[appID], gone = keepLast(append(w.dels[appID], d), func(d *webhookDelivery) string { return d.ID })
		droppedDel = append(droppedDel, gone...)
		ds = append(ds, d)
		copies = append(copies, *d)
	}
	w.mu.Unlock()
	w.save(platform.WebhookEventRecords, appID, ev.ID, ev)
	for _, d := range copies {
		w.save(platform.WebhookDeliveryRecords, appID, d.ID, d)
	}
	w.forget(platform.WebhookEventRecords, appID, droppedEv)
	w.forget(platform.WebhookDeliveryRecords, appID, droppedDel)
	for i, d := range ds {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.deliver(subs[i], ev, d)
		}()
	}
}

// keepLast keeps the last keptPerApp of s and returns the IDs of the
// others.
func keepLast[T any](s []T, id func(T) string) ([]T, []string) {
	if len(s) <= keptPerApp {
		return s, nil
	}
	var gone []string
	for _, v := range s[:len(s)-keptPerApp] {
		gone = append(gone, id(v))
	}
	return slices.Clone(s[len(s)-keptPerApp:]), gone
}

// forget deletes the records of kind of the app with ID appID's ids.
func (w *webhookService) forget(kind platform.RecordKind, appID string, ids []string) {
	for _, id := range ids {
		if err := w.p.DeleteRecord(context.WithoutCancel(w.ctx), kind, appID+"/"+id); err != nil {
			w.log.Warn("minipaas: webhook history not trimmed", "app", appID, "id", id, "err", err)
		}
	}
}

// payload is the event's body as Heroku sends it, with the resource in
// the Platform API's JSON.
func (w *webhookService) payload(e platform.AppEvent) (json.RawMessage, error) {
	app := platform.App{ID: e.AppID, Name: e.App}
	var data any
	previous := map[string]any{}
	switch {
	case e.State != nil:
		data = w.appJSON(*e.State)
		if e.PreviousName != "" {
			previous["name"] = e.PreviousName
		}
	case e.Release != nil:
		data = releaseToJSON(app, *e.Release)
	case e.Build != nil:
		data = buildToJSON(w.base, app, *e.Build)
	case e.Formation != nil:
		data = formationToJSON(app, []platform.FormationEntry{*e.Formation})[0]
	case e.Dyno != nil:
		data = dynoToJSON(app, *e.Dyno)
	case e.Domain != "":
		data = domainToJSON(app, e.Domain, "custom")
	default:
		return nil, errors.New("event without a resource")
	}
	return envelope(e.Resource, e.Action, e.Actor, e.Time, data, previous)
}

// envelope is a webhook event's body, as Heroku's: the resource's data in
// the Platform API's JSON and what changed.
func envelope(resource, action, actor string, at time.Time, data any, previous map[string]any) (json.RawMessage, error) {
	if actor == "" || !strings.Contains(actor, "@") {
		actor = accountEmail
	}
	if previous == nil {
		previous = map[string]any{}
	}
	return json.Marshal(map[string]any{
		"action":        action,
		"actor":         owner{ID: accountID, Email: actor},
		"created_at":    rfc3339(at),
		"data":          data,
		"id":            platformapi.NewUUID(),
		"previous_data": previous,
		"published_at":  rfc3339(time.Now()),
		"resource":      resource,
		"sequence":      nil,
		"updated_at":    rfc3339(at),
		"version":       "application/vnd.heroku+json; version=3",
	})
}

// deliver POSTs ev to h: once (notify), or until a 2xx with retries
// (sync).
func (w *webhookService) deliver(h webhookRecord, ev *webhookEvent, d *webhookDelivery) {
	if err := w.sem.Acquire(w.ctx, 1); err != nil {
		return // stopping: still pending, resumed at the next start
	}
	defer w.sem.Release(1)
	for attempt := 0; ; attempt++ {
		code, err := w.attempt(h, ev, d)
		ok := err == nil && code >= 200 && code < 300
		retry := h.Level == "sync" && attempt < len(w.retry)
		w.update(d, func() {
			d.Attempts, d.LastCode, d.LastAt = attempt+1, code, time.Now().UTC()
			d.LastError = ""
			if err != nil {
				d.LastError = err.Error()
			}
			switch {
			case ok:
				d.Status, d.NextAt = "succeeded", time.Time{}
			case retry:
				d.Status, d.NextAt = "retrying", time.Now().UTC().Add(w.retry[attempt])
			default:
				d.Status, d.NextAt = "failed", time.Time{}
			}
		})
		if ok || !retry {
			return
		}
		t := time.NewTimer(w.retry[attempt])
		select {
		case <-t.C:
		case <-w.ctx.Done():
			t.Stop()
			return // stopping: still retrying, resumed at the next start
		}
	}
}

func (w *webhookService) update(d *webhookDelivery, change func()) {
	w.mu.Lock()
	change()
	d.UpdatedAt = time.Now().UTC()
	saved := *d
	w.mu.Unlock()
	w.save(platform.WebhookDeliveryRecords, saved.AppID, saved.ID, saved)
}

// attempt makes one POST; the payload carries the attempt's metadata.
func (w *webhookService) attempt(h webhookRecord, ev *webhookEvent, d *webhookDelivery) (int, error) {
	var body map[string]any
	if err := json.Unmarshal(ev.Payload, &body); err != nil {
		return 0, err
	}
	body["webhook_metadata"] = map[string]any{
		"attempt":  map[string]string{"id": platformapi.NewUUID()},
		"delivery": map[string]string{"id": d.ID},
		"event":    map[string]string{"id": ev.ID, "include": ev.Include},
		"webhook":  map[string]string{"id": h.ID},
	}
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	mac := hmac.New(sha256.New, []byte(h.Secret))
	mac.Write(b)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "minipaas-webhooks")
	req.Header.Set("Heroku-Webhook-Hmac-SHA256", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Heroku-Webhook-Id", h.ID)
	if h.Authorization != "" {
		req.Header.Set("Authorization", h.Authorization)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold credentials
		}
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// The API.

func (a *api) webhookRoutes(h func(string, platformapi.HandlerFunc)) {
	h("GET /apps/{app}/webhooks", a.listWebhooks)
	h("POST /apps/{app}/webhooks", a.createWebhook)
	h("GET /apps/{app}/webhooks/{webhook}", a.getWebhook)
	h("PATCH /apps/{app}/webhooks/{webhook}", a.updateWebhook)
	h("DELETE /apps/{app}/webhooks/{webhook}", a.deleteWebhook)
	h("GET /apps/{app}/webhook-deliveries", a.listDeliveries)
	h("GET /apps/{app}/webhook-deliveries/{delivery}", a.getDelivery)
	h("GET /apps/{app}/webhook-events", a.listWebhookEvents)
	h("GET /apps/{app}/webhook-events/{event}", a.getWebhookEvent)
}

func webhookToJSON(app platform.App, h webhookRecord) map[string]any {
	return map[string]any{
		"id": h.ID, "app": ref{ID: app.ID, Name: app.Name}, "include": h.Include, "level": h.Level, "url": h.URL,
		"created_at": rfc3339(h.CreatedAt), "updated_at": rfc3339(h.UpdatedAt),
	}
}

// webhookInput is the body of POST and PATCH; nil fields are unchanged.
type webhookInput struct {
	Include       *[]string `json:"include"`
	Level         *string   `json:"level"`
	URL           *string   `json:"url"`
	Secret        *string   `json:"secret"`
	Authorization *string   `json:"authorization"`
}

// apply checks in and applies it to h.
func (in webhookInput) apply(h *webhookRecord) error {
	if in.Include != nil {
		if len(*in.Include) == 0 {
			return platformapi.InvalidParams("include must name at least one event kind: %s", webhookKindNames())
		}
		for _, k := range *in.Include {
			if _, ok := webhookKinds[k]; !ok {
				return platformapi.InvalidParams("include: unknown event kind %q; minipaas sends %s", truncate(k, 100), webhookKindNames())
			}
		}
		h.Include = slices.Compact(slices.Sorted(slices.Values(*in.Include)))
	}
	if in.Level != nil {
		if *in.Level != "notify" && *in.Level != "sync" {
			return platformapi.InvalidParams("level must be notify (one attempt) or sync (retried until delivered), not %q", truncate(*in.Level, 100))
		}
		h.Level = *in.Level
	}
	if in.URL != nil {
		u, err := url.Parse(*in.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return platformapi.InvalidParams("url must be an http or https URL")
		}
		h.URL = *in.URL
	}
	if in.Secret != nil && *in.Secret != "" {
		h.Secret = *in.Secret
	}
	if in.Authorization != nil {
		h.Authorization = *in.Authorization
	}
	return nil
}

func (a *api) createWebhook(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	var in webhookInput
	if err := platformapi.DecodeJSON(r, maxBody, &in); err != nil {
		return err
	}
	if in.Include == nil || in.Level == nil || in.URL == nil {
		return platformapi.InvalidParams("include, level and url are required")
	}
	now := time.Now().UTC()
	h := webhookRecord{ID: platformapi.NewUUID(), AppID: app.ID, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&h); err != nil {
		return err
	}
	if h.Secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		h.Secret = hex.EncodeToString(b[:])
	}
	if err := a.webhooks.put(r.Context(), h); err != nil {
		return err
	}
	// Heroku shows the signing secret once, in this header.
	w.Header().Set("Heroku-Webhook-Secret", h.Secret)
	platformapi.WriteJSON(w, http.StatusCreated, webhookToJSON(app, h))
	return nil
}

func secretLabel(id string) string { return "webhook/" + id + "/secret" }

func (s *webhookService) put(ctx context.Context, h webhookRecord) error {
	stored := h
	if s.box != nil {
		stored.Secret = s.box.Seal(secretLabel(h.ID), []byte(h.Secret))
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	if err := s.p.PutRecord(ctx, platform.WebhookRecords, h.ID, b); err != nil {
		return err
	}
	s.mu.Lock()
	s.hook[h.ID] = h
	s.mu.Unlock()
	return nil
}

// of returns the app's webhooks, oldest first.
func (s *webhookService) of(appID string) []webhookRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []webhookRecord
	for _, h := range s.hook {
		if h.AppID == appID {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(x, y webhookRecord) int { return x.CreatedAt.Compare(y.CreatedAt) })
	return out
}

func (a *api) findWebhook(r *http.Request) (platform.App, webhookRecord, error) {
	app, err := a.app(r)
	if err != nil {
		return app, webhookRecord{}, err
	}
	id := r.PathValue("webhook")
	for _, h := range a.webhooks.of(app.ID) {
		if h.ID == id {
			return app, h, nil
		}
	}
	return app, webhookRecord{}, platformapi.NotFound("webhook", id)
}

func (a *api) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, h := range a.webhooks.of(app.ID) {
		out = append(out, webhookToJSON(app, h))
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) getWebhook(w http.ResponseWriter, r *http.Request) error {
	app, h, err := a.findWebhook(r)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, webhookToJSON(app, h))
	return nil
}

func (a *api) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	app, h, err := a.findWebhook(r)
	if err != nil {
		return err
	}
	var in webhookInput
	if err := platformapi.DecodeJSON(r, maxBody, &in); err != nil {
		return err
	}
	if err := in.apply(&h); err != nil {
		return err
	}
	h.UpdatedAt = time.Now().UTC()
	if err := a.webhooks.put(r.Context(), h); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, webhookToJSON(app, h))
	return nil
}

func (a *api) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	app, h, err := a.findWebhook(r)
	if err != nil {
		return err
	}
	if err := a.webhooks.remove(r.Context(), h.ID); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, webhookToJSON(app, h))
	return nil
}

func (s *webhookService) remove(ctx context.Context, id string) error {
	if err := s.p.DeleteRecord(ctx, platform.WebhookRecords, id); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.hook, id)
	s.mu.Unlock()
	return nil
}

// removeApp forgets a destroyed app's webhooks, events and deliveries.
func (s *webhookService) removeApp(ctx context.Context, appID string) error {
	for _, h := range s.of(appID) {
		if err := s.remove(ctx, h.ID); err != nil {
			return err
		}
	}
	s.mu.Lock()
	var evs, dels []string
	for _, e := range s.evs[appID] {
		evs = append(evs, e.ID)
	}
	for _, d := range s.dels[appID] {
		dels = append(dels, d.ID)
	}
	delete(s.evs, appID)
	delete(s.dels, appID)
	s.mu.Unlock()
	s.forget(platform.WebhookEventRecords, appID, evs)
	s.forget(platform.WebhookDeliveryRecords, appID, dels)
	return nil
}

func deliveryToJSON(d webhookDelivery) map[string]any {
	j := map[string]any{
		"id": d.ID, "status": d.Status, "num_attempts": d.Attempts,
		"event":      map[string]string{"id": d.EventID, "include": d.Include},
		"webhook":    map[string]string{"id": d.WebhookID, "level": d.Level},
		"created_at": rfc3339(d.CreatedAt), "updated_at": rfc3339(d.UpdatedAt),
		"next_attempt_at": nil, "last_attempt": nil,
	}
	if !d.NextAt.IsZero() {
		j["next_attempt_at"] = rfc3339(d.NextAt)
	}
	if d.Attempts > 0 {
		status := "succeeded"
		if d.LastError != "" || d.LastCode < 200 || d.LastCode >= 300 {
			status = "failed"
		}
		var errClass any
		if d.LastError != "" {
			errClass = d.LastError
		}
		var code any
		if d.LastCode != 0 {
			code = d.LastCode
		}
		j["last_attempt"] = map[string]any{"id": d.ID + "-" + fmt.Sprint(d.Attempts), "code": code, "error_class": errClass, "status": status,
			"created_at": rfc3339(d.LastAt), "updated_at": rfc3339(d.LastAt)}
	}
	return j
}

func (a *api) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	// Newest first, as the CLI asks (Range: seq ..; order=desc), and
	// filtered by ?eq[status]= (webhooks:deliveries --status).
	status := r.URL.Query().Get("eq[status]")
	a.webhooks.mu.Lock()
	out := []map[string]any{}
	for _, d := range slices.Backward(a.webhooks.dels[app.ID]) {
		if status == "" || d.Status == status {
			out = append(out, deliveryToJSON(*d))
		}
	}
	a.webhooks.mu.Unlock()
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) getDelivery(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	id := r.PathValue("delivery")
	a.webhooks.mu.Lock()
	defer a.webhooks.mu.Unlock()
	for _, d := range a.webhooks.dels[app.ID] {
		if d.ID == id {
			platformapi.WriteJSON(w, http.StatusOK, deliveryToJSON(*d))
			return nil
		}
	}
	return platformapi.NotFound("webhook delivery", id)
}

func eventToJSON(ev webhookEvent) map[string]any {
	return map[string]any{"id": ev.ID, "include": ev.Include, "payload": ev.Payload,
		"created_at": rfc3339(ev.CreatedAt), "updated_at": rfc3339(ev.CreatedAt)}
}

func (a *api) listWebhookEvents(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	a.webhooks.mu.Lock()
	out := []map[string]any{}
	for _, ev := range a.webhooks.evs[app.ID] {
		out = append(out, eventToJSON(*ev))
	}
	a.webhooks.mu.Unlock()
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) getWebhookEvent(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	id := r.PathValue("event")
	a.webhooks.mu.Lock()
	defer a.webhooks.mu.Unlock()
	for _, ev := range a.webhooks.evs[app.ID] {
		if ev.ID == id {
			platformapi.WriteJSON(w, http.StatusOK, eventToJSON(*ev))
			return nil
		}
	}
	return platformapi.NotFound("webhook event", id)
}
