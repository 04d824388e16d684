package router

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Router. The zero value is ready to use and gives
// Heroku's defaults.
type Config struct {
	// BaseDomain: app "foo" is served at "foo.<BaseDomain>". Default "localhost".
	BaseDomain string
	// Balancer picks a dyno per request. Default Random{} (Heroku's policy).
	Balancer Balancer
	// TrustedProxies lists peers whose X-Forwarded-For/-Proto/-Port and
	// Forwarded headers are kept; from everyone else they are replaced.
	TrustedProxies []netip.Prefix

	// ConnectTimeout bounds one connection attempt to a dyno. Default 5s.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the first response byte after the
	// request was sent (H12). Default 30s.
	FirstByteTimeout time.Duration
	// IdleTimeout is the rolling window without a byte in either direction
	// once a response (or a request body, or an upgraded tunnel) is under
	// way (H15, H28). Default 55s.
	IdleTimeout time.Duration
	// QuarantineFor takes a dyno out of rotation after a failed connection
	// attempt. Default 5s.
	QuarantineFor time.Duration
	// MaxAttempts bounds connection attempts per request, each on another
	// dyno (H19/H21 afterwards). Default 10.
	MaxAttempts int
	// BootWait bounds how long a request waits for a dyno of an app whose
	// web dynos are starting (H20 afterwards). Default 75s.
	BootWait time.Duration
	// Wake, when set, is called in its own goroutine by the first request
	// for an app in WebSleeping (see SetWebState): the platform starts the
	// app's web dynos, and requests wait for them as during a boot.
	Wake func(app string)
	// QuarantineWait bounds how long a request waits, retrying with back-off,
	// when every dyno of the app is quarantined (H99 afterwards). Default 75s.
	QuarantineWait time.Duration

	// MaxDynoRequests caps the requests in flight to one dyno (WebSocket
	// and other upgraded connections included). A request that finds
	// every dyno of its app at the cap waits in the app's backlog, first
	// in, first out, for up to FirstByteTimeout (H12 afterwards); a
	// backlog already holding MaxDynoRequests per dyno answers H11
	// (Backlog too deep) at once. 0, the default, sets no cap. Heroku's
	// router used 50.
	MaxDynoRequests int
	// MaxIdleConnsPerBackend caps kept-alive upstream connections per dyno;
	// size it to the expected concurrency. Default 512.
	MaxIdleConnsPerBackend int
	// UpstreamIdleTimeout closes pooled upstream connections unused for
	// longer. Default 30s.
	UpstreamIdleTimeout time.Duration
	// ReplayIdempotent allows one resend: an idempotent request without
	// body whose pooled keep-alive connection turns out closed before any
	// response byte is resent once on a fresh connection (net/http's
	// Transport rule). Off by default, as Heroku's router never replays a
	// request a dyno may have seen: the dyno may have read it and then
	// crashed. Without it, a pooled connection idle for a while is checked
	// before reuse (a dyno that closed it has sent its FIN by then), so
	// the keep-alive race is left only for dynos that close a connection
	// right after answering without saying "Connection: close".
	ReplayIdempotent bool
	// VerifyDyno, when set, checks that a new connection to d.Addr reaches
	// dyno d (its identity): once a dyno stops, another app's dyno may take
	// its address before the router hears of the stop. An error counts as a
	// failed connection (the dyno is quarantined, the request tries another,
	// H21 when none is left), and nothing is written to the connection. It
	// runs once per new upstream connection; pooled ones are not checked
	// again (a stopped dyno's pool is closed when SetBackends drops it).
	VerifyDyno func(ctx context.Context, d Dyno) error
	// DialContext opens upstream connections. Default a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Via is appended to the request's Via header. Default "1.1 dynokit"
	// (also used when the value contains control bytes).
	Via string
	// LogSink receives the router log line of every request, per app.
	LogSink LogSink
	// Logger receives router log lines and router-level events; nil
	// discards them.
	Logger *slog.Logger
}

