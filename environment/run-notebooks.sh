#!/usr/bin/env bash
# Executes notebooks headless with dotnet-repl (run environment/setup.sh first).
#
#   environment/run-notebooks.sh [--quick] [--in-place | --solutions] [NOTEBOOK.ipynb ...]
#
#   --quick      sets MASKRCNN_QUICK=1: notebooks shrink their work (fewer images, steps, proposals).
#   --in-place   after a successful run, copy each executed notebook's outputs into its source (to commit
#                them; keeps the source's cell ids and metadata; needs python3).
#   --solutions  answer every exercise from notebooks/solutions/NAME.json before running (CI: each check must
#                then say "correct"; the executed copies are then not for committing).
#   NOTEBOOK     run only these (default: every notebooks/*.ipynb), in name order except that a notebook runs
#                after those it needs (its metadata "maskrcnn": {"needs": [...]}, e.g. 04_train's model).
#
# Executed copies go to notebooks/out/ (git-ignored). Exits non-zero if any cell of any notebook fails
# or leaves an error output.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0; inplace=0; solutions=0; picked=()
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --in-place) inplace=1 ;;
    --solutions) solutions=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) picked+=("$(basename "$a")") ;;
  esac
done
if [ "$quick" = 1 ]; then export MASKRCNN_QUICK=1; else unset MASKRCNN_QUICK; fi
if [ "$inplace" = 1 ] && [ "$solutions" = 1 ]; then
  echo "run-notebooks: --in-place and --solutions exclude each other (the committed notebooks leave the exercises open)" >&2
  exit 2
fi

cd "$root/notebooks"   # relative '#r' paths in notebooks resolve against the working directory
mkdir -p out
[ "$solutions" = 1 ] && : > out/SOLVED   # the executed copies answered from notebooks/solutions/
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
  input="$nb"
  if [ "$solutions" = 1 ] && [ -f "solutions/${nb%.ipynb}.json" ]; then
    input="out/.solved-$nb"
    python3 "$root/environment/solve-notebook.py" "$nb" "solutions/${nb%.ipynb}.json" "$input" \
      || { echo "   could not apply solutions/${nb%.ipynb}.json" >&2; failed+=("$nb"); continue; }
  fi
  # out/SOLVED lists the executed copies answered from solutions/: this copy is about to be replaced.
  [ -f out/SOLVED ] && { grep -vxF "$nb" out/SOLVED > out/.SOLVED || true; mv out/.SOLVED out/SOLVED; }
  dotnet repl --run "$input" --exit-after-run --output-path "out/$nb" > "out/${nb%.ipynb}.log" 2>&1
  rc=$?
  [ "$input" != "$nb" ] && rm -f "$input" && echo "$nb" >> out/SOLVED
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
