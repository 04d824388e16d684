// Command slugbench compares slug.Pack and slug.Extract with the tar
// pipelines they replace, on a generated tree of about 200 MB.
//
//	slugbench compare [-work DIR] [-reps 5] [-size 200]   everything, side by side
//	slugbench gen -dir DIR [-size 200]                    just the tree
//	slugbench pack -dir DIR -out FILE                     one slug.Pack
//	slugbench extract -in FILE -dir DIR [-want DIGEST]    one slug.Extract
//
// compare runs every contender as a separate process (ours through this
// binary's pack and extract sub-commands), interleaving repetitions so
// that load from other processes affects all of them alike, and prints
// each one's median wall time and the ratios the slug package promises:
// Pack no slower than "tar | gzip" and within 1.2x of "tar | pigz";
// Extract no slower than "tar -xzf".
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/dynokit/dynokit/slug"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: slugbench compare|gen|pack|extract [flags]")
		os.Exit(2)
	}
	if p := os.Getenv("SLUGBENCH_CPUPROFILE"); p != "" {
		// For finding where pack or extract spends its time.
		f, err := os.Create(p)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "gen":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		dir := fs.String("dir", "", "directory to create")
		size := fs.Int("size", 200, "approximate size in MB")
		fs.Parse(args)
		err = generate(*dir, *size)
	case "pack":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		dir := fs.String("dir", "", "build directory")
		out := fs.String("out", "", "slug file to write")
		fs.Parse(args)
		err = pack(*dir, *out)
	case "extract":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		in := fs.String("in", "", "slug file")
		dir := fs.String("dir", "", "directory to create")
		want := fs.String("want", "", "expected digest")
		fs.Parse(args)
		err = extract(*in, *dir, slug.Digest(*want))
	case "compare":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		work := fs.String("work", "", "scratch directory (default: a new one under /dev/shm if present, else $TMPDIR)")
		reps := fs.Int("reps", 5, "repetitions per contender")
		size := fs.Int("size", 200, "tree size in MB")
		fs.Parse(args)
		err = compare(*work, *reps, *size)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "slugbench:", err)
		os.Exit(1)
	}
}

// generate writes a tree shaped like a real app, deterministically: about
// 45% many small source files, 25% large compressible files (logs, bundled
// JavaScript), 30% incompressible files (images, compiled libraries).
func generate(dir string, sizeMB int) error {
	if dir == "" {
		return fmt.Errorf("gen: -dir is required")
	}
	total := int64(sizeMB) << 20
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("def end class module require return if else elsif unless self nil true false " +
		"user account render params redirect_to each map select reduce include extend attr_reader " +
		"function const let var import export default async await promise resolve reject")
	text := func(n int) []byte {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(8) == 0 {
				b.WriteString("\n    ")
			} else {
				b.WriteByte(' ')
			}
		}
		return []byte(b.String()[:n])
	}
	write := func(rel string, data []byte, mode os.FileMode) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, mode)
	}
	var small int64
	for i := 0; small < total*45/100; i++ {
		n := 200 + rng.IntN(12000)
		rel := fmt.Sprintf("vendor/bundle/gem%03d/lib/dir%02d/file%05d.rb", i%150, i%17, i)
		if err := write(rel, text(n), 0o644); err != nil {
			return err
		}
		small += int64(n)
	}
	for i := range 5 {
		if err := write(fmt.Sprintf("public/assets/bundle%d.js", i), text(int(total*5/100)), 0o644); err != nil {
			return err
		}
	}
	for i := range 6 {
		b := make([]byte, total*5/100)
		for j := 0; j+8 <= len(b); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		if err := write(fmt.Sprintf("vendor/lib/libfake%d.so", i), b, 0o755); err != nil {
			return err
		}
	}
	for i := range 20 {
		if err := write(fmt.Sprintf("bin/tool%d", i), []byte("#!/bin/sh\nexec true\n"), 0o755); err != nil {
			return err
		}
	}
	return os.Symlink("bin/tool0", filepath.Join(dir, "tool"))
}

func pack(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	info, err := slug.Pack(context.Background(), f, dir, slug.PackOptions{})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Println(info.Digest)
	return nil
}

func extract(in, dir string, want slug.Digest) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = slug.Extract(context.Background(), f, dir, slug.ExtractOptions{Want: want})
	return err
}

type contender struct {
	name  string
	setup func(rep int) error // untimed
	cmd   func(rep int) *exec.Cmd
	times []time.Duration
	cpu   []time.Duration // user+system time of the process and the children it waited for
}

