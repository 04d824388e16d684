package slug

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Handler serves slugs from a store over HTTP: GET or HEAD /<digest>, where
// digest is "SHA256:<hex>" (any case) or the bare 64 hex digits. Mount it
// under a prefix with http.StripPrefix. Responses carry the digest as a
// strong ETag and as an RFC 9530 Repr-Digest; slugs are immutable, so they
// are cacheable forever. When the store's reader can seek, Range and
// conditional requests are handled by http.ServeContent.
type Handler struct {
	Store Getter
	// Logger receives store errors (answered with 500); nil discards.
	Logger *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: slugs are read with GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	name := path.Base(r.URL.Path)
	if len(name) == 64 {
		name = "SHA256:" + name
	}
	d, err := ParseDigest(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc, info, err := h.Store.Open(r.Context(), d)
	if errors.Is(err, ErrNotFound) {
		http.Error(w, "slug not found: "+string(d), http.StatusNotFound)
		return
	}
	if err != nil {
		if h.Logger != nil {
			h.Logger.Error("slug: serving", "digest", string(d), "err", err)
		}
		http.Error(w, "slug store error", http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", "application/gzip")
	hdr.Set("ETag", `"`+string(d)+`"`)
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	sum, _ := hex.DecodeString(d.Hex())
	hdr.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", info.CreatedAt, rs)
		return
	}
	if etagMatches(r.Header.Get("If-None-Match"), string(d)) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	if !info.CreatedAt.IsZero() {
		hdr.Set("Last-Modified", info.CreatedAt.UTC().Format(http.TimeFormat))
	}
	if r.Method == http.MethodHead {
		return
	}
	io.Copy(w, rc)
}

func etagMatches(header, d string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == `"`+d+`"` {
			return true
		}
	}
	return false
}

// HTTPGetter fetches slugs from a Handler (or any server with the same
// URL scheme) and verifies their digest as they are read: a reader whose
// bytes do not match fails at the end with a *DigestMismatchError instead
// of io.EOF. The zero Client means http.DefaultClient.
type HTTPGetter struct {
	BaseURL string // e.g. "http://10.0.0.5:8080/slugs"
	Client  *http.Client
}

var _ Getter = (*HTTPGetter)(nil)

// Open implements Getter. The reader does not seek.
func (g *HTTPGetter) Open(ctx context.Context, d Digest) (io.ReadCloser, Info, error) {
	d, err := d.canonical()
	if err != nil {
		return nil, Info{}, err
	}
	u, err := url.JoinPath(g.BaseURL, d.Hex())
	if err != nil {
		return nil, Info{}, fmt.Errorf("slug: http get: base URL %q: %w", g.BaseURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, Info{}, fmt.Errorf("slug: http get: %w", err)
	}
	c := g.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, Info{}, fmt.Errorf("slug: http get %s: %w", d, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, Info{}, notFound(d)
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, Info{}, fmt.Errorf("slug: http get %s: %s: %s", d, resp.Status, strings.TrimSpace(string(msg)))
	}
	info := Info{Digest: d, Size: resp.ContentLength}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		info.CreatedAt = t
	} else {
		info.CreatedAt = time.Time{}
	}
	return &verifyingReader{rc: resp.Body, d: newDigester(), want: d}, info, nil
}

type verifyingReader struct {
	rc   io.ReadCloser
	d    *digester
	want Digest
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.d.Write(p[:n])
	if err == io.EOF {
		if got := v.d.digest(); got != v.want {
			return n, &DigestMismatchError{Want: v.want, Got: got}
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }
