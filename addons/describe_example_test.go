package addons_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// Describe answers heroku pg:info and redis:info: rows of a name and
// values, from a provider that implements Describer.
func ExampleManager_Describe() {
	ctx := context.Background()
	m := &addons.Manager{
		Catalog: addons.Catalog{Services: []addons.Service{{
			Name: "heroku-redis", ConfigPrefix: "REDIS",
			Plans:    []addons.Plan{{Name: "mini"}},
			Provider: addonstest.NewMemProvider("REDIS", "mini"),
		}}},
		Config: &addonstest.MemConfig{},
	}
	cache, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "heroku-redis:mini", Name: "shop-cache"})
	if err != nil {
		panic(err)
	}
	facts, err := m.Describe(ctx, cache.Name)
	if err != nil {
		panic(err)
	}
	for _, f := range facts {
		fmt.Printf("%s: %v\n", f.Name, f.Values)
	}
	_, err = m.Describe(ctx, "no-such-addon")
	fmt.Println("unknown add-on:", errors.Is(err, addons.ErrNotFound))
	// Output:
	// Status: [available]
	// Plan: [mini]
	// unknown add-on: true
}
