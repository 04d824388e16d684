package oci_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
)

// TestCPUShares starts a dyno with Resources.CPUShares under runc and crun
// and reads the weight back from the container's cgroup on the host while
// it runs: cpu.shares as given on cgroup v1; on v2 cpu.weight, which runc
// and crun derive from the shares with a formula that depends on their
// version (linear before runc 1.3.2 and crun 1.23, log-quadratic since).
func TestCPUShares(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, binary string) {
		f := newFixture(t, binary)
		spec := dynoSpec(t, "worker.1", "echo started; exec sleep 30", nil)
		spec.Resources.CPUShares = 2048
		var out formationtest.Buffer
		d := f.start(spec, formation.Stdio{Stdout: &out, Stderr: &out})
		if err := out.WaitFor(f.ctx, "started"); err != nil {
			t.Fatalf("%v; output %q", err, out.String())
		}
		sum := sha256.Sum256([]byte(f.rt.Dir))
		cg := "dynokit/" + hex.EncodeToString(sum[:4]) + "-" + spec.ID
		path, want := filepath.Join("/sys/fs/cgroup/cpu", cg, "cpu.shares"), []string{"2048"}
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil { // cgroup v2
			path, want = filepath.Join("/sys/fs/cgroup", cg, "cpu.weight"), []string{"79", "174"}
		}
		b, err := os.ReadFile(path)
		if got := strings.TrimSpace(string(b)); err != nil || !slices.Contains(want, got) {
			t.Errorf("%s = %q, %v; want one of %v", path, got, err, want)
		}

		// Without CPUShares the runtime leaves the kernel's default weight.
		spec2 := dynoSpec(t, "worker.2", "echo started; exec sleep 30", nil)
		var out2 formationtest.Buffer
		d2 := f.start(spec2, formation.Stdio{Stdout: &out2, Stderr: &out2})
		if err := out2.WaitFor(f.ctx, "started"); err != nil {
			t.Fatalf("%v; output %q", err, out2.String())
		}
		cg2 := "dynokit/" + hex.EncodeToString(sum[:4]) + "-" + spec2.ID
		path2, want2 := filepath.Join("/sys/fs/cgroup/cpu", cg2, "cpu.shares"), 1024
		if strings.HasSuffix(path, "cpu.weight") {
			path2, want2 = filepath.Join("/sys/fs/cgroup", cg2, "cpu.weight"), 100
		}
		b, err = os.ReadFile(path2)
		if got := strings.TrimSpace(string(b)); err != nil || got != strconv.Itoa(want2) {
			t.Errorf("%s = %q, %v; want the default %d", path2, got, err, want2)
		}
		for _, dy := range []formation.Dyno{d, d2} {
			if _, err := formation.Stop(f.ctx, dy, 0); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// cpuWeight reads the CPU weight of a running dyno's cgroup on the host
// (for formationtest's CPUShares case): cpu.shares on cgroup v1,
// cpu.weight on v2. The cgroup is DefaultCgroupParent/<hash of Dir>-<id>.
func cpuWeight(_ context.Context, d formation.Dyno) (int64, error) {
	pattern := filepath.Join("/sys/fs/cgroup/cpu/dynokit", "*-"+d.ID(), "cpu.shares")
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		pattern = filepath.Join("/sys/fs/cgroup/dynokit", "*-"+d.ID(), "cpu.weight")
	}
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) != 1 {
		return 0, fmt.Errorf("cgroup of %s: %d matches of %s (%v)", d.ID(), len(files), pattern, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}
