// Command rsyslogbench measures end-to-end lines/s into a real rsyslogd:
// through a dynokit syslog drain, and, in the same run and against the
// same rsyslogd, through baselines that write the same RFC 5424 lines
// without a drain: a raw TCP writer of the pre-framed bytes, and
// util-linux logger --tcp --octet-count. It prints one line per sender
// and the ratios to the raw writer.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/drain"
	"github.com/dynokit/dynokit/logplex/syslog"
)

const token = "d.0d9e2c5a-7f6b-4f3e-9a51-1c2b3d4e5f60"

func main() {
	n := flag.Int("n", 200000, "lines per sender")
	rounds := flag.Int("rounds", 3, "rounds; the best of each sender is reported")
	flag.Parse()
	if err := run(*n, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "rsyslogbench:", err)
		os.Exit(1)
	}
}

type rsyslogd struct {
	cmd  *exec.Cmd
	addr string
	out  string

	off   int64 // bytes of out already counted
	count int   // newlines in out[:off]
}

func startRsyslog(dir string) (*rsyslogd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	out := filepath.Join(dir, "received.log")
	work := filepath.Join(dir, "work")
	os.MkdirAll(work, 0o755)
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port=%q ruleset="drain" SupportOctetCountedFraming="on")
template(name="fields" type="string" string="%%app-name%% %%procid%% %%msg%%\n")
ruleset(name="drain") { action(type="omfile" file=%q template="fields") }
`, work, port, out)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("rsyslogd", "-n", "-f", confPath, "-i", filepath.Join(dir, "pid"))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rsyslogd: %w", err)
	}
	r := &rsyslogd{cmd: cmd, addr: addr, out: out}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return r, nil
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("rsyslogd did not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rsyslogd) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	r.cmd.Wait()
}

// lines counts newlines in the output file, reading only what is new.
func (r *rsyslogd) lines() int {
	f, err := os.Open(r.out)
	if err != nil {
		return r.count
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.ReadAt(buf, r.off)
		r.count += bytes.Count(buf[:n], []byte{'\n'})
		r.off += int64(n)
		if err != nil || n == 0 {
			return r.count
		}
	}
}

func (r *rsyslogd) waitFor(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for r.lines() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("rsyslogd has %d of %d lines after %v", r.lines(), n, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

func message(i int) logplex.Message {
	return logplex.Message{
		Time: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Microsecond),
		App:  "demo", Source: "heroku", Proc: "router",
		Text: `at=info method=GET path="/items/` + strconv.Itoa(i) + `" host=demo.example.com fwd="10.0.0.1" dyno=web.1 connect=0ms service=1ms status=200 bytes=512`,
	}
}

func viaDrain(r *rsyslogd, n, already int) (time.Duration, error) {
	d := &drain.Syslog{Addr: r.addr, Token: token, Buffer: n}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- d.Run(ctx) }()
	for i := range n {
		d.Send(ctx, message(i))
	}
	if err := d.Shutdown(ctx); err != nil {
		return 0, err
	}
	if err := <-done; err != nil {
		return 0, err
	}
	if err := r.waitFor(already+n, time.Minute); err != nil {
		return 0, err
	}
	el := time.Since(start)
	if st := d.Stats(); st.Dropped != 0 || st.Delivered != uint64(n) {
		return 0, fmt.Errorf("drain stats %+v", st)
	}
	return el, nil
}

func preframed(n int) []byte {
	var buf, msg []byte
	for i := range n {
		msg = syslog.FromLogplex(message(i), token).Append(msg[:0], syslog.RFC5424)
		buf = syslog.AppendFrame(buf, msg)
	}
	return buf
}

func viaRawTCP(r *rsyslogd, data []byte, n, already int) (time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		return 0, err
	}
	if _, err := c.Write(data); err != nil {
		return 0, err
	}
	c.Close()
	if err := r.waitFor(already+n, time.Minute); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func viaLogger(r *rsyslogd, file string, n, already int) (time.Duration, error) {
	host, port, _ := net.SplitHostPort(r.addr)
	start := time.Now()
	cmd := exec.Command("logger", "--tcp", "--octet-count", "--rfc5424", "-n", host, "-P", port, "-t", "heroku", "-f", file)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("logger: %v: %s", err, out)
	}
	if err := r.waitFor(already+n, time.Minute); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func run(n, rounds int) error {
	dir, err := os.MkdirTemp("", "rsyslogbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r, err := startRsyslog(dir)
	if err != nil {
		return err
	}
	defer r.stop()

	data := preframed(n)
	textFile := filepath.Join(dir, "lines.txt")
	var texts strings.Builder
	for i := range n {
		texts.WriteString(message(i).Text + "\n")
	}
	os.WriteFile(textFile, []byte(texts.String()), 0o644)
	_, haveLogger := exec.LookPath("logger")

	best := map[string]time.Duration{}
	keep := func(name string, d time.Duration) {
		if b, ok := best[name]; !ok || d < b {
			best[name] = d
		}
	}
	total := 0
	for range rounds {
		d, err := viaRawTCP(r, data, n, total)
		if err != nil {
			return fmt.Errorf("raw: %w", err)
		}
		total += n
		keep("raw-tcp", d)
		if d, err = viaDrain(r, n, total); err != nil {
			return fmt.Errorf("drain: %w", err)
		}
		total += n
		keep("dynokit-drain", d)
		if haveLogger == nil {
			if d, err = viaLogger(r, textFile, n, total); err != nil {
				return fmt.Errorf("logger: %w", err)
			}
			total += n
			keep("logger", d)
		}
	}
	fmt.Printf("lines per sender: %d, best of %d rounds, into rsyslogd (imtcp, octet-counted, omfile)\n", n, rounds)
	raw := best["raw-tcp"]
	for _, name := range []string{"raw-tcp", "dynokit-drain", "logger"} {
		d, ok := best[name]
		if !ok {
			continue
		}
		fmt.Printf("%-14s %8.0f lines/s  %7.3fs  ratio to raw-tcp %.2f\n", name, float64(n)/d.Seconds(), d.Seconds(), float64(n)/d.Seconds()/(float64(n)/raw.Seconds()))
	}
	return nil
}
