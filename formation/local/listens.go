package local

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/internal/procnet"
)

var _ formation.ListenChecker = (*Dyno)(nil)

// Listens reports whether one of the dyno's processes holds a listening
// TCP socket on port (formation.ListenChecker). A router uses it to check
// that a new connection to the dyno's address reaches this dyno, and not a
// process that took the address since the dyno stopped.
func (d *Dyno) Listens(port int) (bool, error) {
	ok, err := procnet.Listens(port, d.pids())
	if err != nil {
		return false, fmt.Errorf("local: dyno %s: %w", d.id, err)
	}
	return ok, nil
}

// pids lists the dyno's processes: its cgroup's, or its process group's.
func (d *Dyno) pids() []int {
	if d.cgroup != nil {
		return d.cgroup.pids()
	}
	return procsWhere(func(pgrp, _ int) bool { return pgrp == d.pgid })
}

// procsWhere lists the processes (from /proc) whose process group and
// session match.
func procsWhere(match func(pgrp, sid int) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session …; comm may hold spaces and
		// parentheses.
		fs := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fs) < 4 {
			continue
		}
		pgrp, err1 := strconv.Atoi(fs[2])
		sid, err2 := strconv.Atoi(fs[3])
		if err1 == nil && err2 == nil && match(pgrp, sid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
