package drain

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dynokit/dynokit/logplex"
	"github.com/dynokit/dynokit/logplex/syslog"
)

// Defaults of the HTTPS drain (Logplex's values).
const (
	DefaultBatchBytes     = 100 << 10 // target body size of one POST
	DefaultHTTPAttempts   = 3         // one try and two retries per batch
	DefaultRequestTimeout = 30 * time.Second
	// UserAgent is sent with every POST; endpoints written for Heroku look
	// for the "Logplex/" prefix.
	UserAgent = "Logplex/dynokit"
)

// HTTPS is a drain that POSTs batches of lines to a URL (Heroku's https://
// drains; http:// works too). Each POST carries
//
//	Content-Type: application/logplex-1
//	Logplex-Msg-Count: <n>
//	Logplex-Frame-Id: <id, the same on every retry of a batch>
//	Logplex-Drain-Token: d.<uuid>
//	User-Agent: Logplex/dynokit
//
// (and Basic authorization from the URL's user info), with a body of n
// octet-counted frames "<PRI>1 TIMESTAMP host SOURCE PROC - TEXT\n". A
// batch that gets no 2xx is retried with back-off, Attempts times in all,
// then dropped and counted; buffer overflow is handled as for [Syslog]. A
// redirect is not followed (unless Client has its own CheckRedirect): it
// counts as a failed delivery.
type HTTPS struct {
	URL            string        // http(s)://[user:pass@]host/path
	Token          string        // the drain token, sent as Logplex-Drain-Token
	Client         *http.Client  // nil means a client with no overall timeout
	Buffer         int           // 0 means DefaultBuffer
	BatchBytes     int           // 0 means DefaultBatchBytes
	Attempts       int           // 0 means DefaultHTTPAttempts
	RequestTimeout time.Duration // 0 means DefaultRequestTimeout
	MinBackoff     time.Duration // 0 means DefaultMinBackoff
	MaxBackoff     time.Duration // 0 means DefaultMaxBackoff
	Logger         *slog.Logger  // nil discards
	Now            func() time.Time

	core core
	buf  []byte
}

var _ logplex.Drain = (*HTTPS)(nil)

func (d *HTTPS) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Send queues m; it never blocks on the endpoint.
func (d *HTTPS) Send(_ context.Context, m logplex.Message) error {
	return d.core.send(m, d.Buffer, d.now)
}

// Stats returns the drain's counters.
func (d *HTTPS) Stats() Stats { return d.core.stats() }

// Shutdown stops accepting lines and waits until the queue is delivered or
// ctx is done.
func (d *HTTPS) Shutdown(ctx context.Context) error {
	return d.core.shutdown(ctx, "https "+redact(d.URL))
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(bad url)"
	}
	return u.Redacted()
}

// Run delivers until Shutdown has flushed, or ctx is done.
func (d *HTTPS) Run(ctx context.Context) error {
	u, err := url.Parse(d.URL)
	if err != nil {
		return fmt.Errorf("drain: https: URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("drain: https: URL %q: want http(s)://host/path", u.Redacted())
	}
	if d.Token == "" {
		return errors.New("drain: https: Token is empty, want the drain token (d.<uuid>)")
	}
	maxBytes := d.BatchBytes
	if maxBytes <= 0 {
		maxBytes = DefaultBatchBytes
	}
	return d.core.run(ctx, d.now, DefaultBuffer, maxBytes, func(ctx context.Context, b *batch) error {
		return d.deliver(ctx, u, b)
	})
}

func newFrameID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (d *HTTPS) deliver(ctx context.Context, u *url.URL, b *batch) error {
	d.buf = d.buf[:0]
	var msg []byte
	for _, m := range b.msgs {
		msg = syslog.FromLogplex(m, "host").Append(msg[:0], syslog.HTTPSDrain)
		d.buf = syslog.AppendFrame(d.buf, msg)
	}
	attempts := d.Attempts
	if attempts <= 0 {
		attempts = DefaultHTTPAttempts
	}
	lo, hi := d.MinBackoff, d.MaxBackoff
	if lo <= 0 {
		lo = DefaultMinBackoff
	}
	if hi <= 0 {
		hi = DefaultMaxBackoff
	}
	frameID := newFrameID()
	var err error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 && !waitCtx(ctx, backoff(attempt-1, lo, hi)) {
			return ctx.Err()
		}
		if err = d.post(ctx, u, frameID, len(b.msgs)); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.Logger != nil {
			d.Logger.Warn("drain: https: POST failed", "url", u.Redacted(), "frame_id", frameID, "attempt", attempt+1, "err", err)
		}
	}
	return fmt.Errorf("drain: https: batch %s of %d messages: %d attempts failed: %w", frameID, len(b.msgs), attempts, err)
}

func (d *HTTPS) post(ctx context.Context, u *url.URL, frameID string, n int) error {
	timeout := d.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target := *u
	target.User = nil
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(d.buf))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", syslog.ContentType)
	req.Header.Set("Logplex-Msg-Count", strconv.Itoa(n))
	req.Header.Set("Logplex-Frame-Id", frameID)
	req.Header.Set("Logplex-Drain-Token", d.Token)
	req.Header.Set("User-Agent", UserAgent)
	if u.User != nil {
		pass, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pass)
	}
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	if client.CheckRedirect == nil {
		// A followed 301/302/303 turns the POST into a bodiless GET whose
		// 2xx would count the batch as delivered: a redirect is a failed
		// delivery, retried and then counted as dropped.
		c := *client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		client = &c
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
