// Package procnet answers, from /proc, whether a set of processes holds a
// listening TCP socket on a port: how the runtimes whose dynos share the
// host's network namespace (local processes, OCI containers by default)
// implement formation.ListenChecker.
package procnet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Listens reports whether one of pids has a file descriptor on a socket
// listening on TCP port (IPv4 or IPv6) in the caller's network namespace.
func Listens(port int, pids []int) (bool, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listenInodes(f, port, inodes); err != nil {
			return false, err
		}
	}
	if len(inodes) == 0 {
		return false, nil
	}
	for _, pid := range pids {
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

// CgroupPids lists the processes in the cgroup directory dir (its
// cgroup.procs); none when it cannot be read.
func CgroupPids(dir string) []int {
	b, err := os.ReadFile(dir + "/cgroup.procs")
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range bytes.Fields(b) {
		if pid, err := strconv.Atoi(string(f)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
