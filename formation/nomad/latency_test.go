package nomad_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/local"
	"github.com/dynokit/dynokit/formation/nomad"
)

// BenchmarkStartToListening measures how long a web dyno (this test binary
// serving HTTP) takes from Start to accepting connections on $PORT, through
// Nomad and, for comparison, through formation/local on the same host:
//
//	go test -run '^$' -bench StartToListening -benchtime 10x ./formation/nomad/
func BenchmarkStartToListening(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		rt   func(b *testing.B) formation.Runtime
	}{
		{"nomad", func(b *testing.B) formation.Runtime {
			return &nomad.Runtime{Address: agent(b).addr}
		}},
		{"local", func(b *testing.B) formation.Runtime { return &local.Runtime{BaseDir: b.TempDir()} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			rt := c.rt(b)
			slugDir := b.TempDir()
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				port := freePort(b)
				spec := formation.DynoSpec{
					ID: fmt.Sprintf("bench.web.%d.%d", i, time.Now().UnixNano()), Name: "web.1", Type: "web",
					Command: "exec " + exe, Env: []string{helperVar + "=http", "PORT=" + strconv.Itoa(port)}, SlugDir: slugDir, Port: port,
				}
				d, err := rt.Start(ctx, spec, formation.Stdio{})
				if err != nil {
					b.Fatal(err)
				}
				stopped := false
				stop := func() {
					if !stopped {
						stopped = true
						if _, err := formation.Stop(ctx, d, 5*time.Second); err != nil {
							b.Error(err)
						}
					}
				}
				defer stop() // also after b.Fatal
				addr := "127.0.0.1:" + strconv.Itoa(port)
				deadline := time.Now().Add(30 * time.Second)
				for {
					conn, err := net.Dial("tcp", addr)
					if err == nil {
						conn.Close()
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("dyno never listened on %s: %v", addr, err)
					}
					time.Sleep(2 * time.Millisecond)
				}
				b.StopTimer()
				stop()
				b.StartTimer()
			}
		})
	}
}
