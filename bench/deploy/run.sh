#!/usr/bin/env bash
# bench/deploy/run.sh: minipaas deploy latency (git push → first 200 through
# the router), cold and warm, split by phase, beside a plain git push of the
# same commits to a bare repository over smart HTTP. Extra arguments go to
# the bench program (e.g. -reps 7 -work /some/dir).
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in git go; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench/deploy: $tool is missing" >&2; exit 1; }
done

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/minipaas" ./examples/minipaas
go build -o "$bin/deploybench" ./bench/deploy
"$bin/deploybench" -minipaas "$bin/minipaas" "$@"
