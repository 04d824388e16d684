package main

// heroku pg:backups: logical backups of heroku-postgresql add-ons and
// restores into them, as the "transfers" of Heroku's Data API that the CLI
// drives (capture, list, info, cancel, delete, url, download, restore),
// and pg:copy between two of minipaas's databases.
//
// A backup is the provider's pg_dump (addons.Manager.Backup), streamed to
// DataDir/backups/<app ID>/<transfer UUID>.dump through a temporary file,
// so a half-written dump is never listed. A restore streams a backup, or
// any http(s) URL holding a pg_dump custom-format archive, into
// pg_restore (addons.Manager.Restore). Transfers run in the background
// under the platform's lifetime; the CLI polls them. Their records live in
// platform.db by app ID, so renames keep them; they go with the app.
//
// Choices where Heroku's service differs or is silent:
//   - Numbers (b001, r002) count per app and are never reused.
//   - The newest keptBackups successful backups of each database are
//     kept: a new one expires the oldest, as Heroku's retention limit does.
//   - A transfer a stop or crash interrupted is recorded as failed at the
//     next start (Heroku's workers would resume it); its partial dump is
//     removed.
//   - Public URLs (pg:backups:url, download) are signed and expire after
//     publicURLTTL; they are served over HTTPS on the rendezvous listener,
//     whose private CA the CLI trusts with NODE_EXTRA_CA_CERTS (the CLI
//     downloads over https only). The signing key is made at each start,
//     so a restart also expires them.
//   - One transfer at a time per database: another is refused with 409
//     rather than queued.
//   - A restore or copy empties the target and loads the dump in one
//     transaction (the provider's Restore): a failed one changes nothing.
//   - With -config-key-file, dumps are sealed at rest (sealed.Box
//     streams, each bound to its transfer) and opened when downloaded or
//     restored; dumps from before the key read as they are. Heroku
//     encrypts its backups at rest too. A sealed dump is downloaded
//     without ranges.
//   - pg:copy copies between minipaas's own databases only.
//   - Scheduled backups (pg:backups:schedule) run daily at the hour and
//     time zone given; one missed while minipaas was stopped runs once at
//     the next start. The newest keptScheduled of each database are kept
//     (Heroku keeps a week of dailies and some weeklies).

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/examples/minipaas/internal/dashboard"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
	"github.com/dynokit/dynokit/release/sealed"
	"github.com/jackc/pgx/v5"
)

const (
	keptBackups   = 5
	keptScheduled = 7
	publicURLTTL  = 10 * time.Minute
	// Transfer kinds, as the CLI tells them apart (b: pg_dump to gof3r;
	// r: anything to pg_restore). Restores of a minipaas backup come from
	// "gof3r", of another URL from "htcat", as on Heroku.
	typePGDump    = "pg_dump"
	typeGof3r     = "gof3r"
	typePGRestore = "pg_restore"
	typeHTCat     = "htcat"
)

// transfer is one backup or restore, as platform.db keeps it.
type transfer struct {
	UUID    string `json:"uuid"`
	Num     int    `json:"num"`
	AppID   string `json:"app_id"`   // the database's billing app
	AddonID string `json:"addon_id"` // the database backed up or restored into
	// FromType/ToType: pg_dump → gof3r for a backup; gof3r or htcat →
	// pg_restore for a restore. Names are add-on names or backup names.
	FromType   string        `json:"from_type"`
	FromName   string        `json:"from_name"`
	FromURL    string        `json:"from_url,omitempty"`
	ToType     string        `json:"to_type"`
	ToName     string        `json:"to_name"`
	CreatedAt  time.Time     `json:"created_at"`
	StartedAt  time.Time     `json:"started_at,omitzero"`
	FinishedAt time.Time     `json:"finished_at,omitzero"`
	CanceledAt time.Time     `json:"canceled_at,omitzero"`
	Succeeded  bool          `json:"succeeded"`
	Processed  int64         `json:"processed_bytes"`
	SourceSize int64         `json:"source_bytes"`
	Logs       []transferLog `json:"logs,omitempty"`
	// Schedule names the schedule that made a backup ("" for a manual one).
	Schedule string `json:"schedule,omitempty"`

	processed atomic.Int64       // live count while running
	cancel    context.CancelFunc // set while running
}

type transferLog struct {
	CreatedAt time.Time `json:"created_at"`
	Message   string    `json:"message"`
}

func (t *transfer) isBackup() bool { return t.FromType == typePGDump && t.ToType == typeGof3r }

func (t *transfer) isCopy() bool { return t.FromType == typePGDump && t.ToType == typePGRestore }

func (t *transfer) running() bool { return t.FinishedAt.IsZero() }

