package router_test

import (
	"testing"

	"github.com/dynokit/dynokit/router"
	"github.com/dynokit/dynokit/router/routertest"
)

func TestBalancers(t *testing.T) {
	t.Run("Random", func(t *testing.T) {
		routertest.TestBalancer(t, func() router.Balancer { return router.Random{} }, routertest.BalancerOptions{})
	})
	t.Run("RoundRobin", func(t *testing.T) {
		routertest.TestBalancer(t, func() router.Balancer { return &router.RoundRobin{} }, routertest.BalancerOptions{})
	})
	t.Run("LeastConn", func(t *testing.T) {
		routertest.TestBalancer(t, func() router.Balancer { return router.LeastConn{} }, routertest.BalancerOptions{PrefersIdle: true})
	})
	t.Run("PowerOfTwo", func(t *testing.T) {
		routertest.TestBalancer(t, func() router.Balancer { return router.PowerOfTwo{} }, routertest.BalancerOptions{PrefersIdle: true})
	})
}

func TestRoundRobinCycles(t *testing.T) {
	var rr router.RoundRobin
	bs := []*router.Backend{router.NewBackend("a", "web.1", "127.0.0.1:1"), router.NewBackend("b", "web.2", "127.0.0.1:2"), router.NewBackend("c", "web.3", "127.0.0.1:3")}
	var got []string
	for i := 0; i < 6; i++ {
		got = append(got, rr.Pick(nil, bs).Name)
	}
	want := []string{"web.1", "web.2", "web.3", "web.1", "web.2", "web.3"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("picks %v, want %v", got, want)
		}
	}
}
