package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dynokit/dynokit/addons"
)

var _ addons.Describer = (*Provider)(nil)

// scanCount is the COUNT hint of each SCAN step in Describe: large
// enough for few round trips, small enough that no step blocks the
// server for long.
const scanCount = 1000

// Describe implements addons.Describer with rows in the style of heroku
// redis:info, in this order: Status ["available"], Version [the
// server's redis_version, "7.2.4"], Keys [keys under the resource's
// prefix], Connections [clients authenticated as its ACL user], then,
// when the admin user may run CONFIG GET, Maxmemory [the eviction
// policy, "noeviction", as redis:info shows it] and Persistence ["AOF",
// "RDB", "AOF+RDB" or "None"]. Keys come from SCAN MATCH "<id>:*"
// (never KEYS, which blocks the server), so counting costs a walk over
// the whole keyspace in steps of scanCount; Connections needs CLIENT
// LIST, and is left out when the admin user may not run it. The server
// is shared, so Version, Maxmemory and Persistence describe the server,
// not the add-on alone.
func (p *Provider) Describe(ctx context.Context, id string) ([]addons.Fact, error) {
	if !resourceIDPattern.MatchString(id) {
		return nil, fmt.Errorf("redis: describe %q: %w", truncate(id), addons.ErrNotFound)
	}
	c, err := p.admin()
	if err != nil {
		return nil, err
	}
	var recorded *goredis.IntCmd
	var info *goredis.StringCmd
	_, err = c.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		recorded = pipe.Exists(ctx, recordKey(id))
		info = pipe.Info(ctx, "server")
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis: describe %s: %w", id, p.explain(err))
	}
	if recorded.Val() == 0 {
		return nil, fmt.Errorf("redis: describe %s: %w", id, addons.ErrNotFound)
	}
	facts := []addons.Fact{
		{Name: "Status", Values: []string{"available"}},
		{Name: "Version", Values: []string{infoField(info.Val(), "redis_version")}},
	}
	keys, err := p.countKeys(ctx, c, id)
	if err != nil {
		return nil, fmt.Errorf("redis: describe %s: %w", id, err)
	}
	facts = append(facts, addons.Fact{Name: "Keys", Values: []string{strconv.Itoa(keys)}})

	clients, err := c.ClientList(ctx).Result()
	switch {
	case isNoPerm(err):
		p.log().Debug("redis: describe: CLIENT LIST denied, leaving out Connections", "err", err)
	case err != nil:
		return nil, fmt.Errorf("redis: describe %s: CLIENT LIST: %w", id, p.explain(err))
	default:
		facts = append(facts, addons.Fact{Name: "Connections", Values: []string{strconv.Itoa(countClients(clients, id))}})
	}

	conf, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	var aof, save map[string]string
	if err == nil {
		aof, err = c.ConfigGet(ctx, "appendonly").Result()
	}
	if err == nil {
		save, err = c.ConfigGet(ctx, "save").Result()
	}
	switch {
	case isNoPerm(err):
		p.log().Debug("redis: describe: CONFIG GET denied, leaving out Maxmemory and Persistence", "err", err)
	case err != nil:
		return nil, fmt.Errorf("redis: describe %s: CONFIG GET: %w", id, p.explain(err))
	default:
		facts = append(facts,
			addons.Fact{Name: "Maxmemory", Values: []string{conf["maxmemory-policy"]}},
			addons.Fact{Name: "Persistence", Values: []string{persistence(aof["appendonly"] == "yes", strings.TrimSpace(save["save"]) != "")}})
	}
	return facts, nil
}

// countKeys walks the keyspace with SCAN MATCH "<id>:*". SCAN may
// return a key twice when the server resizes its table mid-walk; the
// count is not deduplicated, so that memory stays constant however
// many keys the add-on holds.
func (p *Provider) countKeys(ctx context.Context, c *goredis.Client, id string) (int, error) {
	n := 0
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, id+":*", scanCount).Result()
		if err != nil {
			return 0, fmt.Errorf("scan keys: %w", p.explain(err))
		}
		n += len(keys)
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}

// countClients counts the CLIENT LIST lines ("id=3 addr=… user=rd… …")
// of connections authenticated as user.
func countClients(list, user string) int {
	n := 0
	for line := range strings.Lines(list) {
		for f := range strings.FieldsSeq(line) {
			if f == "user="+user {
				n++
				break
			}
		}
	}
	return n
}

// infoField returns field's value in an INFO reply ("field:value" lines).
func infoField(info, field string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

func persistence(aof, rdb bool) string {
	switch {
	case aof && rdb:
		return "AOF+RDB"
	case aof:
		return "AOF"
	case rdb:
		return "RDB"
	}
	return "None"
}

// isNoPerm says whether the server refused a command by ACL.
func isNoPerm(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOPERM")
}
