package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/addons"
)

var _ addons.CredentialRotator = (*Provider)(nil)

// RotateCredentials implements addons.CredentialRotator (heroku
// pg:credentials:rotate): the role gets a new random password, sent as a
// SCRAM verifier like at provisioning, and the returned resource's
// DATABASE_URL carries it. Sessions already open stay open (PostgreSQL
// checks passwords at login only); the apps restart on the new URL.
// undo puts the previous password back, for a platform that could not
// hand the new one to every app.
func (p *Provider) RotateCredentials(ctx context.Context, id string) (addons.Resource, func(context.Context) error, error) {
	if !resourceIDPattern.MatchString(id) {
		return addons.Resource{}, nil, fmt.Errorf("postgres: rotate credentials of %q: %w", truncate(id), addons.ErrNotFound)
	}
	password := newPassword()
	old, err := p.setPassword(ctx, id, password)
	if err != nil {
		return addons.Resource{}, nil, err
	}
	undo := func(ctx context.Context) error {
		_, err := p.setPassword(ctx, id, old.password)
		return err
	}
	res, err := p.resource(id, old.plan, password)
	if err != nil {
		return addons.Resource{}, nil, err
	}
	return res, undo, nil
}

// setPassword gives the role password, records it, and returns the
// record it replaced.
func (p *Provider) setPassword(ctx context.Context, id, password string) (record, error) {
	conn, release, err := p.lock(ctx, id)
	if err != nil {
		return record{}, err
	}
	defer release()
	rec, found, err := lookup(ctx, conn, id)
	if err != nil {
		return record{}, err
	}
	if !found {
		return record{}, fmt.Errorf("postgres: rotate credentials of %s: %w", id, addons.ErrNotFound)
	}
	verifier, err := scramVerifier(password)
	if err != nil {
		return record{}, fmt.Errorf("postgres: rotate credentials of %s: hash password: %w", id, err)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER ROLE %s PASSWORD %s", pgx.Identifier{id}.Sanitize(), quoteLiteral(verifier))); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE dynokit_addons.resources SET password = $2 WHERE id = $1", id, password)
		return err
	})
	if err != nil {
		return record{}, fmt.Errorf("postgres: rotate credentials of %s: %w", id, err)
	}
	return rec, nil
}
