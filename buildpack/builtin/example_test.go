package builtin_test

import (
	"fmt"
	"os"

	"github.com/dynokit/dynokit/buildpack/builtin"
)

func ExampleWriteAll() {
	dir, _ := os.MkdirTemp("", "builtin")
	defer os.RemoveAll(dir)
	bps, err := builtin.WriteAll(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, bp := range bps {
		fmt.Println(bp.Name)
	}
	// Output:
	// dynokit/go
	// dynokit/nodejs
	// dynokit/static
	// dynokit/procfile
}
