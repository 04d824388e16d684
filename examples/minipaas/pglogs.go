package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dynokit/dynokit/addons/postgres"
	"github.com/dynokit/dynokit/logplex"
)

// forwardPostgresLogs follows the PostgreSQL server's log (-postgres-url)
// and writes each entry of an add-on's database to its billing app's log
// stream, as Heroku does: app[postgres.<pid>] lines such as
//
//	[DATABASE] [7-1] sql_error_code = 00000 LOG:  duration: 2012.3 ms  statement: SELECT …
//
// (the attachment's name, the entry's line within its session and the
// part of the entry), so heroku logs -p postgres shows them. Only the
// billing app gets them: statements of other apps sharing the database
// (addons:attach) are theirs to see. A server that writes no JSON log
// (see postgres.ServerLog) is reported once; apps then get no lines.
func (s *addonService) forwardPostgresLogs(ctx context.Context) {
	err := s.postgresLog.Run(ctx, func(e postgres.LogEntry) {
		if e.Database == "" {
			return
		}
		rec, ok := s.recordByResource(servicePostgres, e.Database)
		if !ok {
			return
		}
		for _, text := range postgresLogLines(rec.Attachment, e) {
			m := logplex.Message{Time: e.Time, Source: logplex.SourceApp, Proc: fmt.Sprintf("postgres.%d", e.PID), Text: text}
			if err := s.p.Log(ctx, rec.App, m); err != nil {
				s.log.Debug("minipaas: postgres log line dropped", "app", rec.App, "err", err)
			}
		}
	})
	switch {
	case errors.Is(err, postgres.ErrNoJSONLog):
		s.log.Info("minipaas: PostgreSQL log lines do not reach the apps' logs", "reason", err)
	case err != nil && ctx.Err() == nil:
		s.log.Warn("minipaas: PostgreSQL log lines do not reach the apps' logs", "err", err)
	}
}

// postgresLogLines is an entry as Heroku's log lines: the message, then
// its detail, hint and statement, each a numbered part.
func postgresLogLines(attachment string, e postgres.LogEntry) []string {
	parts := []string{e.Severity + ":  " + e.Message}
	for _, p := range []struct{ label, text string }{{"DETAIL", e.Detail}, {"HINT", e.Hint}, {"STATEMENT", e.Statement}} {
		if p.text != "" {
			parts = append(parts, p.label+":  "+p.text)
		}
	}
	lines := make([]string, len(parts))
	for i, p := range parts {
		p = oneLine.Replace(p) // one log line per part
		lines[i] = fmt.Sprintf("[%s] [%d-%d] sql_error_code = %s %s", attachment, e.Line, i+1, e.SQLState, p)
	}
	return lines
}

var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// recordByResource finds the add-on of service whose resource is id.
func (s *addonService) recordByResource(service, id string) (addonRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.records {
		if rec.Service == service && rec.ResourceID == id && rec.State == "provisioned" {
			return rec, true
		}
	}
	return addonRecord{}, false
}