// name is the transfer's name as the CLI shows it (b001, r002, c003).
func (t *transfer) name() string {
	prefix := "r"
	switch {
	case t.isBackup() && t.Schedule != "":
		prefix = "a"
	case t.isBackup():
		prefix = "b"
	case t.isCopy():
		prefix = "c"
	}
	return fmt.Sprintf("%s%03d", prefix, t.Num)
}

// transferJSON is a transfer as the Data API shows it.
type transferJSON struct {
	UUID           string        `json:"uuid"`
	Num            int           `json:"num"`
	FromName       string        `json:"from_name"`
	FromType       string        `json:"from_type"`
	FromURL        string        `json:"from_url,omitempty"`
	ToName         string        `json:"to_name"`
	ToType         string        `json:"to_type"`
	ToURL          string        `json:"to_url,omitempty"`
	Options        struct{}      `json:"options"`
	Succeeded      bool          `json:"succeeded"`
	Warnings       int           `json:"warnings"`
	ProcessedBytes int64         `json:"processed_bytes"`
	SourceBytes    int64         `json:"source_bytes"`
	Schedule       *scheduleRef  `json:"schedule"`
	CreatedAt      string        `json:"created_at"`
	UpdatedAt      string        `json:"updated_at"`
	StartedAt      *string       `json:"started_at"`
	FinishedAt     *string       `json:"finished_at"`
	CanceledAt     *string       `json:"canceled_at"`
	Logs           []logLineJSON `json:"logs,omitempty"`
}

type scheduleRef struct {
	Name string `json:"name"`
}

type logLineJSON struct {
	CreatedAt string `json:"created_at"`
	Message   string `json:"message"`
}

// pgBackups runs and keeps the transfers.
type pgBackups struct {
	p      *platform.Platform
	addons *addonService
	dir    string // DataDir/backups
	log    *slog.Logger
	urlKey []byte // signs public URLs
	// box seals the dumps at rest when minipaas has config keys (nil:
	// plaintext); each dump is bound to its transfer.
	box *sealed.Box
	// publicBase is https://host:port of the rendezvous listener, which
	// serves the dumps (download); set by main.
	publicBase string
	// fetch gets restores' source URLs: no overall timeout (a dump
	// streams as long as it takes; cancel stops it), 30 s for the headers.
	fetch *http.Client
	// now and tick drive the schedules (time.Now and a minute; tests
	// set them).
	now  func() time.Time
	tick time.Duration

	mu        sync.Mutex
	transfers map[string]*transfer      // by UUID
	nums      map[string]int            // app ID → its last transfer number
	schedules map[string]backupSchedule // by add-on ID
}

func newPGBackups(ctx context.Context, p *platform.Platform, ad *addonService, dir string, box *sealed.Box, log *slog.Logger) (*pgBackups, error) {
	b := &pgBackups{p: p, addons: ad, dir: dir, box: box, log: log, urlKey: make([]byte, 32), now: time.Now, tick: time.Minute,
		transfers: map[string]*transfer{}, nums: map[string]int{}, schedules: map[string]backupSchedule{},
		fetch: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 30 * time.Second}}}
	_, _ = rand.Read(b.urlKey) // never fails (crypto/rand documents it)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backups: %w", err)
	}
	if err := b.loadSchedules(ctx); err != nil {
		return nil, err
	}
	nums, err := p.Records(ctx, platform.TransferNumRecords)
	if err != nil {
		return nil, err
	}
	for appID, v := range nums {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return nil, fmt.Errorf("backups: number of app %s: %w", appID, err)
		}
		b.nums[appID] = n
	}
	recs, err := p.Records(ctx, platform.TransferRecords)
	if err != nil {
		return nil, err
	}
	for key, raw := range recs {
		t := new(transfer)
		if err := json.Unmarshal(raw, t); err != nil {
			return nil, fmt.Errorf("backups: transfer %s: %w", key, err)
		}
		if _, err := p.AppByID(ctx, t.AppID); errors.Is(err, platform.ErrNotFound) {
			// Its app was destroyed and a crash kept the record.
			b.remove(ctx, t)
			continue
		}
		t.processed.Store(t.Processed) // before save, which reads it back
		if t.running() {
			// A stop or crash cut it short.
			now := time.Now()
			t.FinishedAt = now
			t.Logs = append(t.Logs, transferLog{now, "interrupted: minipaas stopped before the transfer finished"})
			_ = os.Remove(b.dumpPath(t) + ".tmp")
			b.save(ctx, t)
		}
		b.transfers[t.UUID] = t
	}
	return b, nil
}

func (b *pgBackups) dumpPath(t *transfer) string {
	return filepath.Join(b.dir, t.AppID, t.UUID+".dump")
}

