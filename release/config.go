package release

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ConfigVars maps config var names to values. Its String, Format, GoString
// and LogValue methods print names only, so that a Release printed with
// %v, %+v, %#v or logged with slog never shows a secret.
type ConfigVars map[string]string

const redacted = "[REDACTED]"

// Names returns the sorted names.
func (c ConfigVars) Names() []string {
	return slices.Sorted(maps.Keys(c))
}

// String prints "map[A:[REDACTED] B:[REDACTED]]".
func (c ConfigVars) String() string {
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range c.Names() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteString(":" + redacted)
	}
	b.WriteByte(']')
	return b.String()
}

// Format redacts for every verb (including %d or %x, which would otherwise
// print the map's values).
func (c ConfigVars) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, c.GoString())
		return
	}
	io.WriteString(f, c.String())
}

// GoString prints a Go-like literal with redacted values.
func (c ConfigVars) GoString() string {
	var b strings.Builder
	b.WriteString("release.ConfigVars{")
	for i, k := range c.Names() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(k) + ":\"" + redacted + "\"")
	}
	b.WriteByte('}')
	return b.String()
}

// LogValue logs the sorted names only.
func (c ConfigVars) LogValue() slog.Value {
	return slog.StringValue(strings.Join(c.Names(), ","))
}

// ConfigRule names the rule a config var broke (heroku.md §9.7).
type ConfigRule string

const (
	RuleNameEmpty     ConfigRule = "name is empty"
	RuleNameChars     ConfigRule = "name may contain only letters, digits and '_'"
	RuleNameTooLong   ConfigRule = "name is longer than the limit"
	RuleNameDunder    ConfigRule = "name must not start with \"__\""
	RuleNameReserved  ConfigRule = "names starting with \"HEROKU_\" are reserved for the platform"
	RuleValueNUL      ConfigRule = "value contains a NUL byte"
	RuleValueUTF8     ConfigRule = "value is not valid UTF-8"
	RuleVarTooLarge   ConfigRule = "name and value together exceed the per-var limit"
	RuleTotalTooLarge ConfigRule = "all names and values together exceed the per-app limit"
	RuleSetAndUnset   ConfigRule = "name is both set and unset in one change"
	RuleAddonOwned    ConfigRule = "var is owned by an add-on attachment; change it through the add-on"
	RuleAddonPrefix   ConfigRule = "an add-on's vars must start with its attachment name and '_'"
)

// ConfigVarError reports a config var that breaks a rule. It names the var
// and the rule but never carries the value.
type ConfigVarError struct {
	Name   string // "" for RuleTotalTooLarge
	Rule   ConfigRule
	Offset int // byte offset of the offending byte in Name or value, -1 when not applicable
	Size   int // the size that broke a size rule, 0 otherwise
	Limit  int // the limit that was broken, 0 otherwise
}

func (e *ConfigVarError) Error() string {
	var b strings.Builder
	b.WriteString("release: config var")
	if e.Rule != RuleTotalTooLarge {
		b.WriteString(" " + strconv.QuoteToASCII(truncate(e.Name, 64)))
	}
	b.WriteString(": " + string(e.Rule))
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (byte %d)", e.Offset)
	}
	if e.Limit > 0 {
		fmt.Fprintf(&b, " (%d bytes, limit %d)", e.Size, e.Limit)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Default config limits. Heroku documents 32 KB for all keys and values
// together (16 KB in 2014); the name limit is dynokit's own choice.
const (
	DefaultMaxConfigTotal = 32 * 1024
	DefaultMaxConfigName  = 256
)

// ConfigLimits bounds config vars. The zero value means the defaults.
type ConfigLimits struct {
	MaxTotal int // all names + values of an app, bytes
	MaxVar   int // one name + value, bytes; 0 means MaxTotal
	MaxName  int // one name, bytes
	// AllowReserved permits HEROKU_-prefixed names: set it only for vars
	// the platform itself sets (add-on attachments such as
	// HEROKU_POSTGRESQL_JADE_URL).
	AllowReserved bool
}

func (l ConfigLimits) withDefaults() ConfigLimits {
	if l.MaxTotal <= 0 {
		l.MaxTotal = DefaultMaxConfigTotal
	}
	if l.MaxVar <= 0 || l.MaxVar > l.MaxTotal {
		l.MaxVar = l.MaxTotal
	}
	if l.MaxName <= 0 {
		l.MaxName = DefaultMaxConfigName
	}
	return l
}

// ValidateName checks one config var name: letters, digits and '_' only
// (Heroku's ^\w+$ restricted to ASCII), not starting with "__", not
// starting with "HEROKU_" unless l.AllowReserved, at most l.MaxName bytes.
// The error is a *ConfigVarError.
func (l ConfigLimits) ValidateName(name string) error {
	l = l.withDefaults()
	if name == "" {
		return &ConfigVarError{Name: name, Rule: RuleNameEmpty, Offset: -1}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return &ConfigVarError{Name: name, Rule: RuleNameChars, Offset: i}
		}
	}
	if len(name) > l.MaxName {
		return &ConfigVarError{Name: name, Rule: RuleNameTooLong, Offset: -1, Size: len(name), Limit: l.MaxName}
	}
	if strings.HasPrefix(name, "__") {
		return &ConfigVarError{Name: name, Rule: RuleNameDunder, Offset: -1}
	}
	if !l.AllowReserved && strings.HasPrefix(name, "HEROKU_") {
		return &ConfigVarError{Name: name, Rule: RuleNameReserved, Offset: -1}
	}
	return nil
}

