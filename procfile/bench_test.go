package procfile

import (
	"fmt"
	"strings"
	"testing"
)

// benchProcfile is a 10,000-line Procfile shaped like real ones, scaled up:
// entries with typical commands, some comments, blank lines, CRLF endings
// and lines Heroku ignores.
func benchProcfile() string {
	var b strings.Builder
	commands := []string{
		"bundle exec puma -C config/puma.rb",
		"bundle exec sidekiq -q default -q mailers -c $SIDEKIQ_CONCURRENCY",
		"node --max-old-space-size=400 dist/server.js",
		"gunicorn app.wsgi:application --bind 0.0.0.0:$PORT --workers 3",
		"python manage.py rqworker high default low",
		"bin/start-nginx bundle exec unicorn -c config/unicorn.rb",
	}
	for i := 0; i < 10000; i++ {
		switch {
		case i%50 == 0:
			b.WriteString("# ---- section " + fmt.Sprint(i/50) + " ----\n")
		case i%37 == 0:
			b.WriteString("\n")
		case i%101 == 0:
			fmt.Fprintf(&b, "worker%d:%s\n", i, commands[i%len(commands)]) // ignored
		case i%7 == 0:
			fmt.Fprintf(&b, "clock_%d: %s\r\n", i, commands[i%len(commands)])
		default:
			fmt.Fprintf(&b, "worker-%d: %s\n", i, commands[i%len(commands)])
		}
	}
	return b.String()
}

func BenchmarkParse(b *testing.B) {
	src := benchProcfile()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		r := strings.NewReader(src)
		if _, err := Parse(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseStrict(b *testing.B) {
	src := benchProcfile()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		p, _ := ParseStrict(strings.NewReader(src))
		if p == nil {
			b.Fatal("nil")
		}
	}
}

// BenchmarkReferenceRegexp is the obvious regexp implementation the fuzzer
// compares against, for scale.
func BenchmarkReferenceRegexp(b *testing.B) {
	src := benchProcfile()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if len(referenceParse(src)) == 0 {
			b.Fatal("no entries")
		}
	}
}
