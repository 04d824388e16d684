package router

// Code is a Heroku router error code (H10, H12, …) as it appears in router
// log lines and decides the status of the error page.
type Code uint8

// Router error codes. Their meaning follows Heroku's (see doc.go).
const (
	CodeNone Code = iota
	H10           // App crashed: every web dyno crashed
	H11           // Backlog too deep: too many requests queued for the app
	H12           // Request timeout: no first response byte in time
	H13           // Connection closed without response
	H14           // No web processes running
	H15           // Idle connection: dyno silent for the idle window mid-response
	H17           // Poorly formatted HTTP response
	H18           // Server Request Interrupted: dyno closed mid-request/response
	H19           // Backend connection timeout (after retries)
	H20           // App boot timeout: no web dyno came up while the request waited
	H21           // Backend connection refused (after retries)
	H25           // HTTP restriction: response blocked
	H26           // Request Error: malformed request
	H27           // Client Request Interrupted
	H28           // Client Connection Idle
	H80           // Maintenance mode
	H99           // Platform error
	codeCount
)

type codeInfo struct {
	name, desc string
	status     int
	level      string // at= value
}

var codeTable = [codeCount]codeInfo{
	CodeNone: {"", "", 200, "info"},
	H10:      {"H10", "App crashed", 503, "error"},
	H11:      {"H11", "Backlog too deep", 503, "error"},
	H12:      {"H12", "Request timeout", 503, "error"},
	H13:      {"H13", "Connection closed without response", 503, "error"},
	H14:      {"H14", "No web processes running", 503, "error"},
	H15:      {"H15", "Idle connection", 503, "error"},
	H17:      {"H17", "Poorly formatted HTTP response", 503, "error"},
	H18:      {"H18", "Server Request Interrupted", 503, "error"},
	H19:      {"H19", "Backend connection timeout", 503, "error"},
	H20:      {"H20", "App boot timeout", 503, "error"},
	H21:      {"H21", "Backend connection refused", 503, "error"},
	H25:      {"H25", "HTTP restriction", 502, "error"},
	H26:      {"H26", "Request Error", 400, "error"},
	H27:      {"H27", "Client Request Interrupted", 499, "warning"},
	H28:      {"H28", "Client Connection Idle", 499, "warning"},
	H80:      {"H80", "Maintenance mode", 503, "info"},
	H99:      {"H99", "Platform error", 503, "error"},
}

// String returns the code as logged, e.g. "H12"; "" for CodeNone.
func (c Code) String() string {
	if c >= codeCount {
		return "H??"
	}
	return codeTable[c].name
}

// Desc returns Heroku's description of the code, e.g. "Request timeout".
func (c Code) Desc() string {
	if c >= codeCount {
		return ""
	}
	return codeTable[c].desc
}

// Status returns the HTTP status the router answers with (or logs, for
// 499 codes where the client is gone).
func (c Code) Status() int {
	if c >= codeCount {
		return 503
	}
	return codeTable[c].status
}

// Level returns the log level the code is logged at ("info", "warning" or
// "error").
func (c Code) Level() string {
	if c >= codeCount {
		return "error"
	}
	return codeTable[c].level
}
