#!/usr/bin/env bash
# float32 against bfloat16 inference (`--precision bf16`) of one trained model on one data split: COCO AP of each
# (`maskrcnn evaluate`) and detection-by-detection agreement (environment/bench/compare_coco_results.py).
#
#   bash environment/bench/compare_precisions.sh --weights RUN_DIR [--data data/phantom] [--split test] [--threads 2] [--out DIR]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
weights=""; data="$root/data/phantom"; split=test; threads=2; out="$root/artifacts/bench/precisions"
while [ $# -gt 0 ]; do
  case "$1" in
    --weights) weights=$2; shift 2 ;; --data) data=$2; shift 2 ;; --split) split=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;; --out) out=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$weights" ] || { echo "give --weights (a run folder, e.g. runs/walkthrough)" >&2; exit 2; }
cli="$root/artifacts/bin/MaskRcnn.Cli/Release/maskrcnn.dll"
[ -f "$cli" ] || { echo "build first: bash environment/setup.sh" >&2; exit 1; }
mkdir -p "$out"
shopt -s nullglob
images=("$data/$split"/*.png "$data/$split"/*.jpg "$data/$split"/*.jpeg)
[ ${#images[@]} -gt 0 ] || { echo "no images in $data/$split" >&2; exit 1; }
for p in fp32 bf16; do
  echo "== $p"
  dotnet "$cli" evaluate --data "$data" --split "$split" --weights "$weights" --threads "$threads" --precision "$p" \
    --json "$out/metrics_$p.json" | grep -E "^(bbox|segm|at confidence)" || exit 1
  dotnet "$cli" predict --weights "$weights" --image "${images[@]}" --threads "$threads" --precision "$p" --score-threshold 0.05 \
    --coco-json "$out/results_$p.json" | grep " detections in " | awk '{print $(NF-1)}' | sort -n \
    | awk '{t[NR]=$1} END {printf "predict: median %.3f s per image over %d images\n", t[int((NR+1)/2)], NR}'
done
echo "== agreement (fp32 reference, bf16 other)"
python3 "$root/environment/bench/compare_coco_results.py" "$out/results_fp32.json" "$out/results_bf16.json"
