package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/dynokit/dynokit/addons"
)

var _ addons.CredentialManager = (*Provider)(nil)

// credentialNamePattern is what a named credential may be called: its
// role is <resource id>_<name>, within PostgreSQL's 63 bytes.
var credentialNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,29}$`)

func credentialRole(id, name string) string { return id + "_" + name }

// credentialNames lists the resource's named credentials (conn holds the
// resource's lock).
func credentialNames(ctx context.Context, conn *pgx.Conn, id string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM dynokit_addons.credentials WHERE resource_id = $1 ORDER BY name", id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// CreateCredential implements addons.CredentialManager (heroku
// pg:credentials:create): a role <id>_<name> that may log in to the
// resource's database (CONNECT, under the plan's connection limit on
// the database) and nothing more: the default credential, which owns
// every object, grants it what it needs (GRANT SELECT ON ALL TABLES IN
// SCHEMA public TO …). A name is 1 to 30 of [a-z0-9_], starting with a
// letter; "default" is the resource's own. Creating a name that exists
// returns it.
func (p *Provider) CreateCredential(ctx context.Context, id, name string) (addons.Credential, error) {
	if !credentialNamePattern.MatchString(name) || name == "default" {
		return addons.Credential{}, fmt.Errorf("postgres: credential %q: want 1 to 30 lower-case letters, digits or '_', starting with a letter, other than \"default\": %w", truncate(name), addons.ErrInvalid)
	}
	if !resourceIDPattern.MatchString(id) {
		return addons.Credential{}, fmt.Errorf("postgres: create credential of %q: %w", truncate(id), addons.ErrNotFound)
	}
	conn, release, err := p.lock(ctx, id)
	if err != nil {
		return addons.Credential{}, err
	}
	defer release()
	rec, found, err := lookup(ctx, conn, id)
	if err != nil {
		return addons.Credential{}, err
	}
	if !found {
		return addons.Credential{}, fmt.Errorf("postgres: create credential of %s: %w", id, addons.ErrNotFound)
	}
	plan, err := p.plan(rec.plan)
	if err != nil {
		return addons.Credential{}, fmt.Errorf("postgres: create credential of %s: recorded %w", id, err)
	}
	password := newPassword()
	err = conn.QueryRow(ctx, `INSERT INTO dynokit_addons.credentials (resource_id, name, password) VALUES ($1, $2, $3)
		ON CONFLICT (resource_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING password`, id, name, password).Scan(&password)
	if err != nil {
		return addons.Credential{}, fmt.Errorf("postgres: create credential %s of %s: record: %w", name, id, err)
	}
	role := pgx.Identifier{credentialRole(id, name)}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", credentialRole(id, name)).Scan(&exists); err != nil {
		return addons.Credential{}, fmt.Errorf("postgres: create credential %s of %s: %w", name, id, err)
	}
	if !exists {
		verifier, err := scramVerifier(password)
		if err != nil {
			return addons.Credential{}, fmt.Errorf("postgres: create credential %s of %s: hash password: %w", name, id, err)
		}
		q := fmt.Sprintf("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT %d PASSWORD %s",
			role, connLimit(plan), quoteLiteral(verifier))
		if _, err := conn.Exec(ctx, q); err != nil {
			return addons.Credential{}, fmt.Errorf("postgres: create credential %s of %s: create role: %w", name, id, err)
		}
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", pgx.Identifier{id}.Sanitize(), role)); err != nil {
		return addons.Credential{}, fmt.Errorf("postgres: create credential %s of %s: grant connect: %w", name, id, err)
	}
	if !exists {
		p.log().Info("postgres: credential created", "resource", id, "credential", name)
	}
	return p.credential(id, name, password)
}

func (p *Provider) credential(id, name, password string) (addons.Credential, error) {
	host, port, err := p.endpoint()
	if err != nil {
		return addons.Credential{}, err
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(credentialRole(id, name), password),
		Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + id}
	return addons.Credential{Name: name, URL: u.String()}, nil
}

// Credentials implements addons.CredentialManager: the resource's named
// credentials, by name.
func (p *Provider) Credentials(ctx context.Context, id string) ([]addons.Credential, error) {
	conn, err := p.resourceConn(ctx, "credentials of", id)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT name, password FROM dynokit_addons.credentials WHERE resource_id = $1 ORDER BY name", id)
	if err != nil {
		return nil, fmt.Errorf("postgres: credentials of %s: %w", id, err)
	}
	type row struct{ Name, Password string }
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, fmt.Errorf("postgres: credentials of %s: %w", id, err)
	}
	out := make([]addons.Credential, 0, len(list))
	for _, r := range list {
		c, err := p.credential(id, r.Name, r.Password)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// RotateCredential implements addons.CredentialManager (heroku
// pg:credentials:rotate --name): a new random password for the role, as
// a SCRAM verifier, recorded in the same transaction. Open sessions stay
// open, as for the default credential.
func (p *Provider) RotateCredential(ctx context.Context, id, name string) (addons.Credential, error) {
	if !resourceIDPattern.MatchString(id) {
		return addons.Credential{}, fmt.Errorf("postgres: rotate credential of %q: %w", truncate(id), addons.ErrNotFound)
	}
	conn, release, err := p.lock(ctx, id)
	if err != nil {
		return addons.Credential{}, err
	}
	defer release()
	password := newPassword()
	verifier, err := scramVerifier(password)
	if err != nil {
		return addons.Credential{}, fmt.Errorf("postgres: rotate credential %s of %s: hash password: %w", name, id, err)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE dynokit_addons.credentials SET password = $3 WHERE resource_id = $1 AND name = $2", id, name, password)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return addons.ErrNotFound
		}
		_, err = tx.Exec(ctx, fmt.Sprintf("ALTER ROLE %s PASSWORD %s", pgx.Identifier{credentialRole(id, name)}.Sanitize(), quoteLiteral(verifier)))
		return err
	})
	if err != nil {
		return addons.Credential{}, fmt.Errorf("postgres: rotate credential %q of %s: %w", truncate(name), id, err)
	}
	return p.credential(id, name, password)
}

// DestroyCredential implements addons.CredentialManager: the role's
// sessions end, the objects it owns in the database pass to the default
// credential (REASSIGN OWNED, as Heroku does: no data goes), its
// privileges go (DROP OWNED), then the role.
func (p *Provider) DestroyCredential(ctx context.Context, id, name string) error {
	if !resourceIDPattern.MatchString(id) {
		return fmt.Errorf("postgres: destroy credential of %q: %w", truncate(id), addons.ErrNotFound)
	}
	conn, release, err := p.lock(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	var known bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM dynokit_addons.credentials WHERE resource_id = $1 AND name = $2)", id, name).Scan(&known); err != nil {
		return fmt.Errorf("postgres: destroy credential %s of %s: %w", truncate(name), id, err)
	}
	if !known {
		return fmt.Errorf("postgres: destroy credential %q of %s: %w", truncate(name), id, addons.ErrNotFound)
	}
	role := credentialRole(id, name)
	ident := pgx.Identifier{role}.Sanitize()
	db, err := p.connectAdmin(ctx, id)
	if err != nil {
		return err
	}
	defer p.closeAdmin(ctx, db)
	if _, err := db.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role); err != nil {
		return fmt.Errorf("postgres: destroy credential %s of %s: %w", name, id, err)
	}
	if _, err := db.Exec(ctx, "REASSIGN OWNED BY "+ident+" TO "+pgx.Identifier{id}.Sanitize()+"; DROP OWNED BY "+ident); err != nil && !isUndefinedRole(err) {
		return fmt.Errorf("postgres: destroy credential %s of %s: %w", name, id, err)
	}
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+ident); err != nil {
		return fmt.Errorf("postgres: destroy credential %s of %s: %w", name, id, err)
	}
	if _, err := conn.Exec(ctx, "DELETE FROM dynokit_addons.credentials WHERE resource_id = $1 AND name = $2", id, name); err != nil {
		return fmt.Errorf("postgres: destroy credential %s of %s: forget: %w", name, id, err)
	}
	p.log().Info("postgres: credential destroyed", "resource", id, "credential", name)
	return nil
}

func isUndefinedRole(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == "42704"
}

var _ addons.DefaultCredentialRepairer = (*Provider)(nil)

// RepairDefaultCredential implements addons.DefaultCredentialRepairer
// (heroku pg:credentials:repair-default): every object a named credential
// owns in the database passes to the default credential (REASSIGN OWNED),
// which owns the database and its schema, so it holds every privilege on
// them again. The named credentials keep their logins and the grants made
// to them on objects they did not own.
func (p *Provider) RepairDefaultCredential(ctx context.Context, id string) error {
	if !resourceIDPattern.MatchString(id) {
		return fmt.Errorf("postgres: repair the default credential of %q: %w", truncate(id), addons.ErrNotFound)
	}
	conn, release, err := p.lock(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	if _, found, err := lookup(ctx, conn, id); err != nil {
		return err
	} else if !found {
		return fmt.Errorf("postgres: repair the default credential of %s: %w", id, addons.ErrNotFound)
	}
	names, err := credentialNames(ctx, conn, id)
	if err != nil || len(names) == 0 {
		return err
	}
	db, err := p.connectAdmin(ctx, id)
	if err != nil {
		return err
	}
	defer p.closeAdmin(ctx, db)
	roles := make([]string, len(names))
	for i, n := range names {
		roles[i] = pgx.Identifier{credentialRole(id, n)}.Sanitize()
	}
	if _, err := db.Exec(ctx, "REASSIGN OWNED BY "+strings.Join(roles, ", ")+" TO "+pgx.Identifier{id}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: repair the default credential of %s: %w", id, err)
	}
	p.log().Info("postgres: default credential repaired", "resource", id, "credentials", len(names))
	return nil
}
