#!/usr/bin/env python3
"""Copies the outputs of an executed notebook (dotnet-repl's copy in notebooks/out/) into its source notebook,
keeping the source's cell ids and metadata (dotnet-repl drops ids and rewrites the kernel metadata, which VS Code
and Jupyter need), and numbering the code cells 1, 2, 3 … in execution order where dotnet-repl left no count — so
that readers see `In [1]:` rather than `In [ ]:`. Used by `environment/run-notebooks.sh --in-place`.

    python3 environment/merge-outputs.py notebooks/NAME.ipynb notebooks/out/NAME.ipynb"""
import json, sys

source_path, executed_path = sys.argv[1], sys.argv[2]
source = json.load(open(source_path, encoding="utf-8"))
executed = json.load(open(executed_path, encoding="utf-8"))
src_cells, out_cells = source["cells"], executed["cells"]
if [c["cell_type"] for c in src_cells] != [c["cell_type"] for c in out_cells]:
    sys.exit(f"{executed_path}: cells do not line up with {source_path}")
count = 0
for s, e in zip(src_cells, out_cells):
    if s["cell_type"] == "code":
        count += 1
        s["outputs"] = e.get("outputs", [])
        s["execution_count"] = e.get("execution_count") or count
        for o in s["outputs"]:
            if o.get("output_type") == "execute_result":
                o["execution_count"] = s["execution_count"]
with open(source_path, "w", encoding="utf-8") as f:
    json.dump(source, f, indent=1, ensure_ascii=False)
    f.write("\n")
