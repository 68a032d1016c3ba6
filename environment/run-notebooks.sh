#!/usr/bin/env bash
# Executes notebooks headless with dotnet-repl (run environment/setup.sh first).
#
#   environment/run-notebooks.sh [--quick] [--in-place] [NOTEBOOK.ipynb ...]
#
#   --quick      sets MASKRCNN_QUICK=1: notebooks shrink their work (fewer images, steps, proposals).
#   --in-place   after a successful run, copy each executed notebook's outputs into its source (to commit
#                them; keeps the source's cell ids and metadata; needs python3).
#   NOTEBOOK     run only these (default: every notebooks/*.ipynb), in name order except that a notebook runs
#                after those it needs (its metadata "maskrcnn": {"needs": [...]}, e.g. 04_train's model).
#
# Executed copies go to notebooks/out/ (git-ignored). Exits non-zero if any cell of any notebook fails
# or leaves an error output.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0; inplace=0; picked=()
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --in-place) inplace=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) picked+=("$(basename "$a")") ;;
  esac
done
if [ "$quick" = 1 ]; then export MASKRCNN_QUICK=1; else unset MASKRCNN_QUICK; fi

cd "$root/notebooks"   # relative '#r' paths in notebooks resolve against the working directory
mkdir -p out
if [ ${#picked[@]} -eq 0 ]; then picked=( *.ipynb ); fi
# A notebook may need another's result (metadata "maskrcnn": {"needs": ["04_train"]}: 01, 02, 05-07 load the model
# 04_train trains). Run in name order, except that a notebook waits for the ones it needs when they are in the list.
if command -v python3 >/dev/null; then
  mapfile -t picked < <(python3 "$root/environment/notebook-order.py" "${picked[@]}") \
    || { echo "run-notebooks: could not order the notebooks by their needs" >&2; exit 1; }
fi

failed=()
for nb in "${picked[@]}"; do
  [ -f "$nb" ] || { echo "run-notebooks: no such notebook: $nb" >&2; failed+=("$nb"); continue; }
  echo "== $nb $([ "$quick" = 1 ] && echo '(quick)')"
  start=$(date +%s)
  dotnet repl --run "$nb" --exit-after-run --output-path "out/$nb" > "out/${nb%.ipynb}.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -ne 0 ] || [ ! -s "out/$nb" ] || grep -q '"output_type": *"error"' "out/$nb"; then
    echo "   FAILED after ${secs}s (exit $rc); log: notebooks/out/${nb%.ipynb}.log" >&2
    tail -n 20 "out/${nb%.ipynb}.log" >&2
    failed+=("$nb")
  else
    echo "   ok in ${secs}s -> notebooks/out/$nb"
    if [ "$inplace" = 1 ]; then
      # the executed copy stays newer than its source (NotebookTests checks that it is not stale)
      python3 "$root/environment/merge-outputs.py" "$nb" "out/$nb" && touch "out/$nb" || failed+=("$nb")
    fi
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "run-notebooks: ${#failed[@]} notebook(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "run-notebooks: all ${#picked[@]} notebook(s) ran"
