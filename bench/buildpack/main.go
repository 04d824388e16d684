// Command buildpack-bench measures the buildpack package:
//
//   - the platform's own overhead for a no-op build: Result.Duration minus
//     Result.ScriptTime (the time spent inside runner.Run for detect and
//     compile), median of -n builds, next to a bare fork/exec of the same
//     two scripts as the anchor;
//   - the Go buildpack's rebuild with a warm per-app cache against a cold
//     build of the same app (ratio of medians of -go-reps each).
//
// Run it through run.sh from the repository root.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/buildpack/buildpacktest"
	"github.com/dynokit/dynokit/buildpack/builtin"
)

func main() {
	n := flag.Int("n", 20, "no-op builds")
	goReps := flag.Int("go-reps", 3, "cold and warm Go builds each")
	goApp := flag.String("go-app", "buildpack/builtin/testdata/apps/goapp", "Go sample app")
	flag.Parse()
	tmp, err := os.MkdirTemp("", "buildpack-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	noop(tmp, *n)
	goColdWarm(tmp, *goApp, *goReps)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func noop(tmp string, n int) {
	bpDir := filepath.Join(tmp, "noop")
	os.MkdirAll(filepath.Join(bpDir, "bin"), 0o755)
	os.WriteFile(filepath.Join(bpDir, "bin", "detect"), []byte("#!/bin/sh\necho Noop\n"), 0o755)
	os.WriteFile(filepath.Join(bpDir, "bin", "compile"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	bp := buildpack.Buildpack{Name: "noop", Dir: bpDir}
	b := &buildpack.Builder{Cache: &buildpack.Cache{Dir: filepath.Join(tmp, "cache")}}
	var totals, scripts, overheads, bare []time.Duration
	for i := range n + 1 {
		app := filepath.Join(tmp, fmt.Sprintf("app-%d", i))
		os.Mkdir(app, 0o755)
		os.WriteFile(filepath.Join(app, "Procfile"), []byte("web: ./web\n"), 0o644)
		res, err := b.Build(context.Background(), buildpack.BuildInput{App: "noop", AppDir: app, Detect: []buildpack.Buildpack{bp}})
		if err != nil {
			log.Fatal(err)
		}
		// Anchor: the same two scripts, forked directly.
		t0 := time.Now()
		for _, s := range []string{"detect", "compile"} {
			if err := exec.Command(filepath.Join(bpDir, "bin", s), app, tmp, tmp).Run(); err != nil {
				log.Fatal(err)
			}
		}
		if i == 0 {
			continue // warm-up
		}
		bare = append(bare, time.Since(t0))
		totals = append(totals, res.Duration)
		scripts = append(scripts, res.ScriptTime)
		overheads = append(overheads, res.Duration-res.ScriptTime)
	}
	fmt.Printf("no-op build (median of %d):\n", n)
	fmt.Printf("  total            %8.2f ms\n", ms(median(totals)))
	fmt.Printf("  scripts          %8.2f ms  (detect + compile inside runner.Run)\n", ms(median(scripts)))
	fmt.Printf("  platform overhead %7.2f ms  (total - scripts)\n", ms(median(overheads)))
	fmt.Printf("  anchor: bare fork/exec of the two scripts %.2f ms; total/anchor = %.1fx\n", ms(median(bare)), float64(median(totals))/float64(median(bare)))
}

func goColdWarm(tmp, src string, reps int) {
	if _, err := exec.LookPath("go"); err != nil {
		fmt.Println("go build: skipped (no go on PATH)")
		return
	}
	bps, err := builtin.WriteAll(filepath.Join(tmp, "builtin"))
	if err != nil {
		log.Fatal(err)
	}
	cache := &buildpack.Cache{Dir: filepath.Join(tmp, "go-cache")}
	b := &buildpack.Builder{Cache: cache}
	build := func(i int, kind string) time.Duration {
		app := filepath.Join(tmp, fmt.Sprintf("go-%s-%d", kind, i))
		if err := buildpacktest.CopyTree(src, app); err != nil {
			log.Fatal(err)
		}
		res, err := b.Build(context.Background(), buildpack.BuildInput{App: "goapp", AppDir: app, Detect: bps})
		if err != nil {
			log.Fatal(err)
		}
		return res.Duration
	}
	var cold, warm []time.Duration
	for i := range reps {
		if err := cache.Purge(context.Background(), "goapp"); err != nil {
			log.Fatal(err)
		}
		cold = append(cold, build(i, "cold"))
		warm = append(warm, build(i, "warm"))
	}
	size, _ := cache.Size("goapp")
	fmt.Printf("Go buildpack, net/http sample app (median of %d):\n", reps)
	fmt.Printf("  cold (empty cache) %8.0f ms\n", ms(median(cold)))
	fmt.Printf("  warm (rebuild)     %8.0f ms\n", ms(median(warm)))
	fmt.Printf("  warm/cold ratio    %8.3f  (cache %d MiB)\n", float64(median(warm))/float64(median(cold)), size>>20)
}
