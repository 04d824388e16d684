package nomad_test

import (
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/nomad"
)

func TestConformance(t *testing.T) {
	a := agent(t)
	// raw_exec enforces the memory limit only where the client runs tasks
	// in cgroups.
	cgroups := a.nodeAttr(t, "os.cgroups.version")
	formationtest.Run(t, func(t *testing.T) formation.Runtime {
		return &nomad.Runtime{Address: a.addr, KillTimeout: 5 * time.Second}
	}, formationtest.Options{
		MemoryLimits:         cgroups != "",
		NoMemoryLimitsReason: "the Nomad client reports no cgroups (os.cgroups.version), so raw_exec cannot enforce memory limits",
		NoCPUWeightReason:    "the suite cannot find a Nomad task's cgroup from the dyno; TestCPUShares reads it from inside the dyno",
		Timeout:              60 * time.Second,
	})
}
