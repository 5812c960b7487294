#!/usr/bin/env bash
# Synthetic-C: Base (none), S4T and TENT on the 15 ImageNet-C corruptions at one severity, with one
# source training shared by all corruptions (docs/corruptions.md#synthetic-c-comparison).
#
#   configs/corruptions/run_synthetic_c.sh [--severity N] [--corruptions a,b,...] [--output-dir DIR]
#                                          [--s4t BINARY] [--set k=v]...
#
# Each corruption is its own `s4t compare` run, DIR/synthetic-c/<corruption>/ (DIR = runs by default), whose seed-0/source/
# is a copy of the shared models in <output_dir>/synthetic-c/source-models/ (compare reuses a finished
# source checkpoint it finds in its run directory). Tables: <output_dir>/synthetic-c/summary.md (each
# corruption's results.md) and summary.csv (each results.csv row with the corruption in front).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
config="$here/synthetic_c.toml"
s4t="${S4T:-$here/../../build/bin/s4t}"
severity=5
output_dir=runs
corruptions="gaussian_noise,shot_noise,impulse_noise,defocus_blur,glass_blur,motion_blur,zoom_blur,snow,frost,fog,brightness,contrast,elastic_transform,pixelate,jpeg_compression"
sets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --severity) severity="$2"; shift 2 ;;
    --corruptions) corruptions="$2"; shift 2 ;;
    --s4t) s4t="$2"; shift 2 ;;
    --output-dir) output_dir="$2"; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sets+=(--set run.output_dir="$output_dir")

top="$output_dir/synthetic-c"
mkdir -p "$top"

# 1. The source models: Base (shared by none and TENT) and S4T's own.
"$s4t" train "$config" --method none --set run.name=synthetic-c/source-models "${sets[@]}"
"$s4t" train "$config" --method s4t --set run.name=synthetic-c/source-models "${sets[@]}"

# 2. One comparison per corruption on the shared models.
summary_md="$top/summary.md"
summary_csv="$top/summary.csv"
echo "# Synthetic-C, severity $severity" > "$summary_md"
: > "$summary_csv"
IFS=',' read -ra names <<< "$corruptions"
for c in "${names[@]}"; do
  run="$top/$c"
  mkdir -p "$run/seed-0"
  rm -rf "$run/seed-0/source"
  cp -r "$top/source-models/source" "$run/seed-0/source"
  "$s4t" compare "$config" --set run.name="synthetic-c/$c" --set data.target.corruption="$c" \
    --set data.target.severity="$severity" "${sets[@]}"
  printf '\n## %s\n\n' "$c" >> "$summary_md"
  cat "$run/results.md" >> "$summary_md"
  if [[ ! -s "$summary_csv" ]]; then
    printf 'corruption,%s\n' "$(head -1 "$run/results.csv")" > "$summary_csv"
  fi
  tail -n +2 "$run/results.csv" | sed "s/^/$c,/" >> "$summary_csv"
done
echo "summary: $summary_md, $summary_csv"
