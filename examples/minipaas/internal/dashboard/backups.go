package dashboard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platform"
)

// Backups is an optional capability of a Control: database backups
// (heroku pg:backups), shown in the app page's Backups section (when the
// app has backups or databases): the app's backups, a form to capture one
// of its own databases, and a download link per completed backup. Its
// errors are shown as Control's are.
type Backups interface {
	// ListBackups returns the app's backups, newest first.
	ListBackups(ctx context.Context, app string) ([]Backup, error)
	// BackupDatabases are the app's own databases that can be backed up
	// (add-on names).
	BackupDatabases(ctx context.Context, app string) ([]string, error)
	// CaptureBackup starts a backup of the app's database (an add-on
	// name), which runs in the background.
	CaptureBackup(ctx context.Context, app, database string) (Backup, error)
	// OpenBackup opens the app's completed backup named name (b001) for
	// download; an error wrapping platform.ErrNotFound when there is none.
	// An io.ReadSeeker is served with ranges; anything else is streamed,
	// and a read error aborts the download (the browser shows it failed).
	OpenBackup(ctx context.Context, app, name string) (io.ReadCloser, error)
}

// Backup is one backup as the app page shows it.
type Backup struct {
	Name     string // b001, a002 (scheduled)
	Database string // the add-on backed up
	// Status is heroku pg:backups's: Pending, Running, Completed, Failed
	// or Canceled; Completed ones can be downloaded.
	Status    string
	Size      int64 // bytes written so far
	CreatedAt time.Time
}

// Downloadable reports whether the backup completed.
func (b Backup) Downloadable() bool { return b.Status == "Completed" }

// byteSize is n bytes for people: "812 B", "7.4 kB", "1.2 MB".
func byteSize(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n), ""
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		v, unit = v/1000, u
		if v < 1000 {
			break
		}
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

// backupControl is the Control's Backups capability, or an error to show.
func (h *Handler) backupControl() (Backups, error) {
	c, ok := h.Control.(Backups)
	if !ok {
		return nil, badInput("Backups cannot be taken on this platform.")
	}
	return c, nil
}

// captureBackup starts a backup (form: database, an add-on name), as
// pg:backups:capture does.
func (h *Handler) captureBackup(ctx context.Context, app string, form url.Values) (string, error) {
	c, err := h.backupControl()
	if err != nil {
		return "", err
	}
	db := strings.TrimSpace(form.Get("database"))
	dbs, err := c.BackupDatabases(ctx, app)
	if err != nil {
		return "", err
	}
	if !slices.Contains(dbs, db) {
		return "", badInput("No backup was started: choose one of %s's own databases.", app)
	}
	b, err := c.CaptureBackup(ctx, app, db)
	if err != nil {
		return "", err
	}
	return "Started backup " + b.Name + " of " + db + "; it runs in the background (reload to follow it).", nil
}

// downloadBackup serves a completed backup's file.
func (h *Handler) downloadBackup(w http.ResponseWriter, r *http.Request) {
	app, name := r.PathValue("app"), r.PathValue("backup")
	if _, err := h.Source.App(r.Context(), app); err != nil {
		h.fail(w, r, "app "+app, err)
		return
	}
	c, ok := h.Control.(Backups)
	if !ok {
		h.errorPage(w, r, http.StatusNotFound, "No such page.")
		return
	}
	f, err := c.OpenBackup(r.Context(), app, name)
	if errors.Is(err, platform.ErrNotFound) {
		h.errorPage(w, r, http.StatusNotFound, "No such backup, or it did not complete.")
		return
	}
	if err != nil {
		h.fail(w, r, "backup "+name, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+app+"-"+name+`.dump"`)
	if rs, ok := f.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", time.Time{}, rs)
		return
	}
	if _, err := io.Copy(w, f); err != nil {
		h.log.Error("dashboard: backup download failed", "app", app, "backup", name, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// addBackups adds the Backups section's data.
func (h *Handler) addBackups(ctx context.Context, app string, data map[string]any) error {
	c, ok := h.Control.(Backups)
	if !ok {
		return nil
	}
	list, err := c.ListBackups(ctx, app)
	if err != nil {
		return err
	}
	dbs, err := c.BackupDatabases(ctx, app)
	if err != nil {
		return err
	}
	data["BackupsCapable"] = true
	data["Backups"] = list
	data["BackupDatabases"] = dbs
	return nil
}
