package platform

import (
	"context"
	"fmt"

	"github.com/dynokit/dynokit/internal/store"
)

// RecordKind names a namespace of the front end's own records in
// platform.db. The values are opaque here: add-ons (the addons.Manager
// keeps its state in memory), pipelines (a front-end grouping of apps;
// promotion is an ordinary platform call), app log drains (run from the
// app's log stream) and ACM switches (certificates come from the router's
// ACME) are the front end's, and it stores what it needs to
// rebuild them after a restart next to the apps they refer to.
type RecordKind string

// The record kinds; the values are the namespaces on disk.
const (
	AddonRecords    RecordKind = "minipaas.addons"    // keyed by add-on name
	PipelineRecords RecordKind = "minipaas.pipelines" // keyed by pipeline ID
	LogDrainRecords RecordKind = "minipaas.logdrains" // keyed by drain ID
	// ACMRecords: one per app with Automated Certificate Management on,
	// keyed by app ID, so a re-created app starts without it.
	ACMRecords RecordKind = "minipaas.acm"
	// WebhookRecords: app webhooks, keyed by webhook ID.
	WebhookRecords RecordKind = "minipaas.webhooks"
	// WebhookEventRecords and WebhookDeliveryRecords: their recent events
	// and deliveries, keyed by app ID + "/" + their ID.
	WebhookEventRecords    RecordKind = "minipaas.webhook-events"
	WebhookDeliveryRecords RecordKind = "minipaas.webhook-deliveries"
	// TransferRecords: heroku pg:backups transfers (backups and
	// restores), keyed by app ID + "/" + transfer UUID; TransferNumRecords
	// hold each app's last transfer number, keyed by app ID.
	TransferRecords    RecordKind = "minipaas.pg-transfers"
	TransferNumRecords RecordKind = "minipaas.pg-transfer-nums"
	// BackupScheduleRecords: daily backup schedules, keyed by add-on ID.
	BackupScheduleRecords RecordKind = "minipaas.pg-backup-schedules"
	// AppSetupRecords: app setups (POST /app-setups), keyed by setup ID.
	AppSetupRecords RecordKind = "minipaas.app-setups"
)

func (k RecordKind) what() string {
	switch k {
	case AddonRecords:
		return "add-on record"
	case PipelineRecords:
		return "pipeline record"
	case LogDrainRecords:
		return "log drain record"
	case ACMRecords:
		return "ACM record"
	case WebhookRecords:
		return "webhook record"
	case WebhookEventRecords:
		return "webhook event record"
	case WebhookDeliveryRecords:
		return "webhook delivery record"
	case TransferRecords:
		return "backup transfer record"
	case TransferNumRecords:
		return "backup number record"
	case BackupScheduleRecords:
		return "backup schedule record"
	case AppSetupRecords:
		return "app setup record"
	}
	return string(k) + " record"
}

// PutRecord stores (or replaces) the record of kind keyed by key.
func (p *Platform) PutRecord(ctx context.Context, kind RecordKind, key string, rec []byte) error {
	if key == "" {
		return fmt.Errorf("platform: %s: empty key", kind.what())
	}
	if err := p.kv.Update(ctx, func(tx store.Tx) error { return tx.Put(string(kind), []byte(key), rec) }); err != nil {
		return fmt.Errorf("platform: store %s %q: %w", kind.what(), key, err)
	}
	return nil
}

// RenameRecord moves the record of kind at old to key, stored as rec, in
// one transaction; a record already at key is an error wrapping
// store.ErrExists.
func (p *Platform) RenameRecord(ctx context.Context, kind RecordKind, old, key string, rec []byte) error {
	if key == "" {
		return fmt.Errorf("platform: %s: empty key", kind.what())
	}
	err := p.kv.Update(ctx, func(tx store.Tx) error {
		if err := tx.Delete(string(kind), []byte(old)); err != nil {
			return err
		}
		return tx.Insert(string(kind), []byte(key), rec) // store.ErrExists if taken
	})
	if err != nil {
		return fmt.Errorf("platform: rename %s %q to %q: %w", kind.what(), old, key, err)
	}
	return nil
}

// DeleteRecord removes a record of kind; an absent one is no error.
func (p *Platform) DeleteRecord(ctx context.Context, kind RecordKind, key string) error {
	if err := p.kv.Update(ctx, func(tx store.Tx) error { return tx.Delete(string(kind), []byte(key)) }); err != nil {
		return fmt.Errorf("platform: delete %s %q: %w", kind.what(), key, err)
	}
	return nil
}

// Records returns every stored record of kind by key.
func (p *Platform) Records(ctx context.Context, kind RecordKind) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := p.kv.View(ctx, func(tx store.Tx) error {
		return tx.Scan(string(kind), nil, false, 0, func(k, v []byte) bool {
			out[string(k)] = v
			return true
		})
	})
	if err != nil {
		return nil, fmt.Errorf("platform: read %ss: %w", kind.what(), err)
	}
	return out, nil
}
