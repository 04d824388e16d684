package autoscale_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dynokit/dynokit/formation/autoscale"
	"github.com/dynokit/dynokit/router"
)

// printScaler stands for the platform: it keeps web counts and prints
// each change.
type printScaler map[string]int

func (s printScaler) WebQuantity(_ context.Context, app string) (int, error) { return s[app], nil }

func (s printScaler) ScaleWeb(_ context.Context, e autoscale.Event) error {
	fmt.Printf("%s: web %d → %d (%s)\n", e.App, e.From, e.To, e.Reason)
	s[e.App] = e.To
	return nil
}

// A platform wires the router's metrics and its own scaling into an
// Autoscaler, runs it, and enables apps as their owners ask.
func Example() {
	rt := router.New(router.Config{})
	_ = rt.SetBackends("shop", nil)
	a := &autoscale.Autoscaler{Metrics: rt, Scaler: printScaler{"shop": 0}}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }() // a round every minute

	err := a.Enable(ctx, "shop", autoscale.Policy{Min: 2, Max: 10, P95: 300 * time.Millisecond})
	fmt.Println("enabled:", err)
	cancel()
	<-done
	// Output:
	// shop: web 0 → 2 (below the minimum of 2)
	// enabled: <nil>
}
