package copytree_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dynokit/dynokit/internal/copytree"
)

func ExampleCopy() {
	src, _ := os.MkdirTemp("", "src-")
	defer os.RemoveAll(src)
	os.MkdirAll(filepath.Join(src, ".git"), 0o755)
	os.WriteFile(filepath.Join(src, "Procfile"), []byte("web: bin/web\n"), 0o644)

	dst := src + "-copy"
	defer os.RemoveAll(dst)
	if err := copytree.Copy(context.Background(), src, dst, ".git"); err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output: Procfile
}
