#!/usr/bin/env bash
# The one-shot device check (docs/gpu.md): on a machine with a CUDA GPU and a CUDA PyTorch, configure
# s4t against that PyTorch's LibTorch, build only what the check needs (host, SDK, test kit, resnet,
# heads, none, s4t, tent, synthetic, the session/compute/CUDA tests), run those tests and
# bench/compare_gpu.sh, and write every log under $OUT.
#   scripts/gpu_check.sh [all|env|configure|build|test|bench]...     (default: all = every stage in order)
# Stages can run in separate commands (the build folder is kept): e.g. `build test`, then `bench`.
# Environment: OUT (default ./gpu-check-out), BUILD_DIR (default build-gpu), JOBS (default nproc),
#   PYTHON (default python3), DEVICE (default cuda; cpu = a dry run of the test and bench stages),
#   GPU_BENCH (default "256 480": bench/compare_gpu.sh sizes), GPU_BENCH_MODES_480 (default
#   "fp32 bf16_channels_last cuda_graph": the 480x640 modes, to fit the device time), ITERATIONS (3),
#   WARMUP (2), EPISODE_STEPS (40).
# Header-only deps the machine may lack (toml++, nlohmann-json) come from .third_party/include
# (scripts/fetch_header_deps.sh on a machine that has them; carried with the working tree).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
BUILD_DIR="${BUILD_DIR:-build-gpu}"
JOBS="${JOBS:-$(nproc)}"
PYTHON="${PYTHON:-python3}"
DEVICE="${DEVICE:-cuda}"
mkdir -p "$OUT"
summary="$OUT/summary.txt"
note() { echo "$*" | tee -a "$summary"; }
stages=("$@")
[[ ${#stages[@]} -eq 0 || "${stages[0]}" == all ]] && stages=(env configure build test bench)

stage_env() {
  {
    echo "date: $(date -u)"; uname -a
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    "$PYTHON" -c 'import torch, torchvision; print("torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available(), "cxx11abi", torch._C._GLIBCXX_USE_CXX11_ABI,
      "cmake prefix", torch.utils.cmake_prefix_path, "torchvision", torchvision.__version__)'
    for tool in cmake ninja g++ nvcc ccache; do echo "$tool: $(command -v $tool >/dev/null && $tool --version | head -1 || echo absent)"; done
    for pc in opencv4 libpng matio; do echo "pkg-config $pc: $(pkg-config --modversion $pc 2>/dev/null || echo absent)"; done
    for h in toml++/toml.h nlohmann/json.hpp doctest/doctest.h spdlog/spdlog.h fmt/format.h boost/dll.hpp; do
      echo "/usr/include/$h: $([[ -e /usr/include/$h ]] && echo present || echo absent)"
    done
    echo ".third_party/include: $(ls .third_party/include 2>/dev/null | tr '\n' ' ')"
  } >"$OUT/env.txt" 2>&1
  note "env: $(grep '^torch ' "$OUT/env.txt" || echo 'no torch in '"$PYTHON")"
}

stage_configure() {
  local prefix extra=()
  prefix="$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')" || { note "configure: FAILED (no torch)"; return 1; }
  if [[ -d .third_party/include ]]; then
    extra+=(-DS4T_TOMLPP_INCLUDE_DIR="$PWD/.third_party/include" -DS4T_NLOHMANN_INCLUDE_DIR="$PWD/.third_party/include")
  fi
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DS4T_WITH_CUDA=ON \
    "-DS4T_PLUGIN_FOLDERS=resnet;heads;none;s4t;tent;common;synthetic" "-DS4T_TEST_FOLDERS=host/engine" \
    "${extra[@]}" >"$OUT/configure.log" 2>&1
  local rc=$?
  note "configure: $([[ $rc -eq 0 ]] && echo ok || echo "FAILED (rc $rc, see configure.log)"); $(grep -h 's4t:' "$OUT/configure.log" | tr '\n' ' ')"
  return $rc
}

stage_build() {
  local targets=(s4t_cli resnet heads none s4t tent session_probe_plugin test_host_compute test_host_compute_mode test_host_session)
  grep -q "plugins/synthetic.so" "$BUILD_DIR/build.ninja" 2>/dev/null && targets+=(synthetic)
  local t0=$SECONDS
  cmake --build "$BUILD_DIR" -j "$JOBS" --target "${targets[@]}" >"$OUT/build.log" 2>&1
  local rc=$?
  note "build: $([[ $rc -eq 0 ]] && echo ok || echo "FAILED (rc $rc, see build.log)") in $((SECONDS - t0)) s; $(grep -c warning: "$OUT/build.log") warnings"
  return $rc
}

stage_test() {
  local t0=$SECONDS
  (cd "$BUILD_DIR" && ctest -R "compute mode|deferred guard|cuda:|session:" --output-on-failure) >"$OUT/ctest.log" 2>&1
  local rc=$?
  note "test: $(grep -E 'tests passed|tests failed' "$OUT/ctest.log" | tail -1) in $((SECONDS - t0)) s"
  # The suites once more in one process each, for their MESSAGE lines (measured bf16 gaps, skips).
  local kit
  kit="$(find "$BUILD_DIR" -name test_host_compute -type f -perm -u+x | head -1)"
  [[ -n "$kit" ]] && (cd "$(dirname "$kit")" && ./test_host_compute) >"$OUT/compute_tests.log" 2>&1
  note "test messages: $(grep -c 'MESSAGE' "$OUT/compute_tests.log" 2>/dev/null || echo 0) in compute_tests.log; cuda skipped: $(grep -c 'skipped: no CUDA' "$OUT/compute_tests.log" 2>/dev/null || echo 0)"
  return $rc
}

stage_bench() {
  [[ -f "$BUILD_DIR/plugins/synthetic.so" ]] || { note "bench: skipped (no synthetic plugin: OpenCV/libpng missing, see configure.log)"; return 1; }
  local rc=0 size
  for size in ${GPU_BENCH:-256 480}; do
    local modes="${MODES:-}"
    [[ "$size" == 480 ]] && modes="${GPU_BENCH_MODES_480:-fp32 bf16_channels_last cuda_graph}"
    [[ "$DEVICE" == cpu ]] && modes="${modes:-fp32 bf16}"
    local t0=$SECONDS
    local vars=(BUILD_DIR="$BUILD_DIR" PYTHON="$PYTHON" DEVICE="$DEVICE" ITERATIONS="${ITERATIONS:-3}"
                WARMUP="${WARMUP:-2}" EPISODE_STEPS="${EPISODE_STEPS:-40}")
    [[ -n "$modes" ]] && vars+=(MODES="$modes")
    env "${vars[@]}" bench/compare_gpu.sh "$size" 1 >"$OUT/bench_$size.txt" 2>&1 || rc=1
    note "bench $size: rc $rc in $((SECONDS - t0)) s"
    cat "$OUT/bench_$size.txt" | tee -a "$summary" >/dev/null
  done
  return $rc
}

status=0
for s in "${stages[@]}"; do
  case "$s" in
    env|configure|build|test|bench) "stage_$s" || status=1 ;;
    *) echo "usage: scripts/gpu_check.sh [all|env|configure|build|test|bench]..." >&2; exit 2 ;;
  esac
done
echo "gpu_check: logs in $OUT (summary.txt)"
exit $status
