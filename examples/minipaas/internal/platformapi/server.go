package platformapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MediaType is the Platform API's media type; requests must accept it with
// version=3 (or a version=3.<variant> such as 3.sdk).
const MediaType = "application/vnd.heroku+json"

// CheckVersion reports whether the Accept header asks for API version 3. The
// CLI sends "application/vnd.heroku+json; version=3" or "...; version=3.sdk".
// The error is 406 not_acceptable.
func CheckVersion(r *http.Request) error {
	for _, accept := range r.Header.Values("Accept") {
		for _, mediaRange := range strings.Split(accept, ",") {
			typ, params, _ := strings.Cut(mediaRange, ";")
			if !strings.EqualFold(strings.TrimSpace(typ), MediaType) {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				key, val, _ := strings.Cut(p, "=")
				if strings.TrimSpace(key) != "version" {
					continue
				}
				val = strings.Trim(strings.TrimSpace(val), `"`)
				if major, variant, hasVariant := strings.Cut(val, "."); major == "3" && (!hasVariant || isToken(variant)) {
					return nil
				}
			}
		}
	}
	return Errorf(http.StatusNotAcceptable, IDNotAcceptable,
		"Please specify a version along with Heroku's API MIME type. For example, `Accept: %s; version=3`.", MediaType)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// RequestID returns the client's Request-Id when it is safe to echo (20 to
// 200 characters of letters, digits and + / = - , as Heroku's router keeps;
// commas too, since the CLI may join several ids), else a new UUID.
func RequestID(r *http.Request) string {
	if id := r.Header.Get("Request-Id"); validRequestID(id) {
		return id
	}
	return NewUUID()
}

func validRequestID(id string) bool {
	if len(id) < 20 || len(id) > 200 {
		return false
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("+/=-,", c)) {
			return false
		}
	}
	return true
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// BearerOrBasic extracts the API key from "Authorization: Bearer <key>" (the
// CLI) or HTTP basic auth with the key as password (netrc, older clients).
func BearerOrBasic(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(tok)
		return tok, tok != ""
	}
	if _, password, ok := r.BasicAuth(); ok && password != "" {
		return password, true
	}
	return "", false
}

