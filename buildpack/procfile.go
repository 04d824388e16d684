package buildpack

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dynokit/dynokit/procfile"
)

// procType is one Procfile entry, in file order.
type procType struct{ Name, Command string }

// maxProcfileBytes bounds the Procfile that is read.
const maxProcfileBytes = 1 << 20

// readProcfile reads BUILD_DIR/Procfile after the buildpacks ran. found is
// false when there is no Procfile.
func readProcfile(buildDir string) (types []procType, found bool, err error) {
	path := filepath.Join(buildDir, "Procfile")
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("buildpack: read Procfile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxProcfileBytes+1))
	if err != nil {
		return nil, true, fmt.Errorf("buildpack: read Procfile: %w", err)
	}
	if len(data) > maxProcfileBytes {
		return nil, true, fmt.Errorf("buildpack: read Procfile: larger than %d bytes", maxProcfileBytes)
	}
	types, err = parseProcfile(strings.NewReader(string(data)))
	if err != nil {
		return nil, true, fmt.Errorf("buildpack: parse Procfile: %w", err)
	}
	return types, true, nil
}

// parseProcfile is the one place that parses a Procfile: the procfile
// package's lenient, Heroku-compatible parser.
func parseProcfile(r io.Reader) ([]procType, error) {
	p, err := procfile.Parse(r)
	if err != nil {
		return nil, err
	}
	out := make([]procType, 0, len(p.Entries))
	for _, e := range p.Entries {
		out = append(out, procType{Name: e.Type, Command: e.Command})
	}
	return out, nil
}
