package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type buildOut struct {
	ID              string
	Status          string
	OutputStreamURL string `json:"output_stream_url"`
	Slug            *struct{ ID string }
	Release         *struct{ ID string }
	SourceBlob      struct {
		URL      string
		Version  *string
		Checksum *string
	} `json:"source_blob"`
	Buildpacks []struct{ URL, Name string }
	User       struct{ Email string }
}

// output reads a build's output_stream_url without the API token, to its
// end (the build's).
func (b buildOut) output(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.OutputStreamURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET output_stream_url: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET output_stream_url: %d %s %v\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), err, body)
	}
	return string(body)
}

// build posts a build of body to app and returns it with its whole output
// and its state once ended.
func (m *minipaas) build(app, body string) (buildOut, string) {
	m.t.Helper()
	var b buildOut
	if code := m.api("POST", "/apps/"+app+"/builds", body, &b); code != http.StatusCreated {
		m.t.Fatalf("POST /apps/%s/builds %s: %d", app, body, code)
	}
	if b.Status != "pending" || b.ID == "" {
		m.t.Errorf("created build %+v, want pending", b)
	}
	out := b.output(m.t)
	if code := m.api("GET", "/apps/"+app+"/builds/"+b.ID, "", &b); code != http.StatusOK {
		m.t.Fatalf("GET build: %d", code)
	}
	return b, out
}

// gitArchive is `git archive` of the hello test app as GitHub serves
// repository tarballs: gzipped, the tree under "hello-main/", with a pax
// global header holding the commit.
func gitArchive(t *testing.T, g *gitClient) []byte {
	t.Helper()
	return archiveOf(t, g, g.helloRepo())
}

// archiveOf is gitArchive of the work tree repo's HEAD.
func archiveOf(t *testing.T, g *gitClient, repo string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := g.cmd(ctx, repo, "archive", "--format=tar.gz", "--prefix=hello-main/", "HEAD").Output()
	if err != nil {
		t.Fatalf("git archive: %v", err)
	}
	return out
}

