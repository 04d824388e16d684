package procfile

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Format returns the canonical text of p: one "<type>: <command>" line per
// entry, in order, each ending in "\n". Parsing the result gives p back.
// It fails, naming the entry, when p holds something no Procfile can
// express: a type that is empty or has characters outside [A-Za-z0-9_-], a
// type defined twice, or a command that contains a line break or starts with
// an ASCII space, tab, vertical tab or form feed (Heroku's parser would eat
// it). Everything [Parse] returns can be formatted.
func Format(p *Procfile) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := p.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTo writes the canonical text of p (see [Format]) to w. Nothing is
// written when p cannot be formatted.
func (p *Procfile) WriteTo(w io.Writer) (int64, error) {
	if p == nil {
		return 0, nil
	}
	if err := p.checkFormattable(); err != nil {
		return 0, err
	}
	size := 0
	for _, e := range p.Entries {
		size += len(e.Type) + len(e.Command) + 3
	}
	b := make([]byte, 0, size)
	for _, e := range p.Entries {
		b = append(b, e.Type...)
		b = append(b, ": "...)
		b = append(b, e.Command...)
		b = append(b, '\n')
	}
	n, err := w.Write(b)
	if err != nil {
		return int64(n), fmt.Errorf("procfile: write: %w", err)
	}
	return int64(n), nil
}

func (p *Procfile) checkFormattable() error {
	seen := make(map[string]int, len(p.Entries))
	for i, e := range p.Entries {
		if e.Type == "" {
			return fmt.Errorf("procfile: format: entry %d has an empty process type", i)
		}
		for j := 0; j < len(e.Type); j++ {
			if !nameByte[e.Type[j]] {
				return fmt.Errorf("procfile: format: entry %d: process type %q has %q; only ASCII letters, digits, '_' and '-' can be written", i, truncate(e.Type), rune(e.Type[j]))
			}
		}
		if first, dup := seen[e.Type]; dup {
			return fmt.Errorf("procfile: format: entry %d: process type %q is already entry %d", i, e.Type, first)
		}
		seen[e.Type] = i
		if k := strings.IndexAny(e.Command, "\r\n"); k >= 0 {
			return fmt.Errorf("procfile: format: entry %d (%s): command has a line break at byte %d", i, e.Type, k)
		}
		if e.Command != "" && rubySpace[e.Command[0]] {
			return fmt.Errorf("procfile: format: entry %d (%s): command starts with %q, which the parser would drop", i, e.Type, rune(e.Command[0]))
		}
	}
	return nil
}
