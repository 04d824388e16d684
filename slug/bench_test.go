package slug_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/dynokit/dynokit/slug"
)

// benchTree writes a tree shaped like a real app: many small text files,
// a few large ones, some incompressible. Roughly 24 MB.
func benchTree(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	text := bytes.Repeat([]byte("module Foo\n  def bar(x) = x * 2 # comment\nend\n"), 100)
	for i := range 2000 {
		p := filepath.Join(dir, "lib", fmt.Sprintf("d%02d", i%40), fmt.Sprintf("f%04d.rb", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, text[:1000+i%3000], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	big := bytes.Repeat(text, 40) // ~190 KB, repeated into 8 MB
	var buf bytes.Buffer
	for buf.Len() < 8<<20 {
		buf.Write(big)
	}
	os.WriteFile(filepath.Join(dir, "big.txt"), buf.Bytes(), 0o644)
	random := make([]byte, 10<<20)
	rand.Read(random)
	os.WriteFile(filepath.Join(dir, "random.bin"), random, 0o644)
	return dir
}

func BenchmarkPack(b *testing.B) {
	dir := benchTree(b)
	var info slug.PackInfo
	for b.Loop() {
		var err error
		info, err = slug.Pack(context.Background(), io.Discard, dir, slug.PackOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(info.UncompressedSize)
}

func BenchmarkExtract(b *testing.B) {
	dir := benchTree(b)
	var buf bytes.Buffer
	info, err := slug.Pack(context.Background(), &buf, dir, slug.PackOptions{})
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	b.SetBytes(info.UncompressedSize)
	i := 0
	for b.Loop() {
		i++
		dst := filepath.Join(out, fmt.Sprint(i))
		if _, err := slug.Extract(context.Background(), bytes.NewReader(buf.Bytes()), dst, slug.ExtractOptions{Want: info.Digest}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dst)
		b.StartTimer()
	}
}

func BenchmarkIgnoreMatch(b *testing.B) {
	ign, err := slug.ParseIgnore([]byte("*.psd\n/test\nspec/\nlog/**\n**/node_modules/**/*.map\ndocs/*.pdf\n"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ign.Match("vendor/bundle/ruby/3.3.0/gems/rack-3.0.0/lib/rack/utils.rb", false)
	}
}
