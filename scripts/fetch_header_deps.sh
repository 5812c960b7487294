#!/usr/bin/env bash
# Copies the header-only dependencies that a machine may lack (toml++, nlohmann-json) from this
# machine's /usr/include into .third_party/include (git-ignored), so they can be copied along to a
# machine that lacks them and configured with
#   -DS4T_TOMLPP_INCLUDE_DIR=$PWD/.third_party/include -DS4T_NLOHMANN_INCLUDE_DIR=$PWD/.third_party/include
# (toml++ is always used header-only, patched: cmake/PatchedTomlplusplus.cmake; nlohmann-json falls back
# to these when find_package finds no package). scripts/gpu_check.sh passes them when the folder exists.
# Usage: scripts/fetch_header_deps.sh [SOURCE_INCLUDE_DIR]   (default /usr/include)
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:-/usr/include}"
dest=.third_party/include
mkdir -p "$dest"
for dep in toml++ nlohmann; do
  [[ -d "$src/$dep" ]] || { echo "fetch_header_deps: $src/$dep not found (Debian: libtomlplusplus-dev, nlohmann-json3-dev)" >&2; exit 1; }
  rm -rf "${dest:?}/$dep"
  cp -r "$src/$dep" "$dest/"
done
echo "fetch_header_deps: $(du -sh "$dest" | cut -f1) in $dest: $(ls "$dest" | tr '\n' ' ')"
