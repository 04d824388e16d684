package platformapi

import (
	"net/http"
	"strings"
)

// CORS: the API authenticates with the Authorization header only, never
// with cookies, so any origin may call it; credentialed requests
// (Access-Control-Allow-Credentials) are not allowed, which keeps a
// browser's stored basic-auth credentials out of other sites' reach.
const (
	// corsExposedHeaders are the response headers a browser client reads.
	corsExposedHeaders = "Request-Id, RateLimit-Remaining, ETag, Content-Range, Next-Range, Accept-Ranges, Allow, Warning-Message, X-Heroku-Warning"
	corsAllowedMethods = "GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS"
	// corsAllowedHeaders answers a preflight that asks for no headers or
	// for a malformed list; a well-formed list is echoed, so that clients
	// may send their own headers (the CLI's HEROKU_HEADERS).
	corsAllowedHeaders = "Accept, Authorization, Content-Type, Range, If-None-Match, If-Match, X-Http-Method-Override, Request-Id, Heroku-Two-Factor-Code"
	corsMaxAge         = "600" // seconds a browser may reuse a preflight
)

// setCORS adds the CORS headers for a browser's request (one with Origin)
// to h and reports whether r is a preflight, which carries neither the
// API's Accept nor credentials and is answered by Server alone.
func setCORS(h http.Header, r *http.Request) (preflight bool) {
	// Responses differ by the presence of Origin: a cache must not hand
	// one made without CORS headers to a browser's cross-origin request.
	h.Add("Vary", "Origin")
	if r.Header.Get("Origin") == "" {
		return false
	}
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		h.Set("Access-Control-Expose-Headers", corsExposedHeaders)
		return false
	}
	h.Set("Access-Control-Allow-Methods", corsAllowedMethods)
	allowed := corsAllowedHeaders
	if requested := strings.Join(r.Header.Values("Access-Control-Request-Headers"), ","); isHeaderNameList(requested) {
		allowed = requested
	}
	h.Set("Access-Control-Allow-Headers", allowed)
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Max-Age", corsMaxAge)
	return true
}

// isHeaderNameList reports whether s is a comma-separated list of at least
// one header name, so that echoing it cannot inject anything else.
func isHeaderNameList(s string) bool {
	names := 0
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !isToken(name) {
			return false
		}
		names++
	}
	return names > 0
}
