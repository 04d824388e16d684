package release_test

import (
	"fmt"
	"testing"

	"github.com/dynokit/dynokit/release"
)

func BenchmarkParseRange(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := release.ParseRange("version 4200..; max=200, order=desc;"); err != nil {
			b.Fatal(err)
		}
	}
}

// A config change on an app with 100 vars: validate, copy, apply.
func BenchmarkConfigApply(b *testing.B) {
	base := release.ConfigVars{}
	for i := 0; i < 100; i++ {
		base[fmt.Sprintf("VAR_%03d", i)] = "postgres://user:password@host:5432/database"
	}
	ch := release.ConfigChange{Set: map[string]string{"NEW_VAR": "value", "VAR_001": "changed"}, Unset: []string{"VAR_002"}}
	var limits release.ConfigLimits
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := limits.Apply(base, ch); err != nil {
			b.Fatal(err)
		}
	}
}
