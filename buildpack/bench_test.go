package buildpack_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dynokit/dynokit/buildpack"
	"github.com/dynokit/dynokit/buildpack/buildpacktest"
)

// BenchmarkNoopBuild is a whole build with scripts that do nothing: what
// the platform adds around them (scratch dirs, cache checkout and commit,
// private buildpack copy, two fork/execs, Procfile).
func BenchmarkNoopBuild(b *testing.B) {
	requireBash(b)
	bp := buildpacktest.Write(b, "noop", buildpacktest.Scripts{Detect: "#!/bin/sh\necho Noop\n", Compile: "#!/bin/sh\nexit 0\n"})
	builder := &buildpack.Builder{Cache: &buildpack.Cache{Dir: b.TempDir()}}
	app := b.TempDir()
	os.WriteFile(filepath.Join(app, "Procfile"), []byte("web: ./web\n"), 0o644)
	var overhead float64
	for b.Loop() {
		res, err := builder.Build(context.Background(), buildpack.BuildInput{App: "bench", AppDir: app, Detect: []buildpack.Buildpack{bp}})
		if err != nil {
			b.Fatal(err)
		}
		overhead += float64((res.Duration - res.ScriptTime).Microseconds())
	}
	b.ReportMetric(overhead/float64(b.N)/1000, "overhead-ms/op")
}

func BenchmarkParseRelease(b *testing.B) {
	data := []byte("---\naddons:\n  - heroku-postgresql:dev\nconfig_vars:\n  LANG: en_US.UTF-8\ndefault_process_types:\n  web: bin/server --port $PORT\n  worker: bin/worker\n")
	for b.Loop() {
		if _, err := buildpack.ParseRelease(data); err != nil {
			b.Fatal(err)
		}
	}
}