// save writes t's record; the caller must not hold b.mu while t changes.
func (b *pgBackups) save(ctx context.Context, t *transfer) {
	b.mu.Lock()
	t.Processed = t.processed.Load()
	raw, err := json.Marshal(t)
	b.mu.Unlock()
	if err == nil {
		err = b.p.PutRecord(context.WithoutCancel(ctx), platform.TransferRecords, t.AppID+"/"+t.UUID, raw)
	}
	if err != nil {
		b.log.Warn("minipaas: backup transfer not saved", "transfer", t.UUID, "err", err)
	}
}

// remove deletes t's record and dump.
func (b *pgBackups) remove(ctx context.Context, t *transfer) {
	if err := os.Remove(b.dumpPath(t)); err != nil && !errors.Is(err, os.ErrNotExist) {
		b.log.Warn("minipaas: backup file not removed", "transfer", t.UUID, "err", err)
	}
	if err := b.p.DeleteRecord(context.WithoutCancel(ctx), platform.TransferRecords, t.AppID+"/"+t.UUID); err != nil {
		b.log.Warn("minipaas: backup transfer record not removed", "transfer", t.UUID, "err", err)
	}
}

// logf appends a line to t's log.
func (b *pgBackups) logf(t *transfer, format string, args ...any) {
	b.mu.Lock()
	t.Logs = append(t.Logs, transferLog{time.Now(), fmt.Sprintf(format, args...)})
	b.mu.Unlock()
}

// start records a new transfer of app on addon and runs do in the
// background; do returns the bytes the source holds (0: unknown).
func (b *pgBackups) start(ctx context.Context, t *transfer, do func(ctx context.Context, t *transfer) (int64, error)) (*transfer, error) {
	b.mu.Lock()
	if o := b.runningOnLocked(t.AddonID); o != nil {
		b.mu.Unlock()
		return nil, platformapi.Conflict("%s %s of %s is running: wait for it or stop it with heroku pg:backups:cancel", kindOf(o), o.name(), t.databaseName())
	}
	b.nums[t.AppID]++
	t.Num = b.nums[t.AppID]
	t.UUID = platformapi.NewUUID()
	t.CreatedAt = time.Now()
	runCtx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	b.transfers[t.UUID] = t
	num := t.Num
	b.mu.Unlock()
	if err := b.p.PutRecord(ctx, platform.TransferNumRecords, t.AppID, []byte(strconv.Itoa(num))); err != nil {
		b.forget(t)
		cancel()
		return nil, err
	}
	b.save(ctx, t)
	b.p.Go(func(pctx context.Context) {
		defer cancel()
		stop := context.AfterFunc(pctx, cancel)
		defer stop()
		b.mu.Lock()
		t.StartedAt = time.Now()
		b.mu.Unlock()
		b.logf(t, "%s started", kindOf(t))
		b.save(runCtx, t)
		size, err := do(runCtx, t)
		now := time.Now()
		b.mu.Lock()
		t.SourceSize = size
		t.FinishedAt = now
		t.cancel = nil
		switch {
		case err == nil:
			t.Succeeded = true
			t.Logs = append(t.Logs, transferLog{now, fmt.Sprintf("%s completed: %d bytes", kindOf(t), t.processed.Load())})
		case runCtx.Err() != nil && pctx.Err() == nil:
			t.CanceledAt = now
			t.Logs = append(t.Logs, transferLog{now, kindOf(t) + " canceled"})
		case pctx.Err() != nil:
			t.Logs = append(t.Logs, transferLog{now, "interrupted: minipaas stopped before the transfer finished"})
		default:
			t.Logs = append(t.Logs, transferLog{now, kindOf(t) + " failed: " + b.addons.scrub(err).Error()})
		}
		kept := b.transfers[t.UUID] == t // else its app was destroyed meanwhile
		b.mu.Unlock()
		if !kept {
			return
		}
		b.save(runCtx, t)
		if err == nil && t.isBackup() {
			b.expire(runCtx, t.AddonID)
		}
	})
	return t, nil
}

// runningOnLocked returns the transfer running on the add-on addonID, or
// nil (b.mu held).
func (b *pgBackups) runningOnLocked(addonID string) *transfer {
	for _, t := range b.transfers {
		if t.AddonID == addonID && t.running() {
			return t
		}
	}
	return nil
}

// forget drops a transfer that was never saved.
func (b *pgBackups) forget(t *transfer) {
	b.mu.Lock()
	delete(b.transfers, t.UUID)
	b.mu.Unlock()
}

func kindOf(t *transfer) string {
	switch {
	case t.isBackup():
		return "backup"
	case t.isCopy():
		return "copy"
	}
	return "restore"
}

func (t *transfer) databaseName() string {
	if t.isBackup() {
		return t.FromName
	}
	return t.ToName
}

