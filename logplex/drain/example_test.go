package drain_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/drain"
	"github.com/dynokit/dynokit/logplex/syslog"
)

// A syslog drain delivering into a syslog listener, both in process.
func ExampleSyslog() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var received logplex.Buffer
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	listener := &syslog.Listener{Sink: &received, Route: syslog.DrainRoute("demo")}
	go listener.Serve(ctx, ln)

	d := &drain.Syslog{Addr: ln.Addr().String(), Token: "d.0d9e2c5a-7f6b-4f3e-9a51-1c2b3d4e5f60"}
	go d.Run(ctx)
	ts := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	d.Send(ctx, logplex.Message{Time: ts, App: "demo", Source: "app", Proc: "web.1", Text: "hello, drain"})
	if err := d.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	for received.Len("demo") == 0 {
		time.Sleep(time.Millisecond)
	}
	for m := range received.Tail(ctx, "demo", logplex.TailOptions{Lines: 1}) {
		fmt.Println(m)
	}
	fmt.Printf("%+v\n", d.Stats())
	// Output:
	// 2026-11-21T12:00:00.000000+00:00 app[web.1]: hello, drain
	// {Sent:1 Delivered:1 Dropped:0 Reported:0 Notices:0 Queued:0}
}

func ExampleNew() {
	for _, u := range []string{"syslog+tls://logs.example.com:6514", "https://logs.example.com/drain", "ftp://x"} {
		d, err := drain.New(u, "d.0d9e2c5a", nil)
		fmt.Printf("%T %v\n", d, err)
	}
	// Output:
	// *drain.Syslog <nil>
	// *drain.HTTPS <nil>
	// <nil> drain: url "ftp://x": scheme "ftp": want syslog, syslog+tls, https or http
}
