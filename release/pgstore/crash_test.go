package pgstore_test

import (
	"os/exec"
	"testing"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/releasetest"
)

// A client appending in a loop is SIGKILLed at random moments (mid
// transaction, often); the server's history has no gap, duplicate or torn
// record afterwards.
func TestCrashSafety(t *testing.T) {
	dsn := pg.NewSchema(t)
	releasetest.CrashTest(t, 4,
		func() *exec.Cmd { return releasetest.HelperCommand(dsn) },
		func(t *testing.T) (release.Store, func()) {
			s := open(t, dsn)
			return s, func() { s.Close() }
		}, "app")
}
