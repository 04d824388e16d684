package main

// Add-ons: heroku-postgresql and heroku-redis backed by the admin URLs of
// real servers (-postgres-url, -redis-url), through dynokit's addons.Manager.
//
// Persistence. The Manager keeps its state in memory, and the providers keep
// their resources (and passwords) on their servers, idempotent on the
// provision request id. minipaas stores one record per add-on in
// platform.db (name, id, app, service, plan, attachment, state) and, on
// start, rebuilds the Manager by creating every recorded add-on again with
// its recorded request id: the provider finds the existing resource and
// returns the same config, and the config applier skips the release when
// the app already holds exactly those vars. The record's id is the
// Manager's add-on ID (addons.CreateRequest.ID), which is the provision
// request id.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/postgres"
	"github.com/dynokit/dynokit/addons/redis"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/internal/store"
)

const (
	servicePostgres = "heroku-postgresql"
	serviceRedis    = "heroku-redis"
)

// Plans named as Heroku's, so `heroku addons:create heroku-postgresql:essential-0`
// works unchanged; the first is each service's default.
var (
	postgresPlans = []addons.Plan{
		{Name: "essential-0", Description: "shared server, 20 connections", Limits: addons.Limits{Connections: 20}},
		{Name: "essential-1", Description: "shared server, 40 connections", Limits: addons.Limits{Connections: 40}},
		{Name: "essential-2", Description: "shared server, 80 connections", Limits: addons.Limits{Connections: 80}},
		{Name: "standard-0", Description: "shared server, 120 connections", Limits: addons.Limits{Connections: 120}},
	}
	redisPlans = []addons.Plan{
		{Name: "mini", Description: "shared server, 25 MB (not enforced)", Limits: addons.Limits{Bytes: 25 << 20}},
		{Name: "premium-0", Description: "shared server, 50 MB (not enforced)", Limits: addons.Limits{Bytes: 50 << 20}},
	}
)

// addonRecord is what platform.db keeps per add-on (never config values).
type addonRecord struct {
	ID   string `json:"id"` // the API id and the provision request id
	Name string `json:"name"`
	App  string `json:"app"` // the billing app's name, kept current by renames
	// AppID is the billing app's ID, which a rename keeps: restore finds
	// the app by it, so a crash between a rename and the record's update
	// cannot make the app look gone (and the add-on deprovisioned).
	// Records written before it existed get it at the next start.
	AppID      string `json:"app_id,omitempty"`
	Service    string `json:"service"`
	Plan       string `json:"plan"` // within Service
	Attachment string `json:"attachment"`
	// Shared are the attachments to other apps (addons:attach), restored
	// after the billing app's.
	Shared     []sharedAttachment `json:"shared,omitempty"`
	ResourceID string             `json:"resource_id,omitempty"`
	State      string             `json:"state"` // provisioning, provisioned, deprovisioning
	CreatedAt  time.Time          `json:"created_at"`
}

type sharedAttachment struct {
	App   string `json:"app"`
	Name  string `json:"name"`
	AppID string `json:"app_id,omitempty"` // as addonRecord.AppID
	// Credential is the named credential the attachment carries
	// (addons:attach --credential); empty for the add-on's own config.
	Credential string `json:"credential,omitempty"`
	// Pooled: through the connection pooler (pg:connection-pooling).
	Pooled bool `json:"pooled,omitempty"`
}

// is reports whether sh is app's attachment named as.
func (sh sharedAttachment) is(app, as string) bool { return sh.App == app && sh.Name == as }

// addonService is the platform's add-on front end: catalog, Manager and
// records.
type addonService struct {
	p       *platform.Platform
	m       *addons.Manager
	secrets []string // admin passwords, scrubbed from error messages
	closers []func() error
	drains  *logDrains
	log     *slog.Logger
	// redisGateway lets password-only clients (heroku redis:cli) reach
	// add-on users; nil without -redis-url.
	redisGateway *redis.Gateway
	// poolerAddr is PgBouncer's address (pg:connection-pooling); empty:
	// no pooling.
	poolerAddr string
	// postgresLog follows the PostgreSQL server's log for the apps' log
	// streams (forwardPostgresLogs); nil without -postgres-url.
	postgresLog *postgres.ServerLog

	// changed, when set, hears of every add-on created, moved to another
	// plan or destroyed, and every attachment made or removed (webhooks).
	// It must not block.
	changed func(ctx context.Context, ev addonEvent)

	mu      sync.Mutex
	records map[string]addonRecord // by add-on name
	busy    map[string]bool        // add-ons being destroyed
}

// addonEvent is a change to an add-on or one of its attachments, for the
// app it concerns: the billing app (add-on events) or the attached app
// (attachment events, Attachment set).
type addonEvent struct {
	Action     string // platform.ActionCreate, ActionUpdate or ActionDestroy
	Addon      addonView
	App        string
	Attachment *addons.Attachment
}

func (s *addonService) notify(ctx context.Context, ev addonEvent) {
	if s.changed != nil {
		s.changed(ctx, ev)
	}
}

// newAddonService builds the catalog from the admin URLs (either may be
// empty: that service is then not offered).
func newAddonService(p *platform.Platform, postgresURL, redisURL, poolerAddr string, log *slog.Logger) (*addonService, error) {
	s := &addonService{p: p, log: log, records: map[string]addonRecord{}, busy: map[string]bool{}, poolerAddr: poolerAddr}
	var cat addons.Catalog
	if postgresURL != "" {
		u, err := url.Parse(postgresURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			return nil, errors.New("-postgres-url: want postgres://user:password@host:port/database")
		}
		if pw, ok := u.User.Password(); ok && pw != "" {
			s.secrets = append(s.secrets, pw)
		}
		// New databases log as Heroku's do (heroku logs -p postgres).
		prov := &postgres.Provider{AdminURL: postgresURL, Offered: postgresPlans, PoolerAddr: poolerAddr, InitialSettings: postgres.HerokuSettings(), Logger: log}
		s.postgresLog = &postgres.ServerLog{AdminURL: postgresURL, Logger: log}
		cat.Services = append(cat.Services, addons.Service{
			Name: servicePostgres, ConfigPrefix: postgres.ConfigPrefix, Plans: postgresPlans,
			Provider: prov,
		})
	}
	if redisURL != "" {
		u, err := url.Parse(redisURL)
		if err != nil || u.Scheme != "redis" || u.Host == "" {
			return nil, errors.New("-redis-url: want redis://[user]:password@host:port")
		}
		prov := &redis.Provider{Addr: u.Host, Username: u.User.Username(), Offered: redisPlans, Logger: log}
		if pw, ok := u.User.Password(); ok {
			prov.Password = pw
			if pw != "" {
				s.secrets = append(s.secrets, pw)
			}
		}
		s.closers = append(s.closers, prov.Close)
		// heroku redis:cli authenticates with a password alone; the
		// rendezvous hands such connections to this gateway.
		s.redisGateway = &redis.Gateway{Addr: u.Host, Logger: log}
		cat.Services = append(cat.Services, addons.Service{
			Name: serviceRedis, ConfigPrefix: redis.ConfigPrefix, Plans: redisPlans,
			Provider: prov,
		})
	}
	if err := cat.Validate(); err != nil {
		s.close()
		return nil, fmt.Errorf("add-on catalog: %w", err)
	}
	s.drains = &logDrains{p: p, log: log}
	s.m = &addons.Manager{Catalog: cat, Config: skipUnchanged{p}, Drains: s.drains, Logger: log}
	return s, nil
}

func (s *addonService) close() {
	if s.drains != nil {
		s.drains.close()
	}
	for _, c := range s.closers {
		_ = c()
	}
}

// restoringKey marks the context of a restore (skipUnchanged).
type restoringKey struct{}

