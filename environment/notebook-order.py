#!/usr/bin/env python3
"""Prints the given notebooks in the order run-notebooks.sh runs them: name order, except that a notebook comes after
the notebooks it needs (metadata "maskrcnn": {"needs": ["04_train", ...]}) when those are in the list too. A need
outside the list is left to the notebook itself (it says at its top what is missing and how to make it)."""
import json
import os
import sys


def needs(path):
    with open(path, encoding="utf-8") as f:
        meta = json.load(f).get("metadata", {}).get("maskrcnn", {})
    return [n if n.endswith(".ipynb") else n + ".ipynb" for n in meta.get("needs", [])]


def order(notebooks):
    by_name = {os.path.basename(nb): nb for nb in notebooks}
    waiting = {nb: [by_name[n] for n in needs(nb) if n in by_name and by_name[n] != nb] for nb in notebooks}
    done, result = set(), []
    while waiting:
        ready = sorted((nb for nb, deps in waiting.items() if all(d in done for d in deps)), key=os.path.basename)
        if not ready:
            sys.exit(f"notebook-order: circular needs among {', '.join(sorted(waiting))}")
        first = ready[0]  # the lowest-numbered runnable notebook, so the order stays close to the numbering
        result.append(first)
        done.add(first)
        del waiting[first]
    return result


if __name__ == "__main__":
    print("\n".join(order(sys.argv[1:])))
