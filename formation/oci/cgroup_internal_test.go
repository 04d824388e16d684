package oci

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadCgroupMountsV1Hybrid(t *testing.T) {
	const mountinfo = `22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 22 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/my\040pids rw,relatime shared:5 - cgroup cgroup rw,pids
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
bad line
`
	got := readCgroupMounts([]byte(mountinfo))
	want := cgroupMounts{
		all:    []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/my pids", "/sys/fs/cgroup/unified"},
		memory: "/sys/fs/cgroup/memory",
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(cgroupMounts{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCounter(t *testing.T) {
	tests := []struct {
		name, file string
		want       int64
		wantErr    bool
	}{
		{"v1 oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", 2, false},
		{"v2 memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n", 1, false},
		{"missing", "oom_kill_disable 0\nunder_oom 0\n", 0, true},
		{"not a number", "oom_kill x\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := counter([]byte(tt.file), "oom_kill")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("counter = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNoMemoryController(t *testing.T) {
	var cm cgroupMounts
	if _, err := cm.oomKills("/dynokit/x"); err == nil {
		t.Error("oomKills without a memory controller: want an error")
	}
	if _, _, err := cm.memoryUsage("/dynokit/x"); err == nil {
		t.Error("memoryUsage without a memory controller: want an error")
	}
}
