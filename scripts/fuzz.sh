#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang into build-fuzz and runs each for a fixed number of
# executions (docs/fuzzing.md). Exits non-zero on the first finding and prints the crashing input's path.
# Environment:
#   FUZZ_RUNS      executions per target (default: each target's count below, about 45 s on 2 cores).
#                  With a fixed FUZZ_SEED the run is the same sequence of inputs every time, on any
#                  machine speed, and a single allocation over 512 MB is a finding when it happens.
#   FUZZ_SECONDS   run each target for this many seconds instead (hunting: the number of executions,
#                  so the inputs, then depend on the machine's speed); 0 = build only
#   FUZZ_SEED      libFuzzer's random seed (default 1; FUZZ_SEED=0 draws a new one, to hunt)
#   FUZZ_TARGETS   space-separated subset of: config npy mat checkpoint metrics (default: all)
#   FUZZ_BUILD_DIR build folder (default build-fuzz)
#   FUZZ_ARTIFACTS where crashing inputs are written (default $FUZZ_BUILD_DIR/fuzz-artifacts)
#   JOBS           build jobs (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${FUZZ_SECONDS:-}"
SEED="${FUZZ_SEED:-1}"
TARGETS="${FUZZ_TARGETS:-config npy mat checkpoint metrics}"
BUILD="${FUZZ_BUILD_DIR:-build-fuzz}"
ARTIFACTS="${FUZZ_ARTIFACTS:-$BUILD/fuzz-artifacts}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"

for tool in clang clang++; do
  command -v "$tool" >/dev/null || { echo "[fuzz] $tool not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
done
# Tests and benchmarks are not needed here: only the fuzz targets are built.
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DS4T_FUZZ=ON \
  -DS4T_BUILD_TESTS=OFF >/dev/null
build_targets=()
for t in $TARGETS; do build_targets+=("s4t_fuzz_$t"); done
start=$(date +%s)
cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" --target "${build_targets[@]}"
echo "[fuzz] built ${build_targets[*]} in $(( $(date +%s) - start )) s"
[ "$SECONDS_EACH" != 0 ] || exit 0

# Executions per target for the deterministic run, sized from the measured rates on 2 shared cores
# (docs/fuzzing.md#running).
default_runs() {
  case "$1" in
    config) echo 300000 ;;
    npy) echo 900000 ;;
    mat) echo 300000 ;;
    checkpoint) echo 30000 ;;
    metrics) echo 500000 ;;
    *) echo 100000 ;;
  esac
}

mkdir -p "$ARTIFACTS"
# Leaks inside LibTorch are not reported (fuzz/lsan.supp says why); everything else is.
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
work=$(mktemp -d "${TMPDIR:-/tmp}/s4t-fuzz-corpus-XXXXXX")
trap 'rm -rf "$work"' EXIT
for t in $TARGETS; do
  # The repository's corpus is copied: what the run discovers stays out of the checkout.
  mkdir -p "$work/$t"
  cp -r "fuzz/corpus/$t/." "$work/$t/"
  if [ -n "$SECONDS_EACH" ]; then
    budget=(-max_total_time="$SECONDS_EACH"); what="${SECONDS_EACH} s"
  else
    runs="${FUZZ_RUNS:-$(default_runs "$t")}"
    budget=(-runs="$runs"); what="$runs executions"
  fi
  echo "[fuzz] $t: $what from $(ls "$work/$t" | wc -l) seeds, seed $SEED"
  log="$ARTIFACTS/$t.log"
  rc=0
  # A reader that allocates what the file's size does not justify is a finding. -malloc_limit_mb is
  # checked in the allocation itself, so such an input is a finding on every run; -rss_limit_mb alone is
  # sampled once a second, and the same input passed one run and failed the next (docs/fuzzing.md).
  "$BUILD/fuzz/s4t_fuzz_$t" "$work/$t" "${budget[@]}" -seed="$SEED" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=30 \
    -artifact_prefix="$ARTIFACTS/$t-" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|#[0-9]+[[:space:]]+DONE)" "$log" | sed "s/^/[fuzz] $t: /" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log" >&2
    crash=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
    echo "[fuzz] FINDING in $t (exit $rc): input ${crash:-<see $log>}" >&2
    echo "[fuzz] reproduce: $BUILD/fuzz/s4t_fuzz_$t ${crash:-INPUT}" >&2
    exit "$rc"
  fi
done
if [ -n "$SECONDS_EACH" ]; then budget_text="$SECONDS_EACH s each"; else budget_text="${FUZZ_RUNS:-the default} executions each"; fi
echo "[fuzz] no findings ($TARGETS; $budget_text, seed $SEED)"
