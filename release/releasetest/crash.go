package releasetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynokit/dynokit/release"
)

// CrashRecord is what AppendUntilKilled writes as version v: large enough
// to span pages, and checkable after a crash.
func CrashRecord(v int) release.Release {
	r := Sample(v)
	r.Description = fmt.Sprintf("crash-test v%d", v)
	r.Config["PAYLOAD"] = strings.Repeat(strconv.Itoa(v%10), 4096)
	return r
}

// AppendUntilKilled is the body of a crash-test helper process: it appends
// CrashRecords to app forever, printing "acked N" to out after each append
// returns, so the parent knows which versions were acknowledged.
func AppendUntilKilled(ctx context.Context, s release.Store, app string, out io.Writer) error {
	for {
		expect := 0
		if l, err := s.Latest(ctx, app); err == nil {
			expect = l.Version
		} else if !errors.Is(err, release.ErrNotFound) {
			return err
		}
		r, err := s.Append(ctx, app, CrashRecord(expect+1), expect)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "acked %d\n", r.Version); err != nil {
			return err
		}
	}
}

// CrashTest runs rounds of: start helper (a command that runs
// AppendUntilKilled), let it append for a random moment, SIGKILL it, then
// check with open() that the history has no gap, no duplicate, no torn
// record, and holds every acknowledged version. open's store is closed
// before the next round.
func CrashTest(t *testing.T, rounds int, helper func() *exec.Cmd, open func(t *testing.T) (release.Store, func()), app string) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed))
	t.Logf("seed %d", seed)
	acked := 0
	for round := 0; round < rounds; round++ {
		cmd := helper()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan int, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
					v, _ := strconv.Atoi(n)
					lines <- v
				}
			}
		}()
		// Wait for a first ack so the kill lands mid-stream, then a random
		// moment more.
		select {
		case v, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("round %d: helper exited before appending: %s", round, stderr.String())
			}
			acked = max(acked, v)
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: helper appended nothing in 30 s: %s", round, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for v := range lines {
			acked = max(acked, v)
		}
		cmd.Wait()

		s, closeStore := open(t)
		all := []release.Release{}
		opt := release.ListOptions{Order: release.Asc, Max: release.MaxMax}
		for {
			page, err := s.List(context.Background(), app, opt)
			if err != nil {
				closeStore()
				t.Fatalf("round %d: reading the history after SIGKILL: %v", round, err)
			}
			all = append(all, page...)
			next, more := release.NextRange(opt, page)
			if !more {
				break
			}
			opt = next
		}
		closeStore()
		for i, r := range all {
			want := CrashRecord(i + 1)
			want.App, want.Version = app, i+1
			if !Equal(r, want) {
				t.Fatalf("round %d: position %d holds v%d %q: gap, duplicate or torn record", round, i, r.Version, r.Description)
			}
		}
		if len(all) < acked {
			t.Fatalf("round %d: history ends at v%d but v%d was acknowledged", round, len(all), acked)
		}
		t.Logf("round %d: killed after v%d acknowledged; history intact with %d releases", round, acked, len(all))
	}
}

// HelperEnv is the environment variable that turns a test binary into a
// crash-test helper; its value says which store to open.
const HelperEnv = "DYNOKIT_RELEASE_CRASH_HELPER"

// HelperCommand re-runs the current test binary as a helper with
// HelperEnv=target.
func HelperCommand(target string) *exec.Cmd {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), HelperEnv+"="+target)
	return cmd
}
