package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dynokit/dynokit/addons"
)

var _ addons.CredentialRotator = (*Provider)(nil)

// RotateCredentials implements addons.CredentialRotator (heroku
// redis:credentials --reset): the add-on's user gets a new password, which
// new logins need; the old one is refused. The undo puts the old password
// back. The user and its record change together: if recording the new
// password fails, the user gets the old one back.
func (p *Provider) RotateCredentials(ctx context.Context, id string) (addons.Resource, func(context.Context) error, error) {
	if !resourceIDPattern.MatchString(id) {
		return addons.Resource{}, nil, fmt.Errorf("redis: rotate credentials of %q: %w", truncate(id), addons.ErrNotFound)
	}
	c, err := p.admin()
	if err != nil {
		return addons.Resource{}, nil, err
	}
	rec, err := c.HMGet(ctx, recordKey(id), "password", "plan").Result()
	if err != nil {
		return addons.Resource{}, nil, fmt.Errorf("redis: rotate credentials of %s: %w", id, p.explain(err))
	}
	old, ok := rec[0].(string)
	plan, _ := rec[1].(string)
	if !ok {
		return addons.Resource{}, nil, fmt.Errorf("redis: rotate credentials of %s: %w", id, addons.ErrNotFound)
	}
	next := newPassword()
	if err := p.changePassword(ctx, c, id, old, next); err != nil {
		return addons.Resource{}, nil, err
	}
	undo := func(ctx context.Context) error { return p.changePassword(ctx, c, id, next, old) }
	res, err := p.resource(id, plan, next)
	if err != nil {
		return addons.Resource{}, nil, errors.Join(err, undo(ctx))
	}
	return res, undo, nil
}

// changePassword moves user id from password from to to: the ACL user
// first, then the record, and the user back if the record fails.
func (p *Provider) changePassword(ctx context.Context, c *goredis.Client, id, from, to string) error {
	if err := p.setUser(ctx, c, id, to); err != nil {
		return fmt.Errorf("redis: rotate credentials of %s: %w", id, err)
	}
	if err := c.HSet(ctx, recordKey(id), "password", to).Err(); err != nil {
		cause := fmt.Errorf("redis: rotate credentials of %s: recording the password: %w", id, p.explain(err))
		if uerr := p.setUser(context.WithoutCancel(ctx), c, id, from); uerr != nil {
			return errors.Join(cause, fmt.Errorf("redis: putting the old password back: %w", uerr))
		}
		return cause
	}
	return nil
}
