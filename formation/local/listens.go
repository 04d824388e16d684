package local

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/dynokit/dynokit/formation"
)

var _ formation.ListenChecker = (*Dyno)(nil)

// Listens reports whether one of the dyno's processes holds a listening
// TCP socket on port (formation.ListenChecker). A router uses it to check
// that a new connection to the dyno's address reaches this dyno, and not a
// process that took the address since the dyno stopped.
func (d *Dyno) Listens(port int) (bool, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listenInodes(f, port, inodes); err != nil {
			return false, fmt.Errorf("local: dyno %s: %w", d.id, err)
		}
	}
	if len(inodes) == 0 {
		return false, nil
	}
	for _, pid := range d.pids() {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // exited meanwhile
		}
		for _, fd := range fds {
			link, err := os.Readlink(dir + "/" + fd.Name())
			if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok && inodes[strings.TrimSuffix(inode, "]")] {
				return true, nil
			}
		}
	}
	return false, nil
}

// listenInodes adds the inodes of the listening sockets on port found in
// a /proc/net/tcp-format file; a missing file (no IPv6) adds none.
func listenInodes(path string, port int, into map[string]bool) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fs := strings.Fields(sc.Text())
		if len(fs) > 9 && fs[3] == "0A" && strings.HasSuffix(fs[1], want) {
			into[fs[9]] = true
		}
	}
	return sc.Err()
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
