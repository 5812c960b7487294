#!/usr/bin/env bash
# Source-training throughput (images/s) with 1 and 2 local workers (`s4t launch --nproc 2`, Gloo on the
# loopback) and the scaling efficiency = images/s(2 workers) / (2 x images/s(1 worker)). Each worker uses
# one LibTorch thread ([run] threads = 1), so 2 workers need 2 free cores; on a 2-core machine that is
# every core, and the data loader, the Gloo threads and the OS compete with training: expect well below
# 100 % there (docs/distributed.md). Each worker trains on BATCH images per step ([train] batch is the
# global batch, so the 2-worker run sets it to 2 x BATCH): the per-worker load stays the same, the number
# that matters for data-parallel scaling.
#   bench/distributed_scaling.sh [iterations]        (default 60; configs/demo.toml's model and data)
# Environment: BUILD_DIR (default build), CONFIG (default configs/demo.toml), BATCH (per worker, default 8),
# S4T_ARGS (more arguments for `s4t train`, e.g. "--plugin-dir DIR").
set -euo pipefail
cd "$(dirname "$0")/.."
iterations="${1:-60}"
s4t="${BUILD_DIR:-build}/bin/s4t"
config="${CONFIG:-configs/demo.toml}"
batch="${BATCH:-8}"
[[ -x "$s4t" ]] || { echo "no $s4t: run ./scripts/build.sh first" >&2; exit 1; }
cores=$(getconf _NPROCESSORS_ONLN)  # before OMP_NUM_THREADS=1, which nproc would report
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

common=(train "$config" --method none --force --log-level warn --set run.threads=1 --set run.progress=false
        --set train.iterations="$iterations" --set train.checkpoint_every=0
        --set train.log_every="$iterations" --set data.workers=1)
images_per_second() {  # run dir -> images/s of its source training
  /usr/bin/python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["images_per_second"])' \
    "$1/source/base/done.json"
}

"$s4t" "${common[@]}" --set train.batch="$batch" --set run.output_dir="$out/w1" --set run.name=scaling ${S4T_ARGS:-} >/dev/null 2>"$out/w1.log" ||
  { cat "$out/w1.log" >&2; exit 1; }
one=$(images_per_second "$out/w1/scaling")
"$s4t" launch --nproc 2 -- "${common[@]}" --set train.batch="$((2 * batch))" --set run.output_dir="$out/w2" --set run.name=scaling ${S4T_ARGS:-} \
  >/dev/null 2>"$out/w2.log" || { cat "$out/w2.log" >&2; exit 1; }
two=$(images_per_second "$out/w2/scaling")
/usr/bin/python3 - "$one" "$two" "$cores" "$iterations" "$batch" <<'PY'
import sys
one, two, cores, iterations, batch = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"source training, {iterations} iterations, batch {batch} per worker, 1 thread per worker, {cores} cores")
print(f"| workers | images/s | speed-up | efficiency |\n|---|---|---|---|")
print(f"| 1 | {one:.2f} | 1.00 | 100 % |")
print(f"| 2 | {two:.2f} | {two / one:.2f} | {100 * two / (2 * one):.0f} % |")
if cores <= 2:
    print(f"note: this machine has {cores} cores, all of them taken by 2 workers (data loading, Gloo and the OS "
          "compete with training): the figure is a lower bound, not the scaling of a machine with spare cores.")
PY
