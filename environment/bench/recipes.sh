#!/usr/bin/env bash
# Recipe comparison: trains each named recipe on a data folder with `maskrcnn train`, evaluates it on the test split
# with `maskrcnn evaluate`, and prints one table row per recipe: training wall time (the whole `train` command, start-up
# and validation included), the training time alone (metrics.jsonl's training_s: steps only), the first validation
# epoch with segm AP50 ≥ 0.9 and its training time, and the test metrics.
#
#   bash environment/bench/recipes.sh --data DIR [--out DIR] [--threads N] RECIPE...
#
# RECIPE is NAME=TRAIN-ARGS, e.g.  staged="--preset walkthrough"  scratch="--preset cpu-quick --epochs 10".
# Each run writes OUT/NAME/ (the run folder, train.log, test_metrics.json); rows are appended to OUT/recipes.tsv.
# Run environment/setup.sh first. Timings need a quiet machine: nothing else should run meanwhile.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data=""; out="$root/artifacts/recipes"; threads=0; recipes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=$2; shift 2 ;; --out) out=$2; shift 2 ;; --threads) threads=$2; shift 2 ;;
    *=*) recipes+=("$1"); shift ;;
    *) echo "recipes: unknown argument $1 (a recipe is NAME=TRAIN-ARGS)" >&2; exit 2 ;;
  esac
done
[ -n "$data" ] && [ ${#recipes[@]} -gt 0 ] || { sed -n '2,11p' "$0"; exit 2; }
cli="$root/artifacts/bin/MaskRcnn.Cli/Release/maskrcnn.dll"
[ -f "$cli" ] || { echo "recipes: build first (bash environment/setup.sh)" >&2; exit 1; }
mkdir -p "$out"
header="recipe\tdata\ttrain_s\ttraining_only_s\tfirst_val_ap50_0.9_epoch\tfirst_val_ap50_0.9_s\ttest_segm_ap50\ttest_segm_ap\ttest_bbox_ap50\tsensitivity@0.9\tfp_per_image@0.9\tdice\timage_accuracy\targs"
[ -f "$out/recipes.tsv" ] || printf "$header\n" > "$out/recipes.tsv"
for recipe in "${recipes[@]}"; do
  name=${recipe%%=*}; args=${recipe#*=}
  run="$out/$name"
  rm -rf "$run"; mkdir -p "$run"
  echo "== $name: train --data $data $args"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  dotnet "$cli" train --data "$data" $args --threads "$threads" --out "$run/run" > "$run/train.log" 2>&1 || { echo "   train failed: $run/train.log" >&2; tail -5 "$run/train.log" >&2; continue; }
  end=$(date +%s.%N)
  dotnet "$cli" evaluate --data "$data" --split test --weights "$run/run" --threads "$threads" --json "$run/test_metrics.json" > "$run/evaluate.log" 2>&1 \
    || { echo "   evaluate failed: $run/evaluate.log" >&2; continue; }
  /usr/bin/python3 - "$run" "$name" "$data" "$start" "$end" "$args" "$out/recipes.tsv" <<'PY'
import json, sys
run, name, data, start, end, args, tsv = sys.argv[1:]
train_s = float(end) - float(start)
m = json.load(open(f"{run}/test_metrics.json"))
first = ("-", "-")
for line in open(f"{run}/run/metrics.jsonl"):
    row = json.loads(line)
    if row.get("type") == "val" and isinstance(row.get("segm"), dict) and row["segm"]["AP50"] >= 0.9:
        first = (str(row["epoch"]), f"{row.get('training_s', float('nan')):.0f}")
        break
def get(*path):
    v = m
    for p in path:
        v = v.get(p) if isinstance(v, dict) else None
    return v
epochs = [json.loads(l) for l in open(f"{run}/run/metrics.jsonl") if '"type": "epoch"' in l or '"type":"epoch"' in l]
training_only = epochs[-1].get("training_s", float("nan")) if epochs else float("nan")
values = [name, data, f"{train_s:.0f}", f"{training_only:.0f}", first[0], first[1],
          f"{get('segm', 'AP50'):.3f}", f"{get('segm', 'AP'):.3f}", f"{get('bbox', 'AP50'):.3f}",
          f"{m['sensitivity']:.3f}", f"{m['fp_per_image']:.2f}", f"{m['dice']:.3f}",
          f"{m['image_classification_accuracy']:.3f}", args]
open(tsv, "a").write("\t".join(values) + "\n")
print("   " + "  ".join(f"{k}={v}" for k, v in zip(["recipe", "data", "train_s", "training_only_s", "first_ap50>=0.9_epoch", "at_s", "segm_AP50", "segm_AP", "bbox_AP50", "sens", "fp/img", "dice", "img_acc"], values)))
PY
done
column -t -s $'\t' "$out/recipes.tsv"