// ValidateVar checks one name and its value.
func (l ConfigLimits) ValidateVar(name, value string) error {
	l = l.withDefaults()
	if err := l.ValidateName(name); err != nil {
		return err
	}
	if i := strings.IndexByte(value, 0); i >= 0 {
		return &ConfigVarError{Name: name, Rule: RuleValueNUL, Offset: i}
	}
	if !utf8.ValidString(value) {
		off := 0
		for off < len(value) {
			r, size := utf8.DecodeRuneInString(value[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return &ConfigVarError{Name: name, Rule: RuleValueUTF8, Offset: off}
	}
	if n := len(name) + len(value); n > l.MaxVar {
		return &ConfigVarError{Name: name, Rule: RuleVarTooLarge, Offset: -1, Size: n, Limit: l.MaxVar}
	}
	return nil
}

// Validate checks every var and the total size. Vars are checked in name
// order so the error is deterministic.
func (l ConfigLimits) Validate(c ConfigVars) error {
	l = l.withDefaults()
	total := 0
	for _, k := range c.Names() {
		if err := l.ValidateVar(k, c[k]); err != nil {
			return err
		}
		total += len(k) + len(c[k])
	}
	if total > l.MaxTotal {
		return &ConfigVarError{Rule: RuleTotalTooLarge, Offset: -1, Size: total, Limit: l.MaxTotal}
	}
	return nil
}

// ConfigChange is one atomic edit of config vars: every var in Set is set,
// every name in Unset is removed, all in one new release.
type ConfigChange struct {
	Set   map[string]string
	Unset []string
}

// Apply returns base with the change applied, validated against l. Names
// in Set are validated individually (so a platform-owned HEROKU_ var that
// is already present can still be read back and re-set only with
// l.AllowReserved); names in Unset must be valid names too.
func (l ConfigLimits) Apply(base ConfigVars, ch ConfigChange) (ConfigVars, error) {
	for _, k := range slices.Sorted(maps.Keys(ch.Set)) {
		if err := l.ValidateVar(k, ch.Set[k]); err != nil {
			return nil, err
		}
	}
	for _, k := range ch.Unset {
		if err := l.ValidateName(k); err != nil {
			return nil, err
		}
		if _, ok := ch.Set[k]; ok {
			return nil, &ConfigVarError{Name: k, Rule: RuleSetAndUnset, Offset: -1}
		}
	}
	out := maps.Clone(base)
	if out == nil {
		out = ConfigVars{}
	}
	for _, k := range ch.Unset {
		delete(out, k)
	}
	maps.Copy(out, ch.Set)
	total := 0
	for k, v := range out {
		total += len(k) + len(v)
	}
	if lim := l.withDefaults().MaxTotal; total > lim {
		return nil, &ConfigVarError{Rule: RuleTotalTooLarge, Offset: -1, Size: total, Limit: lim}
	}
	return out, nil
}
