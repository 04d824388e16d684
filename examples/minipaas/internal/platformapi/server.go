package platformapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
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
	l.mu.Lock()
	defer l.mu.Unlock()
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
	if b.tokens < 1 {
		return 0, false
	}
	b.tokens--
	return int(b.tokens), true
}

// HandlerFunc is an API endpoint; a returned error is answered with
// WriteError (so return *Error for client errors).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Server applies the API's transport conventions in front of endpoints
// registered with Handle: Request-Id, version check (406), bearer or basic
// auth (401), rate limit with RateLimit-Remaining (429), JSON errors for
// unknown paths (404) and methods (405). The zero value refuses every
// request as unauthorized: set Token or Authenticate.
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
}

func (s *Server) init() {
	s.once.Do(func() {
		s.mux = http.NewServeMux()
		s.limiter = s.RateLimit
		if s.limiter == nil {
			s.limiter = new(RateLimiter)
		}
	})
}

// Handle registers h for a Go ServeMux pattern with a method, e.g.
// "GET /apps/{app}/releases". It panics on a bad or duplicate pattern, as
// http.ServeMux does.
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
	if err := CheckVersion(r); err != nil {
		WriteError(w, s.Logger, err)
		return
	}
	account, ok := s.authenticate(r)
	if !ok {
		WriteError(w, s.Logger, Errorf(http.StatusUnauthorized, IDUnauthorized, "Invalid credentials provided."))
		return
	}
	remaining, ok := s.limiter.Take(account)
	w.Header().Set("RateLimit-Remaining", strconv.Itoa(remaining))
	if !ok {
		WriteError(w, s.Logger, Errorf(http.StatusTooManyRequests, IDRateLimit, "Your account reached the API rate limit. Please wait a few minutes before making new requests."))
		return
	}
	h, pattern := s.mux.Handler(r)
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
	s.mux.ServeHTTP(w, r) // sets the path values that h needs
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