// expire removes the oldest successful backups of addonID beyond
// keptBackups manual and keptScheduled scheduled ones.
func (b *pgBackups) expire(ctx context.Context, addonID string) {
	b.mu.Lock()
	var manual, scheduled []*transfer
	for _, t := range b.transfers {
		switch {
		case t.AddonID != addonID || !t.isBackup() || !t.Succeeded:
		case t.Schedule != "":
			scheduled = append(scheduled, t)
		default:
			manual = append(manual, t)
		}
	}
	var old []*transfer
	for _, l := range []struct {
		ts   []*transfer
		kept int
	}{{manual, keptBackups}, {scheduled, keptScheduled}} {
		slices.SortFunc(l.ts, func(x, y *transfer) int { return y.Num - x.Num })
		if len(l.ts) > l.kept {
			old = append(old, l.ts[l.kept:]...)
		}
	}
	for _, t := range old {
		delete(b.transfers, t.UUID)
	}
	b.mu.Unlock()
	for _, t := range old {
		b.remove(ctx, t)
	}
}

// backup dumps the database of v into its transfer's file.
func (b *pgBackups) backup(v addonView, dbURL string) func(ctx context.Context, t *transfer) (int64, error) {
	return func(ctx context.Context, t *transfer) (int64, error) {
		size := databaseSize(ctx, dbURL)
		path := b.dumpPath(t)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return size, err
		}
		f, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return size, err
		}
		var dump io.WriteCloser = nopWriteCloser{f}
		if b.box != nil {
			dump = b.box.SealStream(f, dumpLabel(t))
		}
		err = b.addons.m.Backup(ctx, v.rec.Name, &countingWriter{w: dump, n: &t.processed})
		if cerr := dump.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(path+".tmp", path)
		}
		if err != nil {
			_ = os.Remove(path + ".tmp")
		}
		return size, err
	}
}

// databaseSize is the database's size as its own role sees it, for the
// compression pg:backups:info shows (0 when it cannot be read).
func databaseSize(ctx context.Context, dbURL string) int64 {
	if dbURL == "" {
		return 0
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, dbURL)
	if err != nil {
		return 0
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	if err := conn.QueryRow(cctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		return 0
	}
	return n
}

// restore streams src into the database of v.
func (b *pgBackups) restore(v addonView, open func(ctx context.Context) (io.ReadCloser, error)) func(ctx context.Context, t *transfer) (int64, error) {
	return func(ctx context.Context, t *transfer) (int64, error) {
		src, err := open(ctx)
		if err != nil {
			return 0, err
		}
		defer src.Close()
		err = b.addons.m.Restore(ctx, v.rec.Name, &countingReader{r: src, n: &t.processed})
		if errors.Is(err, addons.ErrBusy) {
			return 0, fmt.Errorf("%s is busy with another operation (a plan change or destroy); try again when it ends", v.rec.Name)
		}
		return 0, err
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// dumpLabel binds a sealed dump to its transfer: a dump file moved to
// another backup's place does not open.
func dumpLabel(t *transfer) string { return "pg-backup/" + t.UUID }

// openDump opens the dump of backup t for reading its data, opening it
// with the config keys when it was sealed (a dump from before sealing was
// turned on reads as it is). Without keys there are no sealed dumps:
// minipaas does not start without the keys its releases were sealed with.
func (b *pgBackups) openDump(t *transfer) (io.ReadCloser, error) {
	f, err := os.Open(b.dumpPath(t))
	if err != nil {
		return nil, err
	}
	if b.box != nil {
		r, err := b.box.OpenStream(f, dumpLabel(t))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("backup %s: %w", t.name(), err)
		}
		return struct {
			io.Reader
			io.Closer
		}{r, f}, nil
	}
	return f, nil
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// toURL is where a backup lives, as transfers show it: restores name it
// (pg:backups:restore sends a backup's to_url), and a download needs it
// signed (publicURL).
func (b *pgBackups) toURL(t *transfer) string {
	return b.publicBase + "/backups/" + t.AppID + "/" + t.UUID
}

func (b *pgBackups) sign(appID, id string, expires int64) string {
	mac := hmac.New(sha256.New, b.urlKey)
	fmt.Fprintf(mac, "%s/%s/%d", appID, id, expires)
	return hex.EncodeToString(mac.Sum(nil))
}

// publicURL is a signed download URL of backup t and its expiry.
func (b *pgBackups) publicURL(t *transfer) (string, time.Time) {
	expires := time.Now().Add(publicURLTTL).Truncate(time.Second)
	return fmt.Sprintf("%s?expires=%d&signature=%s", b.toURL(t), expires.Unix(), b.sign(t.AppID, t.UUID, expires.Unix())), expires
}

// ownBackup returns the backup a URL of ours names (toURL, with or
// without a signature), or nil when the URL is not of that form.
func (b *pgBackups) ownBackup(raw string) *transfer {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" {
		return nil
	}
	rest, ok := strings.CutPrefix(u.Path, "/backups/")
	if !ok {
		return nil
	}
	appID, id, ok := strings.Cut(rest, "/")
	if !ok {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.transfers[id]
	if t == nil || t.AppID != appID || !t.isBackup() {
		return nil
	}
	return t
}

// downloads serves the backups' public URLs (download).
func (b *pgBackups) downloads() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/backups/{app}/{id}", b.download)
	return mux
}

// download serves GET /backups/{app ID}/{uuid}?expires=&signature= on the
// rendezvous listener: a backup's dump, for a signed URL not yet expired.
func (b *pgBackups) download(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "only GET downloads a backup", http.StatusMethodNotAllowed)
		return
	}
	appID, id := r.PathValue("app"), r.PathValue("id")
	expires, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	sig, _ := hex.DecodeString(r.URL.Query().Get("signature"))
	want, _ := hex.DecodeString(b.sign(appID, id, expires))
	if err != nil || !hmac.Equal(sig, want) {
		http.Error(w, "this URL is not signed: get one with heroku pg:backups:url", http.StatusForbidden)
		return
	}
	if time.Now().Unix() > expires {
		http.Error(w, "this URL has expired: get a new one with heroku pg:backups:url", http.StatusForbidden)
		return
	}
	b.mu.Lock()
	t := b.transfers[id]
	ok := t != nil && t.AppID == appID && t.isBackup() && t.Succeeded
	b.mu.Unlock()
	if !ok {
		http.Error(w, "no such backup", http.StatusNotFound)
		return
	}
	dump, err := b.openDump(t)
	if errors.Is(err, os.ErrNotExist) {
		http.Error(w, "no such backup", http.StatusNotFound)
		return
	}
	if err != nil {
		b.log.Error("backups: open a dump to download", "backup", t.name(), "err", err)
		http.Error(w, "the backup cannot be read: see the platform's log", http.StatusInternalServerError)
		return
	}
	defer dump.Close()
	serveDump(w, r, t, dump, b.log)
}

