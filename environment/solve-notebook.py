#!/usr/bin/env python3
"""Writes a copy of a notebook with its exercises answered from notebooks/solutions/NAME.json, for
run-notebooks.sh --solutions (CI checks that every exercise then says "correct").

    solve-notebook.py NOTEBOOK.ipynb SOLUTIONS.json OUT.ipynb

Each key of the solutions is a variable the exercise cells set (answer1, threshold, strict, ...); its value is the
C# expression that replaces the variable's initial value in the cells after the "## Exercises" heading
(`answer1 = null;` becomes `answer1 = (EXPR);`). A key that matches no assignment is an error, so a renamed variable
cannot silently go unchecked."""
import json
import re
import sys

notebook, solutions_path, out = sys.argv[1:4]
doc = json.load(open(notebook, encoding="utf-8"))
solutions = json.load(open(solutions_path, encoding="utf-8"))
used = set()
headings = [i for i, c in enumerate(doc["cells"]) if c["cell_type"] == "markdown" and "## Exercises" in "".join(c["source"])]
if not headings:
    sys.exit(f"solve-notebook: {notebook} has no '## Exercises' section")
for cell in doc["cells"][headings[-1]:]:
    if cell["cell_type"] != "code":
        continue
    source = "".join(cell["source"])
    for name, expression in solutions.items():
        if name in used:
            continue  # only the first assignment (the answer cell), never a later use such as `name == …`
        pattern = re.compile(r"(\b" + re.escape(name) + r"\s*=(?!=)\s*)[^;\n]*(;)")
        if pattern.search(source):
            source = pattern.sub(lambda m: m.group(1) + "(" + expression + ")" + m.group(2), source, count=1)
            used.add(name)
    lines = source.split("\n")
    cell["source"] = [l + "\n" for l in lines[:-1]] + [lines[-1]]
missing = set(solutions) - used
if missing:
    sys.exit(f"solve-notebook: {notebook} has no assignment to {', '.join(sorted(missing))}")
json.dump(doc, open(out, "w", encoding="utf-8"), indent=1, ensure_ascii=False)
