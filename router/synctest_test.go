package router_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynokit/dynokit/router"
)

// TestBootWaitDefaultsTo75s runs the H20 wait with Heroku's real default
// under a fake clock.
func TestBootWaitDefaultsTo75s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newMemSink()
		rt := router.New(router.Config{LogSink: sink})
		rt.SetWebState("app", router.WebStarting)
		req := httptest.NewRequest("GET", "http://app.localhost/", nil)
		rec := httptest.NewRecorder()
		start := time.Now()
		rt.ServeHTTP(rec, req)
		if waited := time.Since(start); waited != 75*time.Second {
			t.Errorf("waited %s, want 75s", waited)
		}
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d", rec.Code)
		}
		if l := sink.waitLine(t, 1); !strings.Contains(l, `code=H20 desc="App boot timeout"`) {
			t.Errorf("line %s", l)
		}
	})
}

// TestQuarantineWaitThenH99 checks the back-off loop for an app whose only
// dyno is quarantined: bounded by QuarantineWait, then H99.
func TestQuarantineWaitThenH99(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newMemSink()
		rt := router.New(router.Config{LogSink: sink, QuarantineWait: 10 * time.Second})
		rt.SetBackends("app", []router.Dyno{{ID: "d", Name: "web.1", Addr: "127.0.0.1:9"}})
		rt.Backends("app")[0].Quarantine(time.Hour)
		rec := httptest.NewRecorder()
		start := time.Now()
		rt.ServeHTTP(rec, httptest.NewRequest("GET", "http://app.localhost/", nil))
		if waited := time.Since(start); waited != 10*time.Second {
			t.Errorf("waited %s, want 10s", waited)
		}
		if l := sink.waitLine(t, 1); rec.Code != 503 || !strings.Contains(l, "code=H99") {
			t.Errorf("status %d line %s", rec.Code, l)
		}
	})
}