// serveDump answers a download of backup t's dump: with ranges and
// conditional requests when it is a plain file; a sealed one streams its
// data, and a read that fails (it does not authenticate) aborts the
// response, so the client sees a broken download, not a short dump.
func serveDump(w http.ResponseWriter, r *http.Request, t *transfer, dump io.Reader, log *slog.Logger) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+t.name()+`.dump"`)
	if f, ok := dump.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", t.FinishedAt, f)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(t.Processed, 10))
	w.Header().Set("Last-Modified", t.FinishedAt.UTC().Format(http.TimeFormat))
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, dump); err != nil {
		log.Error("backups: download", "backup", t.name(), "err", err)
		panic(http.ErrAbortHandler)
	}
}

// removeApp deletes app's transfers (its destroy); running ones are
// canceled first.
func (b *pgBackups) removeApp(ctx context.Context, appID string) {
	b.mu.Lock()
	var gone []*transfer
	for id, t := range b.transfers {
		if t.AppID == appID {
			gone = append(gone, t)
			delete(b.transfers, id)
			if t.cancel != nil {
				t.cancel()
			}
		}
	}
	delete(b.nums, appID)
	b.mu.Unlock()
	for _, t := range gone {
		b.remove(ctx, t)
	}
	_ = os.RemoveAll(filepath.Join(b.dir, appID))
	if err := b.p.DeleteRecord(context.WithoutCancel(ctx), platform.TransferNumRecords, appID); err != nil {
		b.log.Warn("minipaas: backup number record not removed", "app", appID, "err", err)
	}
}

func (b *pgBackups) toJSON(t *transfer, verbose bool) transferJSON {
	b.mu.Lock()
	defer b.mu.Unlock()
	opt := func(at time.Time) *string {
		if at.IsZero() {
			return nil
		}
		s := timestamp(at)
		return &s
	}
	j := transferJSON{UUID: t.UUID, Num: t.Num, FromName: t.FromName, FromType: t.FromType, FromURL: t.FromURL,
		ToName: t.ToName, ToType: t.ToType, Succeeded: t.Succeeded, ProcessedBytes: t.processed.Load(), SourceBytes: t.SourceSize,
		CreatedAt: timestamp(t.CreatedAt), UpdatedAt: timestamp(latest(t.CreatedAt, t.StartedAt, t.FinishedAt)),
		StartedAt: opt(t.StartedAt), FinishedAt: opt(t.FinishedAt), CanceledAt: opt(t.CanceledAt)}
	if t.isBackup() && t.Succeeded {
		j.ToURL = b.toURL(t)
	}
	if t.Schedule != "" {
		j.Schedule = &scheduleRef{t.Schedule}
	}
	if verbose {
		j.Logs = []logLineJSON{}
		for _, l := range t.Logs {
			j.Logs = append(j.Logs, logLineJSON{timestamp(l.CreatedAt), l.Message})
		}
	}
	return j
}

