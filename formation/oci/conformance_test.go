package oci_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/oci"
)

// requireBinary skips (or fails under DYNOKIT_TEST_REQUIRE=1) when the OCI
// runtime binary or root is missing.
func requireBinary(t testing.TB, name string) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath(name); err != nil {
		missing = name + " is not installed (apt-get install " + name + ")"
	} else if os.Geteuid() != 0 {
		missing = "running OCI containers needs root"
	}
	if missing == "" {
		return
	}
	if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
		t.Fatal(missing)
	}
	t.Skip(missing)
}

// requireCrunLayout skips crun on a cgroup v1 hybrid host whose cgroup2
// hierarchy still holds a controller: crun 1.8 refuses to run there
// ("cgroups in hybrid mode not supported, drop all controllers from
// cgroupv2"). Moving hugetlb to v1 is a machine setup step:
//
//	mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
func requireCrunLayout(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers")
	if err == nil && strings.TrimSpace(string(b)) != "" {
		t.Skipf("crun cannot run on this cgroup v1 hybrid host: /sys/fs/cgroup/unified still holds controllers %q; "+
			"run `mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb` first",
			strings.TrimSpace(string(b)))
	}
}

func TestConformanceRunc(t *testing.T) {
	requireBinary(t, "runc")
	formationtest.Run(t, func(t *testing.T) formation.Runtime {
		rt := &oci.Runtime{Binary: "runc", Dir: t.TempDir()}
		t.Cleanup(func() { checkNoLeftovers(t, rt) })
		return rt
	}, formationtest.Options{MemoryLimits: true, CPUWeight: cpuWeight})
}

func TestConformanceCrun(t *testing.T) {
	requireBinary(t, "crun")
	requireCrunLayout(t)
	formationtest.Run(t, func(t *testing.T) formation.Runtime {
		rt := &oci.Runtime{Binary: "crun", Dir: t.TempDir()}
		t.Cleanup(func() { checkNoLeftovers(t, rt) })
		return rt
	}, formationtest.Options{MemoryLimits: true, CPUWeight: cpuWeight})
}
