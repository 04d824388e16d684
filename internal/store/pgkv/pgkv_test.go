package pgkv_test

import (
	"context"
	"os"
	"testing"

	"github.com/dynokit/dynokit/internal/pgtest"
	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/internal/store/pgkv"
	"github.com/dynokit/dynokit/internal/store/storetest"
)

var pg pgtest.Server

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	storetest.Suite(t, func(t *testing.T) store.DB {
		db, err := pgkv.Open(context.Background(), pg.NewSchema(t), pgkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestReopenKeepsSchemaAndData(t *testing.T) {
	ctx := context.Background()
	dsn := pg.NewSchema(t)
	db, err := pgkv.Open(ctx, dsn, pgkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Put("a", []byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = pgkv.Open(ctx, dsn, pgkv.Options{})
	if err != nil {
		t.Fatalf("second open (schema already migrated): %v", err)
	}
	defer db.Close()
	var got []byte
	if err := db.View(ctx, func(tx store.Tx) (err error) { got, err = tx.Get("a", []byte("k")); return err }); err != nil || string(got) != "v" {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
}
