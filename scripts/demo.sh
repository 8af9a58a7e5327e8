#!/usr/bin/env bash
# The demo, end to end, from a fresh Debian 12 machine with Node 20: installs what is missing,
# starts a private Orthanc (with DICOMweb) and Redis in run/demo-*, starts ainode, stores the chest
# CT shipped in deploy/demo/data, waits for the SEG and SR, and prints where to look at them
# (Orthanc Explorer, and OHIF through `ainode viewer`).
# Usage: bash scripts/demo.sh [--exit]   (--exit: stop everything after printing; the default
# keeps Orthanc and ainode running until Ctrl-C when run in a terminal)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
source scripts/redis.sh
run_dir="$PWD/run/demo-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"
redis_url="$(start_private_redis "$run_dir/redis")"
trap 'stop_private_redis "$run_dir/redis"' EXIT
node dist/scripts/demo.js --run-dir "$run_dir" --redis-url "$redis_url" --ohif-dist "$(bash scripts/fetch-ohif.sh)" "$@"