// Router is an http.Handler that routes requests by Host to an app's web
// dynos. Create it with New; feed it with SetBackends, SetDomains,
// SetWebState, SetMaintenance and SetErrorPages at any time.
type Router struct {
	cfg        Config
	baseDomain string
	// renames is odd while RenameApp publishes (see lookup). It sits by
	// baseDomain, which lookup reads too, so it costs no cache line.
	renames  atomic.Uint64
	balancer Balancer
	via      string
	ids      *idGen
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)

	mu            sync.Mutex // serialises writers of apps/domains/wildcards
	apps          shardMap
	domains       shardMap
	wildcards     shardMap     // "*.example.com" under "example.com"
	wildcardCount atomic.Int32 // lookups skip the wildcard walk at 0

	exchanges sync.Pool
	bufs      sync.Pool // *[]byte of copyBufSize

	tunnelMu sync.Mutex
	tunnels  map[*tunnel]struct{}
}

var _ http.Handler = (*Router)(nil)

const copyBufSize = 32 << 10

// New returns a Router with cfg's zero fields filled with defaults.
func New(cfg Config) *Router {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ConnectTimeout, 5*time.Second)
	def(&cfg.FirstByteTimeout, 30*time.Second)
	def(&cfg.IdleTimeout, 55*time.Second)
	def(&cfg.QuarantineFor, 5*time.Second)
	def(&cfg.BootWait, 75*time.Second)
	def(&cfg.QuarantineWait, 75*time.Second)
	def(&cfg.UpstreamIdleTimeout, 30*time.Second)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.MaxIdleConnsPerBackend <= 0 {
		cfg.MaxIdleConnsPerBackend = 512
	}
	if cfg.BaseDomain == "" {
		cfg.BaseDomain = "localhost"
	}
	if cfg.Balancer == nil {
		cfg.Balancer = Random{}
	}
	if cfg.Via == "" || !validHeaderValue(cfg.Via) {
		// A Via with control bytes would let configuration inject headers
		// into every proxied request: fall back to the default.
		cfg.Via = "1.1 dynokit"
	}
	rt := &Router{
		cfg:        cfg,
		baseDomain: strings.TrimSuffix(strings.ToLower(cfg.BaseDomain), "."),
		balancer:   cfg.Balancer,
		via:        cfg.Via,
		ids:        newIDGen(),
		dial:       cfg.DialContext,
		tunnels:    map[*tunnel]struct{}{},
	}
	if rt.dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		rt.dial = d.DialContext
	}
	rt.exchanges.New = func() any { return &exchange{logBuf: make([]byte, 0, 512)} }
	rt.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	return rt
}

// exchange is the per-request state, pooled so the hot path allocates
// little.
type exchange struct {
	rt      *Router
	app     *app
	start   time.Time
	entry   LogEntry
	reqID   string
	fwd     string
	port    string
	proto   string
	trusted bool
	wrote   bool // response status sent to the client
	abort   bool // the response is incomplete: abort the client connection
	logBuf  []byte
	scratch []byte
}

func (ex *exchange) reset() {
	ex.rt, ex.app = nil, nil
	ex.entry = LogEntry{}
	ex.reqID, ex.fwd, ex.port, ex.proto = "", "", "", ""
	ex.trusted, ex.wrote, ex.abort = false, false, false
	ex.logBuf = ex.logBuf[:0]
	ex.scratch = ex.scratch[:0]
}

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.serve(w, r) {
		// The status is out but the body is incomplete: make net/http cut
		// the connection instead of ending the response cleanly.
		panic(http.ErrAbortHandler)
	}
}