// skipUnchanged is the Manager's ConfigApplier: the platform, except that
// while restoring after a restart an attach whose vars the app already
// holds makes no new release.
type skipUnchanged struct{ p *platform.Platform }

func (c skipUnchanged) ApplyConfig(ctx context.Context, app string, set map[string]string, unset []string, description string) error {
	if ctx.Value(restoringKey{}) != nil && len(unset) == 0 {
		cur, err := c.p.Config(ctx, app)
		if err != nil {
			return err
		}
		same := true
		for k, v := range set {
			if cv, ok := cur[k]; !ok || cv != v {
				same = false
				break
			}
		}
		if same {
			return nil
		}
	}
	return c.p.ApplyConfig(ctx, app, set, unset, description)
}

// putRecord stores rec. An add-on renamed since rec was read is stored
// under its new name: s.mu is held across the write, as rename holds it
// across its own, so no record outlives a rename under the old name.
func (s *addonService) putRecord(ctx context.Context, rec addonRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[rec.Name]; !ok {
		for name, r := range s.records {
			if r.ID == rec.ID {
				rec.Name = name
			}
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.p.PutRecord(ctx, platform.AddonRecords, rec.Name, b); err != nil {
		return err
	}
	s.records[rec.Name] = rec
	return nil
}

func (s *addonService) deleteRecord(ctx context.Context, name string) error {
	if err := s.p.DeleteRecord(ctx, platform.AddonRecords, name); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.records, name)
	s.mu.Unlock()
	return nil
}

// restore rebuilds the Manager from the records after a restart. An add-on
// that cannot be restored (its server is down) is logged and keeps its
// record, so the next start tries again.
func (s *addonService) restore(ctx context.Context) error {
	raw, err := s.p.Records(ctx, platform.AddonRecords)
	if err != nil {
		return err
	}
	for name, b := range raw {
		var rec addonRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			s.log.Warn("minipaas: unreadable add-on record", "addon", name, "err", err)
			continue
		}
		s.mu.Lock()
		s.records[name] = rec
		s.mu.Unlock()
	}
	for _, rec := range s.sortedRecords() {
		if err := s.restoreOne(ctx, rec); err != nil {
			s.log.Warn("minipaas: could not restore add-on", "addon", rec.Name, "app", rec.App, "err", s.scrub(err))
		}
	}
	return nil
}

func (s *addonService) sortedRecords() []addonRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]addonRecord, 0, len(s.records))
	for _, r := range s.records {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b addonRecord) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

func (s *addonService) restoreOne(ctx context.Context, rec addonRecord) error {
	svc, err := s.m.Catalog.Service(rec.Service)
	if err != nil {
		return fmt.Errorf("service %s is not configured now", rec.Service)
	}
	rec, appErr := s.resolveApps(ctx, rec)
	if errors.Is(appErr, platform.ErrNotFound) {
		// The app went away before its add-on: finish removing it.
		if rec.ResourceID != "" {
			if err := svc.Provider.Deprovision(ctx, rec.ResourceID); err != nil && !errors.Is(err, addons.ErrNotFound) {
				return err
			}
		}
		return s.deleteRecord(ctx, rec.Name)
	}
	if appErr != nil {
		return appErr
	}
	a, err := s.m.Create(context.WithValue(ctx, restoringKey{}, true), addons.CreateRequest{
		ID: rec.ID, App: rec.App, Plan: rec.Service + ":" + rec.Plan, Name: rec.Name, As: rec.Attachment,
	})
	if err != nil {
		return err
	}
	var kept []sharedAttachment
	for _, sh := range rec.Shared {
		if sh.App == "" {
			continue // that app went away (resolveApps)
		}
		rctx := context.WithValue(ctx, restoringKey{}, true)
		var err error
		if sh.Pooled {
			_, err = s.m.AttachPooled(rctx, rec.Name, sh.App, sh.Name)
		} else {
			_, err = s.m.AttachCredential(rctx, rec.Name, sh.App, sh.Name, sh.Credential)
		}
		if sh.Pooled && errors.Is(err, addons.ErrNotFound) {
			// No pooler this time (pgbouncer gone, -pooler-addr empty):
			// kept for a start with one.
			s.log.Warn("minipaas: pooled attachment not restored: no connection pooler", "addon", rec.Name, "app", sh.App, "attachment", sh.Name)
			kept = append(kept, sh)
			continue
		}
		if err != nil && rec.State == "deprovisioning" {
			s.log.Warn("minipaas: attachment not restored for an interrupted destroy", "addon", rec.Name, "app", sh.App, "attachment", sh.Name, "err", err)
			continue
		}
		if err != nil {
			if sh.Credential != "" && errors.Is(err, addons.ErrNotFound) {
				// The credential is gone from the server: so is what the
				// attachment gave the app.
				s.log.Warn("minipaas: credential attachment dropped: the credential no longer exists", "addon", rec.Name, "app", sh.App, "attachment", sh.Name, "credential", sh.Credential)
				continue
			}
			return fmt.Errorf("attachment %s to %s: %w", sh.Name, sh.App, err)
		}
		kept = append(kept, sh)
	}
	if rec.State == "deprovisioning" {
		// A destroy was interrupted: finish it through the Manager, which
		// unsets the app's vars too, of every attachment restored above
		// (a first database's colour alias among them).
		return s.destroy(ctx, rec.Name)
	}
	if len(kept) != len(rec.Shared) || !reflect.DeepEqual(rec, s.record(rec.Name)) {
		rec.Shared = kept
		if err := s.putRecord(ctx, rec); err != nil {
			return err
		}
	}
	if rec.State != "provisioned" || rec.ResourceID != a.ProviderID {
		rec.State, rec.ResourceID = "provisioned", a.ProviderID
		return s.putRecord(ctx, rec)
	}
	return nil
}

// resolveApps brings the app names of rec up to date from their IDs
// (renames), and fills in the IDs of records written before they were
// kept. A shared attachment whose app is gone gets an empty App; an
// error wrapping platform.ErrNotFound means the billing app is gone.
func (s *addonService) resolveApps(ctx context.Context, rec addonRecord) (addonRecord, error) {
	find := func(id, name string) (platform.App, error) {
		if id != "" {
			return s.p.AppByID(ctx, id)
		}
		return s.p.App(ctx, name)
	}
	rec.Shared = slices.Clone(rec.Shared)
	for i, sh := range rec.Shared {
		a, err := find(sh.AppID, sh.App)
		switch {
		case errors.Is(err, platform.ErrNotFound):
			rec.Shared[i].App = ""
		case err == nil:
			rec.Shared[i].App, rec.Shared[i].AppID = a.Name, a.ID
		}
	}
	a, err := find(rec.AppID, rec.App)
	if err != nil {
		return rec, err
	}
	rec.App, rec.AppID = a.Name, a.ID
	return rec, nil
}

// renameApp follows an app rename (platform.RenameApp) in the add-on
// records and the Manager: the add-ons billed to the app and its
// attachments of others' stay with it.
func (s *addonService) renameApp(ctx context.Context, old, name string) error {
	// The Manager first: it waits for operations on the app's add-ons in
	// flight, which captured the old name.
	if err := s.m.RenameApp(ctx, old, name); err != nil {
		return err
	}
	var errs []error
	for _, rec := range s.sortedRecords() {
		changed := false
		if rec.App == old {
			rec.App, changed = name, true
		}
		rec.Shared = slices.Clone(rec.Shared)
		for i := range rec.Shared {
			if rec.Shared[i].App == old {
				rec.Shared[i].App, changed = name, true
			}
		}
		if changed {
			errs = append(errs, s.putRecord(ctx, rec))
		}
	}
	return errors.Join(errs...)
}

