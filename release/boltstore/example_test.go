package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/boltstore"
)

func Example() {
	dir, _ := os.MkdirTemp("", "boltstore-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := boltstore.Open(ctx, filepath.Join(dir, "platform.db"), boltstore.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := &release.Manager{Store: s}
	m.SetConfig(ctx, "shop", release.ConfigChange{Set: map[string]string{"LANG": "en_US.UTF-8"}}, release.Opts{})
	s.Close()

	// The history survives reopening the file.
	s, _ = boltstore.Open(ctx, filepath.Join(dir, "platform.db"), boltstore.Options{})
	defer s.Close()
	cur, _ := s.Current(ctx, "shop")
	fmt.Println(cur.Name(), cur.Description, cur.Config)
	// Output: v1 Set LANG config vars map[LANG:[REDACTED]]
}
