#!/usr/bin/env bash
# Sets up if needed, then runs the whole test suite via ctest.
#   ./scripts/test.sh                 everything (unit, integration, load)
#   ./scripts/test.sh -L unit         only a label (unit | integration | load)
#   ./scripts/test.sh -LE load        skip the 200-session load test
# Extra arguments go to ctest. BUILD_DIR selects another build (e.g. build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
if [ "$BUILD_DIR" = build ]; then
  ./scripts/setup.sh
fi
# Twice as many tests as cores: the integration suites mostly wait (SSH
# handshakes, servers starting, timeouts); at one per core the CPU was 58 %
# idle, at two per core a sample of eight suites ran in 56 % of the time.
# CTEST_JOBS overrides (.ci/run uses fewer under the sanitizers).
exec ctest --test-dir "$BUILD_DIR" --output-on-failure -j"${CTEST_JOBS:-$(($(nproc) * 2))}" "$@"
