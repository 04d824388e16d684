#!/usr/bin/env bash
# bench/slug/run.sh: compare slug.Pack/slug.Extract with tar|gzip, tar|pigz
# and tar -xzf on a generated ~200 MB tree. Extra arguments go to
# "slugbench compare" (e.g. -reps 7 -size 200 -work /some/dir).
#
# By default the scratch directory is on /dev/shm (tmpfs) when present, so
# the numbers measure the tools rather than the disk; pass -work DIR to
# measure on a real file system.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v pigz >/dev/null 2>&1; then
	if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
		echo "bench/slug: installing pigz" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq pigz >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq pigz >/dev/null; }
	else
		echo "bench/slug: pigz is missing; install it (apt-get install pigz)" >&2
		exit 1
	fi
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/slugbench" ./bench/slug
"$bin/slugbench" compare "$@"
