package local

import (
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
		// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
		_, rest, ok := strings.Cut(string(b[strings.LastIndexByte(string(b), ')')+1:]), " ")
		if !ok {
			continue
		}
		if fs := strings.Fields(rest); len(fs) > 2 && fs[2] == strconv.Itoa(d.pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
