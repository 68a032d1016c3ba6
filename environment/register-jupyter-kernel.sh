#!/usr/bin/env bash
# Registers the .NET Interactive kernels (C#, F#, PowerShell) with Jupyter, for users who open the notebooks
# in JupyterLab / Jupyter Notebook rather than VS Code's Polyglot Notebooks extension.
# Needs Jupyter itself first: apt-get install -y jupyter-notebook (or pip install jupyterlab); as root with apt, this
# script installs Debian's jupyter-nbconvert and python3-jupyter-client (enough to run notebooks with
# `jupyter nbconvert --execute`) when no Jupyter is found.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if ! command -v jupyter >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jupyter-nbconvert python3-jupyter-client) >/dev/null
  else
    echo "Jupyter is not installed (apt-get install -y jupyter-notebook)" >&2; exit 1
  fi
fi
dotnet tool restore >/dev/null
# dotnet-interactive writes its kernel specs into Jupyter's data folder, and gives up when the folder is missing.
kernels="$(jupyter --data-dir)/kernels"
mkdir -p "$kernels"
# The kernel is the local tool from .config/dotnet-tools.json; Jupyter starts it in the notebook's folder,
# which is inside this repository, so the manifest is found.
dotnet tool run dotnet-interactive jupyter install --path "$kernels" 2>&1 | grep -v -E "^(Welcome|-+$|Telemetry|The \.NET tools collect|$)" || true
[ -f "$kernels/.net-csharp/kernel.json" ] || { echo "register-jupyter-kernel: the .NET (C#) kernel was not installed in $kernels" >&2; exit 1; }
echo "installed: $(ls -A "$kernels" | tr "\n" " ")"
echo "Open notebooks/ in Jupyter and pick the '.NET (C#)' kernel."
