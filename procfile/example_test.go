package procfile_test

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/dynokit/dynokit/procfile"
)

func ExampleParse() {
	src := "# a Rails app\n" +
		"release: rails db:migrate\r\n" +
		"web: bundle exec puma -p $PORT\n" +
		"worker:rake jobs:work\n" // no space after the colon: Heroku ignores it
	p, err := procfile.Parse(strings.NewReader(src))
	if err != nil {
		panic(err)
	}
	for _, e := range p.Entries {
		fmt.Printf("%s => %s\n", e.Type, e.Command)
	}
	cmd, ok := p.Command("web")
	fmt.Println(cmd, ok)
	// Output:
	// release => rails db:migrate
	// web => bundle exec puma -p $PORT
	// bundle exec puma -p $PORT true
}

func ExampleParseStrict() {
	src := "web: bundle exec puma\n" +
		"worker:rake jobs:work\n" +
		"urgent_worker: rake jobs:work QUEUE=urgent\n" +
		"web: bundle exec puma -t 5\n"
	p, err := procfile.ParseStrict(strings.NewReader(src))
	var diags procfile.Errors
	if errors.As(err, &diags) {
		for _, d := range diags {
			fmt.Printf("line %d: %s: %s\n", d.Line, d.Severity, d.Rule)
		}
		fmt.Println("fail the build:", diags.HasErrors())
	}
	// The Procfile is what Heroku would run, problems or not.
	fmt.Println(p.Types())
	// Output:
	// line 2: error: no-space
	// line 3: warning: not-dns-label
	// line 4: warning: duplicate-type
	// fail the build: true
	// [web urgent_worker]
}

func ExampleFormat() {
	p, _ := procfile.ParseString("  web   bundle exec puma\nworker:\trake jobs:work\n")
	b, err := procfile.Format(p)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(b))
	// Output:
	// web: bundle exec puma
	// worker: rake jobs:work
}

func ExampleProcfile_WriteTo() {
	p := &procfile.Procfile{Entries: []procfile.Entry{
		{Type: "web", Command: "node server.js"},
		{Type: "worker", Command: "node worker.js"},
	}}
	if _, err := p.WriteTo(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// web: node server.js
	// worker: node worker.js
}

func ExampleMerge() {
	// The app's Procfile wins over the buildpack's default process types.
	app, _ := procfile.ParseString("web: node --max-old-space-size=400 server.js\n")
	defaults := map[string]string{"web": "npm start", "release": "npm run migrate"}
	for _, e := range procfile.Merge(app, defaults).Entries {
		fmt.Printf("%s: %s\n", e.Type, e.Command)
	}
	// Output:
	// web: node --max-old-space-size=400 server.js
	// release: npm run migrate
}

func ExampleProcfile_OneOffCommand() {
	p, _ := procfile.ParseString("myworker: python dowork.py\n")
	fmt.Println(p.OneOffCommand("myworker 42")) // heroku run myworker 42
	fmt.Println(p.OneOffCommand("bash"))
	// Output:
	// python dowork.py 42
	// bash
}

func ExampleValidateName() {
	for _, name := range []string{"web", "my.worker"} {
		fmt.Println(name, procfile.ValidateName(name))
	}
	// Output:
	// web <nil>
	// my.worker procfile: invalid process type name: "my.worker" has '.' at byte 2; only ASCII letters, digits, '_' and '-' are allowed
}
