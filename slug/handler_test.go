package slug_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/slug"
)

// seeklessStore hides the seekable reader to exercise the plain path.
type seeklessStore struct{ slug.Store }

func (s seeklessStore) Open(ctx context.Context, d slug.Digest) (io.ReadCloser, slug.Info, error) {
	rc, info, err := s.Store.Open(ctx, d)
	if err != nil {
		return nil, info, err
	}
	return struct{ io.ReadCloser }{rc}, info, nil
}

func TestHandler(t *testing.T) {
	data := make([]byte, 100_000)
	rand.Read(data)
	fs := &slug.FSStore{Dir: t.TempDir()}
	info, err := fs.Put(context.Background(), bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	for name, store := range map[string]slug.Getter{"seekable": fs, "seekless": seeklessStore{fs}} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.StripPrefix("/slugs", &slug.Handler{Store: store}))
			defer srv.Close()
			do := func(method, path string, hdr map[string]string) (*http.Response, []byte) {
				t.Helper()
				req, _ := http.NewRequest(method, srv.URL+path, nil)
				for k, v := range hdr {
					req.Header.Set(k, v)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp, b
			}
			etag := `"` + string(info.Digest) + `"`
			for _, p := range []string{"/slugs/" + string(info.Digest), "/slugs/" + info.Digest.Hex(), "/slugs/sha256:" + strings.ToUpper(info.Digest.Hex())} {
				resp, body := do("GET", p, nil)
				if resp.StatusCode != 200 || !bytes.Equal(body, data) {
					t.Fatalf("GET %s: %s, %d bytes", p, resp.Status, len(body))
				}
				if resp.Header.Get("ETag") != etag || resp.Header.Get("Content-Type") != "application/gzip" || !strings.HasPrefix(resp.Header.Get("Repr-Digest"), "sha-256=:") {
					t.Errorf("GET %s headers: %v", p, resp.Header)
				}
			}
			resp, body := do("HEAD", "/slugs/"+string(info.Digest), nil)
			if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(data)) {
				t.Errorf("HEAD: %s, body %d, length %d", resp.Status, len(body), resp.ContentLength)
			}
			resp, _ = do("GET", "/slugs/"+string(info.Digest), map[string]string{"If-None-Match": etag})
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("conditional GET: %s, want 304", resp.Status)
			}
			if name == "seekable" {
				resp, body = do("GET", "/slugs/"+string(info.Digest), map[string]string{"Range": "bytes=100-199"})
				if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[100:200]) {
					t.Errorf("range GET: %s, %d bytes", resp.Status, len(body))
				}
			}
			if resp, _ := do("GET", "/slugs/"+string(slug.DigestOf([]byte("nope"))), nil); resp.StatusCode != 404 {
				t.Errorf("missing slug: %s, want 404", resp.Status)
			}
			if resp, body := do("GET", "/slugs/not-a-digest", nil); resp.StatusCode != 400 || !strings.Contains(string(body), "invalid digest") {
				t.Errorf("bad digest: %s %q, want 400", resp.Status, body)
			}
			if resp, _ := do("PUT", "/slugs/"+string(info.Digest), nil); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("PUT: %s, want 405 with Allow", resp.Status)
			}
		})
	}
}

func TestHTTPGetter(t *testing.T) {
	mem := &slug.MemStore{}
	data := []byte("a slug served over HTTP")
	info, _ := mem.Put(context.Background(), bytes.NewReader(data), "")
	srv := httptest.NewServer(http.StripPrefix("/slugs/", &slug.Handler{Store: mem}))
	defer srv.Close()
	g := &slug.HTTPGetter{BaseURL: srv.URL + "/slugs/", Client: srv.Client()}

	rc, got, err := g.Open(context.Background(), info.Digest)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(b, data) || got.Size != int64(len(data)) {
		t.Fatalf("read %q (%+v), %v", b, got, err)
	}
	if _, _, err := g.Open(context.Background(), slug.DigestOf([]byte("missing"))); !errors.Is(err, slug.ErrNotFound) {
		t.Errorf("missing: err = %v, want ErrNotFound", err)
	}

	// A server that lies about the content is caught at the end of the read.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tampered") }))
	defer liar.Close()
	rc, _, err = (&slug.HTTPGetter{BaseURL: liar.URL}).Open(context.Background(), info.Digest)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, slug.ErrDigestMismatch) {
		t.Errorf("tampered body: err = %v, want ErrDigestMismatch", err)
	}
}