func latest(ts ...time.Time) time.Time {
	return slices.MaxFunc(ts, time.Time.Compare)
}

// timestamp is the Data API's time format, which sorts as text (the CLI
// orders transfers with localeCompare).
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 +0000") }

// The Data API routes (dataRoutes).

func (a *api) backupRoutes(h func(string, platformapi.HandlerFunc)) {
	h("POST /client/v11/databases/{addon}/backups", a.captureBackup)
	h("POST /client/v11/databases/{addon}/restores", a.restoreBackup)
	h("POST /client/v11/databases/{addon}/transfers", a.copyDatabase)
	h("PUT /client/v11/databases/{addon}/reset", a.resetDatabase)
	h("GET /client/v11/databases/{addon}/transfer-schedules", a.transferSchedules)
	h("POST /client/v11/databases/{addon}/transfer-schedules", a.scheduleBackups)
	h("DELETE /client/v11/databases/{addon}/transfer-schedules/{id}", a.unscheduleBackups)
	h("GET /client/v11/apps/{app}/transfers", a.listTransfers)
	h("GET /client/v11/apps/{app}/transfers/{id}", a.getTransfer)
	h("DELETE /client/v11/apps/{app}/transfers/{id}", a.deleteTransfer)
	h("POST /client/v11/apps/{app}/transfers/{id}/actions/public-url", a.transferURL)
	h("POST /client/v11/apps/{app}/transfers/{id}/actions/cancel", a.cancelTransfer)
}

// database finds the heroku-postgresql add-on of the path, with its
// billing app's ID.
func (a *api) database(r *http.Request) (addonView, string, error) {
	v, err := a.findAddon("", r.PathValue("addon"))
	if err != nil {
		return addonView{}, "", err
	}
	if v.rec.Service != servicePostgres {
		return addonView{}, "", platformapi.InvalidParams("%s is a %s add-on: only %s databases have backups", v.rec.Name, v.rec.Service, servicePostgres)
	}
	if !v.live {
		return addonView{}, "", platformapi.NotFound("database", v.rec.Name)
	}
	app, err := a.appByNameOrID(r.Context(), v.rec.App)
	if err != nil {
		return addonView{}, "", err
	}
	return v, app.ID, nil
}

func (a *api) captureBackup(w http.ResponseWriter, r *http.Request) error {
	v, appID, err := a.database(r)
	if err != nil {
		return err
	}
	t, err := a.capture(r.Context(), v, appID, "")
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.backups.toJSON(t, false))
	return nil
}

// capture starts a backup of v, billed to appID; schedule names the
// schedule that asks for it ("": a manual backup).
func (a *api) capture(ctx context.Context, v addonView, appID, schedule string) (*transfer, error) {
	t := &transfer{AppID: appID, AddonID: v.rec.ID, FromType: typePGDump, FromName: v.rec.Name, ToType: typeGof3r, ToName: "BACKUP", Schedule: schedule}
	return a.backups.start(ctx, t, a.backups.backup(v, a.resourceURL(ctx, v)))
}

func (a *api) restoreBackup(w http.ResponseWriter, r *http.Request) error {
	v, appID, err := a.database(r)
	if err != nil {
		return err
	}
	var body struct {
		BackupURL string `json:"backup_url"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	t := &transfer{AppID: appID, AddonID: v.rec.ID, ToType: typePGRestore, ToName: v.rec.Name}
	var open func(ctx context.Context) (io.ReadCloser, error)
	if src := a.backups.ownBackup(body.BackupURL); src != nil {
		if !src.Succeeded {
			return platformapi.InvalidParams("backup %s did not complete: it cannot be restored", src.name())
		}
		t.FromType, t.FromName, t.FromURL = typeGof3r, src.name(), a.backups.toURL(src)
		open = func(context.Context) (io.ReadCloser, error) {
			dump, err := a.backups.openDump(src)
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("backup %s was deleted", src.name())
			}
			return dump, err
		}
	} else {
		u, err := url.Parse(body.BackupURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return platformapi.InvalidParams("backup_url %q must be a backup's or an http(s) URL of a pg_dump custom-format archive", truncate(body.BackupURL, 200))
		}
		t.FromType, t.FromName, t.FromURL = typeHTCat, u.Host, u.Redacted()
		open = func(ctx context.Context) (io.ReadCloser, error) { return a.backups.get(ctx, u.String()) }
	}
	t, err = a.backups.start(r.Context(), t, a.backups.restore(v, open))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.backups.toJSON(t, false))
	return nil
}

// copyDatabase answers pg:copy: the CLI names the source and target by
// the URLs their config vars hold, and minipaas copies between its own
// databases (dump piped into restore; the target is taken like a restore).
func (a *api) copyDatabase(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := a.database(r); err != nil {
		return err
	}
	var body struct {
		FromName string `json:"from_name"`
		FromURL  string `json:"from_url"`
		ToName   string `json:"to_name"`
		ToURL    string `json:"to_url"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	ctx := r.Context()
	src, ok := a.databaseByURL(ctx, body.FromURL)
	if !ok {
		return platformapi.InvalidParams("pg:copy copies between this minipaas's %s databases: the source %s is not one", servicePostgres, truncate(body.FromName, 100))
	}
	dst, ok := a.databaseByURL(ctx, body.ToURL)
	if !ok {
		return platformapi.InvalidParams("pg:copy copies between this minipaas's %s databases: the target %s is not one", servicePostgres, truncate(body.ToName, 100))
	}
	if src.rec.ID == dst.rec.ID {
		return platformapi.InvalidParams("cannot copy %s onto itself", src.rec.Name)
	}
	app, err := a.appByNameOrID(ctx, dst.rec.App)
	if err != nil {
		return err
	}
	t := &transfer{AppID: app.ID, AddonID: dst.rec.ID, FromType: typePGDump, FromName: src.rec.Name, ToType: typePGRestore, ToName: dst.rec.Name}
	open := func(ctx context.Context) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			pw.CloseWithError(a.addons.m.Backup(ctx, src.rec.Name, pw))
		}()
		return dumpPipe{pr, done}, nil
	}
	t, err = a.backups.start(ctx, t, a.backups.restore(dst, open))
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusCreated, a.backups.toJSON(t, false))
	return nil
}