// create provisions an add-on: the record is written first, so a crash
// midway is finished (or undone) by the next start's restore.
func (s *addonService) create(ctx context.Context, app, plan, name, as string, options map[string]string) (addonRecord, error) {
	svcName, planName, _ := strings.Cut(plan, ":")
	svc, err := s.m.Catalog.Service(svcName)
	if err != nil {
		return addonRecord{}, s.unknownService(svcName)
	}
	if planName == "" {
		planName = svc.Plans[0].Name
	}
	if !slices.ContainsFunc(svc.Plans, func(p addons.Plan) bool { return p.Name == planName }) {
		names := make([]string, 0, len(svc.Plans))
		for _, p := range svc.Plans {
			names = append(names, svcName+":"+p.Name)
		}
		return addonRecord{}, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound,
			"Couldn't find plan %q of %s; plans: %s", truncate(plan, 100), svcName, strings.Join(names, ", "))
	}
	if name == "" {
		name = newAddonName(svcName)
	}
	billing, err := s.p.App(ctx, app)
	if err != nil {
		return addonRecord{}, s.apiError(err, "create add-on for app "+app)
	}
	var also []string
	if as == "" {
		// Another add-on of a service the app has is attached under a
		// colour, as on Heroku (HEROKU_POSTGRESQL_AMBER_URL), not under
		// the Manager's default of the prefix and the add-on's name.
		as = s.freeAttachmentName(app, svcName)
	}
	if svcName == servicePostgres && (as == "" || as == postgres.ConfigPrefix) {
		// A database attached as DATABASE (the first) is also
		// HEROKU_POSTGRESQL_<COLOR>, so that it keeps a name when another
		// is promoted.
		if c := s.freeColor(app, svcName); c != "" {
			also = []string{c}
		}
	}
	rec := addonRecord{
		ID: platformapi.NewUUID(), Name: name, App: app, AppID: billing.ID, Service: svcName, Plan: planName,
		Attachment: as, State: "provisioning", CreatedAt: time.Now().UTC(),
	}
	for _, c := range also {
		// Restored as the other same-app attachments are (pg:promote's).
		rec.Shared = append(rec.Shared, sharedAttachment{App: app, AppID: billing.ID, Name: c})
	}
	// Claim the name in memory first, so concurrent creates of one name
	// cannot overwrite each other's record or request id.
	s.mu.Lock()
	_, taken := s.records[name]
	if !taken {
		s.records[name] = rec
	}
	s.mu.Unlock()
	if taken {
		return addonRecord{}, platformapi.InvalidParams("Name %s is already taken by another add-on", name)
	}
	if err := s.putRecord(ctx, rec); err != nil {
		s.mu.Lock()
		delete(s.records, name)
		s.mu.Unlock()
		return addonRecord{}, err
	}
	a, err := s.m.Create(ctx, addons.CreateRequest{
		ID: rec.ID, App: app, Plan: svcName + ":" + planName, Name: name, As: as, Also: also, Options: options,
	})
	if err != nil {
		// The Manager left no resource and no config behind.
		if derr := s.deleteRecord(context.WithoutCancel(ctx), name); derr != nil {
			s.log.Warn("minipaas: add-on record", "addon", name, "err", derr)
		}
		return addonRecord{}, s.apiError(err, "create add-on "+svcName+":"+planName+" for app "+app)
	}
	for _, at := range a.Attachments {
		if !slices.Contains(also, at.Name) {
			rec.Attachment = at.Name
		}
	}
	rec.ResourceID, rec.State = a.ProviderID, "provisioned"
	if err := s.putRecord(context.WithoutCancel(ctx), rec); err != nil {
		// Restore would still find it (state provisioning); say so.
		s.log.Warn("minipaas: add-on record", "addon", name, "err", err)
	}
	s.notify(ctx, addonEvent{Action: platform.ActionCreate, Addon: s.view(rec), App: rec.App})
	return rec, nil
}

// changePlan moves an add-on to another plan of its service
// (addons:upgrade, addons:downgrade). The providers keep the credentials,
// so the apps' config vars, and their dynos, stay as they are.
func (s *addonService) changePlan(ctx context.Context, name, plan string) (addonRecord, error) {
	s.mu.Lock()
	rec, ok := s.records[name]
	s.mu.Unlock()
	if !ok {
		return addonRecord{}, platformapi.NotFound("add-on", name)
	}
	svcName, planName, found := strings.Cut(plan, ":")
	if !found {
		svcName, planName = rec.Service, plan
	}
	svc, err := s.m.Catalog.Service(svcName)
	if err != nil || svcName != rec.Service || !slices.ContainsFunc(svc.Plans, func(p addons.Plan) bool { return p.Name == planName }) {
		// Worded as Heroku's, which the CLI recognises to list the plans.
		return addonRecord{}, platformapi.InvalidParams("Couldn't find either the add-on service or the add-on plan of %q.", truncate(plan, 100))
	}
	if _, err := s.m.AddOn(name); err != nil {
		return addonRecord{}, platformapi.Errorf(http.StatusServiceUnavailable, platformapi.IDServiceUnavailable,
			"add-on %s is not available: it could not be restored when minipaas started", name)
	}
	if planName == rec.Plan {
		return rec, nil
	}
	if _, err := s.m.ChangePlan(ctx, name, planName); err != nil {
		return addonRecord{}, s.apiError(err, "change the plan of add-on "+name)
	}
	rec.Plan = planName
	if err := s.putRecord(context.WithoutCancel(ctx), rec); err != nil {
		return addonRecord{}, err
	}
	s.notify(ctx, addonEvent{Action: platform.ActionUpdate, Addon: s.view(rec), App: rec.App})
	return rec, nil
}

// rename gives an add-on a new name (addons:rename): the Manager's and
// the record's, together (the Manager's is put back if the record cannot
// be moved). Attachments and config vars stay as they are.
func (s *addonService) rename(ctx context.Context, name, newName string) (addonRecord, error) {
	s.mu.Lock()
	rec, ok := s.records[name]
	_, taken := s.records[newName]
	s.mu.Unlock()
	switch {
	case !ok:
		return addonRecord{}, platformapi.NotFound("add-on", name)
	case newName == name:
		return rec, nil
	case taken:
		return addonRecord{}, platformapi.InvalidParams("Name %s is already taken by another add-on.", newName)
	}
	if err := addons.ValidateAddonName(newName); err != nil {
		return addonRecord{}, platformapi.InvalidParams("%s", strings.TrimPrefix(err.Error(), "addons: "))
	}
	if _, err := s.m.AddOn(name); err != nil {
		return addonRecord{}, platformapi.Errorf(http.StatusServiceUnavailable, platformapi.IDServiceUnavailable,
			"add-on %s is not available: it could not be restored when minipaas started", name)
	}
	if _, err := s.m.RenameAddOn(name, newName); err != nil {
		return addonRecord{}, s.apiError(err, "rename add-on "+name)
	}
	// The record as it is now (a plan change may have stored it since).
	s.mu.Lock()
	rec = s.records[name]
	rec.Name = newName
	b, err := json.Marshal(rec)
	if err == nil {
		err = s.p.RenameRecord(context.WithoutCancel(ctx), platform.AddonRecords, name, newName, b)
	}
	if err == nil {
		delete(s.records, name)
		s.records[newName] = rec
	}
	s.mu.Unlock()
	if err != nil {
		if _, rerr := s.m.RenameAddOn(newName, name); rerr != nil {
			s.log.Error("addons: rename: cannot put the old name back", "addon", name, "err", rerr)
		}
		if errors.Is(err, store.ErrExists) {
			return addonRecord{}, platformapi.InvalidParams("Name %s is already taken by another add-on.", newName)
		}
		return addonRecord{}, err
	}
	s.notify(ctx, addonEvent{Action: platform.ActionUpdate, Addon: s.view(rec), App: rec.App})
	return rec, nil
}

