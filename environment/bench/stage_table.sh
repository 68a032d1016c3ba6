#!/usr/bin/env bash
# Stage-by-stage time, ours against the reference peer, as a Markdown table:
#
#   bash environment/bench/stage_table.sh [--mode infer|train] [--backbone resnet50] [--size 512] [--threads 2] [--runs 5] [--peer-dir DIR]
#
# infer (default): on the same weights and image (the case that side_by_side.sh exports), with the FLOPs of each
#   stage; ours: `maskrcnn benchmark --stages`, peer: peer_stages.py (same stage split).
# train: one training step of the side-by-side protocol (2 images, random weights) split into forward stages,
#   backward parts and the optimizer step, with each phase's FLOPs (ours only); ours: `maskrcnn benchmark --mode train --stages`, peer: peer_train_stages.py.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mode=infer; backbone=resnet50; size=512; threads=2; runs=5; peer_dir="${PEER_DIR:-$root/../shared/reference/peer}"
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;; --backbone) backbone=$2; shift 2 ;; --size) size=$2; shift 2 ;; --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;; --peer-dir) peer_dir=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
export LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_NUM_THREADS=$threads
[ -d "$LD_LIBRARY_PATH" ] || { echo "run side_by_side.sh once first (it sets up the peer)" >&2; exit 1; }
case_dir="$root/artifacts/bench/${backbone}_${size}"
bn=$([ "$backbone" = resnet50 ] && echo batch || echo frozen)
if [ "$mode" = train ]; then
  mkdir -p "$case_dir"
  ours_json="$case_dir/ours_train_stages.json"; peer_json="$case_dir/peer_train_stages.json"
  dotnet "$root/artifacts/bin/MaskRcnn.Cli/Release/maskrcnn.dll" benchmark --arch "$backbone-fpn" --size "$size" --mode train --runs "$runs" \
    --threads "$threads" --bn "$bn" --stages --json "$ours_json" >/dev/null || exit 1
  /usr/bin/python3 "$root/environment/bench/peer_train_stages.py" --peer-dir "$peer_dir" --backbone "$backbone" --size "$size" \
    --threads "$threads" --runs "$runs" > "$peer_json" || exit 1
else
  ours_json="$case_dir/ours_stages.json"; peer_json="$case_dir/peer_stages.json"
  [ -f "$case_dir/weights.pth" ] || /usr/bin/python3 "$root/environment/bench/peer_case.py" --peer-dir "$peer_dir" --backbone "$backbone" --size "$size" --out "$case_dir" >/dev/null || exit 1
  dotnet "$root/artifacts/bin/MaskRcnn.Cli/Release/maskrcnn.dll" benchmark --arch "$backbone-fpn" --size "$size" --mode infer --runs "$runs" \
    --threads "$threads" --bn "$bn" --weights "$case_dir/weights.pth" --image "$case_dir/image.pt" --stages --json "$ours_json" >/dev/null || exit 1
  /usr/bin/python3 "$root/environment/bench/peer_stages.py" --peer-dir "$peer_dir" --case "$case_dir" --backbone "$backbone" --threads "$threads" --runs "$runs" > "$peer_json" || exit 1
fi
/usr/bin/python3 - "$ours_json" "$peer_json" "$mode" <<'PY'
import json, sys
ours, peer, mode = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
# FLOPs per stage; a training step's backward parts by FlopCounter's rule (lib/MaskRcnn/Profiling/FlopCounter.cs)
kind = "stage" if mode == "infer" else "phase"
total_o = sum(s["median_s"] for s in ours["stages"]); total_p = peer["total_s"]
print(f'| {kind} | GFLOP | ours s | share | GFLOP/s | peer s | ours / peer |')
print("|---|" + "---:|" * 6)
for o, p in zip(ours["stages"], peer["stages"]):
    assert o["stage"] == p["stage"], (o["stage"], p["stage"])
    rate = f'{o["gflop_per_s"]:.0f}' if o["gflops"] > 0.05 else "–"
    print(f'| {o["stage"]} | {o["gflops"]:.1f} | {o["median_s"]:.3f} | {100 * o["share"]:.0f} % | {rate} | {p["median_s"]:.3f} | {o["median_s"] / max(p["median_s"], 1e-4):.2f} |')
gflop = sum(s["gflops"] for s in ours["stages"])
print(f'| **sum of {kind}s** | {gflop:.1f} | **{total_o:.3f}** | | | **{total_p:.3f}** | **{total_o / total_p:.2f}** |')
versions = f'{ours["threads"]} threads; libtorch {ours["libtorch"]} vs torch {peer["torch"]}'
if mode == "infer":
    print(f'\n{len(ours["last_detections"])} detections; {versions}; peak RSS {ours["peak_rss_mb"]} MB')
else:
    print(f'\nplain step (no split): ours {ours["median_s"]} s; {versions}; page faults per step {ours["page_faults_per_step"]:.0f}; peak RSS {ours["peak_rss_mb"]} MB')
PY
