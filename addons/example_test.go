package addons_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
)

// A Manager over an in-memory provider: create an add-on, share it with a
// second app under another name, then destroy it.
func ExampleManager() {
	ctx := context.Background()
	config := &addonstest.MemConfig{}
	m := &addons.Manager{
		Catalog: addons.Catalog{Services: []addons.Service{{
			Name: "postgres", ConfigPrefix: "DATABASE",
			Plans:    []addons.Plan{{Name: "hobby", Limits: addons.Limits{Connections: 20}}},
			Provider: addonstest.NewMemProvider("DATABASE", "hobby"),
		}}},
		Config: config,
	}
	db, err := m.Create(ctx, addons.CreateRequest{App: "shop", Plan: "postgres:hobby", Name: "shop-db"})
	if err != nil {
		panic(err)
	}
	if _, err := m.Attach(ctx, db.Name, "reports", "SHOP_DB"); err != nil {
		panic(err)
	}
	_, err = m.Attach(ctx, db.Name, "reports", "SHOP_DB")
	fmt.Println("attach twice:", errors.Is(err, addons.ErrDuplicateAttachment))
	for _, app := range []string{"shop", "reports"} {
		for name := range config.Vars(app) {
			fmt.Println(app, name)
		}
	}
	if err := m.Destroy(ctx, db.Name); err != nil {
		panic(err)
	}
	fmt.Println(config.Releases("shop"), config.Releases("reports"), len(config.Vars("shop")))
	// Output:
	// attach twice: true
	// shop DATABASE_URL
	// reports SHOP_DB_URL
	// [Attach DATABASE Detach DATABASE] [Attach SHOP_DB Detach SHOP_DB] 0
}

// Config vars from a provider must follow heroku.md §9.7 and carry the
// service's prefix; the error names the var and the rule.
func ExampleValidateResourceConfig() {
	_, err := addons.ValidateResourceConfig("redis", "REDIS", addons.Config{"REDIS_URL": "redis://…", "CACHE-HOST": "x"})
	fmt.Println(err)
	_, err = addons.ValidateResourceConfig("redis", "REDIS", addons.Config{"REDIS_URL": "redis://…", "URL": "x"})
	fmt.Println(err)
	// Output:
	// addons: service redis returned config var "CACHE-HOST" may contain only letters, digits and '_'
	// addons: service redis returned config var "URL" must start with the service's config prefix (expected REDIS_<NAME>)
}

// Config values are secrets: printing a Config shows names only.
func ExampleConfig() {
	c := addons.Config{"DATABASE_URL": "postgres://u:secret@db/x"}
	fmt.Println(c)
	fmt.Printf("%#v\n", c)
	// Output:
	// map[DATABASE_URL:[REDACTED]]
	// addons.Config{"DATABASE_URL":"[REDACTED]"}
}
