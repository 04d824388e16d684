package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
)

// fakeBackupControl is platformControl with the Backups capability over
// backups kept in memory.
type fakeBackupControl struct {
	platformControl
	mu      sync.Mutex
	dbs     map[string][]string // app → its databases
	backups map[string][]Backup // app → newest first
	dumps   map[string][]byte   // app/name → bytes
}

func (c *fakeBackupControl) ListBackups(ctx context.Context, app string) ([]Backup, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.backups[app]), nil
}

func (c *fakeBackupControl) BackupDatabases(ctx context.Context, app string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.dbs[app]), nil
}

func (c *fakeBackupControl) CaptureBackup(ctx context.Context, app, db string) (Backup, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := Backup{Name: fmt.Sprintf("b%03d", len(c.backups[app])+1), Database: db, Status: "Completed", Size: 1234, CreatedAt: time.Now()}
	c.backups[app] = append([]Backup{b}, c.backups[app]...)
	c.dumps[app+"/"+b.Name] = []byte("PGDMP" + db)
	return b, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (c *fakeBackupControl) OpenBackup(ctx context.Context, app, name string) (io.ReadCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dumps[app+"/"+name]
	if !ok {
		return nil, fmt.Errorf("backup %s of %s: %w", name, app, platform.ErrNotFound)
	}
	if name == "b900" { // a sealed dump whose end does not authenticate
		return io.NopCloser(io.MultiReader(bytes.NewReader(d), iotest.ErrReader(errors.New("does not authenticate")))), nil
	}
	return nopCloser{bytes.NewReader(d)}, nil
}

// TestBackups: the app's backups listed with a download link for the
// completed ones, capture of one of its own databases only, the download
// served as a file.
func TestBackups(t *testing.T) {
	p := openPlatform(t)
	for _, app := range []string{"demo", "other"} {
		if _, err := p.CreateApp(context.Background(), app); err != nil {
			t.Fatal(err)
		}
	}
	c := &fakeBackupControl{platformControl: platformControl{p}, dbs: map[string][]string{"demo": {"postgresql-a"}, "other": {"postgresql-b"}},
		backups: map[string][]Backup{"demo": {{Name: "b001", Database: "postgresql-a", Status: "Running", Size: 5_400_000}}}, dumps: map[string][]byte{}}
	b := newBrowser(t, &Handler{Source: p, Control: c, Token: token, User: dashUser})

	_, page := b.do("GET", "/dashboard/apps/demo", nil, nil)
	for _, want := range []string{
		"<h2>Backups</h2>", `<tr class="backup" data-name="b001">`, `<td class="status">Running</td>`, `<td class="size">5.4 MB</td>`,
		`<form id="capture-backup" class="inline" method="post" action="/dashboard/apps/demo/backups">`, `<option value="postgresql-a">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	if strings.Contains(page, `class="download"`) {
		t.Error("a running backup has a download link")
	}

	if level, text := b.submit("backups", url.Values{"database": {"postgresql-b"}}); level != "error" || !strings.Contains(text, "choose one of demo's own databases") {
		t.Errorf("capture another app's database: %s %q", level, text)
	}
	if level, text := b.submit("backups", url.Values{"database": {"postgresql-a"}}); level != "ok" || !strings.HasPrefix(text, "Started backup b002 of postgresql-a") {
		t.Errorf("capture: %s %q", level, text)
	}
	_, page = b.do("GET", "/dashboard/apps/demo", nil, nil)
	if !strings.Contains(page, `<a class="download" href="/dashboard/apps/demo/backups/b002" download>`) {
		t.Error("the completed backup has no download link")
	}
	resp, body := b.do("GET", "/dashboard/apps/demo/backups/b002", nil, nil)
	if resp.StatusCode != 200 || body != "PGDMPpostgresql-a" || !strings.Contains(resp.Header.Get("Content-Disposition"), `filename="demo-b002.dump"`) {
		t.Errorf("download: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Disposition"))
	}
	// A dump that is not a file streams; one that fails to read breaks the
	// download off rather than ending it as if whole.
	c.dumps["demo/b900"] = []byte("PGDMP")
	req, _ := http.NewRequest("GET", b.srv.URL+"/dashboard/apps/demo/backups/b900", nil)
	req.SetBasicAuth("anyone", token)
	if resp, err := b.c.Do(req); err == nil { // an error here is right too: the data was still buffered
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("download of a dump that fails midway: %d %q ended as if whole", resp.StatusCode, got)
		}
	}
	for _, path := range []string{"/dashboard/apps/demo/backups/b009", "/dashboard/apps/other/backups/b002", "/dashboard/apps/nosuch/backups/b001"} {
		if resp, _ := b.do("GET", path, nil, nil); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}

	// Without the capability: no section, and the form says why.
	plain := newBrowser(t, &Handler{Source: p, Control: platformControl{p}, Token: token})
	if _, page := plain.do("GET", "/dashboard/apps/demo", nil, nil); strings.Contains(page, "<h2>Backups</h2>") {
		t.Error("a Control without Backups shows the section")
	}
	if level, text := plain.submit("backups", url.Values{"database": {"postgresql-a"}}); level != "error" || text != "Backups cannot be taken on this platform." {
		t.Errorf("capture without the capability: %s %q", level, text)
	}
	if resp, _ := plain.do("GET", "/dashboard/apps/demo/backups/b002", nil, nil); resp.StatusCode != 404 {
		t.Errorf("download without the capability: %d", resp.StatusCode)
	}
}
