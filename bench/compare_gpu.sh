#!/usr/bin/env bash
# `s4t bench` next to the PyTorch reference (bench/s4t_reference.py) on a CUDA device, in one command:
# per mode (eager fp32, bf16, channels_last, bf16 + channels_last, CUDA graph) and size, the medians of
# each side and C++ / PyTorch ratios for the S4T TTT step, inference and an episode (40 TTT steps + one
# prediction), plus peak memory. The C++ side runs its TTT steps with the deferred guard (decided on the
# device, read once per episode: the counterpart of the reference's guard-less loop). CUDA graphs exist
# only on the PyTorch side so far: those rows say n/a for C++. First, both sides load the same weights
# and must compute the same predictions and task latents (1e-4 relative), or the script stops.
#   bench/compare_gpu.sh [256|480|all] [rounds]        (default: all, 1 round)
# 256: 8x3x256x256 (model built for 256x256); 480: 8x3x480x640 on the 448x576 training grid.
# Environment: BUILD_DIR (default build), PYTHON (default python3: needs torch and torchvision with CUDA),
# DEVICE (default cuda), ITERATIONS (default 5), WARMUP (default 3), EPISODE_STEPS (default 40),
# MODES (default "fp32 bf16 channels_last bf16_channels_last cuda_graph"), S4T_ARGS (more `s4t bench`
# arguments), CONFIG (default configs/bench/resnet50_256.toml), NET (reference --net, default resnet50).
# With DEVICE=cpu it runs on the CPU (no cuda_graph mode): a smoke test of the script itself.
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
rounds="${2:-1}"
s4t="${BUILD_DIR:-build}/bin/s4t"
python="${PYTHON:-python3}"
device="${DEVICE:-cuda}"
iterations="${ITERATIONS:-5}"
warmup="${WARMUP:-3}"
episode="${EPISODE_STEPS:-40}"
config="${CONFIG:-configs/bench/resnet50_256.toml}"
net="${NET:-resnet50}"
modes="${MODES:-fp32 bf16 channels_last bf16_channels_last cuda_graph}"
[[ -x "$s4t" ]] || { echo "no $s4t: build first (scripts/gpu_check.sh build)" >&2; exit 1; }
"$python" -c "import torch, torchvision" 2>/dev/null ||
  { echo "$python has no torch + torchvision (set PYTHON)" >&2; exit 1; }

log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

run() {  # name size grid batch
  local name=$1 size=$2 grid=$3 batch=$4
  for mode in $modes; do
    local precision=fp32 format=contiguous py_flags=()
    case "$mode" in
      fp32) ;;
      bf16) precision=bf16 ;;
      channels_last) format=channels_last ;;
      bf16_channels_last) precision=bf16 format=channels_last ;;
      cuda_graph) py_flags+=(--cuda-graph) ;;
      *) echo "unknown mode '$mode'" >&2; exit 2 ;;
    esac
    [[ "$mode" == cuda_graph && "$device" == cpu ]] && continue
    [[ "$precision" == bf16 ]] && py_flags+=(--precision bf16)
    [[ "$format" == channels_last ]] && py_flags+=(--channels-last)
    for ((i = 0; i < rounds; ++i)); do
      if [[ "$mode" != cuda_graph ]]; then
        "$s4t" bench "$config" --method s4t --size "$size" --grid "$grid" --batch "$batch" --iterations "$iterations" \
          --warmup "$warmup" --episode-steps "$episode" --deferred --set run.device="$device" \
          --set run.precision="$precision" --set run.memory_format="$format" --log-level warn ${S4T_ARGS:-} \
          >>"$log/$name.$mode.cpp"
      fi
      "$python" bench/s4t_reference.py --net "$net" --size "$size" --grid "$grid" --batch "$batch" --device "$device" \
        --iterations "$iterations" --warmup "$warmup" --episode-steps "$episode" "${py_flags[@]}" >>"$log/$name.$mode.py"
    done
  done
  "$python" - "$name" "$log" "$modes" "$episode" "$device" <<'PY'
