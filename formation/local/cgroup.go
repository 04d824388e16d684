package local

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/internal/procnet"
)

// cgroupSetup is what detectCgroups found: either cgroup v2 with the memory
// controller, or cgroup v1 with a memory hierarchy (and maybe pids and cpu).
type cgroupSetup struct {
	v2       bool
	memory   string // v2: the unified parent dir; v1: <memory root>/<parent>
	pids     string // v1 only: <pids root>/<parent>, "" without the controller
	pidsInV2 bool
	cpu      string // v1 only: <cpu root>/<parent>, "" without the controller
	cpuInV2  bool
	// cpuErr says why CPU weights cannot be set (nil when they can).
	cpuErr error
}

// detectCgroups looks under root (normally /sys/fs/cgroup) for a writable
// memory controller and prepares the parent cgroup. A hybrid layout whose
// unified hierarchy lacks the memory controller (this project's CI machine:
// only hugetlb there) is treated as v1.
func detectCgroups(root, parent string) (cgroupSetup, error) {
	if ctrls, err := os.ReadFile(filepath.Join(root, "cgroup.controllers")); err == nil {
		fields := strings.Fields(string(ctrls))
		if !contains(fields, "memory") {
			return cgroupSetup{}, errors.New("cgroup v2 without the memory controller")
		}
		// Children can only use controllers their parent delegates.
		_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+memory"), 0)
		if contains(fields, "pids") {
			_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+pids"), 0)
		}
		dir := filepath.Join(root, parent)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return cgroupSetup{}, fmt.Errorf("cgroup v2: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
			return cgroupSetup{}, fmt.Errorf("cgroup v2: enable memory controller in %s: %w", dir, err)
		}
		s := cgroupSetup{v2: true, memory: dir}
		if contains(fields, "pids") && os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+pids"), 0) == nil {
			s.pidsInV2 = true
		}
		switch {
		case !contains(fields, "cpu"):
			s.cpuErr = fmt.Errorf("cgroup v2: the cpu controller is not delegated to %s", root)
		default:
			_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+cpu"), 0)
			if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+cpu"), 0); err != nil {
				s.cpuErr = fmt.Errorf("cgroup v2: enable cpu controller in %s: %w", dir, err)
			} else {
				s.cpuInV2 = true
			}
		}
		return s, nil
	}
	memRoot := filepath.Join(root, "memory")
	if _, err := os.Stat(filepath.Join(memRoot, "memory.limit_in_bytes")); err != nil {
		return cgroupSetup{}, fmt.Errorf("no cgroup memory controller at %s: %w", memRoot, err)
	}
	s := cgroupSetup{memory: filepath.Join(memRoot, parent)}
	if err := os.MkdirAll(s.memory, 0o755); err != nil {
		return cgroupSetup{}, fmt.Errorf("cgroup v1 memory: %w", err)
	}
	if isDir(filepath.Join(root, "pids")) {
		p := filepath.Join(root, "pids", parent)
		if os.MkdirAll(p, 0o755) == nil {
			s.pids = p
		}
	}
	// "cpu" is a directory or, where cpu and cpuacct share a hierarchy, a
	// symlink to "cpu,cpuacct"; either way it holds cpu.shares.
	cpuRoot := filepath.Join(root, "cpu")
	if _, err := os.Stat(filepath.Join(cpuRoot, "cpu.shares")); err != nil {
		s.cpuErr = fmt.Errorf("no cgroup cpu controller at %s: %w", cpuRoot, err)
	} else if p := filepath.Join(cpuRoot, parent); os.MkdirAll(p, 0o755) != nil {
		s.cpuErr = fmt.Errorf("cgroup v1 cpu: cannot create %s", p)
	} else {
		s.cpu = p
	}
	return s, nil
}

// Limits of cgroup v1 cpu.shares and v2 cpu.weight (the kernel's
// MIN_SHARES, MAX_SHARES and CGROUP_WEIGHT_MIN/MAX).
const (
	minShares, maxShares = 2, 1 << 18
	minWeight, maxWeight = 1, 10000
)

// clampShares is what the v1 kernel stores for a cpu.shares write.
func clampShares(shares int64) int64 {
	return min(max(shares, minShares), maxShares)
}

