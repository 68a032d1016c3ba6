#!/usr/bin/env python3
"""Copies the outputs of an executed notebook (dotnet-repl's copy in notebooks/out/) into its source notebook,
keeping the source's cell ids and metadata (dotnet-repl drops ids and rewrites the kernel metadata, which VS Code
and Jupyter need). Used by `environment/run-notebooks.sh --in-place`.

    python3 environment/merge-outputs.py notebooks/NAME.ipynb notebooks/out/NAME.ipynb"""
import json, sys

source_path, executed_path = sys.argv[1], sys.argv[2]
source = json.load(open(source_path, encoding="utf-8"))
executed = json.load(open(executed_path, encoding="utf-8"))
src_cells, out_cells = source["cells"], executed["cells"]
if [c["cell_type"] for c in src_cells] != [c["cell_type"] for c in out_cells]:
    sys.exit(f"{executed_path}: cells do not line up with {source_path}")
for s, e in zip(src_cells, out_cells):
    if s["cell_type"] == "code":
        s["outputs"] = e.get("outputs", [])
        s["execution_count"] = e.get("execution_count")
with open(source_path, "w", encoding="utf-8") as f:
    json.dump(source, f, indent=1, ensure_ascii=False)
    f.write("\n")
