package platform_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
)

// Open a platform in a data dir, create apps and list them. Deploys need a
// running platform (see Platform.Run) and a source directory.
func Example() {
	dir, _ := os.MkdirTemp("", "minipaas-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	p, err := platform.Open(ctx, platform.Config{DataDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	for _, name := range []string{"shop", "Shop_2", "shop"} {
		_, err := p.CreateApp(ctx, name)
		var bad *platform.NameError
		switch {
		case errors.As(err, &bad):
			fmt.Printf("%s: invalid name\n", name)
		case errors.Is(err, platform.ErrConflict):
			fmt.Printf("%s: taken\n", name)
		case err != nil:
			fmt.Println(err)
		}
	}
	apps, _ := p.Apps(ctx)
	for _, a := range apps {
		fmt.Println(a.Name, a.WebURL, "release", a.Release)
	}
	// Output:
	// Shop_2: invalid name
	// shop: taken
	// shop http://shop.localhost/ release 0
}
