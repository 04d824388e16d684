package release_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/release"
)

var nameTests = []struct {
	name     string
	reserved bool // AllowReserved
	rule     release.ConfigRule
	offset   int
}{
	{"FOO", false, "", 0},
	{"foo_bar_9", false, "", 0},
	{"_PRIVATE", false, "", 0},
	{"9LIVES", false, "", 0},
	{"X", false, "", 0},
	{"", false, release.RuleNameEmpty, -1},
	{"FOO-BAR", false, release.RuleNameChars, 3},
	{"FOO BAR", false, release.RuleNameChars, 3},
	{"FOO=BAR", false, release.RuleNameChars, 3},
	{"ÜBER", false, release.RuleNameChars, 0},
	{"A\x00", false, release.RuleNameChars, 1},
	{"__SECRET", false, release.RuleNameDunder, -1},
	{"__", false, release.RuleNameDunder, -1},
	{"HEROKU_POSTGRESQL_JADE_URL", false, release.RuleNameReserved, -1},
	{"HEROKU_POSTGRESQL_JADE_URL", true, "", 0},
	{"HEROKU", false, "", 0},
	{"heroku_lower", false, "", 0},
	{strings.Repeat("A", 256), false, "", 0},
	{strings.Repeat("A", 257), false, release.RuleNameTooLong, -1},
}

func TestValidateName(t *testing.T) {
	for _, tt := range nameTests {
		err := release.ConfigLimits{AllowReserved: tt.reserved}.ValidateName(tt.name)
		if tt.rule == "" {
			if err != nil {
				t.Errorf("ValidateName(%q): %v", tt.name, err)
			}
			continue
		}
		var ce *release.ConfigVarError
		if !errors.As(err, &ce) {
			t.Errorf("ValidateName(%q) = %v, want a *ConfigVarError", tt.name, err)
			continue
		}
		if ce.Rule != tt.rule || ce.Name != tt.name || ce.Offset != tt.offset {
			t.Errorf("ValidateName(%q) = rule %q name %q offset %d; want %q %q %d", tt.name, ce.Rule, ce.Name, ce.Offset, tt.rule, tt.name, tt.offset)
		}
	}
}

func TestValidateVar(t *testing.T) {
	tests := []struct {
		name, value string
		limits      release.ConfigLimits
		rule        release.ConfigRule
	}{
		{"A", "", release.ConfigLimits{}, ""},
		{"A", "multi\nline ✓", release.ConfigLimits{}, ""},
		{"A", "nul\x00inside", release.ConfigLimits{}, release.RuleValueNUL},
		{"A", "bad \xff utf8", release.ConfigLimits{}, release.RuleValueUTF8},
		{"A", strings.Repeat("x", 32*1024-1), release.ConfigLimits{}, ""},
		{"A", strings.Repeat("x", 32*1024), release.ConfigLimits{}, release.RuleVarTooLarge},
		{"AB", "xxx", release.ConfigLimits{MaxVar: 4}, release.RuleVarTooLarge},
		{"AB", "xx", release.ConfigLimits{MaxVar: 4}, ""},
		{"A-B", "v", release.ConfigLimits{}, release.RuleNameChars},
	}
	for _, tt := range tests {
		err := tt.limits.ValidateVar(tt.name, tt.value)
		var ce *release.ConfigVarError
		switch {
		case tt.rule == "" && err != nil:
			t.Errorf("ValidateVar(%q): %v", tt.name, err)
		case tt.rule != "" && (!errors.As(err, &ce) || ce.Rule != tt.rule):
			t.Errorf("ValidateVar(%q, %.20q) = %v, want rule %q", tt.name, tt.value, err, tt.rule)
		}
		if err != nil && len(tt.value) > 8 && strings.Contains(err.Error(), tt.value) {
			t.Errorf("error %q shows the value", err)
		}
	}
}

