package dotenv_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dynokit/dynokit/procfile/dotenv"
)

func ExampleParse() {
	src := `# local settings for heroku local
DATABASE_URL=postgres://localhost/app_dev
SECRET='s3cr#t'          # single quotes keep the '#'
GREETING="Hello, world"
CERT="line1\nline2"
`
	env, err := dotenv.Parse(strings.NewReader(src))
	if err != nil {
		panic(err)
	}
	for _, v := range env.Vars {
		fmt.Printf("%s=%q\n", v.Key, v.Value)
	}
	// Output:
	// DATABASE_URL="postgres://localhost/app_dev"
	// SECRET="s3cr#t"
	// GREETING="Hello, world"
	// CERT="line1\\nline2"
}

func ExampleParseStrict() {
	src := "export PORT=5000\nEMPTY=\nCOLOR=#fff\nPASSWORD=\"unclosed\n"
	env, err := dotenv.ParseStrict(strings.NewReader(src))
	var diags dotenv.Errors
	if errors.As(err, &diags) {
		for _, d := range diags {
			fmt.Printf("line %d: %s: %s\n", d.Line, d.Severity, d.Rule)
		}
	}
	// heroku local cannot start with an unterminated quote: no Env.
	fmt.Println(env == nil)
	// Output:
	// line 1: warning: export
	// line 1: warning: invalid-key
	// line 3: warning: hash-in-value
	// line 4: error: unterminated-quote
	// true
}

func ExampleParser() {
	// Accept what Ruby foreman and forego accept too.
	p := dotenv.Parser{Export: true, Escapes: true}
	env, err := p.Parse(strings.NewReader("export CERT=\"line1\\nline2\"\n"))
	if err != nil {
		panic(err)
	}
	v, _ := env.Lookup("CERT")
	fmt.Printf("%q\n", v)
	// Output:
	// "line1\nline2"
}

func ExampleFormat() {
	env := &dotenv.Env{Vars: []dotenv.Var{
		{Key: "PLAIN", Value: "value"},
		{Key: "HASH", Value: "a#b"},
		{Key: "QUOTED", Value: "'single' quotes"},
		{Key: "EMPTY", Value: ""},
	}}
	out, err := dotenv.Format(env)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// PLAIN=value
	// HASH='a#b'
	// QUOTED="'single' quotes"
	// EMPTY=''
}

func ExampleEnv_Environ() {
	env, _ := dotenv.Parse(strings.NewReader("PORT=5000\nRACK_ENV=development\n"))
	// Ready for exec.Cmd.Env, after the platform's own variables.
	fmt.Println(env.Environ())
	// Output:
	// [PORT=5000 RACK_ENV=development]
}
