package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/dynokit/dynokit/logplex"
)

// Listener receives RFC 5424 messages over TCP (or TLS) with RFC 6587
// octet-counted framing and sends them to a Sink. The zero value needs
// Sink and Route set; Addr is only used by Run.
type Listener struct {
	Addr      string       // Run listens here, e.g. "127.0.0.1:6514"
	Sink      logplex.Sink // where received lines go
	Route     Route        // maps a message to an app's line; required
	TLSConfig *tls.Config  // non-nil: serve TLS
	MaxFrame  int          // 0 means DefaultMaxFrame
	Logger    *slog.Logger // nil discards
}

// Run listens on Addr and serves until ctx is done.
func (l *Listener) Run(ctx context.Context) error {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", l.Addr)
	if err != nil {
		return fmt.Errorf("syslog: listen %s: %w", l.Addr, err)
	}
	return l.Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx is done, then closes ln and
// every connection and returns nil once their goroutines have ended.
// A message that does not parse or route is logged and skipped; a broken
// frame ends its connection (the stream cannot be resynchronised).
func (l *Listener) Serve(ctx context.Context, ln net.Listener) error {
	if l.Sink == nil || l.Route == nil {
		ln.Close()
		return errors.New("syslog: listener: Sink and Route must be set")
	}
	if l.TLSConfig != nil {
		ln = tls.NewListener(ln, l.TLSConfig)
	}
	log := l.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("syslog: accept: %w", err)
		}
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			c.Close()
			continue
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			l.serveConn(ctx, c, log)
		}()
	}
}

func (l *Listener) serveConn(ctx context.Context, c net.Conn, log *slog.Logger) {
	max := l.MaxFrame
	if max <= 0 {
		max = DefaultMaxFrame
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), max+16)
	sc.Split(SplitMax(max))
	for sc.Scan() {
		m, err := Parse(sc.Bytes())
		if err != nil {
			log.Warn("syslog: dropping message that does not parse", "remote", c.RemoteAddr().String(), "err", err)
			continue
		}
		lm, err := l.Route(m)
		if err != nil {
			log.Warn("syslog: dropping message that does not route", "remote", c.RemoteAddr().String(), "err", err)
			continue
		}
		if err := l.Sink.Send(ctx, lm); err != nil {
			log.Warn("syslog: sink refused message", "remote", c.RemoteAddr().String(), "err", err)
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		log.Warn("syslog: closing connection", "remote", c.RemoteAddr().String(), "err", err)
	}
}
