package gitpush_test

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/dynokit/dynokit/examples/minipaas/internal/gitpush"
)

func ExampleValidateAppName() {
	fmt.Println(gitpush.ValidateAppName("my-app"))
	fmt.Println(gitpush.ValidateAppName("My_App"))
	// Output:
	// <nil>
	// gitpush: invalid app name "My_App": must be 3 to 30 characters of lowercase letters, digits and dashes, start with a letter and not end with a dash
}

// A git server whose pushes to main are built from an exported checkout.
// Push with: git push http://:$TOKEN@127.0.0.1:5001/demo.git main
func ExampleHandler() {
	h := &gitpush.Handler{
		Root:      "/var/lib/minipaas/repos",
		Token:     os.Getenv("DYNOKIT_API_TOKEN"),
		AppExists: func(ctx context.Context, app string) bool { return app == "demo" },
		Deploy: func(ctx context.Context, req gitpush.DeployRequest) error {
			fmt.Fprintf(req.Output, "-----> Building %s (%s)\n", req.App, req.NewRev[:7])
			src, err := os.MkdirTemp("", "build-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(src)
			if err := req.Export(ctx, src); err != nil {
				return err
			}
			// ... run the buildpacks on src, pack the slug, release ...
			fmt.Fprintln(req.Output, "-----> Launching... done")
			return nil
		},
	}
	_ = http.ListenAndServe("127.0.0.1:5001", h)
}
