#!/usr/bin/env bash
# Registers the .NET Interactive kernels (C#, F#, PowerShell) with Jupyter, for users who open the notebooks
# in JupyterLab / Jupyter Notebook rather than VS Code's Polyglot Notebooks extension.
# Needs Jupyter itself first, e.g.  apt-get install -y jupyter-notebook   (or pip install jupyterlab).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v jupyter >/dev/null || { echo "Jupyter is not installed (apt-get install -y jupyter-notebook)" >&2; exit 1; }
dotnet tool restore
# The kernel is the local tool from .config/dotnet-tools.json; Jupyter starts it in the notebook's folder,
# which is inside this repository, so the manifest is found.
dotnet tool run dotnet-interactive jupyter install
jupyter kernelspec list
echo "Open notebooks/ in Jupyter and pick the '.NET (C#)' kernel."
