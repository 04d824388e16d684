#!/usr/bin/env bash
# Add-on provision and deprovision latency: dynokit's postgres and redis
# providers beside floors measured in the same run, alternating per
# repetition — the bare statements (CREATE ROLE/CREATE DATABASE/REVOKE,
# DROP DATABASE/DROP ROLE) and commands (ACL SETUSER, ACL DELUSER) sent
# in-process (pgx, go-redis; one fresh connection per PostgreSQL operation,
# as the provider does) and through psql / redis-cli. Prints medians and
# the ratios dynokit/floor.
#
#   bench/addons/run.sh          # 20 repetitions
#   N=50 bench/addons/run.sh
set -euo pipefail

N=${N:-20}
cd "$(dirname "$0")/../.."

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql-15)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]}" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

D=$(mktemp -d /tmp/addonsbench.XXXXXX)
chmod 755 "$D"
REDIS_PID=
PG_STARTED=
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
	[ -n "$REDIS_PID" ] && { kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; }
	[ -n "$PG_STARTED" ] && as_pg "$PGBIN/pg_ctl" -D "$D/pg/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$D"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

PGPASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
REDIS_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PGPASSWORD REDIS_PASSWORD

echo "starting PostgreSQL (scram-sha-256) and Redis…" >&2
mkdir -p "$D/pg"
printf '%s\n' "$PGPASSWORD" >"$D/pg/pwfile"
[ "$(id -u)" = 0 ] && chown -R postgres "$D/pg"
as_pg "$PGBIN/initdb" -D "$D/pg/data" -A scram-sha-256 --pwfile="$D/pg/pwfile" -U postgres --no-sync -E UTF8 --locale=C >/dev/null
PGPORT=$(freeport)
as_pg "$PGBIN/pg_ctl" -D "$D/pg/data" -l "$D/pg/log" -w \
	-o "-p $PGPORT -k $D/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null
PG_STARTED=1

mkdir -p "$D/redis"
printf 'requirepass %s\n' "$REDIS_PASSWORD" >"$D/redis/redis.conf"
REDISPORT=$(freeport)
redis-server "$D/redis/redis.conf" --port "$REDISPORT" --bind 127.0.0.1 --dir "$D/redis" --save "" \
	--appendonly no --daemonize no >"$D/redis/log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 100); do
	REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$REDISPORT" --no-auth-warning ping 2>/dev/null | grep -q PONG && break
	sleep 0.05
done

echo "building addonsbench…" >&2
go build -o "$D/addonsbench" ./bench/addons
echo "addons: provision/deprovision latency, $N repetitions, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$D/addonsbench" -n "$N" \
	-pg "postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable" -psql "$PGBIN/psql" \
	-redis "127.0.0.1:$REDISPORT" -redis-cli "$(command -v redis-cli)"
