#!/usr/bin/env bash
# Side-by-side HTTP proxy throughput: the backend directly, the dynokit
# router, nginx and haproxy (upstream keep-alive everywhere, and the same
# headers added for the dyno), all on loopback, measured with
# `wrk -t2 -c64 -d$DURATION` in alternating rounds. Prints medians of req/s,
# p50, p99, the proxy's own CPU time per request (the backend's for
# "direct"; robust when the box is shared) and the backend's, and the ratios
# dynokit/nginx and dynokit/haproxy; then a WebSocket-style echo over
# $WSCONNS connections through each proxy, and the route lookup cost with
# 10,000 apps.
#
#   bench/router/run.sh                 # 3 rounds of 10 s per target
#   ROUNDS=5 DURATION=10s bench/router/run.sh
#   WSCONNS=16 WSN=200000 bench/router/run.sh   # echo connections, round trips
#   NETHTTP=1 bench/router/run.sh       # also the router on net/http's server
#   EVLOOP=1 bench/router/run.sh        # also a minimal epoll-loop proxy (evloop_linux.go)
#   TARGETS="dynokit nginx" WS=0 bench/router/run.sh   # a quicker A/B: those targets, no echo
#   TLS=1 bench/router/run.sh           # also HTTPS (HTTP/1.1) through each proxy: *-tls targets
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
WSCONNS=${WSCONNS:-16}
WSN=${WSN:-200000}
HOST=bench.localhost
cd "$(dirname "$0")/../.."

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]}" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

D=$(mktemp -d /tmp/routerbench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$D"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

echo "building routerbench…" >&2
go build -o "$D/routerbench" ./bench/router

# start_go NAME MODE ARGS… : start a routerbench process in the background
# (not in a subshell, so cleanup knows its pid) and wait for its address;
# sets ADDR_<NAME> and PID_<NAME>.
start_go() {
	local name=$1 out="$D/$1.addr"
	shift
	"$D/routerbench" -mode "$@" >"$out" 2>"$D/$name.log" &
	pids+=($!)
	printf -v "PID_$name" '%s' $!
	for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
	[ -s "$out" ] || { echo "routerbench $name did not start: $(cat "$D/$name.log")" >&2; exit 1; }
	printf -v "ADDR_$name" '%s' "$(head -1 "$out")"
}

start_go backend backend -addr 127.0.0.1:0
BACKEND=$ADDR_backend
tlsargs=()
if [ "${TLS:-0}" = 1 ]; then
	# One ECDSA P-256 certificate for all three proxies.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-keyout "$D/key.pem" -out "$D/cert.pem" -subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" 2>/dev/null
	cat "$D/cert.pem" "$D/key.pem" >"$D/both.pem"
	tlsargs=(-tls-addr 127.0.0.1:0 -cert "$D/cert.pem" -key "$D/key.pem")
fi
start_go ours router -addr 127.0.0.1:0 -backend "$BACKEND" -app bench "${tlsargs[@]}"
OURS=$ADDR_ours
[ "${TLS:-0}" = 1 ] && OURS_TLS=$(sed -n 2p "$D/ours.addr")
if [ "${NETHTTP:-0}" = 1 ]; then
	start_go std router -addr 127.0.0.1:0 -backend "$BACKEND" -app bench -nethttp
fi
if [ "${EVLOOP:-0}" = 1 ]; then
	start_go evl evloop -addr 127.0.0.1:0 -backend "$BACKEND"
fi
start_go wsecho wsecho -addr 127.0.0.1:0
WSECHO=$ADDR_wsecho

NPORT=$(freeport)
NWSPORT=$(freeport)
NTPORT=$(freeport)
NTLS=""
[ "${TLS:-0}" = 1 ] && NTLS="listen 127.0.0.1:$NTPORT ssl; ssl_certificate $D/cert.pem; ssl_certificate_key $D/key.pem;"
mkdir -p "$D/nginx/tmp"
cat >"$D/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $D/nginx/nginx.pid;
error_log $D/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $D/nginx/tmp/body;
  proxy_temp_path $D/nginx/tmp/proxy;
  fastcgi_temp_path $D/nginx/tmp/fastcgi;
  uwsgi_temp_path $D/nginx/tmp/uwsgi;
  scgi_temp_path $D/nginx/tmp/scgi;
  upstream dyno { server $BACKEND; keepalive 64; }
  server {
    listen 127.0.0.1:$NPORT;
    $NTLS
    location / {
      proxy_pass http://dyno;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Port \$server_port;
      proxy_set_header X-Request-Start \$msec;
      proxy_set_header X-Request-Id \$request_id;
      proxy_set_header Via "1.1 nginx";
    }
  }
  server {
    listen 127.0.0.1:$NWSPORT;
    location / {
      proxy_pass http://$WSECHO;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host \$host;
      proxy_read_timeout 55s;
    }
  }
}
CONF
"$NGINX" -p "$D/nginx" -c "$D/nginx/nginx.conf" &
NGINX_PID=$!
pids+=($NGINX_PID)

