#!/usr/bin/env bash
# `s4t bench` next to the eager PyTorch reference (bench/s4t_reference.py, Debian's python3-torch: the
# same LibTorch) in one command, interleaved, and the ratios of the medians: C++ / PyTorch per step, and
# each side's S4T steps / its own plain supervised step.
#   bench/compare_cpu.sh [resnet50|demo|all] [rounds]     (default: all 3)
# resnet50: configs/bench/resnet50_256.toml at 2x3x128x128; demo: configs/demo.toml at 8x3x64x64.
# Environment: BUILD_DIR (default build), THREADS (default 2), ITERATIONS (per measurement, default 3),
# S4T_ARGS (more `s4t bench` arguments, e.g. "--plugin-dir DIR"),
# OPENBLAS_NUM_THREADS (default 1: OpenBLAS's own pthread pool otherwise spins beside LibTorch's OpenMP pool),
# OMP_WAIT_POLICY (default PASSIVE, the policy the s4t host sets for itself; the reference gets the same).
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
rounds="${2:-3}"
s4t="${BUILD_DIR:-build}/bin/s4t"
threads="${THREADS:-2}"
iterations="${ITERATIONS:-3}"
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" \
  OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
[[ -x "$s4t" ]] || { echo "no $s4t: run ./scripts/build.sh first" >&2; exit 1; }
/usr/bin/python3 -c "import torch, torchvision" 2>/dev/null ||
  { echo "needs Debian's python3-torch and python3-torchvision (apt-get install python3-torch python3-torchvision)" >&2; exit 1; }

log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

run() {  # name config size batch net
  local name=$1 config=$2 size=$3 batch=$4 net=$5
  for ((i = 0; i < rounds; ++i)); do
    "$s4t" bench "$config" --method s4t --size "$size" --batch "$batch" --iterations "$iterations" \
      --set run.threads="$threads" --log-level warn ${S4T_ARGS:-} >>"$log/$name.cpp"
    /usr/bin/python3 bench/s4t_reference.py --net "$net" --size "$size" --batch "$batch" --threads "$threads" \
      --iterations "$iterations" >>"$log/$name.py"
  done
  /usr/bin/python3 - "$name" "$log/$name.cpp" "$log/$name.py" <<'PY'
import json, os, re, statistics, sys
name, cpp_log, py_log = sys.argv[1:]
rows = {"base": r"reference: supervised step \(base\)", "source": r"source-training step \[s4t\]",
        "ttt": r"TTT step \[s4t\]", "infer": r"inference \[s4t\]"}
text = open(cpp_log).read()
cpp = {k: statistics.median(float(v) for v in re.findall(p + r"\s+([0-9.]+) ms", text)) for k, p in rows.items()}
py_runs = [json.loads(l) for l in open(py_log) if l.startswith("{")]
py = {k: statistics.median(r[k + "_ms"] if k != "base" else r["base_train_ms"] for r in py_runs) for k in rows}
print(f"{name}: median of {len(py_runs)} interleaved rounds, ms per step, {py_runs[0]['threads']} threads, "
      f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
print(f"  {'step':<28}{'s4t (C++)':>12}{'PyTorch':>12}{'C++/PyTorch':>14}")
labels = {"base": "plain supervised step", "source": "S4T source step", "ttt": "S4T TTT step", "infer": "inference with S4T"}
for k in rows:
    print(f"  {labels[k]:<28}{cpp[k]:>12.1f}{py[k]:>12.1f}{cpp[k] / py[k]:>13.2f}x")
for k in ("source", "ttt"):
    print(f"  {labels[k] + ' / plain step':<28}{cpp[k] / cpp['base']:>11.2f}x{py[k] / py['base']:>11.2f}x")
PY
}

case "$which" in
  resnet50) run resnet50 configs/bench/resnet50_256.toml 128x128 2 resnet50 ;;
  demo) run demo configs/demo.toml 64x64 8 demo ;;
  all) run resnet50 configs/bench/resnet50_256.toml 128x128 2 resnet50
       run demo configs/demo.toml 64x64 8 demo ;;
  *) echo "usage: bench/compare_cpu.sh [resnet50|demo|all] [rounds]" >&2; exit 2 ;;
esac
