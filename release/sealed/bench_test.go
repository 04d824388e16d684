package sealed_test

import (
	"context"
	"testing"

	"github.com/dynokit/dynokit/release"
	"github.com/dynokit/dynokit/release/memstore"
	"github.com/dynokit/dynokit/release/releasetest"
)

// BenchmarkAppendGet appends a release with 20 config vars and reads it
// back, over a plain memstore and over the same wrapped by sealed.New.
func BenchmarkAppendGet(b *testing.B) {
	ctx := context.Background()
	r := releasetest.Sample(1)
	r.Config = twentyVars("postgres://user:password@host:5432/db-")
	for _, bc := range []struct {
		name string
		wrap func(s *memstore.Store) release.Store
	}{
		{"plain", func(s *memstore.Store) release.Store { return s }},
		{"sealed", func(s *memstore.Store) release.Store { return mustNew(b, s, newKey(b)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			backend := memstore.New()
			s := bc.wrap(backend)
			b.ReportAllocs()
			v := 0
			for b.Loop() {
				if v == 1000 { // bound the history's memory
					backend.DeleteApp(ctx, "app")
					v = 0
				}
				if _, err := s.Append(ctx, "app", r, v); err != nil {
					b.Fatal(err)
				}
				v++
				got, err := s.Get(ctx, "app", v)
				if err != nil || len(got.Config) != 20 {
					b.Fatal(err)
				}
			}
		})
	}
}
