package router

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestRawIOResults: rawIO's reads and writes give net.Conn's results, which
// the proxy classifies into H-codes: data, EOF, timeouts, closed
// connections and resets.
func TestRawIOResults(t *testing.T) {
	c, s := tcpPair(t)
	var r rawIO
	r.init(c)
	if r.rc == nil {
		t.Fatal("a *net.TCPConn did not get raw I/O")
	}
	if n, err := r.Write([]byte("ping")); n != 4 || err != nil {
		t.Fatalf("Write: %d %v", n, err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("peer read %q %v", buf, err)
	}
	s.Write([]byte("pong"))
	if n, err := io.ReadFull(&r, buf); n != 4 || err != nil || string(buf) != "pong" {
		t.Fatalf("Read: %q %v", buf[:n], err)
	}

	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := r.Read(buf); !isTimeout(err) {
		t.Fatalf("Read past the deadline: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})

	s.(*net.TCPConn).CloseWrite()
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer's FIN: %d %v, want io.EOF", n, err)
	}

	// A reset peer: writes fail as closedByPeer.
	s.(*net.TCPConn).SetLinger(0)
	s.Close()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = r.Write([]byte("x"))
		time.Sleep(time.Millisecond)
	}
	if !closedByPeer(err) {
		t.Fatalf("Write to a reset peer: %v, want ECONNRESET or EPIPE", err)
	}

	c.Close()
	if _, err := r.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read on a closed conn: %v, want net.ErrClosed", err)
	}
}

// TestRawIOHeldWrite: a held write happens inside the next Read, in
// order, also when the send buffer is full and the write must wait for the
// peer to read.
func TestRawIOHeldWrite(t *testing.T) {
	// 32 MiB is more than both sockets' buffers can hold (tcp_wmem and
	// tcp_rmem allow a few MiB): the held write must wait for the peer.
	for _, size := range []int{100, 32 << 20} {
		c, s := tcpPair(t)
		var r rawIO
		r.init(c)
		req := bytes.Repeat([]byte("0123456789abcdef"), size/16)
		got := make(chan []byte, 1)
		go func() {
			b := make([]byte, len(req))
			if _, err := io.ReadFull(s, b); err != nil {
				got <- nil
				return
			}
			got <- b
			s.Write([]byte("resp"))
		}()
		r.holdWrite()
		if n, err := r.Write(req); n != len(req) || err != nil {
			t.Fatalf("held Write: %d %v", n, err)
		}
		if r.hold || r.held == nil {
			t.Fatal("Write did not hold its bytes")
		}
		buf := make([]byte, 16)
		n, err := r.Read(buf)
		if err != nil || string(buf[:n]) != "resp" || r.writeErr || r.held != nil {
			t.Fatalf("size %d: Read %q %v (writeErr %v)", size, buf[:n], err, r.writeErr)
		}
		if b := <-got; !bytes.Equal(b, req) {
			t.Fatalf("size %d: peer got %d bytes, not the request", size, len(b))
		}
	}
}

// TestRawIOHeldWriteFails: a held write to a reset peer reports a write
// failure the proxy can tell from a read failure.
func TestRawIOHeldWriteFails(t *testing.T) {
	c, s := tcpPair(t)
	var r rawIO
	r.init(c)
	s.(*net.TCPConn).SetLinger(0)
	s.Close()
	// Wait for the reset to arrive: a write then fails at once.
	var err error
	for i := 0; i < 100; i++ {
		r.holdWrite()
		r.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		if _, err = r.Read(make([]byte, 16)); r.writeErr {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !r.writeErr || !closedByPeer(err) {
		t.Fatalf("held write to a reset peer: writeErr %v, %v", r.writeErr, err)
	}
}