// attach exposes an add-on to another app (addons:attach): a release of
// that app with the add-on's vars under the attachment name (empty: the
// service's default).
func (s *addonService) attach(ctx context.Context, name, app, as, credential string, pooled bool) (addons.Attachment, error) {
	if as != "" {
		if err := addons.ValidateAttachmentName(as); err != nil {
			return addons.Attachment{}, platformapi.InvalidParams("attachment name %q: %s", truncate(as, 100), strings.TrimPrefix(err.Error(), "addons: "))
		}
	}
	s.mu.Lock()
	rec, ok := s.records[name]
	s.mu.Unlock()
	if !ok {
		return addons.Attachment{}, platformapi.NotFound("add-on", name)
	}
	if as == "" {
		as = s.freeAttachmentName(app, rec.Service)
	}
	if owner := s.attachedAs(app, as); owner == name {
		return addons.Attachment{}, platformapi.InvalidParams("%s is already attached to %s as %s", name, app, as)
	}
	var at addons.Attachment
	var err error
	if pooled {
		at, err = s.m.AttachPooled(ctx, name, app, as)
	} else {
		at, err = s.m.AttachCredential(ctx, name, app, as, credential)
	}
	if pooled && errors.Is(err, addons.ErrNotFound) {
		return addons.Attachment{}, platformapi.InvalidParams("%s has no connection pooler: start minipaas with pgbouncer installed and -pooler-addr set", name)
	}
	if err != nil {
		if credential != "" && errors.Is(err, addons.ErrNotFound) {
			return addons.Attachment{}, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "Could not find credential %s for database %s.", truncate(credential, 60), name)
		}
		return addons.Attachment{}, s.apiError(err, "attach add-on "+name+" to "+app)
	}
	s.mu.Lock()
	rec = s.records[name]
	sh := sharedAttachment{App: app, Name: at.Name, Credential: at.Credential, Pooled: at.Pooled}
	if a, err := s.p.App(ctx, app); err == nil {
		sh.AppID = a.ID
	}
	rec.Shared = append(slices.Clone(rec.Shared), sh)
	s.mu.Unlock()
	if err := s.putRecord(context.WithoutCancel(ctx), rec); err != nil {
		return addons.Attachment{}, err
	}
	s.notify(ctx, addonEvent{Action: platform.ActionCreate, Addon: s.view(rec), App: app, Attachment: &at})
	return at, nil
}

// attachedAs names the add-on attached to app as as ("" when none).
func (s *addonService) attachedAs(app, as string) string {
	for _, at := range s.m.Attachments(app) {
		if at.Name == as {
			return at.AddOn
		}
	}
	return ""
}

// attachmentColors name further attachments of a service on one app, as
// Heroku's HEROKU_POSTGRESQL_<COLOR>.
var attachmentColors = []string{"AMBER", "BLUE", "BRONZE", "CHARCOAL", "COPPER", "CRIMSON", "CYAN", "GOLD", "GRAY", "GREEN",
	"IVORY", "JADE", "MAROON", "NAVY", "OLIVE", "ONYX", "ORANGE", "PINK", "PURPLE", "RED", "ROSE", "SILVER", "TEAL", "WHITE", "YELLOW"}

// freeAttachmentName is the name an attachment of service gets on app
// when none is asked for: the service's prefix (DATABASE) if free, else
// HEROKU_POSTGRESQL_<COLOR> (HEROKU_REDIS_<COLOR>) with a free color.
func (s *addonService) freeAttachmentName(app, service string) string {
	svc, err := s.m.Catalog.Service(service)
	if err != nil {
		return ""
	}
	if s.attachedAs(app, svc.ConfigPrefix) == "" {
		return "" // the Manager's default, the prefix
	}
	return s.freeColor(app, service)
}

// freeColor is the first HEROKU_POSTGRESQL_<COLOR> (HEROKU_REDIS_<COLOR>)
// not attached on app; "" when every color is.
func (s *addonService) freeColor(app, service string) string {
	base := strings.ToUpper(strings.ReplaceAll(service, "-", "_"))
	for _, c := range attachmentColors {
		if s.attachedAs(app, base+"_"+c) == "" {
			return base + "_" + c
		}
	}
	return ""
}

// reattach moves app's attachment as from the add-on owner to name in
// one release (heroku pg:promote) and records both: the owner's billing
// app attachment, if that was it, becomes another of its attachments on
// that app, which must exist.
func (s *addonService) reattach(ctx context.Context, name, owner, app, as string) (addons.Attachment, error) {
	s.mu.Lock()
	rec, okNew := s.records[name]
	old, okOld := s.records[owner]
	s.mu.Unlock()
	if !okNew || !okOld {
		return addons.Attachment{}, platformapi.NotFound("add-on", name)
	}
	primary := old.App == app && old.Attachment == as
	next := -1
	if primary {
		next = slices.IndexFunc(old.Shared, func(sh sharedAttachment) bool { return sh.App == app })
		if next < 0 {
			return addons.Attachment{}, platformapi.InvalidParams("%s would have no attachment left on its billing app %s: attach it under another name first (heroku pg:promote does)", owner, app)
		}
	}
	at, err := s.m.Reattach(ctx, name, app, as)
	if err != nil {
		return addons.Attachment{}, s.apiError(err, "attach "+name+" to "+app+" as "+as)
	}
	sh := sharedAttachment{App: app, Name: as}
	if a, err := s.p.App(ctx, app); err == nil {
		sh.AppID = a.ID
	}
	s.mu.Lock()
	rec, old = s.records[name], s.records[owner]
	rec.Shared = append(slices.Clone(rec.Shared), sh)
	if primary {
		old.Attachment = old.Shared[next].Name
		old.Shared = slices.Delete(slices.Clone(old.Shared), next, next+1)
	} else {
		old.Shared = slices.DeleteFunc(slices.Clone(old.Shared), func(x sharedAttachment) bool { return x.is(app, as) })
	}
	s.mu.Unlock()
	// The add-on losing the name is written first: a crash between the two
	// leaves the name with neither, not with both.
	if err := s.putRecord(context.WithoutCancel(ctx), old); err != nil {
		return addons.Attachment{}, err
	}
	if err := s.putRecord(context.WithoutCancel(ctx), rec); err != nil {
		return addons.Attachment{}, err
	}
	s.notify(ctx, addonEvent{Action: platform.ActionCreate, Addon: s.view(rec), App: app, Attachment: &at})
	return at, nil
}

// detach removes an attachment made by attach; the billing app's own one
// goes only with the add-on (addons:destroy).
func (s *addonService) detach(ctx context.Context, name, app, as string) error {
	s.mu.Lock()
	rec, ok := s.records[name]
	s.mu.Unlock()
	if !ok {
		return platformapi.NotFound("add-on", name)
	}
	if !slices.ContainsFunc(rec.Shared, func(sh sharedAttachment) bool { return sh.is(app, as) }) {
		if app == rec.App {
			return platformapi.InvalidParams("%s is the billing app of %s: destroy the add-on instead (heroku addons:destroy)", app, name)
		}
		return platformapi.NotFound("add-on attachment", as)
	}
	var detached *addons.Attachment
	for _, at := range s.m.Attachments(app) {
		if at.Name == as {
			detached = &at
		}
	}
	if err := s.m.Detach(ctx, app, as); err != nil {
		return s.apiError(err, "detach "+as+" from "+app)
	}
	s.mu.Lock()
	rec = s.records[name]
	rec.Shared = slices.DeleteFunc(slices.Clone(rec.Shared), func(sh sharedAttachment) bool { return sh.is(app, as) })
	s.mu.Unlock()
	if err := s.putRecord(context.WithoutCancel(ctx), rec); err != nil {
		return err
	}
	if detached != nil {
		s.notify(ctx, addonEvent{Action: platform.ActionDestroy, Addon: s.view(rec), App: app, Attachment: detached})
	}
	return nil
}

