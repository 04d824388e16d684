package addons

import (
	"fmt"
	"strings"
)

// Rule names the rule a name broke.
type Rule string

// Naming rules (heroku.md §8.1 for add-on names, §8.2 and §9.7 for
// attachment and config var names).
const (
	RuleEmpty         Rule = "must not be empty"
	RuleTooLong       Rule = "is longer than the limit"
	RuleAttachChars   Rule = "must start with an upper-case letter and contain only A-Z, 0-9 and '_'"
	RuleAttachUnders  Rule = "must not contain \"__\" or end with '_'"
	RuleAddonChars    Rule = "must start with a letter and contain only letters, digits, '_' and '-' (at least 2 characters)"
	RuleVarChars      Rule = "may contain only letters, digits and '_'"
	RuleVarDunder     Rule = "must not start with \"__\""
	RuleVarReserved   Rule = "must not start with \"HEROKU_\" (reserved for the platform)"
	RuleVarPrefix     Rule = "must start with the service's config prefix"
	RuleVarClash      Rule = "is already set by another attachment on the app"
	RuleVarDuplicated Rule = "differs from another var of the same resource only in case"
)

// Name length limits.
const (
	MaxAttachmentName = 64
	MaxAddonName      = 64
	MaxConfigVarName  = 256
)

// NameError reports an invalid add-on or attachment name.
type NameError struct {
	Kind string // "attachment name", "add-on name", "config prefix"
	Name string
	Rule Rule
}

func (e *NameError) Error() string {
	return fmt.Sprintf("addons: %s %q %s", e.Kind, truncate(e.Name, 80), e.Rule)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *NameError) Is(target error) bool { return target == ErrInvalid }

// ConfigVarError reports a config var name that breaks a rule. Values are
// never included: they are secrets.
type ConfigVarError struct {
	Service string // whose provider returned it, when known
	Name    string
	Rule    Rule
	Detail  string // e.g. the expected prefix, or the attachment that owns the var
}

func (e *ConfigVarError) Error() string {
	var b strings.Builder
	b.WriteString("addons: ")
	if e.Service != "" {
		fmt.Fprintf(&b, "service %s returned ", e.Service)
	}
	fmt.Fprintf(&b, "config var %q %s", truncate(e.Name, 80), e.Rule)
	if e.Detail != "" {
		b.WriteString(" (" + e.Detail + ")")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ConfigVarError) Is(target error) bool { return target == ErrInvalid }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ValidateAttachmentName checks an attachment name such as DATABASE or
// HEROKU_POSTGRESQL_JADE: it becomes the prefix of config var names, so
// it follows config var rules and a stricter upper-case convention.
func ValidateAttachmentName(name string) error {
	return validatePrefix("attachment name", name, MaxAttachmentName)
}

func validatePrefix(kind, name string, limit int) error {
	switch {
	case name == "":
		return &NameError{Kind: kind, Name: name, Rule: RuleEmpty}
	case len(name) > limit:
		return &NameError{Kind: kind, Name: name, Rule: RuleTooLong}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		upper := c >= 'A' && c <= 'Z'
		if !(upper || i > 0 && (c >= '0' && c <= '9' || c == '_')) {
			return &NameError{Kind: kind, Name: name, Rule: RuleAttachChars}
		}
	}
	if strings.Contains(name, "__") || strings.HasSuffix(name, "_") {
		return &NameError{Kind: kind, Name: name, Rule: RuleAttachUnders}
	}
	return nil
}

// ValidateAddonName checks an add-on name (heroku.md §8.1:
// ^[a-zA-Z][A-Za-z0-9_-]+$).
func ValidateAddonName(name string) error {
	const kind = "add-on name"
	switch {
	case name == "":
		return &NameError{Kind: kind, Name: name, Rule: RuleEmpty}
	case len(name) > MaxAddonName:
		return &NameError{Kind: kind, Name: name, Rule: RuleTooLong}
	case len(name) < 2:
		return &NameError{Kind: kind, Name: name, Rule: RuleAddonChars}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !(letter || i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-')) {
			return &NameError{Kind: kind, Name: name, Rule: RuleAddonChars}
		}
	}
	return nil
}

// ValidateConfigVarName checks a config var name against heroku.md §9.7.
// Names starting with HEROKU_ are refused: providers must not set them.
func ValidateConfigVarName(name string) error {
	switch {
	case name == "":
		return &ConfigVarError{Name: name, Rule: RuleEmpty}
	case len(name) > MaxConfigVarName:
		return &ConfigVarError{Name: name, Rule: RuleTooLong}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return &ConfigVarError{Name: name, Rule: RuleVarChars}
		}
	}
	if strings.HasPrefix(name, "__") {
		return &ConfigVarError{Name: name, Rule: RuleVarDunder}
	}
	if strings.HasPrefix(strings.ToUpper(name), "HEROKU_") {
		return &ConfigVarError{Name: name, Rule: RuleVarReserved}
	}
	return nil
}

// ValidateResourceConfig checks the config a provider returned for a
// service whose vars must start with prefix+"_" (kensa's rule: all vars
// of an add-on share its prefix), and returns the suffixes ("URL" for
// DATABASE_URL) in name order.
func ValidateResourceConfig(service, prefix string, cfg Config) ([]string, error) {
	seen := make(map[string]string, len(cfg))
	suffixes := make([]string, 0, len(cfg))
	for _, name := range cfg.Names() {
		if err := ValidateConfigVarName(name); err != nil {
			err.(*ConfigVarError).Service = service
			return nil, err
		}
		suffix, ok := strings.CutPrefix(name, prefix+"_")
		if !ok || suffix == "" {
			return nil, &ConfigVarError{Service: service, Name: name, Rule: RuleVarPrefix, Detail: "expected " + prefix + "_<NAME>"}
		}
		if other, dup := seen[strings.ToUpper(name)]; dup {
			return nil, &ConfigVarError{Service: service, Name: name, Rule: RuleVarDuplicated, Detail: "also returned " + other}
		}
		seen[strings.ToUpper(name)] = name
		suffixes = append(suffixes, suffix)
	}
	return suffixes, nil
}
