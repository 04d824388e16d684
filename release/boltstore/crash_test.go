package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/boltstore"
	"github.com/dynokit/dynokit/release/releasetest"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(releasetest.HelperEnv); path != "" {
		s, err := boltstore.Open(context.Background(), path, boltstore.Options{})
		if err == nil {
			err = releasetest.AppendUntilKilled(context.Background(), s, "app", os.Stdout)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// A process appending in a loop is SIGKILLed at random moments; after
// reopening the file the history has no gap, duplicate or torn record.
func TestCrashSafety(t *testing.T) {
	path := filepath.Join(t.TempDir(), "releases.db")
	releasetest.CrashTest(t, 4,
		func() *exec.Cmd { return releasetest.HelperCommand(path) },
		func(t *testing.T) (release.Store, func()) {
			s := open(t, path)
			return s, func() { s.Close() }
		}, "app")
}
