package logplex_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/dynokit/dynokit/logplex"
)

func ExampleMessage_String() {
	m := logplex.Message{
		Time:   time.Date(2010, 9, 16, 15, 13, 46, 677020000, time.UTC),
		App:    "demo",
		Source: logplex.SourceApp,
		Proc:   "web.1",
		Text:   "Processing PostController#list",
	}
	fmt.Println(m)
	// Output: 2010-09-16T15:13:46.677020+00:00 app[web.1]: Processing PostController#list
}

func ExampleBuffer_Tail() {
	ctx := context.Background()
	var logs logplex.Buffer
	ts := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	send := func(source, proc, text string) {
		ts = ts.Add(time.Second)
		logs.Send(ctx, logplex.Message{Time: ts, App: "demo", Source: source, Proc: proc, Text: text})
	}
	send("heroku", "web.1", "State changed from starting to up")
	send("app", "web.1", "listening on :5000")
	send("app", "worker.1", "job 1 done")
	send("app", "web.2", "listening on :5000")

	// heroku logs -n 200 --source app --dyno web
	for m, err := range logs.Tail(ctx, "demo", logplex.TailOptions{Lines: 200, Source: "app", Dyno: "web"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(m)
	}
	// Output:
	// 2026-11-21T12:00:02.000000+00:00 app[web.1]: listening on :5000
	// 2026-11-21T12:00:04.000000+00:00 app[web.2]: listening on :5000
}

func ExampleNewLineWriter() {
	ctx := context.Background()
	var logs logplex.Buffer
	stdout := logplex.NewLineWriter(&logs, logplex.Message{App: "demo", Source: "app", Proc: "web.1"})
	io.WriteString(stdout, "Starting server\r\nlistening")
	io.WriteString(stdout, " on :5000\npartial last line")
	stdout.Close()
	for m := range logs.Tail(ctx, "demo", logplex.TailOptions{Lines: 10}) {
		fmt.Printf("%s[%s]: %s\n", m.Source, m.Proc, m.Text)
	}
	// Output:
	// app[web.1]: Starting server
	// app[web.1]: listening on :5000
	// app[web.1]: partial last line
}

func ExampleNewHandler() {
	ctx := context.Background()
	var logs logplex.Buffer
	router := slog.New(logplex.NewHandler(&logs, logplex.Message{Source: "heroku", Proc: "router"}, nil))
	router.Info("", "app", "demo", "method", "GET", "path", "/", "status", 200)
	for m := range logs.Tail(ctx, "demo", logplex.TailOptions{Lines: 1}) {
		fmt.Printf("%s[%s]: %s\n", m.Source, m.Proc, m.Text)
	}
	// Output: heroku[router]: at=info method=GET path=/ status=200
}

// A log session read the way `heroku logs` reads it: a GET on the session
// URL, here as plain text.
func ExampleSessions() {
	ctx := context.Background()
	var logs logplex.Buffer
	ts := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	logs.Send(ctx, logplex.Message{Time: ts, App: "demo", Source: "app", Proc: "web.1", Text: "hello"})
	logs.Send(ctx, logplex.Message{Time: ts, App: "demo", Source: "heroku", Proc: "router", Text: "at=info status=200"})

	sessions := &logplex.Sessions{Source: &logs}
	srv := httptest.NewServer(sessions)
	defer srv.Close()
	sess, err := sessions.Create("demo", logplex.SessionOptions{Lines: 200, Source: "app"})
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := http.Get(sess.URL(srv.URL + "/sessions"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	// Output: 2026-11-21T12:00:00.000000+00:00 app[web.1]: hello
}
