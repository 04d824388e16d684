package drain_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/drain"
)

// Send → syslog drain → a local TCP sink that reads and discards.
func BenchmarkSyslogDrainToTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	read := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			read <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		read <- n
	}()
	d := &drain.Syslog{Addr: ln.Addr().String(), Token: token, Buffer: 1 << 16}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	m := logplex.Message{Time: t0, App: "demo", Source: "heroku", Proc: "router",
		Text: `at=info method=GET path="/" host=demo.example.com fwd="10.0.0.1" dyno=web.1 connect=0ms service=1ms status=200 bytes=512`}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.Send(ctx, m)
	}
	if err := d.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	<-done
	st := d.Stats()
	b.ReportMetric(float64(st.Delivered)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(st.Dropped), "dropped")
}
