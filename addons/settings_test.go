package addons_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// configMem keeps one setting per resource, "mode", which takes "a" or "b".
type configMem struct {
	*addonstest.MemProvider
	mode map[string]string
}

func (c *configMem) Settings(_ context.Context, id string) ([]addons.Setting, error) {
	return []addons.Setting{{Name: "mode", Value: c.mode[id], Values: map[string]string{"a": "A.", "b": "B."}}}, nil
}

func (c *configMem) UpdateSettings(ctx context.Context, id string, changes map[string]string) ([]addons.Setting, error) {
	for k, v := range changes {
		if k != "mode" || (v != "a" && v != "b") {
			return nil, addons.ErrInvalid
		}
		c.mode[id] = v
	}
	return c.Settings(ctx, id)
}

func TestManagerSettings(t *testing.T) {
	ctx := context.Background()
	cm := &configMem{MemProvider: addonstest.NewMemProvider("DATABASE", "standard"), mode: map[string]string{}}
	m, _ := newManager(cm)
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:standard"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.UpdateSettings(ctx, a.Name, map[string]string{"mode": "b"})
	if err != nil || len(got) != 1 || got[0].Value != "b" || cm.mode[a.ProviderID] != "b" {
		t.Fatalf("UpdateSettings = %v, %v; provider has %q", got, err, cm.mode[a.ProviderID])
	}
	got[0].Values["a"] = "changed by the caller"
	if list, err := m.Settings(ctx, a.Name); err != nil || list[0].Value != "b" || list[0].Values["a"] != "A." {
		t.Errorf("Settings = %v, %v; want mode b, the provider's descriptions untouched", list, err)
	}
	if _, err := m.UpdateSettings(ctx, a.Name, map[string]string{"mode": "c"}); !errors.Is(err, addons.ErrInvalid) {
		t.Errorf("a bad value: %v, want ErrInvalid", err)
	}
	if _, err := m.UpdateSettings(ctx, a.Name, nil); !errors.Is(err, addons.ErrInvalid) {
		t.Errorf("no change: %v, want ErrInvalid", err)
	}
	if _, err := m.Settings(ctx, "no-such-addon"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("unknown add-on: %v, want ErrNotFound", err)
	}
	m2, _ := newManager(onlyProvider{addonstest.NewMemProvider("DATABASE", "hobby")})
	b, err := m2.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Settings(ctx, b.Name); !errors.Is(err, addons.ErrSettingsUnsupported) {
		t.Errorf("a provider without settings: %v, want ErrSettingsUnsupported", err)
	}
	if _, err := m2.UpdateSettings(ctx, b.Name, map[string]string{"mode": "a"}); !errors.Is(err, addons.ErrSettingsUnsupported) {
		t.Errorf("a provider without settings: %v, want ErrSettingsUnsupported", err)
	}
}
