package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// An archive made elsewhere (a Heroku backup, a pg_dump of a server
// where the dump's owner was a superuser) creates extensions the add-on's
// role may not create: superuser-only ones (pg_stat_statements, which
// every Heroku database has), ones this server does not offer, and, in
// archives of older pg_dumps, plpgsql, which exists already and belongs to
// the bootstrap superuser (its COMMENT then fails). pg_restore on Heroku
// ignores such errors; Restore here applies the archive in one
// transaction that any error rolls back, so it leaves those entries out
// instead: the extension's CREATE EXTENSION and its COMMENT. Anything that
// needs such an extension (a column of a PostGIS type) still fails the
// restore, saying what is missing.

// extensionEntry matches a pg_restore --list line of an extension or of
// its comment, capturing the extension's name.
var extensionEntry = regexp.MustCompile(`^\d+; \d+ \d+ (?:EXTENSION - |COMMENT - EXTENSION )(\S+)`)

// restoreList reads the table of contents at the start of the archive r
// (pg_restore --list reads only that far) and returns the list to restore
// from, with the entries of the extensions the role cannot create turned
// into comments, and the names of those extensions; list is nil when none
// is left out. replay yields the whole archive again: what the listing
// read, then the rest of r.
func (p *Provider) restoreList(ctx context.Context, id string, r io.Reader) (list []byte, skipped []string, replay io.Reader, err error) {
	toc, replay, err := p.tableOfContents(ctx, r)
	if err != nil {
		return nil, nil, nil, err
	}
	creatable, err := p.creatableExtensions(ctx, id)
	if err != nil {
		return nil, nil, nil, err
	}
	var out bytes.Buffer
	for line := range bytes.Lines(toc) {
		if m := extensionEntry.FindSubmatch(line); m != nil && !creatable[string(m[1])] {
			out.WriteByte(';')
			if name := string(m[1]); !slices.Contains(skipped, name) {
				skipped = append(skipped, name)
			}
		}
		out.Write(line)
	}
	if len(skipped) == 0 {
		return nil, nil, replay, nil
	}
	return out.Bytes(), skipped, replay, nil
}

// creatableExtensions is what CREATE EXTENSION can do as the add-on's role
// in its database: extensions the server offers that a database owner
// may install, less those installed already under another owner (the
// restore's CREATE EXTENSION IF NOT EXISTS would do nothing, and its
// COMMENT would fail). It asks as the admin, so it takes none of the
// role's connections (psql needs one).
func (p *Provider) creatableExtensions(ctx context.Context, id string) (map[string]bool, error) {
	conn, err := p.connectAdmin(ctx, id)
	if err != nil {
		return nil, err
	}
	defer p.closeAdmin(ctx, conn)
	rows, err := conn.Query(ctx, creatableExtensionsSQL+`
		EXCEPT SELECT extname FROM pg_extension WHERE extowner <> (SELECT oid FROM pg_roles WHERE rolname = $1)`, id)
	if err != nil {
		return nil, fmt.Errorf("list the extensions the role may create: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list the extensions the role may create: %w", err)
	}
	creatable := make(map[string]bool, len(names))
	for _, n := range names {
		creatable[n] = true
	}
	return creatable, nil
}

// tableOfContents runs pg_restore --list on the start of r. It feeds the
// tool itself, a chunk at a time, so that it knows what was read: the
// listing stops reading after the table of contents, and replay starts
// with what it read.
func (p *Provider) tableOfContents(ctx context.Context, r io.Reader) (toc []byte, replay io.Reader, err error) {
	path, err := p.tool("pg_restore")
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, path, "--list")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	var stderr capped
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("pg_restore: %w", err)
	}
	var read bytes.Buffer
	fed := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, rerr := r.Read(buf)
			read.Write(buf[:n])
			if n > 0 {
				if _, werr := in.Write(buf[:n]); werr != nil {
					fed <- nil // the listing is done with its input
					return
				}
			}
			if rerr != nil {
				in.Close()
				if rerr == io.EOF {
					rerr = nil
				}
				fed <- rerr
				return
			}
		}
	}()
	werr := cmd.Wait() // closes in: a write blocked on it returns
	if ferr := <-fed; ferr != nil {
		return nil, nil, fmt.Errorf("pg_restore: reading its input: %w", ferr)
	}
	if werr != nil {
		return nil, nil, fmt.Errorf("pg_restore: %w: %s", werr, bytes.TrimSpace(stderr.buf))
	}
	return out.Bytes(), io.MultiReader(&read, r), nil
}