// destroy removes an add-on: its vars leave the app (a release), then the
// resource goes.
func (s *addonService) destroy(ctx context.Context, name string) error {
	s.mu.Lock()
	rec, ok := s.records[name]
	busy := s.busy[name]
	if ok && !busy {
		s.busy[name] = true
	}
	s.mu.Unlock()
	if !ok {
		return platformapi.NotFound("add-on", name)
	}
	if busy {
		return platformapi.Conflict("add-on %s is being destroyed", name)
	}
	defer func() {
		s.mu.Lock()
		delete(s.busy, name)
		s.mu.Unlock()
	}()
	if _, err := s.m.AddOn(name); err != nil {
		return s.destroyUnrestored(ctx, rec)
	}
	// Marked first, so a crash midway is finished by the next start.
	marked := rec
	marked.State = "deprovisioning"
	if err := s.putRecord(ctx, marked); err != nil {
		return err
	}
	gone := s.view(rec)
	if err := s.m.Destroy(ctx, name); err != nil {
		if perr := s.putRecord(context.WithoutCancel(ctx), rec); perr != nil {
			s.log.Warn("minipaas: add-on record", "addon", name, "err", perr)
		}
		return s.apiError(err, "destroy add-on "+name)
	}
	gone.rec.State = "deprovisioned"
	s.notify(ctx, addonEvent{Action: platform.ActionDestroy, Addon: gone, App: rec.App})
	return s.deleteRecord(context.WithoutCancel(ctx), name)
}

// destroyUnrestored removes an add-on the Manager does not hold (its
// server was down at start) straight through its provider. Its vars stay
// in the app's config, so this is only done when the app itself goes.
func (s *addonService) destroyUnrestored(ctx context.Context, rec addonRecord) error {
	unavailable := platformapi.Errorf(http.StatusServiceUnavailable, platformapi.IDServiceUnavailable,
		"add-on %s is not available: it could not be restored when minipaas started (is its %s server up? see -v)", rec.Name, rec.Service)
	svc, err := s.m.Catalog.Service(rec.Service)
	if err != nil {
		return s.unknownService(rec.Service)
	}
	if ctx.Value(destroyingAppKey{}) == nil || rec.ResourceID == "" {
		return unavailable
	}
	if err := svc.Provider.Deprovision(ctx, rec.ResourceID); err != nil && !errors.Is(err, addons.ErrNotFound) {
		return s.apiError(err, "destroy add-on "+rec.Name)
	}
	return s.deleteRecord(context.WithoutCancel(ctx), rec.Name)
}

type destroyingAppKey struct{}

// destroyApp destroys every add-on billed to app and detaches those it
// shares with others, before the app goes.
func (s *addonService) destroyApp(ctx context.Context, app string) error {
	ctx = context.WithValue(ctx, destroyingAppKey{}, true)
	for _, rec := range s.sortedRecords() {
		if rec.App != app {
			for _, sh := range rec.Shared {
				if sh.App != app {
					continue
				}
				if _, err := s.m.AddOn(rec.Name); err != nil {
					continue // not restored: restore drops it, the app being gone
				}
				if err := s.detach(ctx, rec.Name, sh.App, sh.Name); err != nil {
					return err
				}
			}
			continue
		}
		if err := s.destroy(ctx, rec.Name); err != nil {
			return err
		}
	}
	return nil
}

// list returns the add-ons billed to or attached to app (all apps when
// app is ""), oldest first, with what the Manager knows of them.
func (s *addonService) list(app string) []addonView {
	var out []addonView
	for _, rec := range s.sortedRecords() {
		if app != "" && rec.App != app && !slices.ContainsFunc(rec.Shared, func(sh sharedAttachment) bool { return sh.App == app }) {
			continue
		}
		out = append(out, s.view(rec))
	}
	return out
}

type addonView struct {
	rec   addonRecord
	addon addons.AddOn
	live  bool // restored into the Manager
}

// record returns the named add-on's current record.
func (s *addonService) record(name string) addonRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[name]
}

func (s *addonService) view(rec addonRecord) addonView {
	a, err := s.m.AddOn(rec.Name)
	return addonView{rec: rec, addon: a, live: err == nil}
}

// unknownService explains a missing service, naming the flag that would
// offer it.
func (s *addonService) unknownService(name string) error {
	switch name {
	case servicePostgres, "postgresql", "postgres":
		return platformapi.InvalidParams("%s is not available: this minipaas has no PostgreSQL server configured (start it with -postgres-url)", servicePostgres)
	case serviceRedis, "redis":
		return platformapi.InvalidParams("%s is not available: this minipaas has no Redis server configured (start it with -redis-url)", serviceRedis)
	}
	var names []string
	for _, svc := range s.m.Catalog.Services {
		names = append(names, svc.Name)
	}
	offered := "none (start minipaas with -postgres-url or -redis-url)"
	if len(names) > 0 {
		offered = strings.Join(names, ", ")
	}
	return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "Couldn't find add-on service %q; offered: %s", truncate(name, 100), offered)
}

// apiError maps addons errors to API errors. The Manager's messages carry
// names, never config values; admin passwords are scrubbed in case a
// server's error echoes them.
func (s *addonService) apiError(err error, what string) error {
	msg := s.scrub(err).Error()
	switch {
	case errors.Is(err, addons.ErrNotFound):
		return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "%s", msg)
	case errors.Is(err, addons.ErrBusy):
		return platformapi.Conflict("%s", msg)
	case errors.Is(err, addons.ErrUnknownService), errors.Is(err, addons.ErrUnknownPlan):
		return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "%s", msg)
	case errors.Is(err, addons.ErrDuplicateAttachment), errors.Is(err, addons.ErrInvalid), errors.Is(err, addons.ErrPlanChangeUnsupported):
		return platformapi.InvalidParams("%s", msg)
	case errors.Is(err, platform.ErrNotFound):
		return platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "%s", msg)
	}
	s.log.Error("minipaas: add-on operation failed", "op", what, "err", msg)
	return platformapi.Errorf(http.StatusBadGateway, "provider_error", "%s failed: %s", what, msg)
}

