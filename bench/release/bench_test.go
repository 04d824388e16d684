package releasebench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/internal/pgtest"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/boltstore"
	"github.com/dynokit/dynokit/release/memstore"
	"github.com/dynokit/dynokit/release/pgstore"
	"github.com/dynokit/dynokit/release/releasetest"
)

// Durable, so that PostgreSQL pays for fsync as bbolt does.
var pg = pgtest.Server{Durable: true}

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

const historySize = 10_000

type subject struct {
	name  string
	store release.Store
}

var ctx = context.Background()

// pgDSN is the database of the last openAll, for ANALYZE after filling.
var pgDSN string

func openAll(tb testing.TB) []subject {
	tb.Helper()
	dir := tb.TempDir()
	pgDSN = pg.NewDatabase(tb)
	b, err := boltstore.Open(ctx, filepath.Join(dir, "releases.db"), boltstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	p, err := pgstore.Open(ctx, pgDSN, pgstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return []subject{{"mem", memstore.New()}, {"bolt", b}, {"pg", p}}
}

// appendN appends n releases to app and returns the time taken.
func appendN(tb testing.TB, s release.Store, app string, n int) time.Duration {
	latest := 0
	if l, err := s.Latest(ctx, app); err == nil {
		latest = l.Version
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		r := releasetest.Sample(latest + i + 1)
		if _, err := s.Append(ctx, app, r, latest+i); err != nil {
			tb.Fatal(err)
		}
	}
	return time.Since(start)
}

// analyze refreshes PostgreSQL's planner statistics, as autovacuum does
// within a minute of a bulk load; without it a freshly filled table is
// planned as if it were tiny (bitmap scan and sort of the whole history
// instead of a backward index scan).
func analyze(tb testing.TB) {
	c, err := pgx.Connect(ctx, pgDSN)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "ANALYZE dynokit_kv"); err != nil {
		tb.Fatal(err)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func p99(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)*99)/100]
}

// TestCompare prints the side-by-side comparison. It takes minutes, so it
// runs only with DYNOKIT_BENCH=1.
func TestCompare(t *testing.T) {
	if os.Getenv("DYNOKIT_BENCH") != "1" {
		t.Skip("set DYNOKIT_BENCH=1 to run the store comparison")
	}
	subjects := openAll(t)
	const appendBatch, appendReps = 200, 5
	appendRate := map[string][]time.Duration{}
	for rep := 0; rep < appendReps; rep++ {
		for _, s := range subjects {
			d := appendN(t, s.store, fmt.Sprintf("append-%d", rep), appendBatch)
			appendRate[s.name] = append(appendRate[s.name], d/appendBatch)
		}
	}
	// Fill histories of 10,000, interleaved so machine noise hits all alike.
	for done := 0; done < historySize; done += 500 {
		for _, s := range subjects {
			appendN(t, s.store, "big", 500)
		}
	}
	analyze(t)
	type listCase struct {
		name string
		opt  release.ListOptions
	}
	cases := []listCase{
		{"newest 200", release.ListOptions{}},
		{"200 from v5000", release.ListOptions{Start: 5000}},
		{"oldest 1000 asc", release.ListOptions{Max: 1000, Order: release.Asc}},
		{"Current", release.ListOptions{}},
	}
	const listReps = 21
	lat := map[string]map[string][]time.Duration{}
	for rep := 0; rep < listReps; rep++ {
		for _, c := range cases {
			for _, s := range subjects {
				start := time.Now()
				var n int
				if c.name == "Current" {
					if _, err := s.store.Current(ctx, "big"); err != nil {
						t.Fatal(err)
					}
					n = 1
				} else {
					page, err := s.store.List(ctx, "big", c.opt)
					if err != nil {
						t.Fatal(err)
					}
					n = len(page)
				}
				d := time.Since(start)
				if c.name != "Current" && n != max(c.opt.Max, release.DefaultMax*boolInt(c.opt.Max == 0)) {
					t.Fatalf("%s %s returned %d releases", s.name, c.name, n)
				}
				if lat[c.name] == nil {
					lat[c.name] = map[string][]time.Duration{}
				}
				lat[c.name][s.name] = append(lat[c.name][s.name], d)
			}
		}
	}
	fmt.Printf("\nappend (one goroutine, median of %d batches of %d):\n", appendReps, appendBatch)
	for _, s := range subjects {
		m := median(appendRate[s.name])
		fmt.Printf("  %-5s %10v/append  %8.0f appends/s\n", s.name, m, float64(time.Second)/float64(m))
	}
	ratio := func(a, b time.Duration) string { return fmt.Sprintf("%.2f", float64(a)/float64(b)) }
	fmt.Printf("  time ratios: bolt/mem %s  pg/mem %s  pg/bolt %s\n",
		ratio(median(appendRate["bolt"]), median(appendRate["mem"])),
		ratio(median(appendRate["pg"]), median(appendRate["mem"])),
		ratio(median(appendRate["pg"]), median(appendRate["bolt"])))
	fmt.Printf("\nlatency with %d releases (median / p99 of %d):\n", historySize, listReps)
	for _, c := range cases {
		fmt.Printf("  %-16s", c.name)
		for _, s := range subjects {
			fmt.Printf("  %s %9v / %9v", s.name, median(lat[c.name][s.name]).Round(time.Microsecond), p99(lat[c.name][s.name]).Round(time.Microsecond))
		}
		fmt.Printf("  | bolt/mem %s pg/mem %s pg/bolt %s\n",
			ratio(median(lat[c.name]["bolt"]), median(lat[c.name]["mem"])),
			ratio(median(lat[c.name]["pg"]), median(lat[c.name]["mem"])),
			ratio(median(lat[c.name]["pg"]), median(lat[c.name]["bolt"])))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func BenchmarkAppend(b *testing.B) {
	for _, s := range openAll(b) {
		run := 0
		b.Run(s.name, func(b *testing.B) {
			run++ // testing.B calls this once per b.N: a fresh app each time
			app := fmt.Sprintf("bench-%d", run)
			for i := 0; i < b.N; i++ {
				if _, err := s.store.Append(ctx, app, releasetest.Sample(i+1), i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkList10k(b *testing.B) {
	filled := openAll(b)
	for _, s := range filled {
		appendN(b, s.store, "big", historySize)
	}
	analyze(b)
	b.ResetTimer()
	for _, s := range filled {
		b.Run(s.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				page, err := s.store.List(ctx, "big", release.ListOptions{})
				if err != nil || len(page) != release.DefaultMax {
					b.Fatalf("%d, %v", len(page), err)
				}
			}
		})
	}
}
