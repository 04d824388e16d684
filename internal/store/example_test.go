package store_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dynokit/dynokit/internal/store"
	"github.com/dynokit/dynokit/internal/store/boltkv"
)

// A package's store in a few lines: migrations on open, then
// compare-and-set through Insert.
func Example() {
	dir, _ := os.MkdirTemp("", "store-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, _ := boltkv.Open(filepath.Join(dir, "state.db"), boltkv.Options{})
	defer db.Close()

	err := store.Migrate(ctx, db, "domains", []store.Migration{{Version: 1, Name: "domains/<app> keyed by hostname"}})
	fmt.Println("migrate:", err)

	add := func(host string) error {
		return db.Update(ctx, func(tx store.Tx) error {
			return tx.Insert("domains/shop", []byte(host), binary.BigEndian.AppendUint64(nil, 1))
		})
	}
	fmt.Println(add("www.example.com"))
	fmt.Println(add("www.example.com"))
	// Output:
	// migrate: <nil>
	// <nil>
	// store: key exists
}