// resetDatabase answers pg:reset: the database emptied in place (its
// credentials stay), with the extensions asked for installed afresh.
func (a *api) resetDatabase(w http.ResponseWriter, r *http.Request) error {
	v, _, err := a.database(r)
	if err != nil {
		return err
	}
	var body struct {
		Extensions []string `json:"extensions"`
	}
	if err := platformapi.DecodeJSON(r, maxBody, &body); err != nil {
		return err
	}
	a.backups.mu.Lock()
	t := a.backups.runningOnLocked(v.rec.ID)
	a.backups.mu.Unlock()
	if t != nil {
		return platformapi.Conflict("%s %s of %s is running: wait for it or stop it with heroku pg:backups:cancel", kindOf(t), t.name(), v.rec.Name)
	}
	if err := a.addons.m.Reset(r.Context(), v.rec.Name, body.Extensions); err != nil {
		return a.addons.apiError(err, "reset "+v.rec.Name)
	}
	platformapi.WriteJSON(w, http.StatusOK, map[string]string{"message": "Reset of " + v.rec.Name + " done"})
	return nil
}

// dumpPipe is a copy's source: closing it stops the dump and waits for it.
type dumpPipe struct {
	*io.PipeReader
	done chan struct{}
}

func (d dumpPipe) Close() error {
	d.PipeReader.Close()
	<-d.done
	return nil
}

// databaseByURL finds the live heroku-postgresql add-on whose URL is u.
func (a *api) databaseByURL(ctx context.Context, u string) (addonView, bool) {
	if u == "" {
		return addonView{}, false
	}
	for _, v := range a.addons.list("") {
		if v.rec.Service == servicePostgres && v.live && a.resourceURL(ctx, v) == u {
			return v, true
		}
	}
	return addonView{}, false
}

// get opens a restore's source URL.
func (b *pgBackups) get(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.fetch.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the backup: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("fetch the backup: %s answered %s", req.URL.Redacted(), resp.Status)
	}
	return resp.Body, nil
}

func (a *api) listTransfers(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r)
	if err != nil {
		return err
	}
	b := a.backups
	b.mu.Lock()
	var ts []*transfer
	for _, t := range b.transfers {
		if t.AppID == app.ID {
			ts = append(ts, t)
		}
	}
	b.mu.Unlock()
	slices.SortFunc(ts, func(x, y *transfer) int { return x.Num - y.Num })
	out := make([]transferJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, b.toJSON(t, false))
	}
	platformapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// transfer finds the app's transfer of the path by number or UUID.
