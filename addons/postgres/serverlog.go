package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoJSONLog is returned by ServerLog.Run when the server writes no JSON
// log file.
var ErrNoJSONLog = errors.New("postgres: the server writes no JSON log (it needs logging_collector = on and 'jsonlog' in log_destination, PostgreSQL 15 or later)")

// ServerLog follows a PostgreSQL server's JSON log (log_destination
// 'jsonlog' with logging_collector on) over an admin connection, reading
// the file with pg_current_logfile and pg_read_binary_file: nothing needs
// to run on, or mount from, the server's host. The admin must be a
// superuser (or be granted those functions).
//
// It starts at the end of the current file (no history), follows the
// server's rotations to the next file, and reconnects after a lost
// connection, resuming where it was.
type ServerLog struct {
	AdminURL string
	// Interval is the wait between reads once the file has no more lines;
	// 0 means 500 ms.
	Interval time.Duration
	Logger   *slog.Logger // nil: discard
}

// LogEntry is one entry of the server's log.
type LogEntry struct {
	Time     time.Time
	Database string // for an add-on's sessions, its resource ID
	User     string
	PID      int
	// Line is the entry's number within its session (PostgreSQL's %l).
	Line      int
	Severity  string // LOG, ERROR, FATAL…
	SQLState  string // 00000 for an entry that reports no error
	Message   string
	Detail    string
	Hint      string
	Statement string
}

// logChunk bounds one read; an entry longer than that is dropped.
const logChunk = 1 << 20

// Run calls emit for every entry the server logs until ctx ends, which it
// returns with ctx's error. It returns at once if the first connection
// fails or the server writes no JSON log (ErrNoJSONLog); later failures
// are logged and retried.
func (l *ServerLog) Run(ctx context.Context, emit func(LogEntry)) error {
	log := l.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	interval := l.Interval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	conn, err := connectAdminURL(ctx, l.AdminURL)
	if err != nil {
		return fmt.Errorf("postgres: follow the server log: connect: %w", err)
	}
	defer func() { conn.Close(context.WithoutCancel(ctx)) }()
	f := &logFollower{emit: emit}
	if f.file, err = currentLogFile(ctx, conn); err != nil {
		return fmt.Errorf("postgres: follow the server log: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT coalesce((pg_stat_file($1, true)).size, 0)", f.file).Scan(&f.offset); err != nil {
		return fmt.Errorf("postgres: follow the server log: size of %s: %w", f.file, err)
	}
	failing := false
	for {
		more, err := f.step(ctx, conn)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			if !failing {
				log.Warn("postgres: following the server log failed; retrying", "file", f.file, "err", err)
				failing = true
			}
			if conn.IsClosed() || !isSQLError(err) {
				conn.Close(context.WithoutCancel(ctx))
				if c, cerr := connectAdminURL(ctx, l.AdminURL); cerr == nil {
					conn = c
				}
			}
		default:
			failing = false
			if more {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

func currentLogFile(ctx context.Context, conn *pgx.Conn) (string, error) {
	var file *string
	if err := conn.QueryRow(ctx, "SELECT pg_current_logfile('jsonlog')").Scan(&file); err != nil {
		return "", fmt.Errorf("current log file: %w", err)
	}
	if file == nil {
		return "", ErrNoJSONLog
	}
	return *file, nil
}

func isSQLError(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr)
}

// logFollower is Run's position in the server's log files.
type logFollower struct {
	emit   func(LogEntry)
	file   string
	offset int64
	// skipping: an entry longer than logChunk is being passed over up to
	// its end of line.
	skipping bool
}

// step reads what follows the position in the current file, or moves to
// the server's next file once this one is read to its end. more says to
// read again at once.
func (f *logFollower) step(ctx context.Context, conn *pgx.Conn) (more bool, err error) {
	next, err := currentLogFile(ctx, conn)
	if err != nil {
		return false, err
	}
	var data []byte
	if err := conn.QueryRow(ctx, "SELECT pg_read_binary_file($1, $2, $3, true)", f.file, f.offset, int64(logChunk)).Scan(&data); err != nil {
		return false, fmt.Errorf("read %s: %w", f.file, err)
	}
	if f.skipping {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			f.offset += int64(len(data))
			return len(data) == logChunk, nil
		}
		f.offset += int64(i + 1)
		data = data[i+1:]
		f.skipping = false
	}
	entries, used := parseLogLines(data)
	f.offset += int64(used)
	for _, e := range entries {
		f.emit(e)
	}
	if used == 0 && len(data) == logChunk {
		f.offset += int64(len(data)) // one entry longer than a chunk: drop it
		f.skipping = true
		return true, nil
	}
	if len(data) == logChunk {
		return true, nil
	}
	if next != f.file && used == len(data) {
		// The server has moved on and this file is read to its end (the
		// server writes whole lines, and writes no more once it rotates).
		f.file, f.offset = next, 0
		return true, nil
	}
	return false, nil
}

// jsonLogEntry is the part of PostgreSQL's jsonlog format (one JSON
// object per line) that LogEntry carries.
type jsonLogEntry struct {
	Timestamp string `json:"timestamp"`
	User      string `json:"user"`
	DBName    string `json:"dbname"`
	PID       int    `json:"pid"`
	LineNum   int    `json:"line_num"`
	Severity  string `json:"error_severity"`
	StateCode string `json:"state_code"`
	Message   string `json:"message"`
	Detail    string `json:"detail"`
	Hint      string `json:"hint"`
	Statement string `json:"statement"`
}

// parseLogLines parses the whole lines at the start of data, returning
// their entries and the bytes they took; a last line without its newline
// is left for the next read. A line that is not a JSON object is skipped.
func parseLogLines(data []byte) (entries []LogEntry, used int) {
	for {
		i := bytes.IndexByte(data[used:], '\n')
		if i < 0 {
			return entries, used
		}
		line := data[used : used+i]
		used += i + 1
		var j jsonLogEntry
		if json.Unmarshal(line, &j) != nil {
			continue
		}
		t, _ := time.Parse("2006-01-02 15:04:05.000 MST", j.Timestamp)
		if j.StateCode == "" {
			j.StateCode = "00000" // jsonlog leaves out successful completion
		}
		entries = append(entries, LogEntry{
			Time: t, Database: j.DBName, User: j.User, PID: j.PID, Line: j.LineNum,
			Severity: j.Severity, SQLState: j.StateCode, Message: j.Message,
			Detail: j.Detail, Hint: j.Hint, Statement: j.Statement,
		})
	}
}
