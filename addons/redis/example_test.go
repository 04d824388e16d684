package redis_test

import (
	"context"
	"crypto/tls"
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

// A gateway with TLS in front of the server, for clients that log in with a
// password alone, and the URL such a client is given for an add-on.
// (Needs a server and a certificate, so it is compiled but not run.)
func ExampleGateway() {
	cert, err := tls.LoadX509KeyPair("gateway.pem", "gateway-key.pem")
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:6380", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		fmt.Println(err)
		return
	}
	u, _ := redis.GatewayURL("redis://rd00112233445566778899aabb:s3cret@127.0.0.1:6379", ln.Addr().String())
	fmt.Println(u) // rediss://:rd00112233445566778899aabb.s3cret@127.0.0.1:6380
	g := &redis.Gateway{Addr: "127.0.0.1:6379"}
	if err := g.Serve(context.Background(), ln); err != nil {
		fmt.Println(err)
	}
}

func ExampleGatewayURL() {
	u, err := redis.GatewayURL("redis://rd00112233445566778899aabb:s3cret@10.0.0.5:6379", "redis.example.com:6380")
	fmt.Println(u, err)
	// Output: rediss://:rd00112233445566778899aabb.s3cret@redis.example.com:6380 <nil>
}