// sharesToWeight converts cpu.shares to cgroup v2 cpu.weight as runc (from
// 1.3.2, through opencontainers/cgroups) and crun (from 1.23) convert OCI
// cpu.shares: log10(weight) is a quadratic in log2(shares) through the
// points both ranges agree on, (2, 1), (1024, 100) and (262144, 10000),
// rounded up. So the default weights match (1024 shares is weight 100),
// which the older linear formula, 1 + (shares-2)*9999/262142, did not
// (1024 gave 39).
func sharesToWeight(shares int64) int64 {
	switch {
	case shares <= minShares:
		return minWeight
	case shares >= maxShares:
		return maxWeight
	}
	l := math.Log2(float64(shares))
	exp := (l*l+125*l)/612 - 7.0/34
	return min(int64(math.Ceil(math.Pow(10, exp))), maxWeight)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// dynoCgroup is one dyno's cgroup (in each v1 hierarchy used).
type dynoCgroup struct {
	v2     bool
	memDir string
	pidDir string // v1 pids hierarchy, "" when unused
	cpuDir string // v1 cpu hierarchy, "" when unused
	fd     *os.File
}

func (s cgroupSetup) create(name string, res formation.Resources) (*dynoCgroup, error) {
	cg := &dynoCgroup{v2: s.v2, memDir: filepath.Join(s.memory, name)}
	if err := os.Mkdir(cg.memDir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	fail := func(err error) (*dynoCgroup, error) {
		cg.destroy()
		return nil, err
	}
	if s.v2 {
		if res.MemoryBytes > 0 {
			if err := writeInt(filepath.Join(cg.memDir, "memory.max"), res.MemoryBytes); err != nil {
				return fail(err)
			}
			_ = writeInt(filepath.Join(cg.memDir, "memory.swap.max"), 0)
		}
		if res.PIDs > 0 {
			if !s.pidsInV2 {
				return fail(errors.New("pids limit requested but the pids controller is not available"))
			}
			if err := writeInt(filepath.Join(cg.memDir, "pids.max"), res.PIDs); err != nil {
				return fail(err)
			}
		}
		// Start clears CPUShares when the controller is missing.
		if res.CPUShares > 0 && s.cpuInV2 {
			if err := writeInt(filepath.Join(cg.memDir, "cpu.weight"), sharesToWeight(res.CPUShares)); err != nil {
				return fail(err)
			}
		}
		fd, err := os.Open(cg.memDir)
		if err != nil {
			return fail(fmt.Errorf("open cgroup: %w", err))
		}
		cg.fd = fd
		return cg, nil
	}
	if res.MemoryBytes > 0 {
		if err := writeInt(filepath.Join(cg.memDir, "memory.limit_in_bytes"), res.MemoryBytes); err != nil {
			return fail(err)
		}
		// Without swap accounting this file does not exist; the machine
		// then has no swap limit to set.
		_ = writeInt(filepath.Join(cg.memDir, "memory.memsw.limit_in_bytes"), res.MemoryBytes)
	}
	if res.PIDs > 0 {
		if s.pids == "" {
			return fail(errors.New("pids limit requested but the pids controller is not available"))
		}
		cg.pidDir = filepath.Join(s.pids, name)
		if err := os.Mkdir(cg.pidDir, 0o755); err != nil {
			cg.pidDir = ""
			return fail(fmt.Errorf("create pids cgroup: %w", err))
		}
		if err := writeInt(filepath.Join(cg.pidDir, "pids.max"), res.PIDs); err != nil {
			return fail(err)
		}
	}
	if res.CPUShares > 0 && s.cpu != "" {
		cg.cpuDir = filepath.Join(s.cpu, name)
		if err := os.Mkdir(cg.cpuDir, 0o755); err != nil {
			cg.cpuDir = ""
			return fail(fmt.Errorf("create cpu cgroup: %w", err))
		}
		if err := writeInt(filepath.Join(cg.cpuDir, "cpu.shares"), clampShares(res.CPUShares)); err != nil {
			return fail(err)
		}
	}
	return cg, nil
}

func writeInt(path string, v int64) error {
	if err := os.WriteFile(path, []byte(strconv.FormatInt(v, 10)), 0); err != nil {
		return fmt.Errorf("cgroup: write %s: %w", path, err)
	}
	return nil
}

func (cg *dynoCgroup) dirs() []string {
	dirs := []string{cg.memDir}
	for _, d := range []string{cg.pidDir, cg.cpuDir} {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// joinScript is prepended to the bootstrap on v1: the shell moves itself
// into the cgroups before it runs anything, so no process of the dyno ever
// runs outside them. (v2 joins atomically at clone instead.)
func (cg *dynoCgroup) joinScript() string {
	if cg.v2 {
		return ""
	}
	var b strings.Builder
	for _, d := range cg.dirs() {
		// Paths are built from validated IDs and our own parent dirs.
		fmt.Fprintf(&b, "echo $$ > '%s/cgroup.procs' || exit 126\n", d)
	}
	return b.String()
}

func (cg *dynoCgroup) prepare(attr *syscall.SysProcAttr) {
	if cg.v2 && cg.fd != nil {
		attr.UseCgroupFD = true
		attr.CgroupFD = int(cg.fd.Fd())
	}
}

// prepareExec is prepare for a process started later in a running
// dyno (Dyno.Exec), with a descriptor of its own; the caller runs done
// once the process has started.
func (cg *dynoCgroup) prepareExec(attr *syscall.SysProcAttr) (done func(), err error) {
	if !cg.v2 {
		return func() {}, nil // joinScript
	}
	fd, err := os.Open(cg.memDir)
	if err != nil {
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	attr.UseCgroupFD = true
	attr.CgroupFD = int(fd.Fd())
	return func() { _ = fd.Close() }, nil
}

// started closes what prepare opened.
func (cg *dynoCgroup) started() {
	if cg.fd != nil {
		_ = cg.fd.Close()
		cg.fd = nil
	}
}

func (cg *dynoCgroup) add(pid int) error {
	if cg.v2 {
		return nil // already placed by CLONE_INTO_CGROUP
	}
	for _, d := range cg.dirs() {
		if err := writeInt(filepath.Join(d, "cgroup.procs"), int64(pid)); err != nil {
			return err
		}
	}
	return nil
}

func (cg *dynoCgroup) pids() []int { return procnet.CgroupPids(cg.memDir) }

func (cg *dynoCgroup) signal(sig syscall.Signal) {
	for _, pid := range cg.pids() {
		_ = syscall.Kill(pid, sig)
	}
}

// killAll kills whatever is left in the cgroup (processes that left the
// dyno's process group) and waits briefly for it to empty.
func (cg *dynoCgroup) killAll() {
	deadline := time.Now().Add(2 * time.Second)
	for {
		pids := cg.pids()
		if len(pids) == 0 || time.Now().After(deadline) {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (cg *dynoCgroup) oomKilled() bool {
	name := "memory.oom_control"
	if cg.v2 {
		name = "memory.events"
	}
	return readKey(filepath.Join(cg.memDir, name), "oom_kill") > 0
}

// readKey reads "key value" lines and returns key's value (0 if absent).
func readKey(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func (cg *dynoCgroup) memory() (formation.MemoryUsage, error) {
	usageFile, limitFile := "memory.usage_in_bytes", "memory.limit_in_bytes"
	if cg.v2 {
		usageFile, limitFile = "memory.current", "memory.max"
	}
	used, err := readInt(filepath.Join(cg.memDir, usageFile))
	if err != nil {
		return formation.MemoryUsage{}, err
	}
	limit, err := readInt(filepath.Join(cg.memDir, limitFile))
	if err != nil {
		return formation.MemoryUsage{}, err
	}
	if limit >= 1<<62 { // v1 reports "no limit" as a huge page-aligned number
		limit = 0
	}
	u := formation.MemoryUsage{UsedBytes: used, LimitBytes: limit}
	// The breakdown is best effort: memory.stat names it differently in
	// v1 and v2, and swap is only there with swap accounting.
	stat := readStat(filepath.Join(cg.memDir, "memory.stat"))
	if cg.v2 {
		u.RSSBytes, u.CacheBytes = stat["anon"], stat["file"]
		u.SwapBytes, _ = readInt(filepath.Join(cg.memDir, "memory.swap.current"))
	} else {
		u.RSSBytes, u.CacheBytes, u.SwapBytes = stat["rss"], stat["cache"], stat["swap"]
	}
	return u, nil
}

// readStat reads a cgroup "key value" file such as memory.stat; a missing
// or unreadable one is empty.
func readStat(path string) map[string]int64 {
	out := map[string]int64{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
			out[k] = n
		}
	}
	return out
}

// destroy removes the cgroups; the kernel refuses while processes remain,
// so it retries briefly after killAll.
func (cg *dynoCgroup) destroy() {
	cg.started()
	for _, d := range cg.dirs() {
		for i := 0; i < 100; i++ {
			err := syscall.Rmdir(d)
			if err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
