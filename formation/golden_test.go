package formation_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynokit/dynokit/formation"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestLifecycleGolden pins the platform log lines of one web dyno's life,
// as Event.String renders them: boot, crash and restart, an R10 boot
// timeout, a stop that needs SIGKILL (R12), and an OOM kill (R15).
func TestLifecycleGolden(t *testing.T) {
	var got []string
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(r *formation.Reconciler) {
			r.Backoff = []time.Duration{0, time.Minute}
			r.OnEvent = func(e formation.Event) { got = append(got, e.String()) }
		})
		f.set(1, formation.RestartAll, map[string]int{"web": 1})
		f.fake.Live()[0].MarkReady()
		synctest.Wait()
		f.fake.Live()[0].Exit(1) // crash: restarted at once
		synctest.Wait()
		// The restarted dyno never binds its port: R10 after BootTimeout.
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		time.Sleep(time.Minute) // cool-off, then the third start
		synctest.Wait()
		d := f.fake.Live()[0]
		d.MarkReady()
		synctest.Wait()
		d.ExitWith(formation.Exit{Code: 137, Signal: syscall.SIGKILL, OOMKilled: true})
		synctest.Wait()
		f.rec.Restart("app") // resets the back-off: the next start is immediate
		synctest.Wait()
		d = f.fake.Live()[0]
		d.MarkReady()
		d.IgnoreTERM()
		synctest.Wait()
		f.set(1, formation.RestartAll, map[string]int{"web": 0})
		time.Sleep(time.Second + time.Millisecond) // Grace, then SIGKILL
		synctest.Wait()
		f.finish()
	})
	path := filepath.Join("testdata", "lifecycle.golden")
	text := strings.Join(got, "\n") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestLifecycleGolden -update to create it)", err)
	}
	if text != string(want) {
		t.Errorf("lifecycle lines differ from %s (rerun with -update if intended):\n%s", path, text)
	}
}
