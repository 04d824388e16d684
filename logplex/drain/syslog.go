package drain

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/syslog"
)

// Syslog is a drain to a syslog endpoint over TCP, or TLS when TLS is set
// (Heroku's syslog:// and syslog+tls:// drains). Each line is an RFC 5424
// message in an RFC 6587 octet-counted frame:
//
//	<PRI>1 TIMESTAMP d.<token> SOURCE PROC - - TEXT
//
// Set Addr and Token, start Run, Send lines, and Shutdown to flush. Send
// never blocks: lines wait in a buffer of Buffer messages whose oldest
// are dropped when the endpoint is down or slow; the count reaches the
// endpoint in an L10 notice once it catches up. A lost connection is
// redialled with back-off and the unacknowledged batch is written again,
// so delivery is at least once: a connection that breaks in the middle of
// a write may leave part of a batch delivered twice.
type Syslog struct {
	Addr         string        // host:port of the endpoint
	Token        string        // the drain token, sent as HOSTNAME ("d.<uuid>")
	TLS          *tls.Config   // non-nil: syslog+tls
	Buffer       int           // 0 means DefaultBuffer
	WriteTimeout time.Duration // per batch write; 0 means DefaultWriteTimeout
	DialTimeout  time.Duration // 0 means DefaultDialTimeout
	MinBackoff   time.Duration // first redial wait; 0 means DefaultMinBackoff
	MaxBackoff   time.Duration // 0 means DefaultMaxBackoff
	Logger       *slog.Logger  // nil discards
	Now          func() time.Time
	// Errors, if set, receives an L14 line in the app's own log when the
	// endpoint's TLS certificate fails verification (once per streak of
	// failures), as Heroku reports it to the app owner.
	Errors logplex.Sink

	core    core
	l14Sent bool
	conn    net.Conn
	dead    *atomic.Bool // set by the connection's reader when the peer closes
	buf     []byte
}

var _ logplex.Drain = (*Syslog)(nil)

func (d *Syslog) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Syslog) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Send queues m; it never blocks on the endpoint.
func (d *Syslog) Send(_ context.Context, m logplex.Message) error {
	return d.core.send(m, d.Buffer, d.now)
}

// Stats returns the drain's counters.
func (d *Syslog) Stats() Stats { return d.core.stats() }

// Shutdown stops accepting lines and waits until the queue is delivered or
// ctx is done; then whatever is left is counted as dropped and reported in
// the error.
func (d *Syslog) Shutdown(ctx context.Context) error {
	return d.core.shutdown(ctx, "syslog "+d.Addr)
}

// Run delivers until Shutdown has flushed, or ctx is done.
func (d *Syslog) Run(ctx context.Context) error {
	if d.Addr == "" {
		return errors.New("drain: syslog: Addr is empty, want host:port")
	}
	if d.Token == "" {
		return errors.New("drain: syslog: Token is empty, want the drain token (d.<uuid>)")
	}
	if _, _, err := net.SplitHostPort(d.Addr); err != nil {
		return fmt.Errorf("drain: syslog: Addr %q: %w", d.Addr, err)
	}
	defer d.disconnect()
	return d.core.run(ctx, d.now, 1000, 256<<10, d.deliver)
}

func (d *Syslog) disconnect() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
}

// deliver writes b, reconnecting with back-off until it is written or ctx
// is done.
func (d *Syslog) deliver(ctx context.Context, b *batch) error {
	d.buf = d.buf[:0]
	var msg []byte
	for _, m := range b.msgs {
		msg = syslog.FromLogplex(m, d.Token).Append(msg[:0], syslog.RFC5424)
		d.buf = syslog.AppendFrame(d.buf, msg)
	}
	lo, hi := d.MinBackoff, d.MaxBackoff
	if lo <= 0 {
		lo = DefaultMinBackoff
	}
	if hi <= 0 {
		hi = DefaultMaxBackoff
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !waitCtx(ctx, backoff(attempt-1, lo, hi)) {
			return ctx.Err()
		}
		if d.conn != nil && d.dead.Load() {
			d.disconnect()
		}
		if d.conn == nil {
			if err := d.dial(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				d.reportCertError(err, b)
				d.log().Warn("drain: syslog: dial failed", "addr", d.Addr, "attempt", attempt+1, "err", err)
				continue
			}
		}
		if err := d.write(ctx); err != nil {
			d.log().Warn("drain: syslog: write failed; redialling", "addr", d.Addr, "err", err)
			d.disconnect()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		return nil
	}
}

// reportCertError sends the L14 line for a certificate failure, once until
// a connection succeeds again.
func (d *Syslog) reportCertError(err error, b *batch) {
	var certErr *tls.CertificateVerificationError
	if d.Errors == nil || d.l14Sent || !errors.As(err, &certErr) || len(b.msgs) == 0 {
		return
	}
	d.l14Sent = true
	d.Errors.Send(context.Background(), CertificateErrorNotice(b.msgs[len(b.msgs)-1].App, d.now(), "syslog+tls://"+d.Addr+"/", certErr))
}

// CertificateErrorNotice is the L14 line an app gets when its TLS syslog
// drain's certificate does not verify.
func CertificateErrorNotice(app string, now time.Time, uri string, err error) logplex.Message {
	reason := "bad certificate"
	if ce := (*tls.CertificateVerificationError)(nil); errors.As(err, &ce) && ce.Err != nil {
		reason = ce.Err.Error()
	}
	return logplex.Message{
		Time:   now.UTC().Truncate(time.Microsecond),
		App:    app,
		Source: logplex.SourceHeroku,
		Proc:   "logplex",
		Text:   fmt.Sprintf("Error L14 (certificate validation): error=%q uri=%q", reason, uri),
	}
}

func (d *Syslog) dial(ctx context.Context) error {
	timeout := d.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	if d.TLS != nil {
		c, err = (&tls.Dialer{Config: d.TLS}).DialContext(dctx, "tcp", d.Addr)
		if err != nil {
			var certErr *tls.CertificateVerificationError
			if errors.As(err, &certErr) {
				// Heroku reports this to the app as L14.
				return fmt.Errorf("drain: syslog: L14 certificate validation: %w", err)
			}
		}
	} else {
		c, err = (&net.Dialer{}).DialContext(dctx, "tcp", d.Addr)
	}
	if err != nil {
		return err
	}
	// Syslog receivers never write. A reader that sees EOF or an error
	// marks the connection dead, so a restarted endpoint is noticed
	// before the next batch is written into a socket nobody reads.
	dead := new(atomic.Bool)
	go func() {
		io.Copy(io.Discard, c)
		dead.Store(true)
	}()
	d.conn, d.dead = c, dead
	d.l14Sent = false
	return nil
}

func (d *Syslog) write(ctx context.Context) error {
	timeout := d.WriteTimeout
	if timeout <= 0 {
		timeout = DefaultWriteTimeout
	}
	c := d.conn
	if err := c.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	// Cancelling ctx (Shutdown giving up) interrupts a write that an
	// endpoint which stopped reading would otherwise hold until timeout.
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Now()) })
	defer stop()
	_, err := c.Write(d.buf)
	return err
}
