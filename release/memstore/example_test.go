package memstore_test

import (
	"context"
	"fmt"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/memstore"
)

// Two writers that saw the same history: the second one loses.
func Example() {
	ctx := context.Background()
	var s memstore.Store
	_, err1 := s.Append(ctx, "shop", release.Release{Status: release.StatusSucceeded, Description: "Deploy aaaaaaa"}, 0)
	_, err2 := s.Append(ctx, "shop", release.Release{Status: release.StatusSucceeded, Description: "Deploy bbbbbbb"}, 0)
	fmt.Println(err1)
	fmt.Println(err2)
	// Output:
	// <nil>
	// release: append to shop: expected latest v0, found v1: release: conflict
}
