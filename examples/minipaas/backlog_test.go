package main

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/dynokit/dynokit/logplex"
)

// TestBacklogTooDeep: minipaas's router caps the requests in flight to one
// dyno (-max-dyno-requests, Heroku's 50 by default); requests past the cap
// and the backlog behind it get H11 at once, logged to the app, as on
// Heroku. The hello app's /busy serves one request at a time, 30 ms each.
func TestBacklogTooDeep(t *testing.T) {
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	m := startMinipaasOpts(t, t.TempDir(), token, nil, "-max-dyno-requests", "1")
	const app = "queued"
	if st := m.api("POST", "/apps", `{"name":"`+app+`"}`, nil); st != 201 {
		t.Fatalf("create app: %d", st)
	}
	m.pushHello(newGitClient(t), app)

	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			status, _, err := m.getPath(app, "/busy")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			counts[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	// One request in flight and one in the backlog at any time: at least
	// two are served, and eight at once overflow the backlog.
	if counts[200] < 2 || counts[503] < 1 || counts[200]+counts[503] != 8 {
		t.Fatalf("statuses %v, want at least two 200s, the rest 503 (H11)", counts)
	}
	logs, err := m.p.Logs(context.Background(), app, logplex.TailOptions{Lines: 1000, Source: "heroku", Dyno: "router"})
	if err != nil {
		t.Fatal(err)
	}
	h11 := 0
	for msg, err := range logs {
		if err == nil && strings.HasPrefix(msg.Text, `at=error code=H11 desc="Backlog too deep" method=GET path="/busy"`) {
			h11++
		}
	}
	if h11 != counts[503] {
		t.Errorf("%d H11 lines in the app's router log, want %d", h11, counts[503])
	}
}
