package oci_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dynokit/dynokit/formation"
	"github.com/dynokit/dynokit/formation/oci"
)

// BenchmarkStartToListening measures how long a web dyno takes from Start
// to accepting TCP connections on $PORT, beside the floor measured in the
// same iterations: a bare `<runtime> run` of an equivalent bundle written
// once (same rootfs, overlay /app, user, cgroup and init), which skips this
// package's per-dyno work (bundle writing, handshake, cleanup). It reports
// the medians and their ratio:
//
//	go test -run '^$' -bench StartToListening -benchtime 20x ./formation/oci/
//
// DYNOKIT_OCI_BENCH_RUNTIME=crun measures crun instead of runc.
func BenchmarkStartToListening(b *testing.B) {
	binary := os.Getenv("DYNOKIT_OCI_BENCH_RUNTIME")
	if binary == "" {
		binary = "runc"
	}
	requireBinary(b, binary)
	if binary == "crun" {
		requireCrunLayout(b)
	}
	ctx := context.Background()
	slug := makeSlug(b, nil)
	addHelperBinary(b, slug)
	port := freePort(b)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	spec := formation.DynoSpec{
		Name: "web.1", Type: "web", Command: "exec ./oci.test", SlugDir: slug, Port: port,
		Env: []string{helperVar + "=http"},
	}

	// The floor's bundle, written once with the same options Runtime uses.
	floorDir := b.TempDir()
	bundle := filepath.Join(floorDir, "bundle")
	upper, work := filepath.Join(floorDir, "upper"), filepath.Join(floorDir, "work")
	for _, dir := range []string{upper, work} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.Chown(upper, oci.DefaultUID, oci.DefaultGID); err != nil {
		b.Fatal(err)
	}
	floorSpec := spec
	floorSpec.ID = fmt.Sprintf("bench-floor-%d", os.Getpid())
	var hostDirs []string
	for _, dir := range oci.HostSystemDirs() {
		if _, err := os.Stat(dir); err == nil {
			hostDirs = append(hostDirs, dir)
		}
	}
	s, err := oci.Spec(floorSpec, oci.WithUser(oci.DefaultUID, oci.DefaultGID), oci.WithAppLayer(upper, work),
		oci.WithCgroupsPath("/dynokit/"+floorSpec.ID), oci.WithHostBinds(hostDirs...))
	if err != nil {
		b.Fatal(err)
	}
	if err := oci.WriteBundle(bundle, s); err != nil {
		b.Fatal(err)
	}
	floorState := filepath.Join(floorDir, "state")

	rt := &oci.Runtime{Binary: binary, Dir: b.TempDir()}
	var dyno, floor []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		spec.ID = fmt.Sprintf("bench-oci-%d-%d", os.Getpid(), i)
		begin := time.Now()
		d, err := rt.Start(ctx, spec, formation.Stdio{})
		if err != nil {
			b.Fatal(err)
		}
		if err := waitListening(addr, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		dyno = append(dyno, time.Since(begin))
		if err := d.Signal(ctx, 9); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Wait(ctx); err != nil {
			b.Fatal(err)
		}

		begin = time.Now()
		cmd := exec.Command(binary, "--root="+floorState, "run", "--bundle="+bundle, floorSpec.ID)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if err := waitListening(addr, 10*time.Second); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			b.Fatal(err)
		}
		floor = append(floor, time.Since(begin))
		if out, err := exec.Command(binary, "--root="+floorState, "kill", "--all", floorSpec.ID, "KILL").CombinedOutput(); err != nil {
			b.Fatalf("%s kill: %v: %s", binary, err, out)
		}
		_ = cmd.Wait()
	}
	b.StopTimer()
	dm, fm := median(dyno), median(floor)
	b.ReportMetric(float64(dm.Microseconds())/1000, "oci-ms")
	b.ReportMetric(float64(fm.Microseconds())/1000, "floor-ms")
	b.ReportMetric(float64(dm)/float64(fm), "ratio")
}

func waitListening(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listening on %s after %v: %w", addr, within, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
