#!/usr/bin/env bash
# Install, build and run the whole test suite (doctest through ctest), then the fuzz targets.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 900)
# Then every libFuzzer target for a fixed number of executions with a fixed seed (FUZZ_SECONDS=0 skips
# it): docs/fuzzing.md.
if [ "${FUZZ_SECONDS:-}" != 0 ]; then ./scripts/fuzz.sh; fi
