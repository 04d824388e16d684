package buildpack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxReleaseBytes bounds the bin/release output that ParseRelease accepts.
const MaxReleaseBytes = 1 << 20

// Release is what a buildpack's bin/release printed (heroku.md §2.3).
type Release struct {
	// DefaultProcessTypes maps a process type to its command.
	DefaultProcessTypes map[string]string
	// Addons are add-on plan names (Heroku applies them on the first
	// deploy only; the caller decides).
	Addons []string
	// ConfigVars are legacy default config vars.
	ConfigVars map[string]string
}

// ReleaseError is a bin/release output that does not follow the format.
// Field is the YAML path that is wrong ("default_process_types.web"), or
// empty for the document as a whole.
type ReleaseError struct {
	Field string
	Line  int // 1-based; 0 when unknown
	Msg   string
}

func (e *ReleaseError) Error() string {
	var b strings.Builder
	b.WriteString("bin/release output")
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// processTypeName is the Platform API pattern for process types
// (heroku.md §1.4).
var processTypeName = regexp.MustCompile(`^[-\w]{1,128}$`)

// ParseRelease parses bin/release output. Empty output (or an empty YAML
// document) is a valid release with nothing in it. Unknown top-level keys
// are ignored, as Heroku does; known keys with the wrong shape are a
// *ReleaseError naming the field.
func ParseRelease(data []byte) (Release, error) {
	var rel Release
	if len(data) > MaxReleaseBytes {
		return rel, &ReleaseError{Msg: fmt.Sprintf("output is %d bytes, more than the limit of %d", len(data), MaxReleaseBytes)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return rel, nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return rel, nil
		}
		return rel, &ReleaseError{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return rel, nil
	}
	root := doc.Content[0]
	if isNull(root) {
		return rel, nil
	}
	if root.Kind != yaml.MappingNode {
		return rel, &ReleaseError{Line: root.Line, Msg: "want a YAML mapping with default_process_types, addons, config_vars; got " + kindName(root)}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return Release{}, &ReleaseError{Line: k.Line, Msg: "keys must be strings, got " + kindName(k)}
		}
		if seen[k.Value] {
			return Release{}, &ReleaseError{Field: k.Value, Line: k.Line, Msg: "duplicate key"}
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "default_process_types":
			rel.DefaultProcessTypes, err = stringMap(k.Value, v, func(key string) string {
				if !processTypeName.MatchString(key) {
					return "process type must match " + processTypeName.String()
				}
				return ""
			})
		case "config_vars":
			rel.ConfigVars, err = stringMap(k.Value, v, func(key string) string { return configVarRule(key) })
		case "addons":
			rel.Addons, err = stringList(k.Value, v)
		}
		if err != nil {
			return Release{}, err
		}
	}
	return rel, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "a scalar (" + strings.TrimPrefix(n.Tag, "!!") + ")"
	}
	return "an unknown node"
}

// scalar accepts a plain scalar of any scalar type; YAML turns "5000" and
// "true" into numbers and booleans, but a command or value is text.
func scalar(field string, n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", &ReleaseError{Field: field, Line: n.Line, Msg: "want a string, got " + kindName(n)}
	}
	return n.Value, nil
}

func stringMap(field string, n *yaml.Node, keyRule func(string) string) (map[string]string, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, &ReleaseError{Field: field, Line: n.Line, Msg: "want a mapping of strings, got " + kindName(n)}
	}
	m := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, err := scalar(field, k)
		if err != nil {
			return nil, &ReleaseError{Field: field, Line: k.Line, Msg: "keys must be strings, got " + kindName(k)}
		}
		sub := field + "." + key
		if msg := keyRule(key); msg != "" {
			return nil, &ReleaseError{Field: sub, Line: k.Line, Msg: msg}
		}
		if _, dup := m[key]; dup {
			return nil, &ReleaseError{Field: sub, Line: k.Line, Msg: "duplicate key"}
		}
		val, err := scalar(sub, v)
		if err != nil {
			return nil, err
		}
		m[key] = val
	}
	return m, nil
}

func stringList(field string, n *yaml.Node) ([]string, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, &ReleaseError{Field: field, Line: n.Line, Msg: "want a list of strings, got " + kindName(n)}
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		s, err := scalar(fmt.Sprintf("%s[%d]", field, i), item)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, &ReleaseError{Field: fmt.Sprintf("%s[%d]", field, i), Line: item.Line, Msg: "add-on plan name is empty"}
		}
		out = append(out, s)
	}
	return out, nil
}

// configVarRule returns why key is not a usable config var name, or "".
// It follows heroku.md §9.7 loosely: the name becomes a file in ENV_DIR
// and an environment variable, so it must be a shell identifier.
func configVarRule(key string) string {
	if key == "" {
		return "config var name is empty"
	}
	if len(key) > 256 {
		return "config var name is longer than 256 bytes"
	}
	for i, c := range key {
		ok := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return "config var name must be letters, digits and _ and not start with a digit"
		}
	}
	return ""
}
