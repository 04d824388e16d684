package formation

import (
	"fmt"
	"time"
)

// EventKind tells state changes from other dyno log lines.
type EventKind int

const (
	// EventState is a state change; Prev and State are set.
	EventState EventKind = iota + 1
	// EventLog is any other platform line about a dyno (starting with a
	// command, exit status, signals, R10/R12/R14/R15 errors).
	EventLog
)

// Event is something that happened to a dyno, with the line Heroku's
// platform would log for it (source "heroku", process the dyno name).
// The router subscribes for web dyno addresses (State up → add Addr,
// anything else → remove); logs subscribe for Message.
type Event struct {
	Time    time.Time
	Kind    EventKind
	App     string
	Dyno    string // "web.1"
	DynoID  string
	Type    string
	Release int
	Prev    State // EventState only
	State   State // the dyno's state after the event
	// Addr is "host:port" for dynos that receive HTTP (web dynos).
	Addr string
	// Exit is set on the "Process exited" line.
	Exit *Exit
	// Message is the log line, e.g. "State changed from starting to up".
	Message string
}

func (e Event) String() string {
	return fmt.Sprintf("%s heroku[%s]: %s", e.App, e.Dyno, e.Message)
}

// Heroku's wording for platform log lines.
func msgStateChanged(from, to State) string {
	return fmt.Sprintf("State changed from %s to %s", from, to)
}

func msgStarting(command string) string {
	return fmt.Sprintf("Starting process with command `%s`", command)
}

func msgExited(e Exit) string {
	return fmt.Sprintf("Process exited with status %d", e.Code)
}

const (
	msgStopTERM = "Stopping all processes with SIGTERM"
	msgStopKILL = "Stopping process with SIGKILL"
)

func msgR10(d time.Duration) string {
	return fmt.Sprintf("Error R10 (Boot timeout) -> Web process failed to bind to $PORT within %s of launch", humanSeconds(d))
}

func msgR12(d time.Duration) string {
	return fmt.Sprintf("Error R12 (Exit timeout) -> Process failed to exit within %s of SIGTERM", humanSeconds(d))
}

const msgR15 = "Error R15 (Memory quota vastly exceeded)"

// msgMemory is the usage line Heroku logs before an R14 error line.
func msgMemory(u MemoryUsage) string {
	pct := 0.0
	if u.LimitBytes > 0 {
		pct = float64(u.UsedBytes) * 100 / float64(u.LimitBytes)
	}
	return fmt.Sprintf("Process running mem=%dMB(%.1f%%)", u.UsedBytes>>20, pct)
}

const msgR14 = "Error R14 (Memory quota exceeded)"

// humanSeconds renders 60s as "60 seconds" and sub-second test values
// exactly.
func humanSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		n := int(d / time.Second)
		if n == 1 {
			return "1 second"
		}
		return fmt.Sprintf("%d seconds", n)
	}
	return d.String()
}
