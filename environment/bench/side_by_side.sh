#!/usr/bin/env bash
# Side-by-side speed: the reference peer (torchvision 0.14.1 on Debian's torch 1.13 with OpenBLAS) against
# `maskrcnn benchmark`, alternating runs, on the same weights and image, and prints the ratios.
#
#   bash environment/bench/side_by_side.sh [--runs K] [--rounds R] [--peer-dir DIR] [--out DIR] [--onnx]
#       [--cases "resnet50:512 resnet18:256"] [--modes "infer train"] [--threads "1 2"]
#
# Configurations: R50-FPN at 512×512 and R18-FPN at 256×256; inference and a training step; 1 and 2 threads (the
# last three options pick fewer or others, e.g. a quick check: --cases resnet50:256 --modes infer --threads 2).
# Both modes also run ours with --precision bf16 (opt-in bfloat16 autocast, rows "… bf16") in the same rounds. Those
# rows compare times only: with the random weights of this protocol bfloat16's rounding changes most detections (a
# random deep network amplifies it), so its agreement is measured on a trained model (environment/bench/compare_precisions.sh).
# --onnx adds a second peer for inference: torchvision's model exported to ONNX (onnx_export.py, opset 11) and run by
# ONNX Runtime from .NET (onnx-peer/, Microsoft.ML.OnnxRuntime) on the same weights, image and threads, in the same
# rounds; its columns: time, its ratio to the torchvision peer, and its detections against torchvision's
# (compare_detections.py --stats). Without --onnx the output is as before.
# Set-up of the peer (once per machine; needs apt): see ../shared/reference/peer/README.md — this script does it
# if python3-torchvision or the unpacked OpenBLAS are missing. Run `environment/setup.sh` first.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runs=5; rounds=2; peer_dir="${PEER_DIR:-$root/../shared/reference/peer}"; out="$root/artifacts/bench"; onnx=0
cases="resnet50:512 resnet18:256"; modes="infer train"; thread_counts="1 2"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;; --rounds) rounds=$2; shift 2 ;;
    --peer-dir) peer_dir=$2; shift 2 ;; --out) out=$2; shift 2 ;; --onnx) onnx=1; shift ;;
    --cases) cases=$2; shift 2 ;; --modes) modes=$2; shift 2 ;; --threads) thread_counts=$2; shift 2 ;;
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
onnx_peer="$root/artifacts/bin/OnnxPeer/Release/onnx-peer.dll"
if [ "$onnx" = 1 ]; then
  dotnet build "$root/environment/bench/onnx-peer/OnnxPeer.csproj" -c Release -nologo -clp:ErrorsOnly >/dev/null || exit 1
fi
median() { /usr/bin/python3 -c "import json,sys,statistics; print(statistics.median([json.loads(l)['median_s'] for l in sys.stdin if l.strip()]))"; }
row() {
  if [ "$onnx" = 1 ]; then printf '%-16s %-10s %-7s %10s %10s %7s %10s %10s  %-12s %s\n' "$@"
  else printf '%-16s %-10s %-7s %10s %10s %7s  %s\n' "$@"; fi
}
if [ "$onnx" = 1 ]; then row config mode threads "peer s" "ours s" ratio "onnx s" "onnx/peer" detections "onnx detections"
else row config mode threads "peer s" "ours s" ratio detections; fi
for cfg in $cases; do
  backbone=${cfg%%:*}; size=${cfg##*:}
  case_dir="$out/${backbone}_${size}"
  /usr/bin/python3 "$root/environment/bench/peer_case.py" --peer-dir "$peer_dir" --backbone "$backbone" --size "$size" --out "$case_dir" >/dev/null || exit 1
  # torchvision builds R50 without weights with BatchNorm2d (train mode uses batch statistics) and R18 with FrozenBatchNorm2d.
  bn=$([ "$backbone" = resnet50 ] && echo batch || echo frozen)
  if [ "$onnx" = 1 ]; then
    /usr/bin/python3 "$root/environment/bench/onnx_export.py" --peer-dir "$peer_dir" --backbone "$backbone" --size "$size" --case "$case_dir" \
      > "$case_dir/onnx_export.log" 2>&1 || { tail -n 3 "$case_dir/onnx_export.log" >&2; exit 1; }
  fi
  for mode in $modes; do
    for threads in $thread_counts; do
      : > "$case_dir/peer_${mode}_${threads}.jsonl"; : > "$case_dir/ours_${mode}_${threads}.jsonl"; : > "$case_dir/ours_${mode}_bf16_${threads}.jsonl"
      with_onnx=$([ "$onnx" = 1 ] && [ "$mode" = infer ] && echo 1 || echo 0)
      [ "$with_onnx" = 1 ] && : > "$case_dir/onnx_${mode}_${threads}.jsonl"
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
        if [ "$with_onnx" = 1 ]; then
          dotnet "$onnx_peer" --case "$case_dir" --threads "$threads" --warmup 1 --runs "$runs" --json "$case_dir/onnx_${mode}_${threads}_last.json" \
            | tail -n 1 >> "$case_dir/onnx_${mode}_${threads}.jsonl" || exit 1
        fi
      done
      p=$(median < "$case_dir/peer_${mode}_${threads}.jsonl")
      for precision in fp32 bf16; do
        suffix=$([ "$precision" = bf16 ] && echo _bf16 || echo "")
        o=$(median < "$case_dir/ours_${mode}${suffix}_${threads}.jsonl")
        same="-"
        [ "$mode" = infer ] && same=$(/usr/bin/python3 "$root/environment/bench/compare_detections.py" "$case_dir/ours_${mode}${suffix}_${threads}_last.json" "$case_dir/detections.pt")
        label="$mode$([ "$precision" = bf16 ] && echo ' bf16')"
        ratio=$(/usr/bin/python3 -c "print(f'{$o/$p:.2f}')")
        if [ "$onnx" = 1 ]; then
          if [ "$with_onnx" = 1 ] && [ "$precision" = fp32 ]; then
            x=$(median < "$case_dir/onnx_${mode}_${threads}.jsonl")
            x_same=$(/usr/bin/python3 "$root/environment/bench/compare_detections.py" "$case_dir/onnx_${mode}_${threads}_last.json" "$case_dir/detections.pt" --stats)
            row "$backbone-fpn $size" "$label" "$threads" "$(printf %.3f "$p")" "$(printf %.3f "$o")" "$ratio" "$(printf %.3f "$x")" \
              "$(/usr/bin/python3 -c "print(f'{$x/$p:.2f}')")" "$same" "$x_same"
          else
            row "$backbone-fpn $size" "$label" "$threads" "$(printf %.3f "$p")" "$(printf %.3f "$o")" "$ratio" - - "$same" -
          fi
        else
          row "$backbone-fpn $size" "$label" "$threads" "$(printf %.3f "$p")" "$(printf %.3f "$o")" "$ratio" "$same"
        fi
      done
    done
  done
done
echo "($(nproc) cores, $(date -u +%Y-%m-%d), rounds $rounds × runs $runs, medians of per-round medians; raw JSON in $out)"
