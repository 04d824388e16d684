package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

type slugOut struct {
	ID   string
	Blob struct {
		Method string
		URL    string
	}
	Checksum     *string
	Commit       *string
	ProcessTypes map[string]string `json:"process_types"`
	Size         *int64
}

func blobPut(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", url, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT blob: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSlugsAPI moves a built slug to another app the way a CI system
// would: download it from the first app's slug, create a slug on the
// second with the same process types, upload, release.
func TestSlugsAPI(t *testing.T) {
	m := startMinipaas(t)
	g := newGitClient(t)
	for _, app := range []string{"slugsrc", "slugdst"} {
		if code := m.api("POST", "/apps", fmt.Sprintf(`{"name":%q}`, app), nil); code != http.StatusCreated {
			t.Fatalf("POST /apps %s: %d", app, code)
		}
	}
	m.pushHello(g, "slugsrc")

	var rels []struct{ Slug struct{ ID string } }
	m.api("GET", "/apps/slugsrc/releases", "", &rels)
	var built slugOut
	if code := m.api("GET", "/apps/slugsrc/slugs/"+rels[0].Slug.ID, "", &built); code != http.StatusOK || built.Blob.Method != "get" || built.ProcessTypes["web"] == "" || built.Size == nil || built.Checksum == nil {
		t.Fatalf("GET the built slug: %d %+v", code, built)
	}
	resp, err := http.Get(built.Blob.URL) // no API token: the URL holds its own
	if err != nil {
		t.Fatal(err)
	}
	tarball, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(tarball)
	if resp.StatusCode != http.StatusOK || int64(len(tarball)) != *built.Size || "SHA256:"+hex.EncodeToString(sum[:]) != *built.Checksum {
		t.Fatalf("download: %d, %d bytes, want %d with %s", resp.StatusCode, len(tarball), *built.Size, *built.Checksum)
	}

	// Create, upload once, release.
	body := fmt.Sprintf(`{"process_types":{"web":%q},"commit":"abc1234def","checksum":%q}`, built.ProcessTypes["web"], *built.Checksum)
	var s slugOut
	if code := m.api("POST", "/apps/slugdst/slugs", body, &s); code != http.StatusCreated || s.Blob.Method != "put" || s.Size != nil {
		t.Fatalf("POST slugs: %d %+v", code, s)
	}
	m.expectError("POST", "/apps/slugdst/releases", fmt.Sprintf(`{"slug":%q}`, s.ID), http.StatusUnprocessableEntity, "invalid_params")
	if code, got := blobPut(t, s.Blob.URL+"0", tarball); code != http.StatusNotFound {
		t.Errorf("PUT with a wrong token: %d %s", code, got)
	}
	if code, got := blobPut(t, s.Blob.URL, tarball); code != http.StatusOK {
		t.Fatalf("PUT the slug: %d %s", code, got)
	}
	if code, got := blobPut(t, s.Blob.URL, tarball); code != http.StatusConflict {
		t.Errorf("PUT again: %d %s", code, got)
	}
	var rel releaseOut
	if code := m.api("POST", "/apps/slugdst/releases", fmt.Sprintf(`{"slug":%q}`, s.ID), &rel); code != http.StatusCreated || rel.Version != 1 || rel.Description != "Deploy abc1234" {
		t.Fatalf("release the uploaded slug: %d %+v", code, rel)
	}
	m.waitFor("slugdst", "the uploaded slug serving", func(status int, body string) bool {
		return status == 200 && strings.Contains(body, "from web.1")
	})
	m.api("GET", "/apps/slugdst/slugs/"+s.ID, "", &s)
	if s.Blob.Method != "get" || s.Size == nil || *s.Size != *built.Size || s.Commit == nil || *s.Commit != "abc1234def" {
		t.Errorf("the uploaded slug: %+v", s)
	}

	// Bad slugs are refused at creation or upload, naming why.
	for body, field := range map[string]string{
		`{}`:                                 "process_types",
		`{"process_types":{"bad type":"x"}}`: "process_types",
		`{"process_types":{"web":""}}`:       "process_types.web",
		`{"process_types":{"web":"x"},"checksum":"md5:1"}`: "checksum",
	} {
		code, got := m.apiRaw("POST", "/apps/slugdst/slugs", body)
		if code != http.StatusUnprocessableEntity || !strings.Contains(got, field) {
			t.Errorf("POST slugs %s: %d %s; want 422 naming %s", body, code, got, field)
		}
	}
	for _, tc := range []struct {
		name, checksum string
		data           []byte
		want           string
	}{
		{"checksum mismatch", "SHA256:" + strings.Repeat("0", 64), tarball, "Checksum does not match"},
		{"not a slug", "", []byte("not gzip"), "not a gzip stream"},
		{"path traversal", "", tarGz(t, map[string]string{"./app/../../escaped": "x"}), `".."`},
	} {
		var bad slugOut
		m.api("POST", "/apps/slugdst/slugs", fmt.Sprintf(`{"process_types":{"web":"x"},"checksum":%q}`, tc.checksum), &bad) // "" declares none
		if code, got := blobPut(t, bad.Blob.URL, tc.data); code != http.StatusUnprocessableEntity || !strings.Contains(got, tc.want) {
			t.Errorf("%s: PUT %d %q, want 422 with %q", tc.name, code, got, tc.want)
		}
	}
}