HPORT=$(freeport)
HWSPORT=$(freeport)
HTPORT=$(freeport)
# hafront NAME SCHEME BIND: an haproxy front end adding the router's headers.
hafront() {
	cat <<FE
frontend $1
  bind $3
  http-request set-header X-Forwarded-Proto $2
  http-request set-header X-Forwarded-Port %[dst_port]
  http-request set-header X-Request-Start %[date(0,ms)]
  http-request set-header X-Request-Id %[uuid]
  http-request add-header Via "1.1 haproxy"
  default_backend dyno
FE
}
cat >"$D/haproxy.cfg" <<CONF
global
  nbthread 2
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option forwardfor
  http-reuse always
$(hafront fe http "127.0.0.1:$HPORT")
backend dyno
  server d1 $BACKEND
$([ "${TLS:-0}" = 1 ] && hafront fetls https "127.0.0.1:$HTPORT ssl crt $D/both.pem alpn http/1.1")
frontend fews
  bind 127.0.0.1:$HWSPORT
  timeout tunnel 55s
  default_backend wsdyno
backend wsdyno
  timeout tunnel 55s
  server w1 $WSECHO
CONF
"$HAPROXY" -f "$D/haproxy.cfg" -q &
HAPROXY_PID=$!
pids+=($HAPROXY_PID)
sleep 1

declare -A PID=([direct]=$PID_backend [dynokit]=$PID_ours [nginx]=$NGINX_PID [haproxy]=$HAPROXY_PID)
[ "${NETHTTP:-0}" = 1 ] && PID[dk-nethttp]=$PID_std
[ "${EVLOOP:-0}" = 1 ] && PID[evloop]=$PID_evl
if [ "${TLS:-0}" = 1 ]; then
	PID[dynokit-tls]=$PID_ours PID[nginx-tls]=$NGINX_PID PID[haproxy-tls]=$HAPROXY_PID
fi
# cputicks PID: user+system clock ticks of PID and its direct children
# (nginx's workers), so CPU per request can be compared even on a busy box.
cputicks() {
	local total=0 p
	for p in "$1" $(pgrep -P "$1" || true); do
		[ -r "/proc/$p/stat" ] || continue
		total=$(( total + $(awk '{print $14 + $15}' "/proc/$p/stat") ))
	done
	echo "$total"
}
HZ=$(getconf CLK_TCK)
# boxticks: the whole machine's busy and idle (with iowait) CPU ticks.
boxticks() { awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }

declare -A URL=(
	[direct]="http://$BACKEND/"
	[dynokit]="http://$OURS/"
	[nginx]="http://127.0.0.1:$NPORT/"
	[haproxy]="http://127.0.0.1:$HPORT/"
)
targets=(direct dynokit nginx haproxy)
if [ "${NETHTTP:-0}" = 1 ]; then
	URL[dk-nethttp]="http://$ADDR_std/"
	targets+=(dk-nethttp)
fi
if [ "${EVLOOP:-0}" = 1 ]; then
	URL[evloop]="http://$ADDR_evl/"
	targets+=(evloop)
fi
if [ "${TLS:-0}" = 1 ]; then
	URL[dynokit-tls]="https://$OURS_TLS/"
	URL[nginx-tls]="https://127.0.0.1:$NTPORT/"
	URL[haproxy-tls]="https://127.0.0.1:$HTPORT/"
	targets+=(dynokit-tls nginx-tls haproxy-tls)
fi
# TARGETS="dynokit nginx" narrows the rounds for a quicker A/B run.
[ -z "${TARGETS:-}" ] || read -r -a targets <<<"$TARGETS"
for t in "${targets[@]}"; do
	code=$(curl -sk -o /dev/null -w '%{http_code}' -H "Host: $HOST" "${URL[$t]}")
	[ "$code" = 200 ] || { echo "$t: warm-up request got HTTP $code" >&2; exit 1; }
