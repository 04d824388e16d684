package testutil_test

import (
	"fmt"
	"sync"

	"github.com/dynokit/dynokit/internal/testutil"
)

func ExampleSyncBuffer() {
	var out testutil.SyncBuffer
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { fmt.Fprint(&out, "x") })
	}
	wg.Wait()
	fmt.Println(out.String())
	// Output: xxx
}