func (s *addonService) scrub(err error) error {
	msg := err.Error()
	for _, sec := range s.secrets {
		msg = strings.ReplaceAll(msg, sec, "[REDACTED]")
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var nameWords = []string{
	"amber", "brisk", "cubic", "dusty", "eager", "fluid", "glossy", "humble", "ivory", "jolly",
	"keen", "lunar", "misty", "noble", "opaque", "polar", "quiet", "rigid", "shaped", "tidal",
	"urban", "vivid", "woven", "young", "zesty", "solid", "clear", "curly", "deep", "flat",
}

// newAddonName makes a Heroku-style name: postgresql-shaped-12345.
func newAddonName(service string) string {
	w, _ := rand.Int(rand.Reader, big.NewInt(int64(len(nameWords))))
	n, _ := rand.Int(rand.Reader, big.NewInt(90000))
	return strings.TrimPrefix(service, "heroku-") + "-" + nameWords[w.Int64()] + "-" + strconv.FormatInt(n.Int64()+10000, 10)
}

// --- HTTP ---

func (a *api) addonRoutes(h func(string, platformapi.HandlerFunc)) {
	h("GET /apps/{app}/addons", a.listAddons)
	h("POST /apps/{app}/addons", a.createAddon)
	h("GET /apps/{app}/addons/{addon}", a.getAddon)
	h("DELETE /apps/{app}/addons/{addon}", a.destroyAddon)
	h("PATCH /apps/{app}/addons/{addon}", a.patchAddon)
	h("GET /addons", a.listAddons)
	h("GET /addons/{addon}", a.getAddon)
	h("GET /addons/{addon}/addon-attachments", a.addonAttachments)
	h("GET /addons/{addon}/config/{namespace}", a.addonNamespaceConfig)
	h("GET /apps/{app}/addon-attachments", a.appAttachments)
	h("GET /addon-attachments", a.appAttachments)
	h("POST /addon-attachments", a.createAttachment)
	h("GET /addon-attachments/{attachment}", a.getAttachment)
	h("GET /apps/{app}/addon-attachments/{attachment}", a.getAttachment)
	h("DELETE /addon-attachments/{attachment}", a.destroyAttachment)
	h("POST /actions/addons/resolve", a.resolveAddon)
	h("POST /actions/addon-attachments/resolve", a.resolveAttachment)
	h("GET /addon-services", a.listServices)
	h("GET /addon-services/{service}", a.getService)
	h("GET /addon-services/{service}/plans", a.listPlans)
	a.dataRoutes(h)
}

type billedPrice struct {
	Cents    int    `json:"cents"`
	Contract bool   `json:"contract"`
	Unit     string `json:"unit"`
}

type addonJSON struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	AddonService     ref            `json:"addon_service"`
	Plan             ref            `json:"plan"`
	App              ref            `json:"app"`
	BillingEntity    map[string]any `json:"billing_entity"`
	BilledPrice      billedPrice    `json:"billed_price"`
	ConfigVars       []string       `json:"config_vars"`
	ProviderID       string         `json:"provider_id"`
	ProvisionMessage *string        `json:"provision_message"`
	State            string         `json:"state"`
	WebURL           *string        `json:"web_url"`
	Actions          []any          `json:"actions"`
	CreatedAt        string         `json:"created_at"`
	UpdatedAt        string         `json:"updated_at"`
}

type attachmentJSON struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Namespace *string `json:"namespace"`
	Addon     struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		App  ref    `json:"app"`
		// Plan is what Accept-Inclusion: addon:plan adds, which the CLI's
		// database resolver (pg:psql, pg:info) reads; it is always sent.
		Plan ref `json:"plan"`
	} `json:"addon"`
	App ref `json:"app"`
	// ConfigVars are the attachment's config var names
	// (Accept-Inclusion: config_vars); always sent too.
	ConfigVars  []string `json:"config_vars"`
	WebURL      *string  `json:"web_url"`
	LogInputURL *string  `json:"log_input_url"`
	CreatedAt   string   `json:"created_at"`
	UpdatedAt   string   `json:"updated_at"`
}

// addonApp is a.app, except that without {app} in the path it returns the
// zero App (add-on routes exist with and without an app).
func (a *api) addonApp(r *http.Request) (platform.App, error) {
	if r.PathValue("app") == "" {
		return platform.App{}, nil
	}
	return a.app(r)
}

func looksLikeUUID(s string) bool {
	return len(s) == 36 && strings.Count(s, "-") == 4
}

func (a *api) appRef(ctx context.Context, name string) ref {
	if app, err := a.p.App(ctx, name); err == nil {
		return ref{ID: app.ID, Name: app.Name}
	}
	return ref{ID: nameUUID("app", name), Name: name}
}

func (a *api) addonToJSON(ctx context.Context, v addonView) addonJSON {
	app := a.appRef(ctx, v.rec.App)
	j := addonJSON{
		ID:            v.rec.ID,
		Name:          v.rec.Name,
		AddonService:  ref{ID: nameUUID("addon-service", v.rec.Service), Name: v.rec.Service},
		Plan:          ref{ID: nameUUID("plan", v.rec.Service, v.rec.Plan), Name: v.rec.Service + ":" + v.rec.Plan},
		App:           app,
		BillingEntity: map[string]any{"id": app.ID, "name": app.Name, "type": "app"},
		BilledPrice:   billedPrice{Unit: "month"},
		ConfigVars:    []string{},
		ProviderID:    v.rec.ResourceID,
		State:         v.rec.State,
		Actions:       []any{},
		CreatedAt:     rfc3339(v.rec.CreatedAt),
		UpdatedAt:     rfc3339(v.rec.CreatedAt),
	}
	if v.live {
		// As on Heroku: the vars it exposes to its billing app.
		for _, at := range v.addon.Attachments {
			if at.App == v.rec.App {
				j.ConfigVars = append(j.ConfigVars, at.ConfigNames...)
			}
		}
		if v.addon.Message != "" {
			msg := v.addon.Message
			j.ProvisionMessage = &msg
		}
	} else if j.State == "provisioned" {
		// Recorded, but its server did not answer when minipaas started.
		j.State = "provisioning"
	}
	return j
}

func (a *api) attachmentsOf(ctx context.Context, v addonView) []attachmentJSON {
	if !v.live {
		return nil
	}
	var out []attachmentJSON
	for _, at := range v.addon.Attachments {
		out = append(out, a.attachmentToJSON(ctx, v, at))
	}
	return out
}

// attachmentToJSON is one attachment of v in the API's JSON.
func (a *api) attachmentToJSON(ctx context.Context, v addonView, at addons.Attachment) attachmentJSON {
	j := attachmentJSON{
		ID:        nameUUID("addon-attachment", v.rec.ID, at.App, at.Name),
		Name:      at.Name,
		App:       a.appRef(ctx, at.App),
		CreatedAt: rfc3339(v.rec.CreatedAt),
		UpdatedAt: rfc3339(v.rec.CreatedAt),
	}
	j.Addon.ID, j.Addon.Name, j.Addon.App = v.rec.ID, v.rec.Name, a.appRef(ctx, v.rec.App)
	j.Addon.Plan = ref{ID: nameUUID("plan", v.rec.Service, v.rec.Plan), Name: v.rec.Service + ":" + v.rec.Plan}
	j.ConfigVars = append([]string{}, at.ConfigNames...)
	if at.Credential != "" {
		ns := "credential:" + at.Credential
		j.Namespace = &ns
	}
	if at.Pooled {
		ns := "connection-pooling:default"
		j.Namespace = &ns
	}
	return j
}

// listAddons serves GET /addons and, for one app, GET /apps/{app}/addons.
func (a *api) listAddons(w http.ResponseWriter, r *http.Request) error {
	app, err := a.addonApp(r)
	if err != nil {
		return err
	}
	out := []addonJSON{}
	for _, v := range a.addons.list(app.Name) {
		out = append(out, a.addonToJSON(r.Context(), v))
	}
	return platformapi.Paginate(w, r, out,
		platformapi.Field[addonJSON]{Name: "id", Key: func(j addonJSON) string { return j.ID }},
		platformapi.Field[addonJSON]{Name: "name", Key: func(j addonJSON) string { return j.Name }},
	)
}

// findAddon resolves an add-on by id, name, or (with app) attachment name.
func (a *api) findAddon(app, idOrName string) (addonView, error) {
	for _, v := range a.addons.list(app) {
		if v.rec.ID == idOrName || v.rec.Name == idOrName {
			return v, nil
		}
	}
	if app != "" {
		for _, v := range a.addons.list(app) {
			if v.rec.App == app && strings.EqualFold(v.rec.Attachment, idOrName) {
				return v, nil
			}
			for _, sh := range v.rec.Shared {
				if sh.App == app && strings.EqualFold(sh.Name, idOrName) {
					return v, nil
				}
			}
		}
	}
	if app != "" {
		return addonView{}, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "Couldn't find add-on %q on app %s", truncate(idOrName, 100), app)
	}
	return addonView{}, platformapi.NotFound("add-on", idOrName)
}

