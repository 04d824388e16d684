package local

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
)

// The conversion agrees with runc and crun at the ends and the defaults,
// and with values their test tables list.
func TestSharesToWeight(t *testing.T) {
	for _, tc := range []struct{ shares, weight int64 }{
		{1, 1}, {2, 1}, {3, 2}, {512, 59}, {1024, 100}, {2048, 174}, {4096, 303},
		{12288, 742}, {51200, 2451}, {262143, 10000}, {262144, 10000}, {1 << 20, 10000},
	} {
		if got := sharesToWeight(tc.shares); got != tc.weight {
			t.Errorf("sharesToWeight(%d) = %d, want %d", tc.shares, got, tc.weight)
		}
	}
	for s := int64(2); s < maxShares; s += 97 {
		if sharesToWeight(s+97) < sharesToWeight(s) {
			t.Fatalf("not monotonic at %d", s)
		}
	}
	for _, tc := range []struct{ in, want int64 }{{1, 2}, {2, 2}, {1024, 1024}, {1 << 18, 1 << 18}, {1<<18 + 1, 1 << 18}} {
		if got := clampShares(tc.in); got != tc.want {
			t.Errorf("clampShares(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// detectCgroups on a v1 layout without a cpu hierarchy keeps memory
// limits and says why CPU weights are off.
func TestDetectCgroupsV1WithoutCPU(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "memory"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "memory", "memory.limit_in_bytes"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := detectCgroups(root, "dynokit")
	if err != nil {
		t.Fatal(err)
	}
	if s.cpu != "" || s.cpuErr == nil || !strings.Contains(s.cpuErr.Error(), "no cgroup cpu controller") {
		t.Errorf("cpu = %q, cpuErr = %v", s.cpu, s.cpuErr)
	}

	// With cpu.shares at the hierarchy's root the parent is made there.
	if err := os.MkdirAll(filepath.Join(root, "cpu"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "cpu", "cpu.shares"), []byte("1024\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = detectCgroups(root, "dynokit")
	if err != nil || s.cpuErr != nil || s.cpu != filepath.Join(root, "cpu", "dynokit") {
		t.Errorf("cpu = %q, cpuErr = %v, err = %v", s.cpu, s.cpuErr, err)
	}
}

// A v2 hierarchy that does not delegate cpu: memory limits still work.
func TestDetectCgroupsV2WithoutCPU(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := detectCgroups(root, "dynokit")
	if err != nil {
		t.Fatal(err)
	}
	if !s.v2 || s.cpuInV2 || s.cpuErr == nil || !strings.Contains(s.cpuErr.Error(), "cpu controller is not delegated") {
		t.Errorf("v2 = %v, cpuInV2 = %v, cpuErr = %v", s.v2, s.cpuInV2, s.cpuErr)
	}
}

// Without the cpu controller a dyno asking for CPU shares runs, with a
// warning, like one asking for memory without cgroups; RequireLimits makes
// it fail instead. Memory limits still apply. Runs on the machine's real
// cgroups with the controller taken away after detection.
func TestCPUSharesWithoutController(t *testing.T) {
	var logs bytes.Buffer
	rt := &Runtime{BaseDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if ok, why := rt.MemoryLimits(); !ok {
		if os.Getenv("DYNOKIT_TEST_REQUIRE") == "1" {
			t.Fatalf("cgroups required: %v", why)
		}
		t.Skip(why)
	}
	rt.cg.cpuErr = errors.New("no cpu here")
	rt.cg.cpu, rt.cg.cpuInV2 = "", false
	slug := t.TempDir()
	spec := formation.DynoSpec{ID: "nocpu", SlugDir: slug, Command: "exit 3",
		Resources: formation.Resources{MemoryBytes: 64 << 20, CPUShares: 2048}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := rt.Start(ctx, spec, formation.Stdio{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if exit, err := d.Wait(ctx); err != nil || exit.Code != 3 {
		t.Fatalf("Wait = %+v, %v", exit, err)
	}
	if !strings.Contains(logs.String(), "without a CPU weight") || !strings.Contains(logs.String(), "no cpu here") {
		t.Errorf("log %q: want a warning naming the reason", logs.String())
	}
	if d.(*Dyno).cgroup == nil {
		t.Error("the dyno ran without its memory cgroup")
	}

	strict := &Runtime{BaseDir: t.TempDir(), RequireLimits: true}
	strict.init()
	strict.cg.cpuErr = errors.New("no cpu here")
	spec.ID = "nocpu-strict"
	if _, err := strict.Start(ctx, spec, formation.Stdio{}); err == nil || !strings.Contains(err.Error(), "CPU shares requested but unavailable: no cpu here") {
		t.Errorf("Start with RequireLimits = %v, want an error", err)
	}
	if ok, err := strict.CPUWeights(); ok || err == nil {
		t.Errorf("CPUWeights = %v, %v", ok, err)
	}
}
