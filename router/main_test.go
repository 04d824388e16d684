package router_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines started by the router (tunnels,
// request handlers, pools) outlive the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := routerGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked router goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func routerGoroutines(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "dynokit/router.") && !strings.Contains(g, "TestMain") && !strings.Contains(g, "routerGoroutines") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
