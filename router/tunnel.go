package router

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// tunnel is an upgraded connection (WebSocket or other Upgrade protocol)
// relayed byte for byte between client and dyno.
type tunnel struct {
	client, dyno net.Conn
	last         atomic.Int64 // unix nanos of the last byte in either direction
	idled        atomic.Bool
	closeOnce    sync.Once
}

func (t *tunnel) close() {
	t.closeOnce.Do(func() {
		t.client.Close()
		t.dyno.Close()
	})
}

// tunnel takes over the client connection after the dyno answered 101 and
// relays bytes both ways under the rolling idle window until either side
// closes. It runs one extra goroutine per tunnel, for the second direction.
func (ex *exchange) tunnel(w http.ResponseWriter, r *http.Request, uc *upConn, sent time.Time) {
	rt := ex.rt
	hj, ok := w.(http.Hijacker)
	if !ok {
		uc.nc.Close()
		ex.entry.Cause = "upgrade over a connection that cannot be hijacked"
		ex.fail(w, H99, 0)
		return
	}
	cc, brw, err := hj.Hijack()
	if err != nil {
		uc.nc.Close()
		ex.entry.Cause = "hijack failed"
		ex.fail(w, H99, 0)
		return
	}
	ex.wrote = true
	ex.entry.Status = http.StatusSwitchingProtocols
	ex.entry.Service = time.Since(sent)
	ex.entry.Bytes = 0

	t := &tunnel{client: cc, dyno: uc.nc}
	t.last.Store(time.Now().UnixNano())
	rt.addTunnel(t)
	defer rt.removeTunnel(t)
	defer t.close()

	// Relay the 101 head, then whatever either side already sent past it.
	head := append(ex.logBuf[:0], "HTTP/1.1 101 Switching Protocols\r\n"...)
	for k, vs := range w.Header() {
		for _, v := range vs {
			head = append(head, k...)
			head = append(head, ": "...)
			head = append(head, v...)
			head = append(head, "\r\n"...)
		}
	}
	head = append(head, "\r\n"...)
	ex.logBuf = head[:0]
	_ = cc.SetDeadline(time.Now().Add(rt.cfg.IdleTimeout))
	if _, err := cc.Write(head); err != nil {
		return
	}
	if n := uc.br.Buffered(); n > 0 {
		p, _ := uc.br.Peek(n)
		m, err := cc.Write(p)
		ex.entry.Bytes += int64(m)
		if err != nil {
			return
		}
	}
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		if _, err := uc.nc.Write(p); err != nil {
			return
		}
	}

	var up atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.pump(rt, uc.nc, cc, &up) // client → dyno
	}()
	var down atomic.Int64
	t.pump(rt, cc, uc.nc, &down) // dyno → client
	<-done
	ex.entry.Bytes += down.Load()
	if t.idled.Load() {
		ex.entry.Code = H15
	}
}

// pump copies src to dst until EOF or error. A read timeout ends the tunnel
// only when neither direction moved a byte for the whole idle window.
// Reads and writes are raw system calls (rawIO; one per direction, as its
// call state is not shared between goroutines), and the deadlines move only
// when they fall behind by more than 1/64 of the window: a timer update per
// message in each direction was most of the relay's own cost.
func (t *tunnel) pump(rt *Router, dst, src net.Conn, count *atomic.Int64) {
	idle := rt.cfg.IdleTimeout
	slack := idle / 64
	bufp := rt.bufs.Get().(*[]byte)
	defer rt.bufs.Put(bufp)
	buf := *bufp
	var in, out rawIO
	in.init(src)
	out.init(dst)
	var readDL, writeDL time.Time
	for {
		now := time.Now()
		if want := now.Add(idle); want.Sub(readDL) > slack {
			_ = src.SetReadDeadline(want)
			readDL = want
		}
		n, err := in.Read(buf)
		if n > 0 {
			now = time.Now()
			t.last.Store(now.UnixNano())
			if want := now.Add(idle); want.Sub(writeDL) > slack {
				_ = dst.SetWriteDeadline(want)
				writeDL = want
			}
			if _, werr := out.Write(buf[:n]); werr != nil {
				t.close()
				return
			}
			count.Add(int64(n))
		}
		if err != nil {
			if isTimeout(err) {
				if time.Since(time.Unix(0, t.last.Load())) < idle {
					continue // the other direction is active
				}
				t.idled.Store(true)
				t.close()
				return
			}
			if errors.Is(err, io.EOF) {
				// Half-close: let the other direction finish.
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
					return
				}
			}
			t.close()
			return
		}
	}
}

func (rt *Router) addTunnel(t *tunnel) {
	rt.tunnelMu.Lock()
	rt.tunnels[t] = struct{}{}
	rt.tunnelMu.Unlock()
}

func (rt *Router) removeTunnel(t *tunnel) {
	rt.tunnelMu.Lock()
	delete(rt.tunnels, t)
	rt.tunnelMu.Unlock()
}

// CloseTunnels closes every upgraded connection (WebSockets…) open now.
// http.Server.Shutdown does not track hijacked connections, so a server
// shutting down calls this after Shutdown; [Server] does. The Router stays
// usable.
func (rt *Router) CloseTunnels() {
	rt.tunnelMu.Lock()
	ts := make([]*tunnel, 0, len(rt.tunnels))
	for t := range rt.tunnels {
		ts = append(ts, t)
	}
	rt.tunnelMu.Unlock()
	for _, t := range ts {
		// The pumps then fail and the tunnel's own close follows.
		closeNow(t.client)
		t.dyno.Close()
	}
}
