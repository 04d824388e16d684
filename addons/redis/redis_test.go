package redis_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
	"github.com/dynokit/dynokit/addons/internal/testserver"
	"github.com/dynokit/dynokit/addons/redis"
)

var server testserver.Redis

func TestMain(m *testing.M) {
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

func newProvider(t testing.TB) *redis.Provider {
	info := server.Start(t)
	p := &redis.Provider{Addr: info.Addr, Password: info.Password}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// client connects with an add-on's REDIS_URL, as an app would.
func client(t testing.TB, res addons.Resource) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(res.Config["REDIS_URL"])
	if err != nil {
		t.Fatalf("REDIS_URL does not parse: %v", err)
	}
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.MaxRetries = -1
	c := goredis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func provision(t *testing.T, p *redis.Provider) addons.Resource {
	t.Helper()
	res, err := p.Provision(ctx(t), addons.ProvisionRequest{ID: fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano()), Plan: "mini"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Deprovision(context.Background(), res.ID) })
	return res
}

func usable(t *testing.T, res addons.Resource) {
	t.Helper()
	c := client(t, res)
	prefix := res.Config["REDIS_KEY_PREFIX"]
	if prefix == "" {
		t.Fatal("REDIS_KEY_PREFIX is empty")
	}
	if err := c.Set(ctx(t), prefix+"greeting", "hello", 0).Err(); err != nil {
		t.Fatalf("SET under the add-on's prefix: %v", err)
	}
	if got, err := c.Get(ctx(t), prefix+"greeting").Result(); err != nil || got != "hello" {
		t.Fatalf("GET = %q, %v", got, err)
	}
	if who, err := c.Do(ctx(t), "ACL", "WHOAMI").Text(); err != nil || who != res.ID {
		t.Errorf("ACL WHOAMI = %q, %v; want %s", who, err, res.ID)
	}
}

// refused: res's credentials no longer log in.
func refused(t *testing.T, res addons.Resource) {
	t.Helper()
	if err := client(t, res).Ping(ctx(t)).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("PING with old credentials: %v, want WRONGPASS", err)
	}
}

func gone(t *testing.T, res addons.Resource) {
	t.Helper()
	err := client(t, res).Ping(ctx(t)).Err()
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("PING with deprovisioned credentials: %v, want WRONGPASS", err)
	}
	info := server.Start(t)
	admin := goredis.NewClient(&goredis.Options{Addr: info.Addr, Password: info.Password, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer admin.Close()
	keys, _, err := admin.Scan(ctx(t), 0, res.ID+":*", 1000).Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("keys left after deprovision: %v (%v)", keys, err)
	}
}

func TestConformance(t *testing.T) {
	addonstest.Suite{Provider: newProvider(t), Prefix: "REDIS", Plans: []string{"mini", "premium"}, Usable: usable, Gone: gone, Refused: refused}.Run(t)
}

func TestIsolation(t *testing.T) {
	p := newProvider(t)
	a, b := provision(t, p), provision(t, p)
	usable(t, b) // b has a key
	ca := client(t, a)
	bKey := b.Config["REDIS_KEY_PREFIX"] + "greeting"
	denied := []struct {
		name string
		args []any
	}{
		{"GET another add-on's key", []any{"GET", bKey}},
		{"SET another add-on's key", []any{"SET", bKey, "x"}},
		{"DEL another add-on's key", []any{"DEL", bKey}},
		{"key outside any prefix", []any{"SET", "global", "x"}},
		{"the provider's record", []any{"HGETALL", "dynokit:addons:" + b.ID}},
		{"KEYS", []any{"KEYS", "*"}},
		{"SCAN", []any{"SCAN", "0"}},
		{"RANDOMKEY", []any{"RANDOMKEY"}},
		{"FLUSHALL", []any{"FLUSHALL"}},
		{"CONFIG GET", []any{"CONFIG", "GET", "requirepass"}},
		{"ACL LIST", []any{"ACL", "LIST"}},
		{"SELECT", []any{"SELECT", "1"}},
		{"PUBLISH to another add-on's channel", []any{"PUBLISH", b.Config["REDIS_KEY_PREFIX"] + "events", "x"}},
		{"PUBSUB CHANNELS", []any{"PUBSUB", "CHANNELS"}},
		{"FUNCTION FLUSH", []any{"FUNCTION", "FLUSH"}},
		{"EVAL touching another key", []any{"EVAL", "return redis.call('GET', KEYS[1])", "1", bKey}},
	}
	for _, d := range denied {
		err := ca.Do(ctx(t), d.args...).Err()
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("%s: %v, want NOPERM", d.name, err)
		}
	}
	// b's key is intact and a still works in its own space.
	if got, err := client(t, b).Get(ctx(t), bKey).Result(); err != nil || got != "hello" {
		t.Errorf("b's key after a's attempts: %q, %v", got, err)
	}
	own := a.Config["REDIS_KEY_PREFIX"] + "events"
	if err := ca.Publish(ctx(t), own, "x").Err(); err != nil {
		t.Errorf("PUBLISH on its own channel: %v", err)
	}
	// Passwords are checked.
	wrong := a
	wrong.Config = addons.Config{"REDIS_URL": strings.Replace(a.Config["REDIS_URL"], a.ID+":", b.ID+":", 1)}
	if err := client(t, wrong).Ping(ctx(t)).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("b's user with a's password: %v, want WRONGPASS", err)
	}
}

