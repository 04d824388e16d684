package nomad_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/formationtest"
	"github.com/dynokit/dynokit/formation/nomad"
)

// The dyno's job reserves CPUShares as MHz, and Nomad's client writes
// that number as the task cgroup's weight: the dyno (raw_exec, on this
// host) reads it back from its own cpu cgroup. On cgroup v2 Nomad 1.10
// converts with runc 1.2's linear formula (2048 is 79).
func TestCPUShares(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt := &nomad.Runtime{Address: a.addr}
	spec := formation.DynoSpec{ID: fmt.Sprintf("nomadtest.cpu.%d", time.Now().UnixNano()), Name: "worker.1", Type: "worker",
		SlugDir: emptySlug(t), Resources: formation.Resources{CPUShares: 2048},
		Command: `p=$(grep -E '^[0-9]+:([^:]*,)?cpu(,[^:]*)?:' /proc/self/cgroup | cut -d: -f3)
if [ -n "$p" ]; then cat "/sys/fs/cgroup/cpu$p/cpu.shares"; else cat "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/cpu.weight"; fi`}
	if got := rt.Job(spec).TaskGroups[0].Tasks[0].Resources.CPU; got != 2048 {
		t.Errorf("job cpu = %d MHz, want 2048", got)
	}
	var out, errOut formationtest.Buffer
	d, err := rt.Start(ctx, spec, formation.Stdio{Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	if exit, err := d.Wait(ctx); err != nil || exit.Code != 0 {
		t.Fatalf("Wait = %+v, %v; stderr %q", exit, err, errOut.String())
	}
	if got := strings.TrimSpace(out.String()); !slices.Contains([]string{"2048", "79", "174"}, got) {
		t.Errorf("the dyno's cpu weight = %q, want cpu.shares 2048 (or its cpu.weight on cgroup v2); stderr %q", got, errOut.String())
	}
}

// More CPU shares than any node has MHz: the dyno cannot be placed, and
// the error says why.
func TestCPUSharesUnplaceable(t *testing.T) {
	a := agent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt := &nomad.Runtime{Address: a.addr}
	spec := formation.DynoSpec{ID: fmt.Sprintf("nomadtest.cpubig.%d", time.Now().UnixNano()), Name: "worker.1", Type: "worker",
		Command: "sleep 30", SlugDir: emptySlug(t), Resources: formation.Resources{CPUShares: 1 << 24}}
	d, err := rt.Start(ctx, spec, formation.Stdio{})
	if err == nil {
		stopAtEnd(t, d)
		t.Fatal("Start placed a dyno wanting 16 THz")
	}
	if !strings.Contains(err.Error(), "no Nomad node can run the dyno") || !strings.Contains(err.Error(), "exhausted on cpu") {
		t.Errorf("err = %v, want the unplaceable error naming cpu", err)
	}
}
