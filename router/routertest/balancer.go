package routertest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dynokit/dynokit/router"
)

// BalancerOptions tunes TestBalancer for a policy's documented behaviour.
type BalancerOptions struct {
	// PrefersIdle: the policy must prefer a backend with fewer in-flight
	// requests (least-connections; power-of-two with two backends).
	PrefersIdle bool
}

func backends(n int) []*router.Backend {
	bs := make([]*router.Backend, n)
	for i := range bs {
		bs[i] = router.NewBackend(fmt.Sprintf("d%d", i), fmt.Sprintf("web.%d", i+1), fmt.Sprintf("127.0.0.1:%d", 10000+i))
	}
	return bs
}

// TestBalancer checks the contract every Balancer must keep: nil for an
// empty or fully quarantined pool, never a quarantined backend, every
// available backend reachable with a sane share of picks, safety under
// concurrent use. newBalancer must return a fresh balancer each call.
func TestBalancer(t *testing.T, newBalancer func() router.Balancer, opt BalancerOptions) {
	req, _ := http.NewRequest("GET", "http://app.localhost/", nil)

	t.Run("Empty", func(t *testing.T) {
		b := newBalancer()
		if got := b.Pick(req, nil); got != nil {
			t.Fatalf("Pick(nil) = %v, want nil", got.Name)
		}
		if got := b.Pick(req, []*router.Backend{}); got != nil {
			t.Fatalf("Pick(empty) = %v, want nil", got.Name)
		}
	})

	t.Run("AllQuarantined", func(t *testing.T) {
		b := newBalancer()
		bs := backends(3)
		for _, x := range bs {
			x.Quarantine(time.Hour)
		}
		for i := 0; i < 50; i++ {
			if got := b.Pick(req, bs); got != nil {
				t.Fatalf("Pick picked quarantined %s", got.Name)
			}
		}
	})

	t.Run("SkipsQuarantined", func(t *testing.T) {
		b := newBalancer()
		bs := backends(5)
		bs[0].Quarantine(time.Hour)
		bs[2].Quarantine(time.Hour)
		bs[4].Quarantine(time.Hour)
		seen := map[string]int{}
		for i := 0; i < 400; i++ {
			got := b.Pick(req, bs)
			if got == nil {
				t.Fatal("Pick returned nil with 2 available backends")
			}
			if !got.Available() {
				t.Fatalf("Pick picked quarantined %s", got.Name)
			}
			seen[got.Name]++
		}
		if len(seen) != 2 {
			t.Fatalf("picks %v, want both available backends used", seen)
		}
	})

	t.Run("ReleasedBackendReturns", func(t *testing.T) {
		b := newBalancer()
		bs := backends(2)
		bs[1].Quarantine(time.Hour)
		for i := 0; i < 20; i++ {
			if got := b.Pick(req, bs); got != bs[0] {
				t.Fatalf("Pick = %v, want web.1", got)
			}
		}
		bs[1].Release()
		found := false
		for i := 0; i < 200 && !found; i++ {
			found = b.Pick(req, bs) == bs[1]
		}
		if !found {
			t.Fatal("released backend never picked again")
		}
	})

	t.Run("Distribution", func(t *testing.T) {
		b := newBalancer()
		const n, picks = 4, 8000
		bs := backends(n)
		count := map[*router.Backend]int{}
		for i := 0; i < picks; i++ {
			count[b.Pick(req, bs)]++
		}
		for _, x := range bs {
			// Every policy spreads equal, idle backends: each gets at least
			// half its fair share (random has ~1% deviation at this size).
			if c := count[x]; c < picks/n/2 {
				t.Errorf("%s got %d of %d picks, want >= %d", x.Name, c, picks, picks/n/2)
			}
		}
	})

	if opt.PrefersIdle {
		t.Run("PrefersIdle", func(t *testing.T) {
			b := newBalancer()
			bs := backends(2)
			bs[0].AddInFlight(10)
			for i := 0; i < 100; i++ {
				if got := b.Pick(req, bs); got != bs[1] {
					t.Fatalf("Pick = %s, want the idle web.2", got.Name)
				}
			}
		})
	}

	t.Run("Concurrent", func(t *testing.T) {
		b := newBalancer()
		bs := backends(3)
		var wg sync.WaitGroup
		errs := make(chan string, 4)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 500; i++ {
					got := b.Pick(req, bs)
					if got == nil {
						errs <- "Pick returned nil"
						return
					}
					got.AddInFlight(1)
					got.AddInFlight(-1)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
	})
}
