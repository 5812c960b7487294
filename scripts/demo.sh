#!/usr/bin/env bash
# The main job in one command: install, build, then train on the synthetic source domain, adapt on the
# target domain with each method of configs/demo.toml and print the per-task comparison table.
# Builds the SDK, the host and the plugins only; ./scripts/test.sh builds the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TARGETS=s4t_runtime ./scripts/build.sh
./build/bin/s4t compare configs/demo.toml "$@"
