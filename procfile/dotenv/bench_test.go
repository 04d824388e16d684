package dotenv

import (
	"fmt"
	"strings"
	"testing"
)

func benchEnvFile() string {
	var b strings.Builder
	for i := range 2000 {
		switch i % 10 {
		case 0:
			fmt.Fprintf(&b, "# section %d\n", i)
		case 1:
			fmt.Fprintf(&b, "SECRET_%d='s3cr#t value %d'\n", i, i)
		case 2:
			fmt.Fprintf(&b, "GREETING_%d=\"Hello, world %d\" # note\n", i, i)
		default:
			fmt.Fprintf(&b, "URL_%d=postgres://user:pass@host:5432/db_%d?sslmode=require\n", i, i)
		}
	}
	return b.String()
}

func BenchmarkParse(b *testing.B) {
	src := benchEnvFile()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(strings.NewReader(src)); err != nil {
			b.Fatal(err)
		}
	}
}