import glob, json, os, re, statistics, sys
name, log, modes, episode, device = sys.argv[1:]
rows = [("ttt", r"TTT step \[s4t\]", "ttt_ms", "S4T TTT step"),
        ("infer", r"inference \[s4t\]", "infer_ms", "inference"),
        ("episode", episode + r" TTT steps \+ prediction \[s4t\]", "episode_ms", episode + " steps + prediction"),
        ("base", r"reference: supervised step \(base\)", "base_train_ms", "plain supervised step")]
print(f"{name}: device {device}, medians in ms (C++: s4t bench with the deferred guard; PyTorch: bench/s4t_reference.py)")
print(f"  {'mode':<20}{'step':<24}{'s4t (C++)':>11}{'PyTorch':>11}{'C++/PyTorch':>13}")
for mode in modes.split():
    py_file = os.path.join(log, f"{name}.{mode}.py")
    if not os.path.exists(py_file):
        continue
    py_runs = [json.loads(l) for l in open(py_file) if l.startswith("{")]
    cpp_file = os.path.join(log, f"{name}.{mode}.cpp")
    text = open(cpp_file).read() if os.path.exists(cpp_file) else ""
    for key, pattern, py_key, label in rows:
        found = [float(v) for v in re.findall(pattern + r"\s+([0-9.]+) ms", text)]
        cpp = statistics.median(found) if found else None
        py = statistics.median(r[py_key] for r in py_runs) if py_runs and py_key in py_runs[0] else None
        fmt = lambda v: f"{v:>11.2f}" if v is not None else f"{'n/a':>11}"
        ratio = f"{cpp / py:>12.2f}x" if cpp and py else f"{'n/a':>13}"
        print(f"  {mode:<20}{label:<24}{fmt(cpp)}{fmt(py)}{ratio}")
    rss = re.findall(r"peak resident memory: .* ([0-9]+) MiB after \[s4t\]", text)
    peak = py_runs[0].get("peak_mib") if py_runs else None
    print(f"  {mode:<20}{'peak memory (MiB)':<24}{(rss[-1] + ' RSS') if rss else 'n/a':>11}"
          f"{(str(peak)) if peak is not None else 'n/a':>11}   (C++: host RSS; PyTorch: "
          f"{'CUDA max_memory_allocated' if device != 'cpu' else 'RSS'})")
PY
}

# Both sides compute the same network: s4t bench writes its S4T model's weights, an input and the
# eval-mode predictions and task latents (on the CPU, fp32: the network, not the device, is checked
# here; the cuda: tests compare devices), and the reference loads them and must agree to 1e-4.
check_same_network() {
  "$s4t" bench "$config" --method s4t --size 64x64 --batch 2 --iterations 1 --warmup 0 --set run.device=cpu \
    --save-weights "$log/check.pt" --log-level warn ${S4T_ARGS:-} >/dev/null
  if "$python" bench/s4t_reference.py --net "$net" --check "$log/check.pt" >"$log/check.json"; then
    echo "same network: passed ($(cat "$log/check.json"))"
  else
    echo "same network: FAILED ($(cat "$log/check.json")): the ratios below compare different networks" >&2
    exit 1
  fi
}
check_same_network

case "$which" in
  256) run 256 256x256 256x256 8 ;;
  480) run 480 480x640 448x576 8 ;;
  all) run 256 256x256 256x256 8
       run 480 480x640 448x576 8 ;;
  tiny) run tiny "${TINY_SIZE:-32x32}" "${TINY_SIZE:-32x32}" 2 ;;  # the CPU smoke test (with CONFIG/NET=demo)
  *) echo "usage: bench/compare_gpu.sh [256|480|all|tiny] [rounds]" >&2; exit 2 ;;
esac
