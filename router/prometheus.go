package router

import (
	"bufio"
	"maps"
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
// The handler takes no lock the request path takes.
func (rt *Router) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		type named struct {
			name string
			st   AppStats
		}
		var apps []named
		for i := range rt.apps.shards {
			if m := rt.apps.shards[i].Load(); m != nil {
				for name := range *m {
					if st, ok := rt.Stats(name); ok {
						apps = append(apps, named{name, st})
					}
				}
			}
		}
		slices.SortFunc(apps, func(a, b named) int { return strings.Compare(a.name, b.name) })

		bw.WriteString("# HELP dynokit_router_requests_total Requests routed to the app, by the status class of the response.\n# TYPE dynokit_router_requests_total counter\n")
		for _, a := range apps {
			for c, n := range a.st.ByClass {
				if n == 0 {
					continue
				}
				class := strconv.Itoa(c) + "xx"
				if c == 0 {
					class = "none"
				}
				writeSample(bw, "dynokit_router_requests_total", a.name, "class", class, n)
			}
		}
		bw.WriteString("# HELP dynokit_router_errors_total Router errors, by Heroku error code.\n# TYPE dynokit_router_errors_total counter\n")
		for _, a := range apps {
			for _, code := range slices.Sorted(maps.Keys(a.st.ByCode)) {
				writeSample(bw, "dynokit_router_errors_total", a.name, "code", code, a.st.ByCode[code])
			}
		}
		bw.WriteString("# HELP dynokit_router_service_seconds Service time of requests that reached a dyno.\n# TYPE dynokit_router_service_seconds histogram\n")
		for _, a := range apps {
			var cum, total int64
			for _, n := range a.st.ServiceTimes {
				total += n
			}
			next := 0
			for e := 0; e <= topExponent; e++ {
				le := int64(1) << e // ms
				for ; next < serviceBuckets; next++ {
					if _, hi := ServiceTimeBucket(next); hi == 0 || hi.Milliseconds() > le {
						break
					}
					cum += a.st.ServiceTimes[next]
				}
				writeSample(bw, "dynokit_router_service_seconds_bucket", a.name, "le", strconv.FormatFloat(float64(le)/1000, 'g', -1, 64), cum)
			}
			writeSample(bw, "dynokit_router_service_seconds_bucket", a.name, "le", "+Inf", total)
			bw.WriteString("dynokit_router_service_seconds_sum{app=")
			bw.WriteString(strconv.Quote(a.name))
			bw.WriteString("} ")
			bw.WriteString(strconv.FormatFloat(a.st.ServiceTimeSum.Seconds(), 'g', -1, 64))
			bw.WriteByte('\n')
			writeSample(bw, "dynokit_router_service_seconds_count", a.name, "", "", total)
		}
		bw.Flush()
	})
}

// writeSample writes one sample line; app names and label values here are
// plain ASCII (app names, codes, classes, numbers), which strconv.Quote
// escapes as the format asks.
func writeSample(bw *bufio.Writer, metric, app, label, value string, n int64) {
	bw.WriteString(metric)
	bw.WriteString("{app=")
	bw.WriteString(strconv.Quote(app))
	if label != "" {
		bw.WriteByte(',')
		bw.WriteString(label)
		bw.WriteByte('=')
		bw.WriteString(strconv.Quote(value))
	}
	bw.WriteString("} ")
	bw.WriteString(strconv.FormatInt(n, 10))
	bw.WriteByte('\n')
}
