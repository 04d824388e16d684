package dotenv

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// nodeScript loads .env inputs with node-foreman's own functions, the way
// its loadEnvsFile does (JSON first, then KEY=VALUE), and prints the result.
const nodeScript = `
const envs = require(process.argv[1]);
let data = '';
process.stdin.on('data', c => data += c);
process.stdin.on('end', () => {
  const out = JSON.parse(data).map(b64 => {
    const buf = Buffer.from(b64, 'base64');
    let env;
    try {
      try { env = envs.flattenJSON(JSON.parse(buf), '', {}); }
      catch (e) { env = envs.keyValue(buf); }
    } catch (e) { return {error: String(e)}; }
    const o = Object.create(null);
    for (const k of Object.keys(env)) o[k] = String(env[k]);
    return {env: o};
  });
  process.stdout.write(JSON.stringify(out));
});
`

// TestNodeForeman compares Parse with node-foreman 3.0.1, the parser behind
// heroku local, on the table inputs and on random inputs built from the
// characters that matter. It needs node and node-foreman's lib/envs.js
// (from `npm pack foreman@3.0.1`), so it runs only when
// DOTENV_NODE_FOREMAN names that file.
func TestNodeForeman(t *testing.T) {
	envsJS := os.Getenv("DOTENV_NODE_FOREMAN")
	if envsJS == "" {
		t.Skip("set DOTENV_NODE_FOREMAN=/path/to/foreman/lib/envs.js to compare with node-foreman")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("DOTENV_NODE_FOREMAN is set but node is not on PATH")
	}
	var inputs []string
	for _, tt := range parseTests {
		inputs = append(inputs, tt.in)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		inputs = append(inputs, randomEnvFile(rng))
	}
	for range 5000 {
		inputs = append(inputs, randomJSON(rng, 0))
	}
	// Fuzz corpora hold coverage-guided oddities: add the seeds in
	// testdata and, when DOTENV_NODE_CORPUS names one, a fuzz cache
	// directory.
	for _, dir := range []string{filepath.Join("testdata", "fuzz", "FuzzParse"), os.Getenv("DOTENV_NODE_CORPUS")} {
		if dir == "" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, arg, ok := strings.Cut(string(b), "\nstring(")
			if !ok {
				continue
			}
			s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(arg), ")")))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			inputs = append(inputs, s)
		}
	}
	enc := make([]string, len(inputs))
	for i, in := range inputs {
		enc[i] = base64.StdEncoding.EncodeToString([]byte(in))
	}
	stdin, _ := json.Marshal(enc)
	cmd := exec.Command(node, "-e", nodeScript, envsJS)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var results []struct {
		Error string            `json:"error"`
		Env   map[string]string `json:"env"`
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatal(err)
	}
	failures, nodeErrors, nonEmpty := 0, 0, 0
	for i, in := range inputs {
		res := results[i]
		if res.Error != "" {
			nodeErrors++
		} else if len(res.Env) > 0 {
			nonEmpty++
		}
		env, err := Parse(strings.NewReader(in))
		switch {
		case res.Error != "" && err == nil:
			t.Errorf("input %q: node-foreman fails (%s), Parse gives %q", in, res.Error, env.Vars)
		case res.Error == "" && err != nil:
			t.Errorf("input %q: node-foreman gives %q, Parse fails: %v", in, res.Env, err)
		case res.Error == "":
			got := make(map[string]string)
			for _, v := range env.Vars {
				got[v.Key] = v.Value
			}
			if !maps.Equal(got, res.Env) {
				t.Errorf("input %q:\nParse        %q\nnode-foreman %q", in, got, res.Env)
			} else {
				continue
			}
		default:
			continue
		}
		if failures++; failures > 20 {
			t.Fatal("too many differences")
		}
	}
	t.Logf("%d inputs: node-foreman failed on %d, gave a non-empty env for %d; %d differences", len(inputs), nodeErrors, nonEmpty, failures)
}

var envTokens = []string{
	"A", "b", "KEY", "export ", "=", "==", "'", "\"", "#", " ", "  ", "\t", "\r", "\n", "\n", "\r\n",
	"\u2028", "\u2029", "\u00a0", "\uFEFF", "\u0085", "\\n", "\\", "\\\"", "x", "{", "}", "[", "]",
	":", ",", "1", "2.5e21", "\xff", "\xe2\x82", "__proto__", "é", "😀", "null", "true", "\"k\"", "\v",
}

func randomEnvFile(rng *rand.Rand) string {
	var b strings.Builder
	n := rng.IntN(24)
	for range n {
		b.WriteString(envTokens[rng.IntN(len(envTokens))])
	}
	return b.String()
}

var jsonKeys = []string{`"a"`, `"B"`, `"0"`, `"1"`, `"10"`, `"01"`, `"4294967294"`, `"4294967295"`, `"a_b"`, `"ß"`, `"é"`, `"__proto__"`, `""`, `"-1"`}
var jsonScalars = []string{`"v"`, `""`, `"line\nbreak"`, `"\ud800"`, `"😀"`, `0`, `-0`, `1`, `-2.5`, `1e21`, `1e-7`, `123456789012345678901234`,
	`0.000001`, `1.7976931348623157e308`, `1e400`, `-1e400`, `5e-324`, `0.1`, `true`, `false`, `null`, `[]`, `{}`}

func randomJSON(rng *rand.Rand, depth int) string {
	if depth > 3 || rng.IntN(3) == 0 {
		return jsonScalars[rng.IntN(len(jsonScalars))]
	}
	n := rng.IntN(5)
	parts := make([]string, n)
	if rng.IntN(3) == 0 {
		for i := range parts {
			parts[i] = randomJSON(rng, depth+1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	for i := range parts {
		parts[i] = jsonKeys[rng.IntN(len(jsonKeys))] + ":" + randomJSON(rng, depth+1)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