// serve handles one request. It returns true when the response is
// incomplete and the client connection must be cut.
func (rt *Router) serve(w http.ResponseWriter, r *http.Request) (abort bool) {
	path := r.RequestURI
	if path == "" {
		path = r.URL.RequestURI()
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	ex := rt.begin(r.Method, path, r.Host, proto)
	e := &ex.entry
	ex.setForwarding(w, r)

	ex.app = rt.lookup(r.Host)
	switch code, status, cause := checkRequest(r); {
	case code != CodeNone:
		e.Cause = cause
		ex.fail(w, code, status)
	case ex.app == nil:
		ex.noSuchApp(w)
	case ex.app.maintenance.Load():
		ex.fail(w, H80, 0)
	default:
		rt.proxy(w, r, ex)
	}
	ex.finish()
	abort = ex.abort
	ex.reset()
	rt.exchanges.Put(ex)
	return abort
}

// setForwarding computes the request id and X-Forwarded-* values.
func (ex *exchange) setForwarding(w http.ResponseWriter, r *http.Request) {
	rt := ex.rt
	ip := remoteIP(r.RemoteAddr)
	if len(rt.cfg.TrustedProxies) > 0 {
		if addr, err := netip.ParseAddr(ip); err == nil {
			addr = addr.Unmap()
			for _, p := range rt.cfg.TrustedProxies {
				if p.Contains(addr) {
					ex.trusted = true
					break
				}
			}
		}
	}
	ex.fwd = ip
	if prev := r.Header["X-Forwarded-For"]; ex.trusted && len(prev) > 0 {
		ex.fwd = strings.Join(prev, ", ") + ", " + ip
	}
	if id := r.Header.Get("X-Request-Id"); ValidRequestID(id) {
		ex.reqID = id
	} else {
		ex.scratch = rt.ids.append(ex.scratch[:0])
		ex.reqID = string(ex.scratch)
	}
	ex.entry.RequestID = ex.reqID
	ex.entry.Fwd = ex.fwd
	ex.port = ""
	if ex.trusted {
		ex.port = r.Header.Get("X-Forwarded-Port")
		if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
			ex.proto = p
		}
	}
	if ex.port == "" {
		if rw, ok := w.(*respWriter); ok {
			ex.port = rw.c.localPort // the same, computed once per connection
		} else if la, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
			ex.port = portString(la.Port)
		}
	}
}

// begin takes an exchange from the pool for a request received now, with
// its log line's request fields set and no dyno (empty connect, service and
// bytes) yet.
func (rt *Router) begin(method, path, host, proto string) *exchange {
	ex := rt.exchanges.Get().(*exchange)
	ex.rt, ex.start, ex.proto = rt, time.Now(), proto
	e := &ex.entry
	e.Method, e.Path, e.Host, e.Protocol = method, path, host, proto
	e.Connect, e.Service, e.Bytes = -1, -1, -1
	return ex
}

