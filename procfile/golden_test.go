package procfile

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden parses each testdata/golden/*.Procfile in both modes and
// compares entries, diagnostics and the canonical form with the .golden file
// beside it. Run `go test ./procfile -run Golden -update` after an
// intended change and review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*.Procfile"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".Procfile")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := renderGolden(t, src)
			goldenPath := strings.TrimSuffix(in, ".Procfile") + ".golden"
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
				t.Errorf("%s differs from the parse result (run with -update if intended)\n--- got\n%s\n--- want\n%s", goldenPath, got, want)
			}
		})
	}
}

func renderGolden(t *testing.T, src []byte) []byte {
	t.Helper()
	lenient, err := Parse(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	strict, err := ParseStrict(bytes.NewReader(src))
	var errs Errors
	if err != nil && !errors.As(err, &errs) {
		t.Fatalf("ParseStrict: %v", err)
	}
	if !slices.Equal(strict.Entries, lenient.Entries) {
		t.Fatalf("strict entries %q differ from lenient %q", strict.Entries, lenient.Entries)
	}
	canonical, err := Format(lenient)
	if err != nil {
		t.Fatalf("Format: %v", err)
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "# entries (type, quoted command), as Heroku reads the file\n")
	for _, e := range lenient.Entries {
		fmt.Fprintf(&b, "%s\t%s\n", e.Type, strconv.Quote(e.Command))
	}
	fmt.Fprintf(&b, "\n# strict-mode diagnostics (line, severity, rule, message)\n")
	for _, e := range errs {
		fmt.Fprintf(&b, "%d\t%s\t%s\t%s\n", e.Line, e.Severity, string(e.Rule), e.Msg)
	}
	fmt.Fprintf(&b, "\n# canonical form (Format), quoted line by line\n")
	for l := range strings.Lines(string(canonical)) {
		fmt.Fprintf(&b, "%s\n", strconv.Quote(l))
	}
	return b.Bytes()
}