// TokenMatches compares two tokens in constant time; hashing first keeps the
// time independent of their lengths too. An empty want never matches.
func TokenMatches(got, want string) bool {
	if want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// RateLimiter is a token bucket per key (account): each request costs one
// token; the bucket holds Capacity and refills PerMinute tokens a minute.
// The zero value uses Heroku's figures: 4500 tokens, 75 a minute.
type RateLimiter struct {
	Capacity  int
	PerMinute int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// Take spends one token of key and reports what remains; ok is false when
// the bucket was empty (answer 429 rate_limit).
func (l *RateLimiter) Take(key string) (remaining int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refilled(key)
	if b.tokens < 1 {
		return 0, false
	}
	b.tokens--
	return int(b.tokens), true
}

// Remaining reports the tokens key has left without spending one, for GET
// /account/rate-limits, which is free of charge.
func (l *RateLimiter) Remaining(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.refilled(key).tokens)
}

// refilled returns key's bucket with the tokens earned since it was last
// looked at; l.mu must be held.
func (l *RateLimiter) refilled(key string) *bucket {
	capacity, perMinute := l.Capacity, l.PerMinute
	if capacity <= 0 {
		capacity = 4500
	}
	if perMinute <= 0 {
		perMinute = 75
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	if l.buckets == nil {
		l.buckets = make(map[string]*bucket)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(capacity), at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(float64(capacity), b.tokens+elapsed.Minutes()*float64(perMinute))
		b.at = now
	}
	return b
}

// HandlerFunc is an API endpoint; a returned error is answered with
// WriteError (so return *Error for client errors).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// RateLimitsPattern is the endpoint Server answers itself: the account's
// remaining rate-limit tokens, {"remaining": n}, free of charge.
const RateLimitsPattern = "GET /account/rate-limits"

// Server applies the API's transport conventions in front of endpoints
// registered with Handle: Request-Id, CORS (preflights answered 204),
// version check (406), bearer or basic auth (401), X-Http-Method-Override
// on POST, rate limit with RateLimit-Remaining (429), ETag on successful
// GETs with If-None-Match (304), If-Match on writes (412), and JSON errors
// for unknown paths (404) and methods (405). It answers RateLimitsPattern
// itself. The zero value refuses every request as unauthorized: set Token
// or Authenticate.
//
// GET and HEAD responses are held in memory until the handler returns, to
// derive their ETag; a handler that flushes (http.Flusher) streams instead,
// from its first Flush on, and its response has no ETag.
//
// Conditional writes (If-Match) to one path run one at a time, each
// checked and done under that path's lock, so that of two clients writing
// with the same ETag one wins and the other gets 412. Other requests never
// wait for them: an unconditional write is the client's choice to skip
// the check, and changes the platform makes by itself are not covered.
type Server struct {
	// Token is the API key accepted when Authenticate is nil.
	Token string
	// Authenticate, if set, decides instead of Token and names the account
	// the rate limit is charged to.
	Authenticate func(ctx context.Context, token string) (account string, ok bool)
	// RateLimit limits requests per account; nil means a zero-value
	// RateLimiter (Heroku's figures).
	RateLimit *RateLimiter
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger

	once    sync.Once
	mux     *http.ServeMux
	limiter *RateLimiter
	// conditional holds a lock per path for conditional (If-Match) writes.
	conditionalMu sync.Mutex
	conditional   map[string]*pathLock
}

// maxConditionalBody bounds the body of a conditional write, which is read
// whole before its path's lock is taken (DecodeJSON's default bound).
const maxConditionalBody = 1 << 20

// pathLock is one path's lock, removed when nobody holds or waits for it.
type pathLock struct {
	sync.Mutex
	users int
}

// lockPath takes path's conditional-write lock; call the returned func to
// give it back.
func (s *Server) lockPath(path string) (unlock func()) {
	s.conditionalMu.Lock()
	if s.conditional == nil {
		s.conditional = make(map[string]*pathLock)
	}
	l := s.conditional[path]
	if l == nil {
		l = new(pathLock)
		s.conditional[path] = l
	}
	l.users++
	s.conditionalMu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.conditionalMu.Lock()
		if l.users--; l.users == 0 {
			delete(s.conditional, path)
		}
		s.conditionalMu.Unlock()
	}
}

func (s *Server) init() {
	s.once.Do(func() {
		s.mux = http.NewServeMux()
		s.limiter = s.RateLimit
		if s.limiter == nil {
			s.limiter = new(RateLimiter)
		}
		// Registered like any endpoint so that ServeMux answers its other
		// methods with 405 and HEAD like GET.
		s.mux.HandleFunc(RateLimitsPattern, serveRateLimits)
	})
}

// Handle registers h for a Go ServeMux pattern with a method, e.g.
// "GET /apps/{app}/releases". It panics on a bad or duplicate pattern, as
// http.ServeMux does, RateLimitsPattern included.
func (s *Server) Handle(pattern string, h HandlerFunc) {
	s.init()
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, s.Logger, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (string, bool) {
	tok, ok := BearerOrBasic(r)
	if !ok {
		return "", false
	}
	if s.Authenticate != nil {
		return s.Authenticate(r.Context(), tok)
	}
	if TokenMatches(tok, s.Token) {
		return "default", true
	}
	return "", false
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	w.Header().Set("Request-Id", RequestID(r))
	// Before the version check and auth: browsers send preflights without
	// the API's headers.
	if preflight := setCORS(w.Header(), r); preflight {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := CheckVersion(r); err != nil {
		WriteError(w, s.Logger, err)
		return
	}
	account, ok := s.authenticate(r)
	if !ok {
		WriteError(w, s.Logger, Errorf(http.StatusUnauthorized, IDUnauthorized, "Invalid credentials provided."))
		return
	}
	r, err := overrideMethod(r)
	if err != nil {
		WriteError(w, s.Logger, err)
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern == RateLimitsPattern {
		remaining := s.limiter.Remaining(account)
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(remaining))
		r = r.WithContext(context.WithValue(r.Context(), remainingKey{}, remaining))
	} else {
		remaining, ok := s.limiter.Take(account)
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(remaining))
		if !ok {
			WriteError(w, s.Logger, Errorf(http.StatusTooManyRequests, IDRateLimit, "Your account reached the API rate limit. Please wait a few minutes before making new requests."))
			return
		}
	}
	if pattern == "" {
		// Unknown path or method: ask the mux which, answer in JSON.
		probe := &statusRecorder{header: make(http.Header)}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			WriteError(w, s.Logger, Errorf(http.StatusMethodNotAllowed, IDMethodNotAllowed, "Method %s is not allowed on %s.", r.Method, r.URL.Path))
			return
		}
		WriteError(w, s.Logger, Errorf(http.StatusNotFound, IDNotFound, "The requested API endpoint was not found. Are you using the right HTTP verb (%s) and path (%s)?", r.Method, r.URL.Path))
		return
	}
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.serveRead(w, r)
	case r.Header.Get("If-Match") != "":
		s.serveConditionalWrite(w, r)
	default:
		s.mux.ServeHTTP(w, r) // sets the path values that h needs
	}
}

