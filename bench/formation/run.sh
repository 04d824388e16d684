#!/usr/bin/env bash
# bench/formation/run.sh: formation/local start-to-listening latency beside
# its fork/exec floor (median of N), and scaling one app 0 → 50 web dynos
# and back. Usage: bench/formation/run.sh [-n 20] [-scale 50]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/formation-bench" ./bench/formation
"$bin/formation-bench" "$@"