func TestBuildsAPI(t *testing.T) {
	m := startMinipaas(t)
	g := newGitClient(t)
	tarball := gitArchive(t, g)
	sum := sha256.Sum256(tarball)
	checksum := "SHA256:" + hex.EncodeToString(sum[:])

	// Tarballs served over real HTTP; "hang" answers only when the
	// platform gives up.
	traversal := tarGz(t, map[string]string{"app/ok": "x", "../escaped": "evil"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/src.tgz":
			w.Write(tarball)
		case "/traversal.tgz":
			w.Write(traversal)
		case "/hang.tgz":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	if code := m.api("POST", "/apps", `{"name":"tarball"}`, nil); code != http.StatusCreated {
		t.Fatalf("POST /apps: %d", code)
	}

	// A build from a URL: fetched, checked, built, released and serving.
	b, out := m.build("tarball", fmt.Sprintf(`{"source_blob":{"url":%q,"checksum":%q,"version":"v1.2.3"}}`, srv.URL+"/src.tgz?token=s3cr3t", checksum))
	expectIn(t, out, "-----> Fetching source code from "+srv.URL+"/src.tgz\n", "-----> Compressing...", "Released v1")
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("the output shows the source URL's query:\n%s", out)
	}
	if b.Status != "succeeded" || b.Slug == nil || b.Release == nil || b.SourceBlob.Version == nil || *b.SourceBlob.Version != "v1.2.3" || b.SourceBlob.Checksum == nil || *b.SourceBlob.Checksum != checksum {
		t.Errorf("build after it ended: %+v", b)
	}
	m.waitFor("tarball", "the built app answering", func(status int, body string) bool {
		return status == 200 && strings.Contains(body, "from web.1")
	})
	var rels []releaseOut
	m.api("GET", "/apps/tarball/releases", "", &rels)
	if len(rels) != 1 || rels[0].Description != "Deploy v1.2.3" || b.Release == nil || rels[0].ID != b.Release.ID {
		t.Errorf("releases %+v; build's release %+v", rels, b.Release)
	}

	// Builds that fail say why, in the output, and leave the app alone.
	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"checksum mismatch", fmt.Sprintf(`{"source_blob":{"url":%q,"checksum":"SHA256:%s"}}`, srv.URL+"/src.tgz", strings.Repeat("0", 64)), "Checksum does not match expected value"},
		{"path traversal", fmt.Sprintf(`{"source_blob":{"url":%q}}`, srv.URL+"/traversal.tgz"), `"../escaped"`},
		{"not found", fmt.Sprintf(`{"source_blob":{"url":%q}}`, srv.URL+"/missing.tgz"), "404 Not Found"},
	} {
		b, out := m.build("tarball", tc.body)
		if b.Status != "failed" || b.Release != nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: build %+v, output lacks %q:\n%s", tc.name, b, tc.want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(m.dataDir, "tmp", "escaped")); err == nil {
		t.Error("the traversal tarball wrote outside its directory")
	}
	if code, body, _ := m.get("tarball"); code != 200 || !strings.Contains(body, "from web.1") {
		t.Errorf("after the failed builds the app answers %d %q", code, body)
	}

	// Bad requests are refused, naming the field.
	for body, field := range map[string]string{
		`{}`: "source_blob",
		`{"source_blob":{"url":"file:///etc/passwd"}}`:                                  "source_blob.url",
		`{"source_blob":{"url":"http://x/s.tgz","checksum":"MD5:abc"}}`:                 "source_blob.checksum",
		`{"source_blob":{"url":"http://x/s.tgz"},"buildpacks":[{"url":"heroku/ruby"}]}`: "buildpacks[0]",
	} {
		code, got := m.apiRaw("POST", "/apps/tarball/builds", body)
		if code != http.StatusUnprocessableEntity || !strings.Contains(got, field) {
			t.Errorf("POST builds %s: %d %s; want 422 naming %s", body, code, got, field)
		}
	}

	// A running build can be cancelled, once.
	var hanging buildOut
	m.api("POST", "/apps/tarball/builds", fmt.Sprintf(`{"source_blob":{"url":%q}}`, srv.URL+"/hang.tgz"), &hanging)
	if code := m.api("DELETE", "/apps/tarball/builds/"+hanging.ID, "", nil); code != http.StatusOK {
		t.Errorf("DELETE a running build: %d", code)
	}
	if out := hanging.output(t); !strings.Contains(out, "context canceled") {
		t.Errorf("cancelled build's output:\n%s", out)
	}
	m.api("GET", "/apps/tarball/builds/"+hanging.ID, "", &hanging)
	if hanging.Status != "failed" {
		t.Errorf("cancelled build: %+v", hanging)
	}
	m.expectError("DELETE", "/apps/tarball/builds/"+hanging.ID, "", http.StatusConflict, "conflict")

	// Upload first (POST /sources, PUT put_url), then build from get_url,
	// with a buildpack named for this build only.
	var src struct {
		SourceBlob struct {
			GetURL string `json:"get_url"`
			PutURL string `json:"put_url"`
		} `json:"source_blob"`
	}
	if code := m.api("POST", "/sources", "", &src); code != http.StatusCreated || src.SourceBlob.PutURL == "" {
		t.Fatalf("POST /sources: %d %+v", code, src)
	}
	req, _ := http.NewRequest("PUT", src.SourceBlob.PutURL, bytes.NewReader(tarball))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT put_url: %v %v", resp, err)
	}
	if resp, err := http.Get(strings.TrimSuffix(src.SourceBlob.GetURL, "0") + "1"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET of a source blob with a wrong token: %v %v", resp, err)
	}
	b, out = m.build("tarball", fmt.Sprintf(`{"source_blob":{"url":%q},"buildpacks":[{"url":"heroku/go"}]}`, src.SourceBlob.GetURL))
	expectIn(t, out, "Released v2")
	if b.Status != "succeeded" || len(b.Buildpacks) != 1 || b.Buildpacks[0].Name != "heroku/go" {
		t.Errorf("build from an upload: %+v", b)
	}

	// A git push is a build too; the list holds them all, oldest first.
	_, err := g.push(g.helloRepo(), m.gitURL("tarball", m.token))
	if err != nil {
		t.Fatalf("git push: %v", err)
	}
	var all []buildOut
	m.api("GET", "/apps/tarball/builds", "", &all)
	var states []string
	for _, b := range all {
		states = append(states, b.Status)
	}
	want := "succeeded failed failed failed failed succeeded succeeded"
	if got := strings.Join(states, " "); got != want {
		t.Errorf("builds: %s, want %s", got, want)
	}
	if last := all[len(all)-1]; last.SourceBlob.Version == nil || len(*last.SourceBlob.Version) != 40 || last.User.Email != accountEmail {
		t.Errorf("the git push's build: %+v", last)
	} else if out := last.output(t); !strings.Contains(out, "Released v3") {
		t.Errorf("the git push's build output:\n%s", out)
	}

	// A slug the app ran can be released again, by id.
	var rel releaseOut
	if code := m.api("POST", "/apps/tarball/releases", fmt.Sprintf(`{"slug":%q,"description":"again"}`, b.Slug.ID), &rel); code != http.StatusCreated || rel.Version != 4 || rel.Description != "again" {
		t.Errorf("POST releases with a slug: %d %+v", code, rel)
	}
	m.expectError("POST", "/apps/tarball/releases", `{"slug":"0123"}`, http.StatusNotFound, "not_found")

	if code := m.api("DELETE", "/apps/tarball/build-cache", "", nil); code != http.StatusAccepted {
		t.Errorf("DELETE build-cache: %d", code)
	}
	// A wrong output token reads nothing.
	if resp, err := http.Get(b.OutputStreamURL + "x"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("output with a wrong token: %v %v", resp, err)
	}
}

// tarGz is a gzipped tar of files (name → content), names as given.
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}
