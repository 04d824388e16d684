package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/sealed"
)

// Config vars at rest: with Config.ConfigKeys, releases.db holds every
// config var value sealed (release/sealed: AES-256-GCM bound to the app,
// release and var), so a copy of the data directory without the key file
// does not give away DATABASE_URL and the like. platform.db records the
// IDs of the keys that ever sealed, so that a platform opened without
// keys on sealed history refuses to start, rather than hand dynos sealed
// text as their config.

const sealedKeysKey = "config-sealed-with" // in metaNS: JSON list of key IDs

// ErrConfigKeysNeeded is returned by Open when releases.db holds sealed
// config vars and Config.ConfigKeys is empty.
var ErrConfigKeysNeeded = errors.New("platform: config vars are sealed: the keys are needed")

// sealReleases wraps the release store per cfg.ConfigKeys, after checking
// them against the key IDs platform.db recorded.
func sealReleases(ctx context.Context, kv store.DB, rels release.Store, keys []sealed.Key) (release.Store, error) {
	var used []string
	err := kv.Update(ctx, func(tx store.Tx) error {
		switch v, err := tx.Get(metaNS, []byte(sealedKeysKey)); {
		case err == nil:
			if err := json.Unmarshal(v, &used); err != nil {
				return fmt.Errorf("read %s: %w", sealedKeysKey, err)
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if len(keys) == 0 || slices.Contains(used, keys[0].ID) {
			return nil
		}
		used = append(used, keys[0].ID)
		b, err := json.Marshal(used)
		if err != nil {
			return err
		}
		return tx.Put(metaNS, []byte(sealedKeysKey), b)
	})
	if err != nil {
		return nil, fmt.Errorf("platform: open: config keys: %w", err)
	}
	if len(keys) == 0 {
		if len(used) > 0 {
			return nil, fmt.Errorf("%w: releases.db was written with key %s; pass the key file (minipaas -config-key-file)", ErrConfigKeysNeeded, strings.Join(used, ", "))
		}
		return rels, nil
	}
	s, err := sealed.New(rels, keys)
	if err != nil {
		return nil, fmt.Errorf("platform: open: config keys: %w", err)
	}
	return s, nil
}
