package memstore_test

import (
	"testing"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/memstore"
	"github.com/dynokit/dynokit/release/releasetest"
)

func TestConformance(t *testing.T) {
	releasetest.StoreSuite(t, func(t *testing.T) release.Store { return memstore.New() })
}

func TestZeroValue(t *testing.T) {
	releasetest.StoreSuite(t, func(t *testing.T) release.Store { return &memstore.Store{} })
}