done

# Equivalent proxies: each sends the dyno the headers the router adds
# (X-Forwarded-*, X-Request-Id, X-Request-Start, Via), which cost the Go
# backend ~2 µs per request to parse; nginx and haproxy are configured to.
echo "headers the dyno receives:" >&2
for t in "${targets[@]}"; do
	printf '  %-11s %s\n' "$t" "$(curl -sk -H "Host: $HOST" "${URL[$t]}headers")" >&2
done

# wrk's latency distribution prints units (us, ms, s); convert to ms.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }

declare -A RPS P50 P99 CPU DYNO IDLE R_RPS R_P99
for round in $(seq "$ROUNDS"); do
	# Rotate the order each round so no target always runs on a warmer box.
	k=$(( (round-1) % ${#targets[@]} ))
	order=("${targets[@]:$k}" "${targets[@]:0:$k}")
	for t in "${order[@]}"; do
		c0=$(cputicks "${PID[$t]}") b0=$(cputicks "$PID_backend")
		read -r x0 i0 < <(boxticks)
		out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "Host: $HOST" "${URL[$t]}")
		read -r x1 i1 < <(boxticks)
		c1=$(cputicks "${PID[$t]}") b1=$(cputicks "$PID_backend")
		rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
		nreq=$(awk '/requests in/ {print $1}' <<<"$out")
		cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$nreq" 'BEGIN {printf "%.1f", (b-a)/hz*1e6/n}')
		dyno=$(awk -v a="$b0" -v b="$b1" -v hz="$HZ" -v n="$nreq" 'BEGIN {printf "%.1f", (b-a)/hz*1e6/n}')
		idle=$(awk -v x="$((x1-x0))" -v i="$((i1-i0))" 'BEGIN {printf "%.1f", 100*i/(x+i)}')
		p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
		p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
		errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
		[ -z "$errs" ] || echo "round $round $t: $errs" >&2
		printf 'round %d %-11s %8s req/s  p50 %6s ms  p99 %7s ms  %6s µs CPU/req  dyno %5s µs/req  box idle %4s%%\n' "$round" "$t" "$rps" "$p50" "$p99" "$cpu" "$dyno" "$idle" >&2
		RPS[$t]+="$rps "
		R_RPS[$t,$round]=$rps
		R_P99[$t,$round]=$p99
		CPU[$t]+="$cpu "
		DYNO[$t]+="$dyno "
		IDLE[$t]+="$idle "
		P50[$t]+="$p50 "
		P99[$t]+="$p99 "
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
lowest() { tr ' ' '\n' | grep -v '^$' | sort -g | head -1; }
highest() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }

echo
printf '%-11s %10s %10s %10s %14s %15s %12s   (median of %d x wrk -t2 -c%d -d%s)\n' target req/s p50_ms p99_ms cpu_us/req dyno_cpu_us/req box_idle_% "$ROUNDS" "$CONNS" "$DURATION"
declare -A M
for t in "${targets[@]}"; do
	M[$t]=$(median <<<"${RPS[$t]}")
	printf '%-11s %10s %10s %10s %14s %15s %12s\n' "$t" "${M[$t]}" "$(median <<<"${P50[$t]}")" "$(median <<<"${P99[$t]}")" "$(median <<<"${CPU[$t]}")" "$(median <<<"${DYNO[$t]}")" "$(median <<<"${IDLE[$t]}")"
done
echo
# Pairs compared: ours other.
pairs=("dynokit nginx" "dynokit haproxy" "dynokit direct" "dynokit-tls nginx-tls" "dynokit-tls haproxy-tls")
for pair in "${pairs[@]}"; do
	read -r o t <<<"$pair"
	[ -n "${M[$o]:-}" ] && [ -n "${M[$t]:-}" ] || continue
	awk -v o="${M[$o]}" -v x="${M[$t]}" -v n="$o" -v t="$t" 'BEGIN {printf "ratio %s/%-11s = %.2f\n", n, t, o/x}'
done
# meanci log|lin: the mean of the values (geometric for log) with its 95%
# confidence interval (Student's t), as "m [lo, hi]": an interval that
# holds 1 (ratios) or 0 (differences) means the run could not tell the
# proxies apart.
meanci() {
	tr ' ' '\n' | grep -v '^$' | awk -v mode="$1" '
		{ v = (mode == "log") ? log($1) : $1; s += v; ss += v * v; n++ }
		END {
			if (n < 2) { print "n/a"; exit }
			split("12.71 4.30 3.18 2.78 2.57 2.45 2.36 2.31 2.26 2.23 2.20 2.18 2.16 2.14 2.13 2.12 2.11 2.10 2.09 2.09", tq, " ")
			t = (n - 1 <= 20) ? tq[n - 1] : (n - 1 <= 30 ? 2.04 : 1.96)
			m = s / n; var = (ss - n * m * m) / (n - 1); if (var < 0) var = 0
			h = t * sqrt(var / n)
			if (mode == "log") printf "%.3f [%.3f, %.3f]", exp(m), exp(m - h), exp(m + h)
			else printf "%+.2f [%+.2f, %+.2f]", m, m - h, m + h
		}'
}
# Rounds are interleaved, so each round's dynokit/other ratio compares
# runs seconds apart on the same box: their spread is the noise a median
# ratio sits in.
for pair in "${pairs[@]}"; do
	read -r o t <<<"$pair"
	[ "$t" != direct ] && [ -n "${M[$o]:-}" ] && [ -n "${M[$t]:-}" ] || continue
	rr="" dp="" won=0
	for round in $(seq "$ROUNDS"); do
		r=$(awk -v o="${R_RPS[$o,$round]}" -v x="${R_RPS[$t,$round]}" 'BEGIN {printf "%.3f", o/x}')
		d=$(awk -v o="${R_P99[$o,$round]}" -v x="${R_P99[$t,$round]}" 'BEGIN {printf "%.2f", o-x}')
		rr+="$r " dp+="$d "
		awk -v r="$r" -v d="$d" 'BEGIN {exit !(r >= 1 && d <= 0)}' && won=$((won+1))
	done
	printf '  per round %s vs %-11s req/s ratio median %.2f (%.2f–%.2f), p99 difference median %+.2f ms (%+.2f–%+.2f); rounds with more req/s and no worse p99: %d of %d\n' \
		"$o" "$t" "$(median <<<"$rr")" "$(lowest <<<"$rr")" "$(highest <<<"$rr")" \
		"$(median <<<"$dp")" "$(lowest <<<"$dp")" "$(highest <<<"$dp")" "$won" "$ROUNDS"
	printf '  95%% confidence %s vs %-11s req/s ratio (geometric mean) %s, p99 difference (mean) %s ms\n' \
		"$o" "$t" "$(meanci log <<<"$rr")" "$(meanci lin <<<"$dp")"
done
if [ -n "${M[evloop]:-}" ]; then
	awk -v o="${M[dynokit]}" -v e="${M[evloop]}" 'BEGIN {printf "ratio evloop/dynokit = %.2f (a minimal epoll-loop proxy: the bound on what an event loop could gain)\n", e/o}'
fi
if [ -n "${M[dk-nethttp]:-}" ]; then
	awk -v o="${M[dynokit]}" -v s="${M[dk-nethttp]}" 'BEGIN {printf "ratio dynokit/dk-nethttp = %.2f (the router on net/http'"'"'s server)\n", o/s}'
fi

[ "${WS:-1}" = 1 ] || exit 0
echo
echo "upgrade (WebSocket-style) echo, 64-byte round trips over $WSCONNS connections ($WSN in all),"
echo "and the proxy's CPU per round trip (the echo dyno's for direct):"
# The echo dyno is registered on a second router instance reading its own app.
start_go wsrouter router -addr 127.0.0.1:0 -backend "$WSECHO" -app ws
declare -A WSURL=([direct]=$WSECHO [dynokit]=$ADDR_wsrouter [nginx]=127.0.0.1:$NWSPORT [haproxy]=127.0.0.1:$HWSPORT)
declare -A WSPID=([direct]=$PID_wsecho [dynokit]=$PID_wsrouter [nginx]=$NGINX_PID [haproxy]=$HAPROXY_PID)
for t in direct dynokit nginx haproxy; do
	c0=$(cputicks "${WSPID[$t]}")
	out=$("$D/routerbench" -mode wsclient -target "${WSURL[$t]}" -host ws.localhost -n "$WSN" -c "$WSCONNS")
	c1=$(cputicks "${WSPID[$t]}")
	printf '  %-10s %s  %s µs CPU/round trip\n' "$t" "$out" "$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$WSN" 'BEGIN {printf "%.1f", (b-a)/hz*1e6/n}')"
done
echo
"$D/routerbench" -mode lookup -apps 10000
