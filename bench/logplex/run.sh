#!/usr/bin/env bash
# bench/logplex/run.sh: logplex throughput numbers.
#
#  1. In-process: Send → per-app history (msgs/s, 1 and 2 cores), Send →
#     history → a following tail reader, and Send → syslog drain → a local
#     TCP sink that discards (go test -bench).
#  2. End to end into a real rsyslogd, in one run against the same daemon:
#     our syslog drain vs a raw TCP writer of the same pre-framed bytes vs
#     util-linux `logger --tcp --octet-count`; ratios to the raw writer.
#
# Environment: N (lines per sender, default 200000), ROUNDS (default 3),
# BENCHTIME (go test -benchtime, default 2s).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v rsyslogd >/dev/null || { echo "rsyslogd not found: apt-get install rsyslog" >&2; exit 1; }

echo "== in-process (go test -bench)"
go test -run '^$' -bench 'BufferSend|SendToTail' -benchtime "${BENCHTIME:-2s}" -cpu 1,2 ./logplex/
go test -run '^$' -bench 'SyslogDrainToTCP' -benchtime "${BENCHTIME:-2s}" ./logplex/drain/

echo
echo "== end to end into rsyslogd"
go run ./bench/logplex/rsyslogbench -n "${N:-200000}" -rounds "${ROUNDS:-3}"
