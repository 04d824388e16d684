package slug_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/dynokit/dynokit/slug"
)

// A build directory goes through Pack, a Store and Extract.
func Example() {
	ctx := context.Background()
	work, _ := os.MkdirTemp("", "slug-example-")
	defer os.RemoveAll(work)
	build := filepath.Join(work, "build")
	os.Mkdir(build, 0o755)
	os.WriteFile(filepath.Join(build, "Procfile"), []byte("web: ./server\n"), 0o644)
	os.WriteFile(filepath.Join(build, "server"), []byte("#!/bin/sh\nexec sleep 1\n"), 0o755)
	os.WriteFile(filepath.Join(build, "design.psd"), []byte("large"), 0o644)
	os.WriteFile(filepath.Join(build, ".slugignore"), []byte("*.psd\n"), 0o644)

	var buf bytes.Buffer
	info, err := slug.Pack(ctx, &buf, build, slug.PackOptions{})
	if err != nil {
		panic(err)
	}
	store := &slug.MemStore{}
	if _, err := store.Put(ctx, &buf, info.Digest); err != nil {
		panic(err)
	}

	rc, _, err := store.Open(ctx, info.Digest)
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	app := filepath.Join(work, "dynos", "web.1", "app")
	if _, err := slug.Extract(ctx, rc, app, slug.ExtractOptions{Want: info.Digest}); err != nil {
		panic(err)
	}
	procfile, _ := os.ReadFile(filepath.Join(app, "Procfile"))
	_, psdErr := os.Stat(filepath.Join(app, "design.psd"))
	fmt.Printf("entries=%d ignored=%d\n", info.Entries, info.Ignored)
	fmt.Print(string(procfile))
	fmt.Println("psd packed:", !os.IsNotExist(psdErr))
	// Output:
	// entries=4 ignored=1
	// web: ./server
	// psd packed: false
}

func ExampleParseIgnore() {
	ign, err := slug.ParseIgnore([]byte("# build output\n*.psd\n/test\nlog/**\n"))
	if err != nil {
		panic(err)
	}
	for _, p := range []string{"art/logo.psd", "test/unit.rb", "lib/test/unit.rb", "log/today.log", "log"} {
		fmt.Println(p, ign.Match(p, false))
	}
	_, err = slug.ParseIgnore([]byte("*.log\n!keep.log\n"))
	fmt.Println(err)
	// Output:
	// art/logo.psd true
	// test/unit.rb true
	// lib/test/unit.rb false
	// log/today.log true
	// log false
	// slug: .slugignore:2: "!keep.log": negation ("!") is not supported in .slugignore; write "\!" for a literal "!"
}

func ExampleParseDigest() {
	d, err := slug.ParseDigest("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")
	fmt.Println(d, err)
	fmt.Println(d == slug.DigestOf(nil))
	_, err = slug.ParseDigest("md5:d41d8cd98f00b204e9800998ecf8427e")
	fmt.Println(err)
	// Output:
	// SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 <nil>
	// true
	// slug: invalid digest "md5:d41d8cd98f00b204e9800998ecf8427e": want "SHA256:" followed by 64 hex digits
}

func ExampleCollectGarbage() {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := now.Add(-48 * time.Hour)
	store := &slug.MemStore{Now: func() time.Time { return clock }}
	current, _ := store.Put(ctx, bytes.NewReader([]byte("release v2")), "")
	old, _ := store.Put(ctx, bytes.NewReader([]byte("release v1, pruned from history")), "")
	clock = now.Add(-time.Minute)
	store.Put(ctx, bytes.NewReader([]byte("uploaded by a build still running")), "")

	kept := map[slug.Digest]bool{current.Digest: true}
	res, err := slug.CollectGarbage(ctx, store, func(d slug.Digest) bool { return kept[d] }, slug.GCOptions{Now: func() time.Time { return now }})
	fmt.Println(err, len(res.Deleted), res.Deleted[0] == old.Digest, res.Referenced, res.Young)
	// Output: <nil> 1 true 1 1
}

func ExampleHandler() {
	ctx := context.Background()
	store := &slug.MemStore{}
	info, _ := store.Put(ctx, bytes.NewReader([]byte("slug bytes")), "")
	srv := httptest.NewServer(http.StripPrefix("/slugs/", &slug.Handler{Store: store}))
	defer srv.Close()

	getter := &slug.HTTPGetter{BaseURL: srv.URL + "/slugs/"}
	rc, _, err := getter.Open(ctx, info.Digest)
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc) // verified against the digest at EOF
	fmt.Printf("%q %v\n", b, err)
	// Output: "slug bytes" <nil>
}

// RemoveIgnored deletes the .slugignore'd files of a build's copy of the
// source before the buildpacks run, as Heroku does.
func ExampleRemoveIgnored() {
	dir, _ := os.MkdirTemp("", "build")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, ".slugignore"), []byte("*.psd\n/spec/\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "logo.psd"), []byte("layers"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.rb"), []byte("puts 1"), 0o644)
	os.MkdirAll(filepath.Join(dir, "spec"), 0o755)
	os.WriteFile(filepath.Join(dir, "spec", "app_spec.rb"), []byte("it"), 0o644)

	n, err := slug.RemoveIgnored(context.Background(), dir)
	fmt.Println(n, err)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// 2 <nil>
	// .slugignore
	// app.rb
}
