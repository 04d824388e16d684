package local_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/local"
)

// requireCPUWeights skips without the cpu controller, or fails when
// DYNOKIT_TEST_REQUIRE=1.
func requireCPUWeights(t *testing.T, rt *local.Runtime) {
	t.Helper()
	requireCgroups(t, rt)
	if ok, why := rt.CPUWeights(); !ok {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("cpu controller required: %v", why)
		}
		t.Skip(why)
	}
}

// dynoCPUFile is the host path of the file holding the CPU weight of the
// cgroup that /proc/<pid>/cgroup lines name: cpu.shares in a v1 cpu
// hierarchy ("4:cpu:/dynokit/x" or "4:cpu,cpuacct:/dynokit/x"), else
// cpu.weight in the unified one ("0::/dynokit/x").
func dynoCPUFile(cgroupLines string) (string, error) {
	var unified string
	sc := bufio.NewScanner(strings.NewReader(cgroupLines))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == "cpu" {
				return filepath.Join("/sys/fs/cgroup/cpu", f[2], "cpu.shares"), nil
			}
		}
		if f[0] == "0" && f[1] == "" {
			unified = filepath.Join("/sys/fs/cgroup", f[2], "cpu.weight")
		}
	}
	if unified == "" {
		return "", fmt.Errorf("no cpu cgroup in %q", cgroupLines)
	}
	return unified, nil
}

// TestCPUShares reads each dyno's CPU weight back from its cgroup on the
// host while the dyno runs: cpu.shares as given (clamped to the kernel's
// 2-262144) on cgroup v1, the runc/crun conversion to cpu.weight on v2.
func TestCPUShares(t *testing.T) {
	rt := &local.Runtime{BaseDir: t.TempDir(), RequireLimits: true}
	requireCPUWeights(t, rt)
	v2 := false
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		v2 = true
	}
	for _, tc := range []struct {
		shares       int64
		v1, v2Weight string
	}{
		{2048, "2048", "174"}, // standard-2X
		{1024, "1024", "100"}, // standard-1X: the kernel's default weight
		{1, "2", "1"},         // below the kernel's minimum
	} {
		t.Run(fmt.Sprint(tc.shares), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out formationtest.Buffer
			spec := formation.DynoSpec{ID: fmt.Sprintf("cpu-%d", tc.shares), SlugDir: slugDir(t, nil),
				Command:   "cat /proc/self/cgroup; echo started; exec sleep 30",
				Resources: formation.Resources{CPUShares: tc.shares}}
			d, err := rt.Start(ctx, spec, formation.Stdio{Stdout: &out, Stderr: &out})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _, _ = formation.Stop(context.Background(), d, time.Second) }()
			if err := out.WaitFor(ctx, "started"); err != nil {
				t.Fatal(err)
			}
			path, err := dynoCPUFile(out.String())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(path, "/dynokit/") {
				t.Errorf("cpu cgroup %s is not under the runtime's CgroupParent", path)
			}
			b, err := os.ReadFile(path)
			want := tc.v1
			if v2 {
				want = tc.v2Weight
			}
			if got := strings.TrimSpace(string(b)); err != nil || got != want {
				t.Errorf("%s = %q, %v; want %s", path, got, err, want)
			}
			if _, err := formation.Stop(ctx, d, time.Second); err != nil {
				t.Fatal(err)
			}
			// The cgroup goes with the dyno.
			if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
				t.Errorf("cgroup %s left after the dyno stopped: %v", filepath.Dir(path), err)
			}
		})
	}
}

// A dyno without CPUShares gets no cpu cgroup of its own: it shares the
// host program's weight, as before the field existed.
func TestNoCPUSharesNoCPUCgroup(t *testing.T) {
	rt := &local.Runtime{BaseDir: t.TempDir(), RequireLimits: true}
	requireCPUWeights(t, rt)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		t.Skip("cgroup v2: the dyno's one cgroup holds a default cpu.weight")
	}
	var out formationtest.Buffer
	spec := formation.DynoSpec{ID: "cpu-none", SlugDir: slugDir(t, nil), Command: "cat /proc/self/cgroup",
		Resources: formation.Resources{MemoryBytes: 64 << 20}}
	d, err := rt.Start(context.Background(), spec, formation.Stdio{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	got, err := dynoCPUFile(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := dynoCPUFile(string(self)); got != want {
		t.Errorf("dyno's cpu cgroup file %s, want the test's own %s", got, want)
	}
}

func TestNegativeCPUShares(t *testing.T) {
	rt := &local.Runtime{BaseDir: t.TempDir()}
	_, err := rt.Start(context.Background(), formation.DynoSpec{ID: "neg", SlugDir: slugDir(t, nil), Command: "true",
		Resources: formation.Resources{CPUShares: -1}}, formation.Stdio{})
	if err == nil || !strings.Contains(err.Error(), "Resources.CPUShares -1 must not be negative") {
		t.Fatalf("Start = %v, want the negative CPUShares error", err)
	}
}

// cpuWeight reads the CPU weight of a running dyno's cgroup (for
// formationtest's CPUShares case): cpu.shares on cgroup v1, cpu.weight on
// v2. The cgroup is named after the dyno's directory, "<id>-<random>".
func cpuWeight(_ context.Context, d formation.Dyno) (int64, error) {
	pattern := filepath.Join("/sys/fs/cgroup/cpu/dynokit", d.ID()+"-*", "cpu.shares")
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		pattern = filepath.Join("/sys/fs/cgroup/dynokit", d.ID()+"-*", "cpu.weight")
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
