#!/usr/bin/env bash
# Installs the Debian packages (scripts/install-deps.sh) and builds s4t into ./build with ninja.
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), JOBS (default: all cores),
# BUILD_TARGETS (space-separated targets; default: everything, the test suite included).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-$(nproc)}"
# ccache: rewrite absolute paths below the checkout, so every clone and build folder shares one cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@"
# shellcheck disable=SC2086  # one word per target
cmake --build "$BUILD_DIR" -j "$JOBS" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
