package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/dynokit/dynokit/internal/pgtest"
	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/pgstore"
	"github.com/dynokit/dynokit/release/releasetest"
)

var pg pgtest.Server

func TestMain(m *testing.M) {
	if dsn := os.Getenv(releasetest.HelperEnv); dsn != "" {
		s, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
		if err == nil {
			err = releasetest.AppendUntilKilled(context.Background(), s, "app", os.Stdout)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

func open(t *testing.T, dsn string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	releasetest.StoreSuite(t, func(t *testing.T) release.Store {
		s := open(t, pg.NewSchema(t))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Two stores on one database behave like two machines: they share one
// history and their appends conflict.
func TestTwoStoresOneDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := pg.NewSchema(t)
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	if _, err := a.Append(ctx, "app", releasetest.Sample(1), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, "app", releasetest.Sample(2), 0); err == nil {
		t.Fatal("second machine appended v1 again")
	}
	got, err := b.Get(ctx, "app", 1)
	if err != nil || got.Slug.ID != "slug-1" {
		t.Fatalf("second machine reads %+v, %v", got, err)
	}
}