func compare(work string, reps, sizeMB int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, tool := range []string{"tar", "gzip", "pigz", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (run.sh installs pigz)", tool)
		}
	}
	if work == "" {
		base := os.TempDir()
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			base = "/dev/shm"
		}
		if work, err = os.MkdirTemp(base, "slugbench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	tree := filepath.Join(work, "app")
	fmt.Printf("generating a ~%d MB tree in %s ...\n", sizeMB, tree)
	if err := generate(tree, sizeMB); err != nil {
		return err
	}
	files, bytes := 0, int64(0)
	filepath.Walk(tree, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && fi.Mode().IsRegular() {
			files++
			bytes += fi.Size()
		}
		return nil
	})
	fmt.Printf("tree: %d files, %.1f MB; GOMAXPROCS=%d, %d reps each, contenders interleaved\n\n", files, float64(bytes)/(1<<20), runtime.GOMAXPROCS(0), reps)

	out := func(name string) string { return filepath.Join(work, name) }
	sh := func(script string) *exec.Cmd {
		c := exec.Command("bash", "-o", "pipefail", "-c", script)
		c.Env = append(os.Environ(), "TREE="+tree, "WORK="+work)
		return c
	}
	packers := []*contender{
		{name: "slug.Pack", cmd: func(int) *exec.Cmd { return exec.Command(self, "pack", "-dir", tree, "-out", out("ours.tgz")) }},
		{name: "tar | gzip", cmd: func(int) *exec.Cmd { return sh(`tar -C "$TREE" -cf - . | gzip > "$WORK/gzip.tgz"`) }},
		{name: "tar | pigz", cmd: func(int) *exec.Cmd { return sh(`tar -C "$TREE" -cf - . | pigz > "$WORK/pigz.tgz"`) }},
	}
	if err := run(packers, reps); err != nil {
		return err
	}
	digest, err := exec.Command(self, "pack", "-dir", tree, "-out", out("ours.tgz")).Output()
	if err != nil {
		return err
	}
	want := strings.TrimSpace(string(digest))
	sizes := map[string]int64{}
	for _, n := range []string{"ours", "gzip", "pigz"} {
		if fi, err := os.Stat(out(n + ".tgz")); err == nil {
			sizes[n] = fi.Size()
		}
	}

	fresh := func(name string) func(int) error {
		return func(rep int) error { return os.RemoveAll(out(name)) }
	}
	extractors := []*contender{
		{name: "slug.Extract", setup: fresh("x-ours"), cmd: func(int) *exec.Cmd {
			return exec.Command(self, "extract", "-in", out("ours.tgz"), "-dir", out("x-ours"), "-want", want)
		}},
		{name: "tar -xzf", setup: func(rep int) error {
			os.RemoveAll(out("x-tar"))
			return os.Mkdir(out("x-tar"), 0o755)
		}, cmd: func(int) *exec.Cmd { return sh(`tar -xzf "$WORK/ours.tgz" -C "$WORK/x-tar"`) }},
		{name: "pigz -dc | tar -x", setup: func(rep int) error {
			os.RemoveAll(out("x-pigz"))
			return os.Mkdir(out("x-pigz"), 0o755)
		}, cmd: func(int) *exec.Cmd { return sh(`pigz -dc "$WORK/ours.tgz" | tar -x -C "$WORK/x-pigz"`) }},
	}
	if err := run(extractors, reps); err != nil {
		return err
	}

	fmt.Printf("%-20s %10s %10s %10s %12s\n", "pack (wall)", "median", "min", "max", "median CPU")
	for _, c := range packers {
		report(c)
	}
	fmt.Printf("\n%-20s %10s %10s %10s %12s\n", "extract (wall)", "median", "min", "max", "median CPU")
	for _, c := range extractors {
		report(c)
	}
	fmt.Printf("\ncompressed sizes: ours %.1f MB, gzip %.1f MB, pigz %.1f MB\n",
		float64(sizes["ours"])/(1<<20), float64(sizes["gzip"])/(1<<20), float64(sizes["pigz"])/(1<<20))
	ours, gz, pz := median(packers[0].times), median(packers[1].times), median(packers[2].times)
	xo, xt := median(extractors[0].times), median(extractors[1].times)
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Println("\nratios of medians (lower is better for us):")
	fmt.Printf("  slug.Pack / (tar | gzip)     = %.2f   target <= 1.00  %s\n", ratio(ours, gz), verdict(ours <= gz))
	fmt.Printf("  slug.Pack / (tar | pigz)     = %.2f   target <= 1.20  %s\n", ratio(ours, pz), verdict(ratio(ours, pz) <= 1.2))
	fmt.Printf("  slug.Extract / (tar -xzf)    = %.2f   target <= 1.00  %s\n", ratio(xo, xt), verdict(xo <= xt))
	fmt.Printf("  slug.Extract / (pigz | tar)  = %.2f   (for information)\n", ratio(xo, median(extractors[2].times)))
	fmt.Println("CPU time is printed because a shared machine stretches wall time; the targets are on wall time.")
	return nil
}

func run(cs []*contender, reps int) error {
	for rep := range reps {
		for _, c := range cs {
			if c.setup != nil {
				if err := c.setup(rep); err != nil {
					return err
				}
			}
			cmd := c.cmd(rep)
			cmd.Stderr = os.Stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			c.times = append(c.times, time.Since(start))
			c.cpu = append(c.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		}
	}
	return nil
}

func median(ts []time.Duration) time.Duration {
	s := slices.Clone(ts)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func report(c *contender) {
	s := slices.Clone(c.times)
	slices.Sort(s)
	fmt.Printf("%-20s %9.3fs %9.3fs %9.3fs %11.3fs\n", c.name, median(s).Seconds(), s[0].Seconds(), s[len(s)-1].Seconds(), median(c.cpu).Seconds())
}