func TestApply(t *testing.T) {
	base := release.ConfigVars{"KEEP": "1", "DROP": "2", "CHANGE": "old"}
	got, err := release.ConfigLimits{}.Apply(base, release.ConfigChange{
		Set: map[string]string{"CHANGE": "new", "ADD": "3"}, Unset: []string{"DROP", "ABSENT"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := release.ConfigVars{"KEEP": "1", "CHANGE": "new", "ADD": "3"}
	if fmt.Sprint(got.Names()) != fmt.Sprint(want.Names()) || got["CHANGE"] != "new" || got["ADD"] != "3" || got["KEEP"] != "1" {
		t.Fatalf("Apply = %v (values %q %q), want %v", got, got["CHANGE"], got["ADD"], want)
	}
	if base["CHANGE"] != "old" || base["DROP"] != "2" {
		t.Fatal("Apply modified its base")
	}

	fail := []struct {
		ch     release.ConfigChange
		limits release.ConfigLimits
		rule   release.ConfigRule
	}{
		{release.ConfigChange{Set: map[string]string{"A": "1"}, Unset: []string{"A"}}, release.ConfigLimits{}, release.RuleSetAndUnset},
		{release.ConfigChange{Unset: []string{"BAD-NAME"}}, release.ConfigLimits{}, release.RuleNameChars},
		{release.ConfigChange{Set: map[string]string{"HEROKU_APP_NAME": "x"}}, release.ConfigLimits{}, release.RuleNameReserved},
		{release.ConfigChange{Set: map[string]string{"BIG": strings.Repeat("x", 10)}}, release.ConfigLimits{MaxTotal: 15}, release.RuleTotalTooLarge},
	}
	for _, f := range fail {
		_, err := f.limits.Apply(base, f.ch)
		var ce *release.ConfigVarError
		if !errors.As(err, &ce) || ce.Rule != f.rule {
			t.Errorf("Apply(%+v) = %v, want rule %q", f.ch, err, f.rule)
		}
	}
}

func TestValidateTotal(t *testing.T) {
	c := release.ConfigVars{}
	for i := 0; i < 40; i++ {
		c[fmt.Sprintf("VAR_%02d", i)] = strings.Repeat("v", 1000)
	}
	err := release.ConfigLimits{}.Validate(c)
	var ce *release.ConfigVarError
	if !errors.As(err, &ce) || ce.Rule != release.RuleTotalTooLarge || ce.Size != 40*1006 || ce.Limit != 32*1024 {
		t.Fatalf("Validate of 40 KB = %v, want total-size error with size %d", err, 40*1006)
	}
	if !strings.Contains(err.Error(), "40240 bytes, limit 32768") {
		t.Errorf("error %q does not give the sizes", err)
	}
}

// Values must not leak through any fmt verb or through slog.
func TestConfigVarsRedaction(t *testing.T) {
	const secret = "s3cr3t-v4lue"
	r := release.Release{App: "app", Version: 3, Config: release.ConfigVars{"API_KEY": secret, "B": secret}}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outputs["Release "+verb] = fmt.Sprintf(verb, r)
		outputs["*Release "+verb] = fmt.Sprintf(verb, &r)
		outputs["ConfigVars "+verb] = fmt.Sprintf(verb, r.Config)
		outputs["[]Release "+verb] = fmt.Sprintf(verb, []release.Release{r})
	}
	outputs["String"] = r.Config.String()
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("x", "release", r, "config", r.Config)
		outputs[fmt.Sprintf("slog %T", h(&buf))] = buf.String()
	}
	for what, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) || strings.Contains(out, fmt.Sprintf("%X", secret)) {
			t.Errorf("%s leaks the value: %s", what, out)
		}
	}
	if !strings.Contains(outputs["Release %+v"], "API_KEY:[REDACTED]") {
		t.Errorf("%%+v should still show names: %s", outputs["Release %+v"])
	}
	if !strings.Contains(outputs["slog *slog.JSONHandler"], "API_KEY,B") {
		t.Errorf("slog output should show names: %s", outputs["slog *slog.JSONHandler"])
	}
}

func TestConfigVarErrorMessage(t *testing.T) {
	err := release.ConfigLimits{}.ValidateName("FOO-BAR")
	if got, want := err.Error(), `release: config var "FOO-BAR": name may contain only letters, digits and '_' (byte 3)`; got != want {
		t.Errorf("message\n got %s\nwant %s", got, want)
	}
	err = release.ConfigLimits{}.ValidateName("Ü\x01" + strings.Repeat("A", 100))
	if s := err.Error(); strings.ContainsRune(s, 0x01) || !strings.Contains(s, `\u00dc\x01`) || len(s) > 200 {
		t.Errorf("message not escaped or not truncated: %q", s)
	}
}

func FuzzValidateVar(f *testing.F) {
	for _, tt := range nameTests {
		f.Add(tt.name, "value", tt.reserved)
	}
	f.Add("A", "nul\x00", false)
	f.Add("A", "\xff", false)
	f.Fuzz(func(t *testing.T, name, value string, reserved bool) {
		l := release.ConfigLimits{AllowReserved: reserved}
		err := l.ValidateVar(name, value)
		if err == nil {
			// The accepted language, restated independently.
			if name == "" || strings.HasPrefix(name, "__") || !reserved && strings.HasPrefix(name, "HEROKU_") ||
				len(name) > release.DefaultMaxConfigName || len(name)+len(value) > release.DefaultMaxConfigTotal ||
				strings.ContainsRune(value, 0) || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
				t.Fatalf("ValidateVar(%q, %q) accepted an invalid var", name, value)
			}
			return
		}
		var ce *release.ConfigVarError
		if !errors.As(err, &ce) || ce.Name != name {
			t.Fatalf("error %v is not a *ConfigVarError naming %q", err, name)
		}
		// Names are printed ASCII-escaped, so a non-ASCII marker in the
		// value can only reach the message through the value.
		if err := l.ValidateVar(name, "§LEAK§"+value); err != nil && strings.Contains(err.Error(), "§LEAK§") {
			t.Fatalf("error %q shows the value", err)
		}
		if ce.Offset >= 0 && ce.Offset > max(len(name), len(value)) {
			t.Fatalf("offset %d beyond the input", ce.Offset)
		}
	})
}
