package buildpack

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Phases of the classic buildpack API, as used in Error.Phase and
// Command.Phase.
const (
	PhaseFetch   = "fetch"
	PhaseDetect  = "detect"
	PhaseCompile = "compile"
	PhaseRelease = "release"
)

// Buildpack is a classic buildpack on local disk: a directory with
// bin/detect, bin/compile and optionally bin/release. Fetcher.Fetch turns a
// URL into one; a Buildpack literal works for a directory you already have.
type Buildpack struct {
	// Name labels the buildpack in output and errors; usually the URL or
	// path it came from. Empty means Dir.
	Name string
	// Dir is the buildpack's root directory.
	Dir string
}

func (b Buildpack) label() string {
	if b.Name != "" {
		return b.Name
	}
	return b.Dir
}

// ErrNoMatch is returned (wrapped) when no buildpack detected the app, or
// when a buildpack of an explicit list did not.
var ErrNoMatch = errors.New("buildpack: no buildpack detected the app")

// Error is the failure of one buildpack phase: a script that exited
// non-zero, was killed by the timeout, or printed bad output.
type Error struct {
	Buildpack string // Buildpack.Name (or Dir)
	Phase     string // PhaseFetch, PhaseDetect, PhaseCompile or PhaseRelease
	ExitCode  int    // the script's exit code; -1 when it did not exit normally or did not run
	Err       error  // the cause; may be nil for a plain non-zero exit
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "buildpack: %s %s", e.Buildpack, e.Phase)
	if e.ExitCode > 0 {
		fmt.Fprintf(&b, " exited with code %d", e.ExitCode)
	} else {
		b.WriteString(" failed")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// MaxDetectBytes bounds the bin/detect stdout that is read.
const MaxDetectBytes = 4 << 10

// ParseDetectOutput returns the framework name a passing bin/detect
// printed: its first non-blank line, trimmed, with control characters
// removed and at most 100 runes long (it is shown in the build log). An
// empty result is allowed; the caller substitutes a name.
func ParseDetectOutput(out []byte) string {
	if len(out) > MaxDetectBytes {
		out = out[:MaxDetectBytes]
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var b strings.Builder
		n := 0
		for _, r := range line {
			if r == utf8.RuneError || unicode.IsControl(r) {
				continue
			}
			if n == 100 {
				break
			}
			b.WriteRune(r)
			n++
		}
		return strings.TrimSpace(b.String())
	}
	return ""
}
