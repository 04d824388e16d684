package procfile

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden parses each testdata/golden/*.Procfile in both modes and
// compares entries, diagnostics and the canonical form with the .golden file
// beside it. Run `go test ./procfile -run Golden -update` after an
// intended change and review the diff.
func TestGolden(t *testing.T) {
	testutil.GoldenDir(t, filepath.Join("testdata", "golden"), ".Procfile", *update, renderGolden)
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
