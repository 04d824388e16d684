package addons_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// backupGate is a Backuper over MemProvider: a resource's data is a
// string, and ChangePlan can be held in flight (describeGate).
type backupGate struct {
	*describeGate
	mu   sync.Mutex
	data map[string]string
}

func (g *backupGate) Backup(ctx context.Context, id string, w io.Writer) error {
	g.mu.Lock()
	d, ok := g.data[id]
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("resource %s: %w", id, addons.ErrNotFound)
	}
	_, err := io.WriteString(w, d)
	return err
}

func (g *backupGate) Restore(ctx context.Context, id string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.data[id] = string(b)
	return nil
}

func (g *backupGate) Reset(ctx context.Context, id string, extensions []string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.data[id] = strings.Join(extensions, ",")
	return nil
}

func (g *backupGate) ResetConnections(ctx context.Context, id string) (int, error) { return 3, nil }

func newBackupGate() *backupGate {
	return &backupGate{describeGate: &describeGate{MemProvider: addonstest.NewMemProvider("DATABASE", "hobby", "standard"),
		entered: make(chan struct{}), release: make(chan struct{})}, data: map[string]string{}}
}

func TestManagerBackupRestore(t *testing.T) {
	g := newBackupGate()
	m, _ := newManager(g)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	g.data[a.ProviderID] = "v1"
	var buf bytes.Buffer
	if err := m.Backup(ctx, a.Name, &buf); err != nil || buf.String() != "v1" {
		t.Fatalf("Backup = %q, %v", buf.String(), err)
	}
	g.data[a.ProviderID] = "v2"
	if err := m.Restore(ctx, a.Name, &buf); err != nil || g.data[a.ProviderID] != "v1" {
		t.Fatalf("Restore: data %q, %v", g.data[a.ProviderID], err)
	}
	for _, name := range []string{"no-such-addon", ""} {
		if err := m.Backup(ctx, name, io.Discard); !errors.Is(err, addons.ErrNotFound) {
			t.Errorf("Backup(%q) = %v, want ErrNotFound", name, err)
		}
		if err := m.Restore(ctx, name, strings.NewReader("x")); !errors.Is(err, addons.ErrNotFound) {
			t.Errorf("Restore(%q) = %v, want ErrNotFound", name, err)
		}
	}

	// While a plan change holds the add-on, a backup runs and a restore
	// is refused; after it, the restore runs.
	changed := make(chan error, 1)
	go func() {
		_, err := m.ChangePlan(ctx, a.Name, "standard")
		changed <- err
	}()
	<-g.entered
	buf.Reset()
	if err := m.Backup(ctx, a.Name, &buf); err != nil || buf.String() != "v1" {
		t.Errorf("Backup during a plan change = %q, %v", buf.String(), err)
	}
	if err := m.Restore(ctx, a.Name, strings.NewReader("v3")); !errors.Is(err, addons.ErrBusy) {
		t.Errorf("Restore during a plan change = %v, want ErrBusy", err)
	}
	if err := m.Reset(ctx, a.Name, nil); !errors.Is(err, addons.ErrBusy) {
		t.Errorf("Reset during a plan change = %v, want ErrBusy", err)
	}
	close(g.release)
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ctx, a.Name, strings.NewReader("v3")); err != nil || g.data[a.ProviderID] != "v3" {
		t.Errorf("Restore after the plan change: data %q, %v", g.data[a.ProviderID], err)
	}

	if err := m.Reset(ctx, a.Name, []string{"hstore"}); err != nil || g.data[a.ProviderID] != "hstore" {
		t.Errorf("Reset: data %q, %v", g.data[a.ProviderID], err)
	}
	if n, err := m.ResetConnections(ctx, a.Name); err != nil || n != 3 {
		t.Errorf("ResetConnections = %d, %v", n, err)
	}
	if err := m.Reset(ctx, "no-such-addon", nil); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Reset of an unknown add-on = %v, want ErrNotFound", err)
	}

	// Provider failures name the add-on and keep the cause.
	delete(g.data, a.ProviderID)
	if err := m.Backup(ctx, a.Name, io.Discard); !errors.Is(err, addons.ErrNotFound) || !strings.Contains(err.Error(), a.Name) {
		t.Errorf("Backup of data the provider lost = %v", err)
	}
	if err := m.Destroy(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if err := m.Backup(ctx, a.Name, io.Discard); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Backup of a destroyed add-on = %v, want ErrNotFound", err)
	}
}

func TestManagerBackupUnsupported(t *testing.T) {
	m, _ := newManager(onlyProvider{addonstest.NewMemProvider("DATABASE", "hobby")})
	a, err := m.Create(context.Background(), addons.CreateRequest{App: "shop", Plan: "postgres:hobby"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Backup(context.Background(), a.Name, io.Discard); !errors.Is(err, addons.ErrBackupUnsupported) || !strings.Contains(err.Error(), a.Name) {
		t.Errorf("Backup through a provider without Backuper = %v", err)
	}
	if err := m.Restore(context.Background(), a.Name, strings.NewReader("")); !errors.Is(err, addons.ErrBackupUnsupported) {
		t.Errorf("Restore through a provider without Backuper = %v", err)
	}
	if err := m.Reset(context.Background(), a.Name, nil); !errors.Is(err, addons.ErrResetUnsupported) {
		t.Errorf("Reset through a provider without Resetter = %v", err)
	}
	if _, err := m.ResetConnections(context.Background(), a.Name); !errors.Is(err, addons.ErrResetConnsUnsupported) {
		t.Errorf("ResetConnections through a provider without ConnectionResetter = %v", err)
	}
}
