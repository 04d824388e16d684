package oci

import (
	"fmt"
	"path/filepath"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/internal/procnet"
)

var _ formation.ListenChecker = (*Dyno)(nil)

// Listens reports whether one of the container's processes holds a
// listening TCP socket on port (formation.ListenChecker), so that a router
// can check that a new connection to the dyno's address reaches this dyno
// and not a process that took the port since it stopped. Dynos share the
// host's network namespace (unless WithNetworkNamespace, whose dynos the
// host cannot reach anyway), so the host's /proc/net/tcp lists their
// sockets; the container's processes are its cgroup's.
func (d *Dyno) Listens(port int) (bool, error) {
	var pids []int
	for _, root := range append([]string{d.cgroups.memory}, d.cgroups.all...) {
		if root == "" {
			continue
		}
		if pids = procnet.CgroupPids(filepath.Join(root, d.cgroup)); len(pids) > 0 {
			break
		}
	}
	ok, err := procnet.Listens(port, pids)
	if err != nil {
		return false, fmt.Errorf("oci: dyno %s: %w", d.id, err)
	}
	return ok, nil
}
