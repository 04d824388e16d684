package platform

import (
	"context"
	"fmt"

	"github.com/dynokit/dynokit/internal/store"
)

// addonRecordsNS holds the platform front end's add-on records, keyed by
// add-on name. The values are opaque here: the addons.Manager keeps its
// state in memory, so whoever runs it stores what it needs to rebuild that
// state after a restart, in platform.db next to the apps it refers to.
const addonRecordsNS = "minipaas.addons"

// PutAddonRecord stores (or replaces) the record of the named add-on.
func (p *Platform) PutAddonRecord(ctx context.Context, name string, rec []byte) error {
	if name == "" {
		return fmt.Errorf("platform: add-on record: empty name")
	}
	if err := p.kv.Update(ctx, func(tx store.Tx) error { return tx.Put(addonRecordsNS, []byte(name), rec) }); err != nil {
		return fmt.Errorf("platform: store add-on record %q: %w", name, err)
	}
	return nil
}

// DeleteAddonRecord removes the named add-on's record; an absent one is no
// error.
func (p *Platform) DeleteAddonRecord(ctx context.Context, name string) error {
	if err := p.kv.Update(ctx, func(tx store.Tx) error { return tx.Delete(addonRecordsNS, []byte(name)) }); err != nil {
		return fmt.Errorf("platform: delete add-on record %q: %w", name, err)
	}
	return nil
}

// AddonRecords returns every stored add-on record by name.
func (p *Platform) AddonRecords(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := p.kv.View(ctx, func(tx store.Tx) error {
		return tx.Scan(addonRecordsNS, nil, false, 0, func(k, v []byte) bool {
			out[string(k)] = v
			return true
		})
	})
	if err != nil {
		return nil, fmt.Errorf("platform: read add-on records: %w", err)
	}
	return out, nil
}
