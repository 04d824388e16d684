package redis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/dynokit/dynokit/addons"
)

// ConfigPrefix is the prefix of the config vars the provider returns:
// REDIS_URL and REDIS_KEY_PREFIX.
const ConfigPrefix = "REDIS"

// DefaultPlans returns the plans offered when Provider.Offered is empty.
// Redis has no per-user memory or connection limits, so Limits are
// informational.
func DefaultPlans() []addons.Plan {
	return []addons.Plan{
		{Name: "mini", Description: "shared server, 25 MB (not enforced)", Limits: addons.Limits{Bytes: 25 << 20}},
		{Name: "premium", Description: "shared server, 100 MB (not enforced)", Limits: addons.Limits{Bytes: 100 << 20}},
	}
}

// CommandRules are the ACL command rules of every add-on user (after
// its key and channel patterns): every command except those that could
// reach other users' data or the server as a whole. Key and
// channel patterns are checked by Redis for every command with key
// arguments; the commands removed here list or touch keys, channels,
// databases or server state without naming them.
const CommandRules = "+@all -@dangerous -@admin -select -swapdb -move -scan -randomkey -dbsize -pubsub -function -script|flush"

// Provider makes one ACL user per add-on on a Redis 7 server, allowed
// only keys and channels under its own prefix ("<id>:"). Set Addr and
// the admin credentials. Call Close when done. Safe for concurrent use.
type Provider struct {
	Addr     string // host:port of the server
	Username string // admin user; empty means "default"
	Password string // admin password
	// Host and Port go into REDIS_URL; default: Addr's.
	Host string
	Port int
	// Offered lists the plans; empty means DefaultPlans.
	Offered []addons.Plan
	Logger  *slog.Logger // nil discards

	mu     sync.Mutex
	client *goredis.Client
}

var (
	_ addons.Provider    = (*Provider)(nil)
	_ addons.PlanChanger = (*Provider)(nil)
	_ addons.PlanLister  = (*Provider)(nil)
)

// Plans implements addons.PlanLister.
func (p *Provider) Plans() []addons.Plan {
	if len(p.Offered) == 0 {
		return DefaultPlans()
	}
	return slices.Clone(p.Offered)
}

func (p *Provider) hasPlan(name string) error {
	for _, pl := range p.Plans() {
		if pl.Name == name {
			return nil
		}
	}
	names := make([]string, 0, len(p.Plans()))
	for _, pl := range p.Plans() {
		names = append(names, pl.Name)
	}
	return fmt.Errorf("plan %q is not offered (plans: %s): %w", truncate(name), strings.Join(names, ", "), addons.ErrUnknownPlan)
}

func (p *Provider) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// admin returns the shared admin client, creating it on first use.
func (p *Provider) admin() (*goredis.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		return p.client, nil
	}
	if p.Addr == "" {
		return nil, fmt.Errorf("redis: Provider.Addr is empty: %w", addons.ErrInvalid)
	}
	p.client = goredis.NewClient(&goredis.Options{
		Addr: p.Addr, Username: p.Username, Password: p.Password,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	return p.client, nil
}

// Close closes the admin connections.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return nil
	}
	err := p.client.Close()
	p.client = nil
	return err
}

var resourceIDPattern = regexp.MustCompile(`^rd[0-9a-f]{24}$`)

// ResourceID is the resource id (and ACL user name and key prefix) for a
// provision request id: derived, so that retries converge on one user.
func ResourceID(requestID string) string {
	sum := sha256.Sum256([]byte("dynokit-addons-redis\x00" + requestID))
	return "rd" + hex.EncodeToString(sum[:12])
}

// recordKey holds a resource's plan and password. Add-on users cannot
// read it: it is outside every add-on's prefix.
func recordKey(id string) string { return "dynokit:addons:" + id }

// Provision implements addons.Provider.
func (p *Provider) Provision(ctx context.Context, req addons.ProvisionRequest) (addons.Resource, error) {
	if req.ID == "" {
		return addons.Resource{}, fmt.Errorf("redis: provision: request id must not be empty: %w", addons.ErrInvalid)
	}
	if err := p.hasPlan(req.Plan); err != nil {
		return addons.Resource{}, fmt.Errorf("redis: provision: %w", err)
	}
	c, err := p.admin()
	if err != nil {
		return addons.Resource{}, err
	}
	id := ResourceID(req.ID)
	// One round trip: the first provision of an id records its password
	// and plan; later (or racing) ones read what was recorded.
	rec, err := recordScript.Run(ctx, c, []string{recordKey(id)}, newPassword(), req.Plan, req.ID).StringSlice()
	if err != nil {
		return addons.Resource{}, fmt.Errorf("redis: provision %s: record: %w", id, p.explain(err))
	}
	if len(rec) != 3 {
		return addons.Resource{}, fmt.Errorf("redis: provision %s: record: unexpected reply of %d fields", id, len(rec))
	}
	password, plan, created := rec[0], rec[1], rec[2] == "1"
	if err := p.setUser(ctx, c, id, password); err != nil {
		return addons.Resource{}, err
	}
	if created {
		p.log().Info("redis: provisioned", "resource", id, "plan", plan)
	}
	return p.resource(id, plan, password)
}

