package dotenv

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Format writes e as a .env file that [Parse] — and heroku local — reads
// back as e: one KEY=VALUE line per variable, values unquoted when that is
// safe, else in single quotes, else in double quotes. It fails, naming the
// variable, when heroku local has no way to read the value back: a line
// break, or both quote characters in a value that needs quoting.
func Format(e *Env) ([]byte, error) { return Parser{}.Format(e) }

// Format writes e so that p reads it back as e. With Escapes, double
// quotes with backslash escapes can carry any value.
func (p Parser) Format(e *Env) ([]byte, error) {
	if e == nil || len(e.Vars) == 0 {
		return nil, nil
	}
	var b strings.Builder
	seen := make(map[string]bool, len(e.Vars))
	for _, v := range e.Vars {
		if seen[v.Key] {
			return nil, fmt.Errorf("dotenv: format: %q is set twice", v.Key)
		}
		seen[v.Key] = true
		if strings.ContainsAny(v.Key, "=\n") {
			return nil, fmt.Errorf("dotenv: format: key %q holds '=' or a newline", truncate(v.Key))
		}
		val, err := p.quote(v)
		if err != nil {
			return nil, fmt.Errorf("dotenv: format: value of %q %w", truncate(v.Key), err)
		}
		b.WriteString(v.Key)
		b.WriteByte('=')
		b.WriteString(val)
		b.WriteByte('\n')
	}
	out := b.String()
	if json.Valid([]byte(out)) {
		// heroku local would read the file as JSON; a comment line keeps
		// it KEY=VALUE.
		out = "#\n" + out
	}
	if len(out) > MaxSize {
		return nil, fmt.Errorf("%w: formatted file is %d bytes", ErrTooLarge, len(out))
	}
	// Some keys and values (leading spaces, '#' after a line terminator,
	// "export " with Export...) are altered by the reader; rather than
	// predict every case, read the result back and name the first var
	// that does not survive.
	back, err := p.Parse(strings.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("dotenv: format: the result does not read back: %w", err)
	}
	for i, v := range e.Vars {
		if i >= len(back.Vars) || back.Vars[i] != v {
			return nil, fmt.Errorf("dotenv: format: %q=%q cannot be written so that it reads back unchanged", truncate(v.Key), truncate(v.Value))
		}
	}
	if len(back.Vars) != len(e.Vars) {
		return nil, fmt.Errorf("dotenv: format: the result reads back with %d variables, not %d", len(back.Vars), len(e.Vars))
	}
	return []byte(out), nil
}

// quote returns v.Value as written after '=': the first of unquoted,
// single-quoted, double-quoted (escaped with Escapes) that reads back
// unchanged on a line of its own.
func (p Parser) quote(v Var) (string, error) {
	val := v.Value
	candidates := make([]string, 0, 3)
	if val != "" && val[0] != '"' && val[0] != '\'' && strings.IndexByte(val, '\n') < 0 {
		candidates = append(candidates, val)
	}
	if !strings.ContainsAny(val, "'\n") {
		candidates = append(candidates, "'"+val+"'")
	}
	if p.Escapes {
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
		candidates = append(candidates, `"`+r.Replace(val)+`"`)
	} else if !strings.ContainsAny(val, "\"\n") {
		candidates = append(candidates, `"`+val+`"`)
	}
	for _, c := range candidates {
		env, err := p.Parse(strings.NewReader(v.Key + "=" + c + "\n"))
		if err == nil && len(env.Vars) == 1 && env.Vars[0] == v {
			return c, nil
		}
	}
	switch {
	case len(candidates) == 0 && strings.IndexByte(val, '\n') >= 0:
		return "", fmt.Errorf("holds a line break, which heroku local cannot read (Parser{Escapes: true} can)")
	case len(candidates) == 0:
		return "", fmt.Errorf("needs quotes but holds both ' and \", which heroku local cannot read")
	}
	return "", fmt.Errorf("cannot be written so that it reads back unchanged")
}
