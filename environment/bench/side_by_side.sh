#!/usr/bin/env bash
# Side-by-side speed: the reference peer (torchvision 0.14.1 on Debian's torch 1.13 with OpenBLAS) against
# `maskrcnn benchmark`, alternating runs, on the same weights and image, and prints the ratios.
#
#   bash environment/bench/side_by_side.sh [--runs K] [--rounds R] [--peer-dir DIR] [--out DIR]
#
# Configurations: R50-FPN at 512×512 and R18-FPN at 256×256; inference and a training step; 1 and 2 threads.
# Both modes also run ours with --precision bf16 (opt-in bfloat16 autocast, rows "… bf16") in the same rounds. Those
# rows compare times only: with the random weights of this protocol bfloat16's rounding changes most detections (a
# random deep network amplifies it), so its agreement is measured on a trained model (environment/bench/compare_precisions.sh).
# Set-up of the peer (once per machine; needs apt): see ../shared/reference/peer/README.md — this script does it
# if python3-torchvision or the unpacked OpenBLAS are missing. Run `environment/setup.sh` first.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runs=5; rounds=2; peer_dir="${PEER_DIR:-$root/../shared/reference/peer}"; out="$root/artifacts/bench"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;; --rounds) rounds=$2; shift 2 ;;
    --peer-dir) peer_dir=$2; shift 2 ;; --out) out=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$peer_dir/peer_bench.py" ] || { echo "peer_bench.py not found in $peer_dir (use --peer-dir)" >&2; exit 1; }
if [ ! -d /usr/lib/python3/dist-packages/torchvision ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torchvision >/dev/null || exit 1
fi
if [ ! -d /tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread ]; then
  (mkdir -p /tmp/openblas && cd /tmp/openblas && apt-get download -qq libopenblas0-pthread >/dev/null && dpkg -x libopenblas0-pthread_*.deb .) || exit 1
fi
export LD_LIBRARY_PATH=/tmp/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread
cli="$root/artifacts/bin/MaskRcnn.Cli/Release/maskrcnn.dll"
[ -f "$cli" ] || { echo "build first: bash environment/setup.sh" >&2; exit 1; }
mkdir -p "$out"
median() { /usr/bin/python3 -c "import json,sys,statistics; print(statistics.median([json.loads(l)['median_s'] for l in sys.stdin if l.strip()]))"; }
row() { printf '%-16s %-10s %-7s %10s %10s %7s  %s\n' "$@"; }
row config mode threads "peer s" "ours s" ratio detections
for cfg in "resnet50 512" "resnet18 256"; do
  set -- $cfg; backbone=$1; size=$2
  case_dir="$out/${backbone}_${size}"
  /usr/bin/python3 "$root/environment/bench/peer_case.py" --peer-dir "$peer_dir" --backbone "$backbone" --size "$size" --out "$case_dir" >/dev/null || exit 1
  # torchvision builds R50 without weights with BatchNorm2d (train mode uses batch statistics) and R18 with FrozenBatchNorm2d.
  bn=$([ "$backbone" = resnet50 ] && echo batch || echo frozen)
  for mode in infer train; do
    for threads in 1 2; do
      : > "$case_dir/peer_${mode}_${threads}.jsonl"; : > "$case_dir/ours_${mode}_${threads}.jsonl"; : > "$case_dir/ours_${mode}_bf16_${threads}.jsonl"
      for round in $(seq "$rounds"); do
        OPENBLAS_NUM_THREADS=$threads /usr/bin/python3 "$peer_dir/peer_bench.py" --backbone "$backbone" --size "$size" --mode "$mode" \
          --runs "$runs" --threads "$threads" >> "$case_dir/peer_${mode}_${threads}.jsonl" || exit 1
        extra=(); [ "$mode" = infer ] && extra=(--weights "$case_dir/weights.pth" --image "$case_dir/image.pt")
        for precision in fp32 bf16; do
          suffix=$([ "$precision" = bf16 ] && echo _bf16 || echo "")
          dotnet "$cli" benchmark --arch "$backbone-fpn" --size "$size" --mode "$mode" --runs "$runs" --threads "$threads" --bn "$bn" \
            "${extra[@]}" --precision "$precision" --json "$case_dir/ours_${mode}${suffix}_${threads}_last.json" \
            | tail -n 1 >> "$case_dir/ours_${mode}${suffix}_${threads}.jsonl" || exit 1
        done
      done
      p=$(median < "$case_dir/peer_${mode}_${threads}.jsonl")
      for precision in fp32 bf16; do
        suffix=$([ "$precision" = bf16 ] && echo _bf16 || echo "")
        o=$(median < "$case_dir/ours_${mode}${suffix}_${threads}.jsonl")
        same="-"
        [ "$mode" = infer ] && same=$(/usr/bin/python3 "$root/environment/bench/compare_detections.py" "$case_dir/ours_${mode}${suffix}_${threads}_last.json" "$case_dir/detections.pt")
        row "$backbone-fpn $size" "$mode$([ "$precision" = bf16 ] && echo ' bf16')" "$threads" "$(printf %.3f "$p")" "$(printf %.3f "$o")" \
          "$(/usr/bin/python3 -c "print(f'{$o/$p:.2f}')")" "$same"
      done
    done
  done
done
echo "($(nproc) cores, $(date -u +%Y-%m-%d), rounds $rounds × runs $runs, medians of per-round medians; raw JSON in $out)"