// recordScript returns {password, plan, created}, creating the record
// from ARGV (password, plan, request id) when KEYS[1] does not exist.
var recordScript = goredis.NewScript(`
if redis.call('HSETNX', KEYS[1], 'password', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'plan', ARGV[2], 'request', ARGV[3])
  return {ARGV[1], ARGV[2], '1'}
end
local r = redis.call('HMGET', KEYS[1], 'password', 'plan')
return {r[1], r[2] or ARGV[2], '0'}
`)

// setUser (re)defines the ACL user from scratch, so a retry repairs a
// half-made user. Only the password's SHA-256 goes to the server.
func (p *Provider) setUser(ctx context.Context, c *goredis.Client, id, password string) error {
	sum := sha256.Sum256([]byte(password))
	args := []any{"ACL", "SETUSER", id, "reset", "on", "#" + hex.EncodeToString(sum[:]), "~" + id + ":*", "&" + id + ":*"}
	for _, r := range strings.Fields(CommandRules) {
		args = append(args, r)
	}
	if err := c.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("redis: provision %s: ACL SETUSER: %w", id, p.explain(err))
	}
	return nil
}

func (p *Provider) resource(id, plan, password string) (addons.Resource, error) {
	host, port := p.Host, p.Port
	if host == "" || port == 0 {
		h, ps, err := net.SplitHostPort(p.Addr)
		if err != nil {
			return addons.Resource{}, fmt.Errorf("redis: Provider.Addr %q is not host:port: %w", truncate(p.Addr), addons.ErrInvalid)
		}
		if host == "" {
			host = h
		}
		if port == 0 {
			port, _ = strconv.Atoi(ps)
		}
	}
	u := url.URL{Scheme: "redis", User: url.UserPassword(id, password), Host: net.JoinHostPort(host, strconv.Itoa(port))}
	return addons.Resource{ID: id, Plan: plan, Config: addons.Config{
		ConfigPrefix + "_URL":        u.String(),
		ConfigPrefix + "_KEY_PREFIX": id + ":",
	}}, nil
}

// Deprovision implements addons.Provider: it deletes the ACL user
// (Redis disconnects its clients), then every key under its prefix, then
// the record.
func (p *Provider) Deprovision(ctx context.Context, id string) error {
	if !resourceIDPattern.MatchString(id) {
		return fmt.Errorf("redis: deprovision %q: %w", truncate(id), addons.ErrNotFound)
	}
	c, err := p.admin()
	if err != nil {
		return err
	}
	// One round trip for both: is it recorded, and delete the user.
	var recorded *goredis.IntCmd
	var deleted *goredis.Cmd
	_, err = c.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		recorded = pipe.Exists(ctx, recordKey(id))
		deleted = pipe.Do(ctx, "ACL", "DELUSER", id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: deprovision %s: ACL DELUSER: %w", id, p.explain(err))
	}
	if n, _ := deleted.Int(); recorded.Val() == 0 && n == 0 {
		return fmt.Errorf("redis: deprovision %s: %w", id, addons.ErrNotFound)
	}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, id+":*", 1000).Result()
		if err != nil {
			return fmt.Errorf("redis: deprovision %s: scan keys: %w", id, p.explain(err))
		}
		if cursor = next; cursor == 0 {
			// The last page and the record go in one round trip.
			_, err := c.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
				if len(keys) > 0 {
					pipe.Unlink(ctx, keys...)
				}
				pipe.Del(ctx, recordKey(id))
				return nil
			})
			if err != nil {
				return fmt.Errorf("redis: deprovision %s: delete keys: %w", id, p.explain(err))
			}
			break
		}
		if len(keys) > 0 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("redis: deprovision %s: delete keys: %w", id, p.explain(err))
			}
		}
	}
	p.log().Info("redis: deprovisioned", "resource", id)
	return nil
}

// ChangePlan implements addons.PlanChanger. It records the plan; the
// user, its keys and its config vars stay as they are.
func (p *Provider) ChangePlan(ctx context.Context, id, plan string) (addons.Resource, error) {
	if !resourceIDPattern.MatchString(id) {
		return addons.Resource{}, fmt.Errorf("redis: change plan of %q: %w", truncate(id), addons.ErrNotFound)
	}
	if err := p.hasPlan(plan); err != nil {
		return addons.Resource{}, fmt.Errorf("redis: change plan of %s: %w", id, err)
	}
	c, err := p.admin()
	if err != nil {
		return addons.Resource{}, err
	}
	password, err := c.HGet(ctx, recordKey(id), "password").Result()
	if errors.Is(err, goredis.Nil) {
		return addons.Resource{}, fmt.Errorf("redis: change plan of %s: %w", id, addons.ErrNotFound)
	}
	if err != nil {
		return addons.Resource{}, fmt.Errorf("redis: change plan of %s: %w", id, p.explain(err))
	}
	if err := c.HSet(ctx, recordKey(id), "plan", plan).Err(); err != nil {
		return addons.Resource{}, fmt.Errorf("redis: change plan of %s: %w", id, p.explain(err))
	}
	return p.resource(id, plan, password)
}

// explain adds the server address to connection errors.
func (p *Provider) explain(err error) error {
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("server %s: %w", p.Addr, err)
	}
	return err
}

// newPassword returns 32 random bytes, base64url: safe in URLs.
func newPassword() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
