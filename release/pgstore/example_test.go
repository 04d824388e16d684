package pgstore_test

import (
	"context"
	"fmt"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/pgstore"
)

// Compile-only: it needs a PostgreSQL server.
func Example() {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, "postgres://dynokit@db.internal:5432/platform", pgstore.Options{MaxConns: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	m := &release.Manager{Store: s}
	r, err := m.Rollback(ctx, "shop", 41, release.Opts{User: "ops@example.com"})
	fmt.Println(r.Name(), err)
}