// remoteIP is the address part of a RemoteAddr ("ip:port", "[ip6]:port").
func remoteIP(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		addr = addr[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}

// logRefused writes the H26 line of a request the front end refused before
// routing (a malformed request line, header or framing) and counts it in
// the app's metrics, when host names an app: the app's log then shows the
// malformed requests it was sent, as on Heroku. The request's own
// X-Request-Id and forwarding headers are not trusted here.
func (rt *Router) logRefused(method, target, host, proto, remote string, status int, cause string) {
	a := rt.lookup(host)
	if a == nil {
		return
	}
	ex := rt.begin(method, target, host, proto)
	ex.app = a
	e := &ex.entry
	e.Code, e.Cause, e.Status = H26, cause, status
	e.Fwd = remoteIP(remote)
	ex.scratch = rt.ids.append(ex.scratch[:0])
	e.RequestID = string(ex.scratch)
	ex.finish()
	ex.reset()
	rt.exchanges.Put(ex)
}

func portString(p int) string {
	switch p {
	case 80:
		return "80"
	case 443:
		return "443"
	}
	return strconv.Itoa(p)
}

// Request limits (§6.5, §6.6 of the reference).
const (
	MaxRequestLineBytes = 8192
	MaxHeaderNameBytes  = 1000
	MaxHeaderValueBytes = 8192
	MaxHeaderCount      = 1000
	MaxMethodBytes      = 127
)

// checkRequest applies the router's request limits and defences that the
// net/http server does not already enforce. It returns CodeNone when the
// request may be routed.
func checkRequest(r *http.Request) (Code, int, string) {
	if r.Method == http.MethodConnect {
		return H26, http.StatusMethodNotAllowed, "unsupported method"
	}
	if len(r.Method) > MaxMethodBytes {
		return H26, http.StatusNotImplemented, "method too long"
	}
	if len(r.Method)+1+len(r.RequestURI)+1+len(r.Proto) > MaxRequestLineBytes {
		return H26, http.StatusRequestURITooLong, "request line too long"
	}
	n := 0
	for k, vs := range r.Header {
		if len(k) > MaxHeaderNameBytes {
			return H26, http.StatusRequestHeaderFieldsTooLarge, "header name too long"
		}
		if !validHeaderName(k) {
			return H26, http.StatusBadRequest, "bad header"
		}
		for _, v := range vs {
			if len(v) > MaxHeaderValueBytes {
				return H26, http.StatusRequestHeaderFieldsTooLarge, "header too long"
			}
			if !validHeaderValue(v) {
				return H26, http.StatusBadRequest, "bad header"
			}
		}
		n += len(vs)
	}
	if n > MaxHeaderCount {
		return H26, http.StatusRequestHeaderFieldsTooLarge, "too many headers"
	}
	if exp := r.Header["Expect"]; len(exp) > 0 {
		if len(exp) > 1 || !strings.EqualFold(exp[0], "100-continue") {
			return H26, http.StatusExpectationFailed, "unsupported expect header value"
		}
	}
	return CodeNone, 0, ""
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenByte(k[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// validHeaderValue rejects control bytes (CR, LF, NUL…): they must never be
// forwarded to a dyno.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// fail answers with the page of code c (status overrides the code's
// default when non-zero) and records c for the log line.
func (ex *exchange) fail(w http.ResponseWriter, c Code, status int) {
	if status == 0 {
		status = c.Status()
	}
	ex.entry.Code = c
	if ex.wrote {
		return // the client already has a status; the log keeps it
	}
	ex.entry.Status = status
	if status == 499 {
		return // the client is gone
	}
	var pages *ErrorPages
	if ex.app != nil {
		pages = ex.app.pages.Load()
	}
	body, ct := pageFor(pages, c)
	h := w.Header()
	clear(h)
	if rw, ok := w.(*respWriter); ok {
		rw.raw.reset() // a dyno's head read before the failure
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", contentLength(body))
	h.Set("Cache-Control", "no-cache, no-store")
	ex.wrote = true
	w.WriteHeader(status)
	w.Write(body)
	// bytes= counts what the dyno sent, not the router's own page (§6.7):
	// 0 once a dyno was reached (H12, H13), empty otherwise (H14, H80).
	if ex.entry.Dyno != "" && ex.entry.Bytes < 0 {
		ex.entry.Bytes = 0
	}
}

func (ex *exchange) noSuchApp(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(noSuchAppPage)))
	h.Set("Cache-Control", "no-cache, no-store")
	w.WriteHeader(http.StatusNotFound)
	n, _ := w.Write([]byte(noSuchAppPage))
	ex.entry.Status = http.StatusNotFound
	ex.entry.Bytes = int64(n)
}

// finish emits the log line and records metrics.
func (ex *exchange) finish() {
	rt := ex.rt
	e := &ex.entry
	if e.Service < 0 && e.Connect >= 0 {
		e.Service = time.Since(ex.start) - e.Connect
	}
	if ex.app != nil {
		ex.app.stats.record(e.Status, e.Code, e.Service)
	}
	if rt.cfg.LogSink == nil && rt.cfg.Logger == nil {
		return
	}
	ex.logBuf = AppendLogLine(ex.logBuf[:0], e)
	appName := ""
	if ex.app != nil {
		// Read now, not at lookup: a request that spans a RenameApp is
		// logged under the app's new name.
		appName = ex.app.Name()
	}
	if rt.cfg.LogSink != nil && ex.app != nil {
		rt.cfg.LogSink.RouterLog(appName, ex.start, ex.logBuf)
	}
	if l := rt.cfg.Logger; l != nil {
		level := slog.LevelInfo
		if e.Code.Level() == "error" {
			level = slog.LevelWarn
		}
		if l.Enabled(context.Background(), level) {
			l.LogAttrs(context.Background(), level, string(ex.logBuf), slog.String("app", appName))
		}
	}
}
