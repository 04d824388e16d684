package nomad

import (
	"bufio"
	"crypto/subtle"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// stdinServer hands an attached dyno its stdin. Nomad has no way to feed a
// task's standard input, so the dyno's bash connects back to this listener
// (bash's /dev/tcp), proves it is the dyno with a random token, and reads
// its stdin from the connection. The first connection with the right token
// gets the stream; others are dropped.
type stdinServer struct {
	ln    net.Listener
	token string
	src   io.Reader

	once sync.Once
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn net.Conn // the claimed connection, closed by close
}

func newStdinServer(addr string, src io.Reader) (*stdinServer, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &stdinServer{ln: ln, token: randomToken(), src: src}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *stdinServer) addr() string { return s.ln.Addr().String() }

func (s *stdinServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReaderSize(conn, 64).ReadString('\n')
		if err != nil || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(line)), []byte(s.token)) != 1 {
			conn.Close()
			continue
		}
		_ = conn.SetReadDeadline(time.Time{})
		s.mu.Lock()
		s.conn = conn
		s.mu.Unlock()
		// One claim only: no one else may connect afterwards.
		s.ln.Close()
		_, _ = io.Copy(conn, s.src)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // EOF on the dyno's stdin
		}
		return
	}
}

// close stops listening and ends a copy still in progress (the dyno is
// gone). A copy blocked reading the source ends when the source does.
func (s *stdinServer) close() {
	s.once.Do(func() {
		s.ln.Close()
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
	})
}
