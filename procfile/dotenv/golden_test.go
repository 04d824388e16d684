package dotenv

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden parses each testdata/golden/*.env as heroku local does and
// compares variables, strict-mode diagnostics and the Format output with
// the .golden file beside it. Run `go test ./procfile/dotenv -run Golden
// -update` after an intended change and review the diff.
func TestGolden(t *testing.T) {
	testutil.GoldenDir(t, filepath.Join("testdata", "golden"), ".env", *update, renderGolden)
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
