#!/usr/bin/env bash
# Installs everything s4t needs to build and run on Debian 12 (bookworm), from Debian's archive.
# Idempotent: safe to run again. Needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  build-essential cmake ninja-build ccache git pkg-config
  libtorch-dev                      # LibTorch 1.13 (CPU)
  libboost-dev libboost-program-options-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev doctest-dev nlohmann-json3-dev
  libopenblas0-pthread              # fast BLAS: the reference libblas3 is ~9x slower
  libopencv-dev libpng-dev libmatio-dev  # image and .mat decoding for the dataset plugins
  zlib1g-dev                        # CRC-32 checks of checkpoints
  libgloo-dev                       # Gloo headers for distributed runs (LibTorch's c10d includes them)
  gnuplot-nox                       # figures for `s4t report`
  clang libclang-rt-14-dev          # libFuzzer + ASan/UBSan runtimes for scripts/fuzz.sh (docs/fuzzing.md)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "[install-deps] installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "[install-deps] all packages present"
fi

# Make sure libblas.so.3 resolves to OpenBLAS, not the reference BLAS (both may be installed).
arch_dir=/usr/lib/x86_64-linux-gnu
for lib in libblas.so.3 liblapack.so.3; do
  alt="${lib}-x86_64-linux-gnu"
  candidate="$arch_dir/openblas-pthread/$lib"
  if [ -e "$candidate" ] && update-alternatives --list "$alt" >/dev/null 2>&1; then
    $SUDO update-alternatives --set "$alt" "$candidate" >/dev/null
  fi
done
echo "[install-deps] libblas.so.3 -> $(readlink -f $arch_dir/libblas.so.3)"
