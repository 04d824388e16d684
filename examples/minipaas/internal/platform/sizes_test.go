package platform

import (
	"testing"

	"github.com/dynokit/dynokit/formation"
)

// A size's limits reach the dyno spec: memory, processes and its compute
// as CPU shares. An unknown or empty size runs unlimited.
func TestResourcesFor(t *testing.T) {
	for _, tc := range []struct {
		size string
		want formation.Resources
	}{
		{"standard-1x", formation.Resources{MemoryBytes: 512 << 20, PIDs: 256, CPUShares: 1024}},
		{"Standard-2X", formation.Resources{MemoryBytes: 1 << 30, PIDs: 512, CPUShares: 2048}},
		{"performance-m", formation.Resources{MemoryBytes: 2560 << 20, PIDs: 32768, CPUShares: 12 * 1024}},
		{"performance-l", formation.Resources{MemoryBytes: 14 << 30, PIDs: 32768, CPUShares: 50 * 1024}},
		{"", formation.Resources{}},
		{"huge", formation.Resources{}},
	} {
		if got := resourcesFor(tc.size); got != tc.want {
			t.Errorf("resourcesFor(%q) = %+v, want %+v", tc.size, got, tc.want)
		}
	}
	// Bigger sizes never weigh less, and every weight is valid.
	var prev int64
	for _, s := range DynoSizes() {
		r := resourcesFor(s.Name)
		if err := r.Validate(); err != nil || r.CPUShares < prev || r.CPUShares == 0 {
			t.Errorf("%s: %+v, %v (previous size %d shares)", s.Name, r, err, prev)
		}
		prev = r.CPUShares
	}
}
