package addonstest_test

import (
	"context"
	"fmt"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// MemConfig records every config change like a release history, for
// unit tests of code that drives an addons.Manager.
func ExampleMemConfig() {
	cfg := &addonstest.MemConfig{}
	m := &addons.Manager{
		Catalog: addons.Catalog{Services: []addons.Service{{Name: "redis", ConfigPrefix: "REDIS",
			Plans: []addons.Plan{{Name: "mini"}}, Provider: addonstest.NewMemProvider("REDIS", "mini")}}},
		Config: cfg,
	}
	a, _ := m.Create(context.Background(), addons.CreateRequest{App: "shop", Plan: "redis:mini", As: "CACHE"})
	_ = m.Destroy(context.Background(), a.Name)
	fmt.Println(cfg.Releases("shop"))
	// Output: [Attach CACHE Detach CACHE]
}
