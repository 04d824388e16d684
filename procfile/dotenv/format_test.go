package dotenv

import (
	"slices"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		p    Parser
		vars []Var
		want string // "" with wantErr
		err  string
	}{
		{name: "plain and quoted", vars: []Var{{"A", "1"}, {"B", " padded "}, {"C", "#x"}, {"D", `"q"`}, {"E", ""}},
			want: "A=1\nB=' padded '\nC='#x'\nD='\"q\"'\nE=''\n"},
		{name: "short line is quoted", vars: []Var{{"", "x"}}, want: "='x'\n"},
		{name: "line alone would be JSON", vars: []Var{{`["a`, `b"]`}}, want: "[\"a='b\"]'\n"},
		{name: "file would be JSON", vars: []Var{{`{"k`, `v":`}, {`"x`, `y"}`}}, want: "#\n{\"k=v\":\n\"x=y\"}\n"},
		{name: "newline needs escapes", vars: []Var{{"A", "l1\nl2"}}, err: "line break"},
		{name: "newline with escapes", p: Parser{Escapes: true}, vars: []Var{{"A", "l1\nl2 \"q\" 'x' \\"}},
			want: "A=\"l1\\nl2 \\\"q\\\" 'x' \\\\\"\n"},
		{name: "both quotes", vars: []Var{{"A", `'x" `}}, err: "both"},
		{name: "duplicate", vars: []Var{{"A", "1"}, {"A", "2"}}, err: "twice"},
		{name: "equals in key", vars: []Var{{"A=B", "1"}}, err: "'='"},
		{name: "leading space in key", vars: []Var{{" A", "1"}}, err: "reads back"},
		{name: "export key with Export", p: Parser{Export: true}, vars: []Var{{"export A", "1"}}, err: "reads back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.p.Format(&Env{Vars: tt.vars})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Format = %q, %v; want error containing %q", out, err, tt.err)
				}
				return
			}
			if err != nil || string(out) != tt.want {
				t.Fatalf("Format = %q, %v; want %q", out, err, tt.want)
			}
			back, err := tt.p.Parse(strings.NewReader(string(out)))
			if err != nil || !slices.Equal(back.Vars, tt.vars) {
				t.Errorf("round trip = %v, %v", back, err)
			}
		})
	}
	if out, err := Format(nil); err != nil || out != nil {
		t.Errorf("Format(nil) = %q, %v", out, err)
	}
}
