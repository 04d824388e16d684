#!/usr/bin/env bash
# bench/buildpack/run.sh: the buildpack package's own overhead for a no-op
# build (median of 20, next to a bare fork/exec of the same scripts) and
# the Go buildpack's warm rebuild against a cold build (ratio).
#
#   bench/buildpack/run.sh [-n 20] [-go-reps 3]
#
# Needs go and sh; runs offline; cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/buildpack "$@"
