package nomad

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"
)

// logStream copies one of the task's log files (stdout or stderr) to a
// writer. Nomad's log API reads the task's rotated log files from the
// start; n counts the bytes already written so a retried or final read can
// skip them. (This assumes Nomad has not rotated out early files: a dyno
// writing more than LogConfig's 10 × 10 MB loses the oldest part on a
// retry, as with `nomad alloc logs`.)
type logStream struct {
	kind string // "stdout" or "stderr"
	w    io.Writer
	n    int64
}

// logFrame is one frame of the streaming log API.
type logFrame struct {
	Data      []byte // base64 in JSON
	File      string
	Offset    int64
	FileEvent string
}

// read streams the log from the start, skipping the first s.n bytes, and
// writes the rest. With follow it returns when ctx is done or the stream
// breaks; without, at the end of the files.
func (s *logStream) read(ctx context.Context, c *client, allocID string, follow bool) error {
	q := url.Values{
		"task":   {taskName},
		"type":   {s.kind},
		"origin": {"start"},
		"offset": {"0"},
		"follow": {boolString(follow)},
	}
	resp, err := c.request(ctx, http.MethodGet, "/v1/client/fs/logs/"+allocID, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var seen int64
	for {
		var f logFrame
		if err := dec.Decode(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		data := f.Data
		if skip := s.n - seen; skip > 0 {
			if skip >= int64(len(data)) {
				seen += int64(len(data))
				continue
			}
			seen += skip
			data = data[skip:]
		}
		if len(data) == 0 {
			continue // heartbeat or file event
		}
		seen += int64(len(data))
		s.n += int64(len(data))
		_, _ = s.w.Write(data) // a failing writer must not stop the dyno's bookkeeping
	}
}

// follow streams live output until ctx is done, reconnecting when the
// stream breaks (the agent restarting, a log file not created yet).
func (s *logStream) follow(ctx context.Context, c *client, allocID string) {
	for ctx.Err() == nil {
		_ = s.read(ctx, c, allocID, true)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// drain reads what the live stream had not delivered when the task ended.
// The task is marked dead before Nomad's log collector has necessarily
// written the last bytes it read from the task's pipe, so the files are
// read again until they stop growing.
func (s *logStream) drain(ctx context.Context, c *client, allocID string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stable := 0
	for stable < 2 && ctx.Err() == nil {
		before := s.n
		if err := s.read(ctx, c, allocID, false); err != nil {
			stable = 0
		} else if s.n == before {
			stable++
		} else {
			stable = 0
		}
		if stable < 2 {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