func TestDeprovisionDisconnectsAndDeletesKeys(t *testing.T) {
	p := newProvider(t)
	res := provision(t, p)
	c := client(t, res)
	for i := range 2500 { // more than one SCAN page
		if err := c.Set(ctx(t), fmt.Sprintf("%sk%d", res.Config["REDIS_KEY_PREFIX"], i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Deprovision(ctx(t), res.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx(t), res.Config["REDIS_KEY_PREFIX"]+"k1").Err(); err == nil {
		t.Error("an open connection of a deprovisioned add-on still reads")
	}
	gone(t, res)
}

func TestBadInput(t *testing.T) {
	p := newProvider(t)
	if _, err := p.Provision(ctx(t), addons.ProvisionRequest{ID: "x", Plan: "gold"}); !errors.Is(err, addons.ErrUnknownPlan) {
		t.Errorf("unknown plan: %v", err)
	}
	if _, err := p.Provision(ctx(t), addons.ProvisionRequest{Plan: "mini"}); !errors.Is(err, addons.ErrInvalid) {
		t.Errorf("empty request id: %v", err)
	}
	down := &redis.Provider{Addr: "127.0.0.1:1", Password: "secret-admin-pw"}
	defer down.Close()
	_, err := down.Provision(ctx(t), addons.ProvisionRequest{ID: "x", Plan: "mini"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "secret-admin-pw") {
		t.Errorf("server down: %v (want the address, not the password)", err)
	}
	wrongPW := &redis.Provider{Addr: server.Start(t).Addr, Password: "secret-admin-pw"}
	defer wrongPW.Close()
	_, err = wrongPW.Provision(ctx(t), addons.ProvisionRequest{ID: "x", Plan: "mini"})
	if err == nil || strings.Contains(err.Error(), "secret-admin-pw") {
		t.Errorf("wrong admin password: %v", err)
	}
}

func TestManagerOnRealRedis(t *testing.T) {
	p := newProvider(t)
	cfg := &addonstest.MemConfig{}
	m := &addons.Manager{Catalog: addons.Catalog{Services: []addons.Service{{
		Name: "redis", ConfigPrefix: redis.ConfigPrefix, Plans: p.Plans(), Provider: p}}}, Config: cfg}
	a, err := m.Create(ctx(t), addons.CreateRequest{App: "shop", Plan: "redis", As: "CACHE"})
	if err != nil {
		t.Fatal(err)
	}
	vars := cfg.Vars("shop")
	if vars["CACHE_URL"] == "" || vars["CACHE_KEY_PREFIX"] == "" {
		t.Fatalf("vars %v", addons.Config(vars))
	}
	if _, err := m.ChangePlan(ctx(t), a.Name, "premium"); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(ctx(t), a.Name); err != nil {
		t.Fatal(err)
	}
	gone(t, addons.Resource{ID: a.ProviderID, Config: addons.Config{"REDIS_URL": vars["CACHE_URL"]}})
}

func BenchmarkProvisionDeprovision(b *testing.B) {
	p := newProvider(b)
	c := context.Background()
	i := 0
	for b.Loop() {
		i++
		res, err := p.Provision(c, addons.ProvisionRequest{ID: fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i), Plan: "mini"})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Deprovision(c, res.ID); err != nil {
			b.Fatal(err)
		}
	}
}
