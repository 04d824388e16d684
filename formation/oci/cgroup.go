package oci

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupMounts is where this host's cgroup hierarchies are mounted, read
// from /proc/self/mountinfo.
type cgroupMounts struct {
	all []string // every cgroup and cgroup2 mountpoint
	// memory is the mountpoint of the hierarchy holding the memory
	// controller; v2 tells whether it is cgroup2 (memory.events) or v1
	// (memory.oom_control).
	memory string
	v2     bool
}

func readCgroupMounts(mountinfo []byte) cgroupMounts {
	var cm cgroupMounts
	var v2mounts []string
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		mnt := unescapeMountinfo(pf[4])
		switch qf[0] {
		case "cgroup":
			cm.all = append(cm.all, mnt)
			for _, o := range strings.Split(qf[2], ",") {
				if o == "memory" && cm.memory == "" {
					cm.memory = mnt
				}
			}
		case "cgroup2":
			cm.all = append(cm.all, mnt)
			v2mounts = append(v2mounts, mnt)
		}
	}
	if cm.memory == "" {
		for _, mnt := range v2mounts {
			b, err := os.ReadFile(filepath.Join(mnt, "cgroup.controllers"))
			if err == nil && containsWord(string(b), "memory") {
				cm.memory, cm.v2 = mnt, true
				break
			}
		}
	}
	return cm
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// unescapeMountinfo undoes the octal escapes (\040 for space…) in a
// mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// oomKills returns how many processes the kernel OOM-killed in the cgroup
// at path: the oom_kill counter of memory.oom_control (v1) or memory.events
// (v2). It must be read while the cgroup exists.
func (cm cgroupMounts) oomKills(path string) (int64, error) {
	if cm.memory == "" {
		return 0, errors.New("no cgroup memory controller mounted")
	}
	name := "memory.oom_control"
	if cm.v2 {
		name = "memory.events"
	}
	b, err := os.ReadFile(filepath.Join(cm.memory, path, name))
	if err != nil {
		return 0, err
	}
	return counter(b, "oom_kill")
}

// memory returns the cgroup's current usage and limit (0 when unlimited).
func (cm cgroupMounts) memoryUsage(path string) (used, limit int64, err error) {
	if cm.memory == "" {
		return 0, 0, errors.New("no cgroup memory controller mounted")
	}
	usageFile, limitFile := "memory.usage_in_bytes", "memory.limit_in_bytes"
	if cm.v2 {
		usageFile, limitFile = "memory.current", "memory.max"
	}
	dir := filepath.Join(cm.memory, path)
	b, err := os.ReadFile(filepath.Join(dir, usageFile))
	if err != nil {
		return 0, 0, err
	}
	if used, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", usageFile, err)
	}
	b, err = os.ReadFile(filepath.Join(dir, limitFile))
	if err != nil {
		return 0, 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return used, 0, nil
	}
	if limit, err = strconv.ParseInt(s, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", limitFile, err)
	}
	// v1 reports "no limit" as a huge page-rounded number.
	if limit >= 1<<62 {
		limit = 0
	}
	return used, limit, nil
}

// counter finds "key N" in a cgroup key-value file.
func counter(b []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s counter", key)
}

// removeLeftovers removes the dyno's cgroup directory from every hierarchy
// where the OCI runtime left it (normally none). Only empty cgroups can be
// removed, so this never disturbs a live dyno.
func (cm cgroupMounts) removeLeftovers(path string) error {
	var errs []error
	for _, mnt := range cm.all {
		err := os.Remove(filepath.Join(mnt, path))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
