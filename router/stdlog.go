package router

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
)

// slogWriter adapts http.Server's ErrorLog to a slog.Logger.
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	w.l.LogAttrs(context.Background(), slog.LevelDebug, "router: http server: "+strings.TrimSpace(string(p)))
	return len(p), nil
}

// newStdLogger returns a *log.Logger for http.Server.ErrorLog: to w, or
// discarding when w is nil (net/http would otherwise print to stderr).
func newStdLogger(w *slogWriter) *log.Logger {
	if w == nil {
		return log.New(io.Discard, "", 0)
	}
	return log.New(w, "", 0)
}
