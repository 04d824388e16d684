package procfile

import (
	"fmt"
	"slices"
	"strings"
)

// Process types with a meaning on the platform.
const (
	// Web is the only type that receives HTTP traffic from the router; its
	// dynos must bind $PORT.
	Web = "web"
	// Release is the command of the release phase, run once per release
	// before its dynos start. It is not scaled like other types.
	Release = "release"
	// OneOff is the type of one-off dynos (heroku run), named run.N.
	OneOff = "run"
)

// MaxNameLen is the longest process type the Platform API accepts.
const MaxNameLen = 128

// Entry is one process type and its command.
type Entry struct {
	Type    string // e.g. "web"
	Command string // run with bash -c inside the dyno; may be empty
}

// Procfile is a parsed Procfile. Entries keep the order of the file and
// hold each type once; the parser guarantees both.
type Procfile struct {
	Entries []Entry
}

// Command returns the command of a process type.
func (p *Procfile) Command(processType string) (string, bool) {
	if p == nil {
		return "", false
	}
	// Backwards, so a hand-built Procfile with duplicates behaves like the
	// parser: the last definition wins.
	for i := len(p.Entries) - 1; i >= 0; i-- {
		if p.Entries[i].Type == processType {
			return p.Entries[i].Command, true
		}
	}
	return "", false
}

// Types returns the process types in file order.
func (p *Procfile) Types() []string {
	if p == nil {
		return nil
	}
	types := make([]string, len(p.Entries))
	for i, e := range p.Entries {
		types[i] = e.Type
	}
	return types
}

// Map returns the entries as a map, the shape of a slug's process_types.
func (p *Procfile) Map() map[string]string {
	m := make(map[string]string)
	if p == nil {
		return m
	}
	for _, e := range p.Entries {
		m[e.Type] = e.Command
	}
	return m
}

// Merge returns the process types of a release: the app's Procfile (p, which
// may be nil when the app has none) plus the buildpack's default process
// types (bin/release default_process_types) that the Procfile does not
// define. The Procfile takes precedence. Procfile entries come first in file
// order, then the remaining defaults sorted by name. Neither input is
// modified.
func Merge(p *Procfile, defaults map[string]string) *Procfile {
	out := &Procfile{}
	if p != nil {
		out.Entries = slices.Clone(p.Entries)
	}
	names := make([]string, 0, len(defaults))
	for name := range defaults {
		if _, ok := out.Command(name); !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		out.Entries = append(out.Entries, Entry{Type: name, Command: defaults[name]})
	}
	return out
}

// OneOffCommand returns what a one-off dyno runs for command, the way
// `heroku run` does: when the first word of command is a process type, that
// word is replaced by the type's command and the rest is appended
// ("myworker 42" with "myworker: python dowork.py" gives "python dowork.py
// 42"). Any other command is returned unchanged. Words are separated by
// spaces and tabs.
func (p *Procfile) OneOffCommand(command string) string {
	trimmed := strings.TrimLeft(command, " \t")
	end := strings.IndexAny(trimmed, " \t")
	if end < 0 {
		end = len(trimmed)
	}
	cmd, ok := p.Command(trimmed[:end])
	if !ok || end == 0 {
		return command
	}
	rest := trimmed[end:]
	if strings.TrimLeft(rest, " \t") == "" {
		return cmd
	}
	return cmd + rest
}

// ValidateName checks a process type against the rule the Platform API
// applies to formation types and slug process_types, ^[-\w]{1,128}$ (ASCII
// letters, digits, '_' and '-', 1 to 128 of them). Every type this rule
// accepts is also one the Procfile parser accepts. The error wraps
// [ErrInvalidName].
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %q is %d characters long, the limit is %d", ErrInvalidName, truncate(name), len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return fmt.Errorf("%w: %q has %q at byte %d; only ASCII letters, digits, '_' and '-' are allowed", ErrInvalidName, truncate(name), rune(name[i]), i)
		}
	}
	return nil
}

// isDNSLabel reports whether name is a lowercase RFC 1123 label of at most
// 63 characters, the key rule of Cloud Native Buildpacks' Procfile spec.
func isDNSLabel(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return true
}

// truncate keeps error messages short for absurd names.
func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:37] + "..."
}
