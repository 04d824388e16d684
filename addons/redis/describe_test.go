package redis_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/redis"
)

func describe(t *testing.T, p *redis.Provider, id string) ([]string, map[string]string) {
	t.Helper()
	facts, err := p.Describe(ctx(t), id)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	var names []string
	out := map[string]string{}
	for _, f := range facts {
		names = append(names, f.Name)
		if len(f.Values) != 1 || f.Values[0] == "" {
			t.Errorf("fact %s has values %q, want one non-empty", f.Name, f.Values)
			continue
		}
		out[f.Name] = f.Values[0]
	}
	return names, out
}

// waitConnections describes until Connections reads want: the server
// drops a closed client a moment after the client is gone.
func waitConnections(t *testing.T, p *redis.Provider, id, want string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, facts := describe(t, p, id)
		if facts["Connections"] == want {
			return facts
		}
		if time.Now().After(deadline) {
			t.Fatalf("Connections = %q, want %q (facts %v)", facts["Connections"], want, facts)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

func adminClient(t *testing.T) *goredis.Client {
	info := server.Start(t)
	c := goredis.NewClient(&goredis.Options{Addr: info.Addr, Password: info.Password, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestDescribe(t *testing.T) {
	p := newProvider(t)
	res, other := provision(t, p), provision(t, p)
	names, facts := describe(t, p, res.ID)
	if want := []string{"Status", "Version", "Keys", "Connections", "Maxmemory", "Persistence"}; !slices.Equal(names, want) {
		t.Fatalf("fact names = %q, want %q", names, want)
	}
	if facts["Status"] != "available" || facts["Keys"] != "0" {
		t.Errorf("a new resource: %v", facts)
	}
	admin := adminClient(t)
	info, err := admin.Info(ctx(t), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := regexp.MustCompile(`redis_version:(\S+)`).FindStringSubmatch(info); want == nil || facts["Version"] != want[1] {
		t.Errorf("Version = %q, INFO says %q", facts["Version"], want)
	}
	if policy, err := admin.ConfigGet(ctx(t), "maxmemory-policy").Result(); err != nil || facts["Maxmemory"] != policy["maxmemory-policy"] {
		t.Errorf("Maxmemory = %q, CONFIG GET says %v (%v)", facts["Maxmemory"], policy, err)
	}
	if !slices.Contains([]string{"AOF", "RDB", "AOF+RDB", "None"}, facts["Persistence"]) {
		t.Errorf("Persistence = %q", facts["Persistence"])
	}

	// More keys than one SCAN step returns, and another add-on's keys
	// that must not count.
	const n = 2345
	c := client(t, res)
	pipe := c.Pipeline()
	for i := range n {
		pipe.Set(ctx(t), fmt.Sprintf("%sk%d", res.Config["REDIS_KEY_PREFIX"], i), i, 0)
	}
	if _, err := pipe.Exec(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := client(t, other).Set(ctx(t), other.Config["REDIS_KEY_PREFIX"]+"x", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	facts = waitConnections(t, p, res.ID, "1") // c's one pooled connection
	t.Logf("redis:info rows: %v", facts)
	if facts["Keys"] != strconv.Itoa(n) {
		t.Errorf("Keys = %q, want %d", facts["Keys"], n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitConnections(t, p, res.ID, "0")
}

// An admin user without CONFIG and CLIENT still describes; the rows it
// cannot read are left out.
func TestDescribeRestrictedAdmin(t *testing.T) {
	p := newProvider(t)
	res := provision(t, p)
	admin := adminClient(t)
	user, pw := fmt.Sprintf("describer%d", time.Now().UnixNano()), "describer-password"
	if err := admin.Do(ctx(t), "ACL", "SETUSER", user, "on", ">"+pw, "~*", "+@all", "-config", "-client").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Do(context.Background(), "ACL", "DELUSER", user).Err() })
	limited := &redis.Provider{Addr: server.Start(t).Addr, Username: user, Password: pw}
	t.Cleanup(func() { _ = limited.Close() })
	names, facts := describe(t, limited, res.ID)
	if want := []string{"Status", "Version", "Keys"}; !slices.Equal(names, want) {
		t.Errorf("facts with a restricted admin = %q (%v), want %q", names, facts, want)
	}
}

func TestDescribeUnknown(t *testing.T) {
	p := newProvider(t)
	for _, id := range []string{"nope", redis.ResourceID("never-provisioned"), "rd*"} {
		if _, err := p.Describe(ctx(t), id); !errors.Is(err, addons.ErrNotFound) {
			t.Errorf("Describe(%q) = %v, want ErrNotFound", id, err)
		}
	}
	res := provision(t, p)
	if err := p.Deprovision(ctx(t), res.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Describe(ctx(t), res.ID); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Describe of a deprovisioned resource = %v, want ErrNotFound", err)
	}
}
