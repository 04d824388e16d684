package router

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// MetricsHandler serves every app's metrics in the Prometheus text
// exposition format (version 0.0.4), for a Prometheus server or any
// scraper that reads it:
//
//	dynokit_router_requests_total{app,class}    responses by status class ("2xx"; "none" when no status was sent)
//	dynokit_router_errors_total{app,code}       router errors by Heroku code ("H12")
//	dynokit_router_service_seconds{app}         histogram of service times (requests that reached a dyno, upgrades aside)
//
// The histogram's buckets are powers of two milliseconds (1 ms to 2^18
// ms), on which Stats' finer buckets fall exactly. Apps are in name order.
// The handler takes no lock the request path takes, and writes each app
// from one reused buffer (a scrape of 10,000 apps is about 16 MB of text).
func (rt *Router) MetricsHandler() http.Handler {
	// The histogram's le values: 2^e ms in seconds.
	var leLabels [topExponent + 1]string
	for e := range leLabels {
		leLabels[e] = strconv.FormatFloat(float64(int64(1)<<e)/1000, 'g', -1, 64)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		// The list and its names are taken under mu, which only the
		// table's writers take: a walk concurrent with RenameApp could
		// otherwise see the app in both shards it moves between, or in
		// neither, and a name read later could change mid-sort.
		type namedApp struct {
			name string
			*app
		}
		var apps []namedApp
		rt.mu.Lock()
		for i := range rt.apps.shards {
			if m := rt.apps.shards[i].Load(); m != nil {
				for _, a := range *m {
					apps = append(apps, namedApp{a.Name(), a})
				}
			}
		}
		rt.mu.Unlock()
		slices.SortFunc(apps, func(a, b namedApp) int { return strings.Compare(a.name, b.name) })

		// Prometheus wants each metric's samples together, after its
		// HELP and TYPE lines: one pass over the apps per metric.
		buf := make([]byte, 0, 4<<10)
		flush := func() bool {
			_, err := w.Write(buf)
			buf = buf[:0]
			return err == nil
		}
		buf = append(buf, "# HELP dynokit_router_requests_total Requests routed to the app, by the status class of the response.\n# TYPE dynokit_router_requests_total counter\n"...)
		for _, a := range apps {
			for c := range a.stats.classes {
				n := a.stats.classes[c].Load()
				if n == 0 {
					continue
				}
				class := "none"
				if c > 0 {
					class = string(rune('0'+c)) + "xx"
				}
				buf = appendSample(buf, "dynokit_router_requests_total", a.name, "class", class, n)
			}
			if len(buf) > 32<<10 && !flush() {
				return
			}
		}
		buf = append(buf, "# HELP dynokit_router_errors_total Router errors, by Heroku error code.\n# TYPE dynokit_router_errors_total counter\n"...)
		for _, a := range apps {
			for c := Code(1); c < codeCount; c++ { // codes are in order: H10 < H11 < …
				if n := a.stats.codes[c].Load(); n > 0 {
					buf = appendSample(buf, "dynokit_router_errors_total", a.name, "code", c.String(), n)
				}
			}
			if len(buf) > 32<<10 && !flush() {
				return
			}
		}
		buf = append(buf, "# HELP dynokit_router_service_seconds Service time of requests that reached a dyno.\n# TYPE dynokit_router_service_seconds histogram\n"...)
		for _, a := range apps {
			var hist [serviceBuckets]int64
			var total int64
			for i := range hist {
				hist[i] = a.stats.hist[i].Load()
				total += hist[i]
			}
			sum := a.stats.timeSum.Load()
			var cum int64
			next := 0
			for e, le := range leLabels {
				for ; next < bucketsUnder(e); next++ {
					cum += hist[next]
				}
				buf = appendSample(buf, "dynokit_router_service_seconds_bucket", a.name, "le", le, cum)
			}
			buf = appendSample(buf, "dynokit_router_service_seconds_bucket", a.name, "le", "+Inf", total)
			buf = append(buf, "dynokit_router_service_seconds_sum{app="...)
			buf = strconv.AppendQuote(buf, a.name)
			buf = append(buf, "} "...)
			buf = strconv.AppendFloat(buf, float64(sum)/1e9, 'g', -1, 64)
			buf = append(buf, '\n')
			buf = appendSample(buf, "dynokit_router_service_seconds_count", a.name, "", "", total)
			if len(buf) > 32<<10 && !flush() {
				return
			}
		}
		if rt.cfg.MaxDynoRequests > 0 {
			buf = append(buf, "# HELP dynokit_router_backlog Requests waiting for a dyno under the per-dyno cap.\n# TYPE dynokit_router_backlog gauge\n"...)
			for _, a := range apps {
				buf = appendSample(buf, "dynokit_router_backlog", a.name, "", "", a.backlog.n.Load())
			}
		}
		flush()
	})
}

// appendSample appends one sample line. App names, codes, classes and
// numbers are plain ASCII, which strconv's quoting escapes as the format
// asks.
func appendSample(buf []byte, metric, app, label, value string, n int64) []byte {
	buf = append(buf, metric...)
	buf = append(buf, "{app="...)
	buf = strconv.AppendQuote(buf, app)
	if label != "" {
		buf = append(buf, ',')
		buf = append(buf, label...)
		buf = append(buf, '=')
		buf = strconv.AppendQuote(buf, value)
	}
	buf = append(buf, "} "...)
	buf = strconv.AppendInt(buf, n, 10)
	return append(buf, '\n')
}
