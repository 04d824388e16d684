package redis_test

import (
	"context"
	"fmt"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/redis"
)

// A provider over a Redis 7 server whose default user has a password.
// (Needs a server, so it is compiled but not run.)
func Example() {
	p := &redis.Provider{Addr: "127.0.0.1:6379", Password: "admin-password"}
	defer p.Close()
	res, err := p.Provision(context.Background(), addons.ProvisionRequest{ID: "01234567-89ab-cdef-0123-456789abcdef", Plan: "mini"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Config.Names()) // [REDIS_KEY_PREFIX REDIS_URL]
}

// The rows of heroku redis:info for one add-on. (Needs a server, so it
// is compiled but not run.)
func ExampleProvider_Describe() {
	p := &redis.Provider{Addr: "127.0.0.1:6379", Password: "admin-password"}
	defer p.Close()
	facts, err := p.Describe(context.Background(), redis.ResourceID("01234567-89ab-cdef-0123-456789abcdef"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range facts {
		fmt.Println(f.Name, f.Values) // Status [available], Version [7.2.4], Keys [12], …
	}
}