// overrideMethod routes a POST with X-Http-Method-Override as the method it
// names, for clients that cannot send PATCH, PUT or DELETE. Other methods
// keep theirs: the header only widens what a POST can do.
func overrideMethod(r *http.Request) (*http.Request, error) {
	override := r.Header.Get("X-Http-Method-Override")
	if r.Method != http.MethodPost || override == "" {
		return r, nil
	}
	method := strings.ToUpper(strings.TrimSpace(override))
	switch method {
	case http.MethodPatch, http.MethodDelete, http.MethodPut:
	default:
		return nil, Errorf(http.StatusBadRequest, IDBadRequest, "X-Http-Method-Override %q is not allowed: use PATCH, DELETE or PUT.", override)
	}
	r = r.WithContext(r.Context()) // a shallow copy: the caller's r stays a POST
	r.Method = method
	return r, nil
}

// remainingKey carries the tokens ServeHTTP found for serveRateLimits, so
// that the body and RateLimit-Remaining agree.
type remainingKey struct{}

func serveRateLimits(w http.ResponseWriter, r *http.Request) {
	remaining, _ := r.Context().Value(remainingKey{}).(int)
	WriteJSON(w, http.StatusOK, struct {
		Remaining int `json:"remaining"`
	}{remaining})
}

// serveRead answers a GET or HEAD with an ETag when it succeeds, and with
// 304 Not Modified when If-None-Match already names that ETag.
func (s *Server) serveRead(w http.ResponseWriter, r *http.Request) {
	buf := newResponseBuffer(w)
	s.mux.ServeHTTP(buf, r)
	if buf.streaming {
		return
	}
	etag := buf.etag()
	if etag != "" && etagListMatches(r.Header.Values("If-None-Match"), etag, weakComparison) {
		buf.sendNotModified(etag)
		return
	}
	buf.send(etag, r.Method != http.MethodHead)
}

// serveConditionalWrite does a write whose If-Match names the current
// representation of its path (what GET of the path answers), else answers
// 412. The write lock makes the check and the write one step for the API.
func (s *Server) serveConditionalWrite(w http.ResponseWriter, r *http.Request) {
	// The body is read before the lock, so that a client sending it slowly
	// holds up nobody.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxConditionalBody+1))
	if err != nil {
		WriteError(w, s.Logger, Errorf(http.StatusBadRequest, IDBadRequest, "Reading the request body: %v.", err))
		return
	}
	if len(body) > maxConditionalBody {
		WriteError(w, s.Logger, Errorf(http.StatusRequestEntityTooLarge, IDBadRequest, "Request body is larger than %d bytes.", maxConditionalBody))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	unlock := s.lockPath(r.URL.Path)
	defer unlock()
	probe := s.current(r)
	if probe == nil {
		WriteError(w, s.Logger, PreconditionFailed("If-Match cannot hold: %s has no representation to compare with (no GET).", r.URL.Path))
		return
	}
	if probe.status/100 != 2 && probe.status != 0 && !probe.streaming {
		// RFC 9110 §13.2.1: a request that would fail anyway (an unknown
		// app: 404) gets that answer, not 412. Server's own headers
		// (Request-Id, CORS) stay.
		for k, v := range w.Header() {
			if _, ok := probe.header[k]; !ok {
				probe.header[k] = v
			}
		}
		probe.w = w
		probe.send("", true)
		return
	}
	etag := probe.etag()
	if etag == "" {
		WriteError(w, s.Logger, PreconditionFailed("If-Match cannot hold: %s has no current representation to compare with.", r.URL.Path))
		return
	}
	if !etagListMatches(r.Header.Values("If-Match"), etag, strongComparison) {
		WriteError(w, s.Logger, PreconditionFailed("%s has changed since the ETag in If-Match was read: GET it again and retry.", r.URL.Path))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// current runs the GET endpoint of r's path, with r's credentials and
// context, and returns its answer, held; nil when the path has no GET
// endpoint.
func (s *Server) current(r *http.Request) *responseBuffer {
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	get := r.Clone(ctx)
	get.Method = http.MethodGet
	get.Body, get.GetBody, get.ContentLength = http.NoBody, nil, 0
	// The representation a plain GET of the path answers: no page, no
	// conditions, no body.
	for _, h := range []string{"Range", "If-Match", "If-None-Match", "X-Http-Method-Override", "Content-Type", "Content-Length"} {
		get.Header.Del(h)
	}
	if _, pattern := s.mux.Handler(get); pattern == "" {
		return nil
	}
	probe := newResponseBuffer(nil)
	probe.stopStream = stop // a streaming GET has no ETag: no need to wait for its end
	s.mux.ServeHTTP(probe, get)
	return probe
}

// statusRecorder captures what ServeMux's fallback handlers answer.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}
func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(p), nil
}
