package boltkv_test

import (
	"path/filepath"
	"testing"

	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/internal/store/boltkv"
	"github.com/dynokit/dynokit/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Suite(t, func(t *testing.T) store.DB {
		db, err := boltkv.Open(filepath.Join(t.TempDir(), "state.db"), boltkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