func (a *api) transfer(r *http.Request) (*transfer, error) {
	app, err := a.app(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	num, numErr := strconv.Atoi(id)
	b := a.backups
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.transfers {
		if t.AppID == app.ID && (t.UUID == id || numErr == nil && t.Num == num) {
			return t, nil
		}
	}
	return nil, platformapi.Errorf(http.StatusNotFound, platformapi.IDNotFound, "Couldn't find transfer %q of app %s", truncate(id, 60), app.Name)
}

func (a *api) getTransfer(w http.ResponseWriter, r *http.Request) error {
	t, err := a.transfer(r)
	if err != nil {
		return err
	}
	platformapi.WriteJSON(w, http.StatusOK, a.backups.toJSON(t, r.URL.Query().Get("verbose") == "true"))
	return nil
}

func (a *api) deleteTransfer(w http.ResponseWriter, r *http.Request) error {
	t, err := a.transfer(r)
	if err != nil {
		return err
	}
	b := a.backups
	b.mu.Lock()
	running := t.running()
	if !running {
		delete(b.transfers, t.UUID)
	}
	b.mu.Unlock()
	if running {
		return platformapi.Conflict("%s is running: stop it with heroku pg:backups:cancel first", t.name())
	}
	b.remove(r.Context(), t)
	platformapi.WriteJSON(w, http.StatusOK, b.toJSON(t, false))
	return nil
}

func (a *api) transferURL(w http.ResponseWriter, r *http.Request) error {
	t, err := a.transfer(r)
	if err != nil {
		return err
	}
	b := a.backups
	b.mu.Lock()
	ok := t.isBackup() && t.Succeeded
	b.mu.Unlock()
	if !ok {
		return platformapi.InvalidParams("%s is not a completed backup: it has no file to download", t.name())
	}
	u, expires := b.publicURL(t)
	platformapi.WriteJSON(w, http.StatusOK, map[string]string{"url": u, "expires_at": timestamp(expires)})
	return nil
}

func (a *api) cancelTransfer(w http.ResponseWriter, r *http.Request) error {
	t, err := a.transfer(r)
	if err != nil {
		return err
	}
	b := a.backups
	b.mu.Lock()
	cancel := t.cancel
	b.mu.Unlock()
	if cancel == nil {
		return platformapi.InvalidParams("%s is not running", t.name())
	}
	cancel()
	platformapi.WriteJSON(w, http.StatusOK, b.toJSON(t, false))
	return nil
}

// The dashboard's Backups capability (internal/dashboard.Backups).

func (c dashboardControl) ListBackups(ctx context.Context, name string) ([]dashboard.Backup, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil || c.api.backups == nil {
		return nil, err
	}
	b := c.api.backups
	b.mu.Lock()
	var out []dashboard.Backup
	for _, t := range b.transfers {
		if t.AppID == app.ID && t.isBackup() {
			out = append(out, dashboard.Backup{Name: t.name(), Database: t.FromName, Status: t.status(),
				Size: t.processed.Load(), CreatedAt: t.CreatedAt})
		}
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(x, y dashboard.Backup) int { return y.CreatedAt.Compare(x.CreatedAt) })
	return out, nil
}

// status is the transfer's state as heroku pg:backups shows it (b.mu held).
func (t *transfer) status() string {
	switch {
	case t.Succeeded:
		return "Completed"
	case !t.CanceledAt.IsZero():
		return "Canceled"
	case !t.FinishedAt.IsZero():
		return "Failed"
	case !t.StartedAt.IsZero():
		return "Running"
	}
	return "Pending"
}

// BackupDatabases are the live heroku-postgresql add-ons billed to the app.
func (c dashboardControl) BackupDatabases(ctx context.Context, name string) ([]string, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil || c.api.backups == nil {
		return nil, err
	}
	var out []string
	for _, v := range c.api.addons.list(app.Name) {
		if v.rec.App == app.Name && v.rec.Service == servicePostgres && v.live {
			out = append(out, v.rec.Name)
		}
	}
	return out, nil
}

func (c dashboardControl) CaptureBackup(ctx context.Context, name, database string) (dashboard.Backup, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return dashboard.Backup{}, err
	}
	v, err := c.api.findAddon(app.Name, database)
	if err != nil {
		return dashboard.Backup{}, err
	}
	if v.rec.App != app.Name || v.rec.Service != servicePostgres || !v.live {
		return dashboard.Backup{}, platformapi.InvalidParams("%s is not a database of %s", database, app.Name)
	}
	t, err := c.api.capture(ctx, v, app.ID, "")
	if err != nil {
		return dashboard.Backup{}, err
	}
	return dashboard.Backup{Name: t.name(), Database: v.rec.Name, Status: "Pending", CreatedAt: t.CreatedAt}, nil
}

func (c dashboardControl) OpenBackup(ctx context.Context, name, backup string) (io.ReadCloser, error) {
	app, err := c.api.appByNameOrID(ctx, name)
	if err != nil {
		return nil, err
	}
	b := c.api.backups
	if b == nil {
		return nil, fmt.Errorf("backup %s: %w", backup, platform.ErrNotFound)
	}
	b.mu.Lock()
	var found *transfer
	for _, t := range b.transfers {
		if t.AppID == app.ID && t.isBackup() && t.Succeeded && t.name() == backup {
			found = t
		}
	}
	b.mu.Unlock()
	if found == nil {
		return nil, fmt.Errorf("backup %s of %s: %w", truncate(backup, 20), app.Name, platform.ErrNotFound)
	}
	dump, err := b.openDump(found)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("backup %s of %s: %w", backup, app.Name, platform.ErrNotFound)
	}
	return dump, err
}
