package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/autoscale"
	"github.com/dynokit/dynokit/internal/store"
)

// The platform's own records live in one boltkv file beside the release
// history. One record per app holds everything about it that is not a
// release, so every change to an app is one small transaction.

const (
	stateComponent = "minipaas.platform"
	appsNS         = "minipaas/apps" // key: app name, value: appRecord JSON
)

var stateMigrations = []store.Migration{
	{Version: 1, Name: "minipaas/apps: one JSON record per app, keyed by name"},
}

// appRecord is the persisted state of one app.
type appRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Formation is the quantity and size of every process type the app has
	// had; types absent from the running release are kept but not run, as
	// Heroku keeps a formation entry until the type disappears.
	Formation   map[string]formation.Process `json:"formation"`
	Domains     []string                     `json:"domains,omitempty"`
	Maintenance bool                         `json:"maintenance,omitempty"`
	// Buildpacks is the list `heroku buildpacks:set` chose; empty means
	// detection.
	Buildpacks []BuildpackInstallation `json:"buildpacks,omitempty"`
	// Preboot is the app's preboot feature (heroku features:enable
	// preboot): new releases replace web dynos with formation.Preboot.
	Preboot bool `json:"preboot,omitempty"`
	// DynoMetadata is the app's runtime-dyno-metadata feature.
	DynoMetadata bool `json:"dyno_metadata,omitempty"`
	// RuntimeMetrics is the app's log-runtime-metrics feature.
	RuntimeMetrics bool `json:"runtime_metrics,omitempty"`
	// HerokuExec is the app's runtime-heroku-exec feature.
	HerokuExec bool `json:"heroku_exec,omitempty"`
	// Autoscaling is the app's web autoscaling policy; nil when off.
	Autoscaling *autoscale.Policy `json:"autoscaling,omitempty"`
}

func (r appRecord) clone() appRecord {
	c := r
	c.Formation = make(map[string]formation.Process, len(r.Formation))
	for t, p := range r.Formation {
		c.Formation[t] = p
	}
	c.Domains = append([]string(nil), r.Domains...)
	c.Buildpacks = append([]BuildpackInstallation(nil), r.Buildpacks...)
	if r.Autoscaling != nil {
		policy := *r.Autoscaling
		c.Autoscaling = &policy
	}
	return c
}

func loadApps(ctx context.Context, db store.DB) ([]appRecord, error) {
	var out []appRecord
	err := db.View(ctx, func(tx store.Tx) error {
		var derr error
		err := tx.Scan(appsNS, nil, false, 0, func(k, v []byte) bool {
			var r appRecord
			if err := json.Unmarshal(v, &r); err != nil {
				derr = fmt.Errorf("app record %q: %w", k, err)
				return false
			}
			out = append(out, r)
			return true
		})
		return errors.Join(err, derr)
	})
	return out, err
}

// insertApp stores a new record; store.ErrExists means the name is taken.
func insertApp(ctx context.Context, db store.DB, r appRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return db.Update(ctx, func(tx store.Tx) error { return tx.Insert(appsNS, []byte(r.Name), v) })
}

func putApp(ctx context.Context, db store.DB, r appRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return db.Update(ctx, func(tx store.Tx) error { return tx.Put(appsNS, []byte(r.Name), v) })
}

// moveApp stores r under its new name and deletes the record under old,
// in one transaction; a taken name is store.ErrExists.
func moveApp(ctx context.Context, db store.DB, old string, r appRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(appsNS, []byte(r.Name), v); err != nil {
			return err
		}
		return tx.Delete(appsNS, []byte(old))
	})
}

func deleteApp(ctx context.Context, db store.DB, name string) error {
	return db.Update(ctx, func(tx store.Tx) error { return tx.Delete(appsNS, []byte(name)) })
}
