package gitpush

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Export writes the tree of the pushed revision into dir (created if
// missing), for the build step. It works during Deploy, while the pushed
// objects are still quarantined.
func (r DeployRequest) Export(ctx context.Context, dir string) error {
	git := r.git
	if git == "" {
		git = "git"
	}
	return export(ctx, git, r.RepoDir, r.NewRev, dir, r.gitEnv)
}

// Export writes the tree of rev in the bare repository repoDir into dir
// (created if missing): the files as committed, symlinks and executable bits
// included, without .git. git is the git executable ("" means "git").
func Export(ctx context.Context, git, repoDir, rev, dir string) error {
	if git == "" {
		git = "git"
	}
	return export(ctx, git, repoDir, rev, dir, nil)
}

func export(ctx context.Context, git, repoDir, rev, dir string, env []string) error {
	if !isObjectName(rev) {
		return fmt.Errorf("gitpush: export: revision %q is not a full object name", rev)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gitpush: export %s: %w", rev, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("gitpush: export %s: %w", rev, err)
	}
	// A private index, so that exporting never touches the repository's
	// own state and several exports can run at once.
	idx, err := os.CreateTemp("", "dynokit-gitpush-index-")
	if err != nil {
		return fmt.Errorf("gitpush: export %s: %w", rev, err)
	}
	idx.Close()
	os.Remove(idx.Name()) // git wants to create it
	defer os.Remove(idx.Name())
	env = append(append(os.Environ(), env...), "GIT_INDEX_FILE="+idx.Name(), "GIT_CONFIG_NOSYSTEM=1")
	for _, args := range [][]string{
		{"read-tree", rev + "^{tree}"},
		{"checkout-index", "--all", "--force"},
	} {
		full := append([]string{"--git-dir=" + repoDir, "--work-tree=" + abs, "-c", "core.autocrlf=false", "-c", "core.symlinks=true"}, args...)
		cmd := exec.CommandContext(ctx, git, full...)
		cmd.Env = env
		cmd.Dir = abs
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("gitpush: export %s: git %s: %w: %s", rev, args[0], err, bytes.TrimSpace(out))
		}
	}
	return nil
}
