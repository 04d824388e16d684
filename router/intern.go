package router

// commonHeaders maps canonical names of frequent response headers to
// themselves, so canonicalKey can return them without allocating. It is
// read-only.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Origin", "Age", "Cache-Control", "Connection",
		"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
		"Content-Location", "Content-Range", "Content-Security-Policy", "Content-Type", "Date",
		"Etag", "Expires", "Keep-Alive", "Last-Modified", "Link", "Location", "Pragma",
		"Proxy-Authenticate", "Proxy-Connection", "Referrer-Policy", "Retry-After", "Sec-Websocket-Accept",
		"Sec-Websocket-Extensions", "Sec-Websocket-Protocol", "Server", "Set-Cookie",
		"Strict-Transport-Security", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Vary", "Via",
		"Www-Authenticate", "X-Content-Type-Options", "X-Frame-Options", "X-Request-Id",
		"X-Powered-By", "X-Runtime",
	} {
		m[k] = k
	}
	return m
}()

// canonicalKey returns the canonical MIME form of header name b (as
// textproto.CanonicalMIMEHeaderKey would), without allocating for common
// headers. b must consist of token bytes.
func canonicalKey(b []byte, uc *upConn) string {
	if k, ok := commonHeaders[string(b)]; ok {
		return k
	}
	upper := true
	canon := true
	for _, c := range b {
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canon = false
			break
		}
		upper = c == '-'
	}
	if canon {
		return string(b)
	}
	buf := append(uc.line[:0], b...)
	upper = true
	for i, c := range buf {
		switch {
		case upper && 'a' <= c && c <= 'z':
			buf[i] = c - ('a' - 'A')
		case !upper && 'A' <= c && c <= 'Z':
			buf[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	uc.line = buf[:0]
	if k, ok := commonHeaders[string(buf)]; ok {
		return k
	}
	return string(buf)
}

// internValue returns value as a string, reusing the string from this
// connection's previous responses when equal: dynos tend to repeat
// Content-Type, Server, even Date within a second.
func (uc *upConn) internValue(key string, value []byte) string {
	h := uint32(len(key))
	for i := 0; i < len(key) && i < 8; i++ {
		h = h*31 + uint32(key[i])
	}
	slot := &uc.values[h%uint32(len(uc.values))]
	if slot.key == key && slot.value == string(value) {
		return slot.value
	}
	v := string(value)
	slot.key, slot.value = key, v
	return v
}

type internSlot struct{ key, value string }
