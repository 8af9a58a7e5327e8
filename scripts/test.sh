#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Node 20: installs what is missing,
# builds, and runs mocha against real services (each test starts its own Orthanc; Redis is the
# one on 127.0.0.1:6379 with a unique key prefix per run, or a private one in run/ if none answers).
# Usage: bash scripts/test.sh [mocha args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
source scripts/redis.sh

run_dir="$PWD/run/test-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$run_dir"
if [ -z "${AINODE_TEST_REDIS_URL:-}" ]; then
  if redis_ping 6379; then
    export AINODE_TEST_REDIS_URL="redis://127.0.0.1:6379"
  else
    export AINODE_TEST_REDIS_URL="$(start_private_redis "$run_dir/redis")"
    trap 'stop_private_redis "$run_dir/redis"' EXIT
  fi
fi
echo "ainode tests: Redis $AINODE_TEST_REDIS_URL, run folder $run_dir" >&2
export TMPDIR="$run_dir"
# Tests run the model in-process too: with the allocator settings a deployed worker has
# (MALLOC_TUNING in src/observability/memory.ts; the ainode processes the tests start get them too).
export MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576 GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1"
# Format, lint and types first: a style or type error fails the run before any test starts.
npm run --silent lint >&2
npx mocha "$@"
# Passed: the Orthanc storages of this run are no longer needed (on failure they stay for a look).
rm -rf "$run_dir"
