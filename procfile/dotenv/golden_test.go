package dotenv

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden parses each testdata/golden/*.env as heroku local does and
// compares variables, strict-mode diagnostics and the Format output with
// the .golden file beside it. Run `go test ./procfile/dotenv -run Golden
// -update` after an intended change and review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*.env"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".env")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := renderGolden(t, src)
			goldenPath := strings.TrimSuffix(in, ".env") + ".golden"
			if *update {
				if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (run with -update if intended)\n--- got\n%s\n--- want\n%s", goldenPath, got, want)
			}
		})
	}
}

func renderGolden(t *testing.T, src []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	env, perr := Parse(bytes.NewReader(src))
	fmt.Fprintf(&b, "# variables (key, quoted value), as heroku local reads the file\n")
	if perr != nil {
		fmt.Fprintf(&b, "error: %v\n", perr)
	} else {
		for _, v := range env.Vars {
			fmt.Fprintf(&b, "%s\t%s\n", v.Key, strconv.Quote(v.Value))
		}
	}
	_, err := ParseStrict(bytes.NewReader(src))
	var errs Errors
	if err != nil && !errors.As(err, &errs) {
		t.Fatalf("ParseStrict: %v", err)
	}
	fmt.Fprintf(&b, "\n# strict-mode diagnostics (line, severity, rule, message)\n")
	for _, e := range errs {
		fmt.Fprintf(&b, "%d\t%s\t%s\t%s\n", e.Line, e.Severity, string(e.Rule), e.Msg)
	}
	fmt.Fprintf(&b, "\n# Format, quoted line by line\n")
	if perr == nil {
		out, err := Format(env)
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
		}
		for l := range strings.Lines(string(out)) {
			fmt.Fprintf(&b, "%s\n", strconv.Quote(l))
		}
	}
	return b.Bytes()
}