// getAddon serves GET /addons/{addon} and, scoped to one app,
// GET /apps/{app}/addons/{addon}.
func (a *api) getAddon(w http.ResponseWriter, r *http.Request) error {
	app, err := a.addonApp(r)
	if err != nil {
		return err
	}
	v, err := a.findAddon(app.Name, r.PathValue("addon"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.addonToJSON(r.Context(), v))
	return nil
}

func (a *api) createAddon(w http.ResponseWriter, r *http.Request) error {
	app, err := a.addonApp(r)
	if err != nil {
		return err
	}
	var body struct {
		// The CLI sends the plan as a string; the schema also allows {"name": …}.
		Plan       json.RawMessage `json:"plan"`
		Name       string          `json:"name"`
		Attachment *struct {
			Name string `json:"name"`
		} `json:"attachment"`
		Config map[string]any `json:"config"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	req := addonCreate{Plan: planName(body.Plan), Name: body.Name, Config: body.Config}
	if body.Attachment != nil {
		req.As = body.Attachment.Name
	}
	rec, err := a.provisionAddon(r.Context(), app, req)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.addonToJSON(r.Context(), a.addons.view(rec)))
	return nil
}

// addonCreate is what addons:create asks for: a plan ("service:plan" or
// a service for its default plan), optionally the add-on's name, its
// attachment name (--as) and provider options (strings, booleans or
// numbers, as JSON gives them).
type addonCreate struct {
	Plan, Name, As string
	Config         map[string]any
}

// provisionAddon checks req and provisions the add-on billed to and
// attached to app, which gets its config vars in a release: the core of
// POST /apps/{app}/addons, which the dashboard's form runs too. Nothing
// changes when req breaks a rule. Errors are API errors.
func (a *api) provisionAddon(ctx context.Context, app platform.App, req addonCreate) (addonRecord, error) {
	plan := strings.TrimSpace(req.Plan)
	if plan == "" {
		return addonRecord{}, platformapi.InvalidParams("plan is required, e.g. %q", servicePostgres+":essential-0")
	}
	as := strings.ToUpper(strings.TrimSpace(req.As))
	if as != "" {
		if err := addons.ValidateAttachmentName(as); err != nil {
			return addonRecord{}, platformapi.InvalidParams("attachment name %q: %s", truncate(as, 100), strings.TrimPrefix(err.Error(), "addons: "))
		}
	}
	if req.Name != "" {
		if err := addons.ValidateAddonName(req.Name); err != nil {
			return addonRecord{}, platformapi.InvalidParams("add-on name %q: %s", truncate(req.Name, 100), strings.TrimPrefix(err.Error(), "addons: "))
		}
	}
	options := map[string]string{}
	for k, v := range req.Config {
		switch v := v.(type) {
		case string:
			options[k] = v
		case bool, float64:
			options[k] = fmt.Sprint(v)
		default:
			return addonRecord{}, platformapi.InvalidParams("config %s must be a string", truncate(k, 100))
		}
	}
	return a.addons.create(ctx, app.Name, plan, req.Name, as, options)
}

func (a *api) destroyAddon(w http.ResponseWriter, r *http.Request) error {
	app, err := a.addonApp(r)
	if err != nil {
		return err
	}
	j, err := a.destroyAddonOf(r.Context(), app.Name, r.PathValue("addon"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, j)
	return nil
}

// destroyAddonOf finds app's add-on by id, name or attachment name and
// destroys it: its config vars leave the apps it is attached to (a
// release each), then the resource goes. It is the core of DELETE
// /apps/{app}/addons/{addon}, which the dashboard's form runs too, and
// returns the add-on as the API answers it.
func (a *api) destroyAddonOf(ctx context.Context, app, idOrName string) (addonJSON, error) {
	v, err := a.findAddon(app, idOrName)
	if err != nil {
		return addonJSON{}, err
	}
	j := a.addonToJSON(ctx, v)
	if err := a.addons.destroy(ctx, v.rec.Name); err != nil {
		return addonJSON{}, err
	}
	j.State = "deprovisioned"
	return j, nil
}

// patchAddon changes an add-on's plan (addons:upgrade and
// addons:downgrade send {"plan": {"name": "service:plan"}}).
func (a *api) patchAddon(w http.ResponseWriter, r *http.Request) error {
	app, err := a.addonApp(r)
	if err != nil {
		return err
	}
	v, err := a.findAddon(app.Name, r.PathValue("addon"))
	if err != nil {
		return err
	}
	var body struct {
		Plan json.RawMessage `json:"plan"`
		Name *string         `json:"name"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	plan := planName(body.Plan)
	if plan == "" && body.Name == nil {
		return platformapi.InvalidParams("plan or name is required, e.g. {\"plan\": {\"name\": %q}}", v.rec.Service+":"+v.rec.Plan)
	}
	rec := v.rec
	if plan != "" {
		if rec, err = a.addons.changePlan(r.Context(), rec.Name, plan); err != nil {
			return err
		}
	}
	if body.Name != nil {
		if rec, err = a.addons.rename(r.Context(), rec.Name, *body.Name); err != nil {
			return err
		}
	}
	platformapi.WriteJSON(w, http.StatusOK, a.addonToJSON(r.Context(), a.addons.view(rec)))
	return nil
}

// createAttachment attaches an add-on to another app (addons:attach).
func (a *api) createAttachment(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Addon     nameOrID `json:"addon"`
		App       nameOrID `json:"app"`
		Name      string   `json:"name"`
		Namespace *string  `json:"namespace"`
		Confirm   string   `json:"confirm"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	credential := ""
	if body.Namespace != nil && *body.Namespace != "" {
		var ok bool
		if credential, ok = strings.CutPrefix(*body.Namespace, "credential:"); !ok || credential == "" {
			return platformapi.InvalidParams("namespace %q: minipaas knows only credential:<name> (addons:attach --credential)", truncate(*body.Namespace, 60))
		}
	}
	app, err := a.appByNameOrID(r.Context(), body.App.key())
	if err != nil {
		return err
	}
	v, err := a.findAddon("", body.Addon.key())
	if err != nil {
		return err
	}
	var at addons.Attachment
	as := strings.ToUpper(strings.TrimSpace(body.Name))
	if owner := a.addons.attachedAs(app.Name, as); owner != "" && owner != v.rec.Name && credential == "" {
		// The name is another add-on's on the app: with the app's name as
		// confirmation it moves to this one (heroku pg:promote).
		if body.Confirm != app.Name {
			return platformapi.InvalidParams("%s is already attached to %s as %s: confirm with the app's name to attach %s in its place", owner, app.Name, as, v.rec.Name)
		}
		at, err = a.addons.reattach(r.Context(), v.rec.Name, owner, app.Name, as)
	} else {
		at, err = a.addons.attach(r.Context(), v.rec.Name, app.Name, as, credential, false)
	}
	if err != nil {
		return err
	}
	return a.writeNewAttachment(w, r, v.rec.Name, at)
}

// writeNewAttachment answers 201 with attachment at of add-on name.
func (a *api) writeNewAttachment(w http.ResponseWriter, r *http.Request, name string, at addons.Attachment) error {
	for _, j := range a.attachmentsOf(r.Context(), a.addons.view(a.addons.record(name))) {
		if j.App.Name == at.App && j.Name == at.Name {
			platformapi.WriteJSON(w, http.StatusCreated, j)
			return nil
		}
	}
	return errors.New("the new attachment is missing from the add-on")
}

// nameOrID is an API reference given as {"name": …}, {"id": …} or a string.
type nameOrID struct{ ID, Name string }

func (n *nameOrID) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		n.Name = s
		return nil
	}
	var v struct{ ID, Name string }
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.ID, n.Name = v.ID, v.Name
	return nil
}

func (n nameOrID) key() string {
	if n.Name != "" {
		return n.Name
	}
	return n.ID
}

// findAttachment resolves an attachment by id, or by name within app.
func (a *api) findAttachment(ctx context.Context, app, idOrName string) (attachmentJSON, addonView, error) {
	for _, v := range a.addons.list(app) {
		for _, at := range a.attachmentsOf(ctx, v) {
			if at.ID == idOrName || (app != "" && at.App.Name == app && strings.EqualFold(at.Name, idOrName)) {
				return at, v, nil
			}
		}
	}
	return attachmentJSON{}, addonView{}, platformapi.NotFound("add-on attachment", idOrName)
}

func (a *api) getAttachment(w http.ResponseWriter, r *http.Request) error {
	app, err := a.addonApp(r)
	if err != nil {
		return err
	}
	at, _, err := a.findAttachment(r.Context(), app.Name, r.PathValue("attachment"))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, at)
	return nil
}

// destroyAttachment detaches (addons:detach): the app gets a release
// without the attachment's vars.
func (a *api) destroyAttachment(w http.ResponseWriter, r *http.Request) error {
	at, v, err := a.findAttachment(r.Context(), "", r.PathValue("attachment"))
	if err != nil {
		return err
	}
	if err := a.addons.detach(r.Context(), v.rec.Name, at.App.Name, at.Name); err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, at)
	return nil
}

func (a *api) appAttachments(w http.ResponseWriter, r *http.Request) error {
	app, err := a.addonApp(r)
	if err != nil {
		return err
	}
	out := []attachmentJSON{}
	for _, v := range a.addons.list("") {
		for _, at := range a.attachmentsOf(r.Context(), v) {
			if app.Name == "" || at.App.Name == app.Name {
				out = append(out, at)
			}
		}
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) addonAttachments(w http.ResponseWriter, r *http.Request) error {
	v, err := a.findAddon("", r.PathValue("addon"))
	if err != nil {
		return err
	}
	out := a.attachmentsOf(r.Context(), v)
	if out == nil {
		out = []attachmentJSON{}
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// resolveAddon answers the CLI's lookup of an add-on by name, id or
// attachment name, optionally within an app; the answer is a list.
func (a *api) resolveAddon(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Addon        string `json:"addon"`
		App          string `json:"app"`
		AddonService string `json:"addon_service"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	if body.Addon == "" {
		return platformapi.InvalidParams("addon is required")
	}
	v, err := a.findAddon(body.App, body.Addon)
	if err != nil {
		// As Heroku's resolver: a service (or service:plan) names the
		// app's one add-on of it.
		var ok bool
		if v, ok, err = a.addonOfService(body.App, body.Addon); !ok {
			return err
		}
	}
	if body.AddonService != "" && body.AddonService != v.rec.Service {
		return platformapi.NotFound("add-on", body.Addon)
	}
	platformapi.WriteJSON(w, http.StatusOK, []addonJSON{a.addonToJSON(r.Context(), v)})
	return nil
}

// addonOfService finds the add-on of service ("service" or "service:plan")
// billed to or attached to app (any app when ""): ok with the one there
// is, a 422 naming them when several match, a 404 when none does.
func (a *api) addonOfService(app, service string) (addonView, bool, error) {
	name, plan, _ := strings.Cut(service, ":")
	var found []addonView
	for _, v := range a.addons.list(app) {
		if v.rec.Service == name && (plan == "" || v.rec.Plan == plan) {
			found = append(found, v)
		}
	}
	switch len(found) {
	case 0:
		return addonView{}, false, platformapi.NotFound("add-on", service)
	case 1:
		return found[0], true, nil
	}
	names := make([]string, len(found))
	for i, v := range found {
		names[i] = v.rec.Name
	}
	return addonView{}, false, platformapi.InvalidParams("Ambiguous identifier; multiple matching add-ons found: %s.", strings.Join(names, ", "))
}

func (a *api) resolveAttachment(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		AddonAttachment string `json:"addon_attachment"`
		App             string `json:"app"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	out := []attachmentJSON{}
	for _, v := range a.addons.list("") {
		for _, at := range a.attachmentsOf(r.Context(), v) {
			if (body.App == "" || at.App.Name == body.App) &&
				(at.Name == body.AddonAttachment || at.ID == body.AddonAttachment || v.rec.Name == body.AddonAttachment) {
				out = append(out, at)
			}
		}
	}
	if len(out) == 0 {
		return platformapi.NotFound("add-on attachment", body.AddonAttachment)
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) listServices(w http.ResponseWriter, r *http.Request) error {
	out := []map[string]any{}
	for _, svc := range a.addons.m.Catalog.Services {
		out = append(out, serviceJSON(svc.Name))
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func serviceJSON(name string) map[string]any {
	return map[string]any{
		"id": nameUUID("addon-service", name), "name": name, "human_name": name,
		"state": "ga", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
	}
}

// getService answers GET /addon-services/{service} (addons:docs), by name
// or id.
func (a *api) getService(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("service")
	for _, svc := range a.addons.m.Catalog.Services {
		if svc.Name == id || nameUUID("addon-service", svc.Name) == id {
			platformapi.WriteJSON(w, http.StatusOK, serviceJSON(svc.Name))
			return nil
		}
	}
	return a.addons.unknownService(id)
}

func (a *api) listPlans(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("service")
	svc, err := a.addons.m.Catalog.Service(name)
	if err != nil {
		return a.addons.unknownService(name)
	}
	out := []map[string]any{}
	for i, p := range svc.Plans {
		out = append(out, map[string]any{
			"id": nameUUID("plan", svc.Name, p.Name), "name": svc.Name + ":" + p.Name,
			"human_name": p.Name, "description": p.Description, "default": i == 0, "state": "public",
			"price":         billedPrice{Unit: "month"},
			"addon_service": ref{ID: nameUUID("addon-service", svc.Name), Name: svc.Name},
		})
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// openAddons builds the add-on service and brings back the recorded
// add-ons.
func openAddons(ctx context.Context, p *platform.Platform, postgresURL, redisURL, poolerAddr string, log *slog.Logger) (*addonService, error) {
	s, err := newAddonService(p, postgresURL, redisURL, poolerAddr, log)
	if err != nil {
		return nil, err
	}
	if err := s.restore(ctx); err != nil {
		s.close()
		return nil, fmt.Errorf("add-ons: %w", err)
	}
	return s, nil
}

// provisionManifest creates an app.json's add-ons on app, in order, before
// its first build (so the build and the release see their config vars).
// The first failure stops the setup, as a failed add-on fails Heroku's app
// setup.
func (s *addonService) provisionManifest(ctx context.Context, app string, list []manifestAddon, out io.Writer) error {
	for _, ad := range list {
		options := make(map[string]string, len(ad.Options))
		for k, v := range ad.Options {
			options[k] = fmt.Sprint(v)
		}
		fmt.Fprintf(out, "-----> Provisioning add-on %s\n", ad.Plan)
		rec, err := s.create(ctx, app, ad.Plan, "", ad.As, options)
		if err != nil {
			return fmt.Errorf("%s: %w", ad.Plan, err)
		}
		fmt.Fprintf(out, "       Created %s as %s\n", rec.Name, rec.Attachment)
	}
	return nil
}

// planName reads an add-on plan as the CLI sends it: a string
// ("heroku-postgresql:mini") or an object with a name; "" if neither.
func planName(raw json.RawMessage) string {
	var plan string
	if err := json.Unmarshal(raw, &plan); err != nil {
		var p struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &p) == nil {
			plan = p.Name
		}
	}
	return strings.TrimSpace(plan)
}

// addonNamespaceConfig answers GET /addons/{addon}/config/credential:<name>,
// which addons:attach --credential reads to check that the credential
// exists: its URL as the one config entry, or an empty list.
func (a *api) addonNamespaceConfig(w http.ResponseWriter, r *http.Request) error {
	v, err := a.findAddon("", r.PathValue("addon"))
	if err != nil {
		return err
	}
	type configEntry struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	out := []configEntry{}
	name, ok := strings.CutPrefix(r.PathValue("namespace"), "credential:")
	if !ok {
		platformapi.WriteJSON(w, http.StatusOK, out)
		return nil
	}
	c, err := a.addons.m.Credential(r.Context(), v.rec.Name, name)
	switch {
	case err == nil:
		out = append(out, configEntry{Name: "URL", Value: c.URL})
	case !errors.Is(err, addons.ErrNotFound):
		return a.addons.apiError(err, "list the credentials of "+v.rec.Name)
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
