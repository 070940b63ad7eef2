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
exec ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
