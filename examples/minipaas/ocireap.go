package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// reapOrphanContainers removes the containers a previous minipaas left in
// the OCI runtime's state dir (dir/state) when it died without stopping
// them (SIGKILL, a panic): their `runc run` processes outlive it, keep
// serving on their ports, and no Reconciler knows them any more. The
// platform's own reaper finds local dynos by working directory, which a
// container's processes do not show. Called before the platform opens, so
// every container there is an orphan; then the stale bundles go too.
func reapOrphanContainers(ctx context.Context, binary, dir string, log *slog.Logger) error {
	state := filepath.Join(dir, "state")
	if _, err := os.Stat(state); os.IsNotExist(err) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "--root", state, "list", "-q").Output()
	if err != nil {
		return fmt.Errorf("oci: list containers left by a previous run: %w", err)
	}
	for _, id := range strings.Fields(string(out)) {
		// delete --force kills the container's processes (SIGKILL) and
		// removes its cgroup; the orphaned `runc run` then exits.
		if b, err := exec.CommandContext(ctx, binary, "--root", state, "delete", "--force", id).CombinedOutput(); err != nil {
			return fmt.Errorf("oci: remove container %s left by a previous run: %w: %s", id, err, strings.TrimSpace(string(b)))
		}
		log.Warn("minipaas: removed a container left by a previous run", "container", id)
	}
	bundles := filepath.Join(dir, "bundles")
	entries, err := os.ReadDir(bundles)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("oci: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(bundles, e.Name())); err != nil {
			return fmt.Errorf("oci: remove a stale bundle: %w", err)
		}
	}
	return nil
}
