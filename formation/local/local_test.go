package local_test

import (
	"os"
	"testing"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/local"
)

func TestConformance(t *testing.T) {
	probe := &local.Runtime{BaseDir: t.TempDir()}
	ok, why := probe.MemoryLimits()
	opts := formationtest.Options{MemoryLimits: ok}
	if !ok {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("memory limits required (run as root on a machine with the cgroup memory controller): %v", why)
		}
		opts.NoMemoryLimitsReason = why.Error()
	}
	if ok, why := probe.CPUWeights(); ok {
		opts.CPUWeight = cpuWeight
	} else {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("CPU weights required (the cgroup cpu controller): %v", why)
		}
		opts.NoCPUWeightReason = why.Error()
	}
	formationtest.Run(t, func(t *testing.T) formation.Runtime {
		return &local.Runtime{BaseDir: t.TempDir(), RequireLimits: true}
	}, opts)
}
