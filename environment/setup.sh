#!/usr/bin/env bash
# One-time (and idempotent) set-up on a fresh machine with the .NET SDK: local .NET tools (dotnet-repl,
# dotnet-interactive), a Release build of everything, the native GLIBCXX fix applied to the build outputs,
# and fonts for figure labels when apt is available. Safe to run again: each step skips what is done.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n== %s\n' "$*"; }

step ".NET SDK"
if ! command -v dotnet >/dev/null; then
  echo "setup: the .NET SDK is not on PATH; install .NET SDK 10.0.4xx (global.json pins it)" >&2
  exit 1
fi
dotnet --version

step "fonts for figure text (DejaVu)"
if ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; then
  echo "DejaVu fonts present"
elif command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; } \
    || echo "setup: could not install fonts-dejavu-core; figures will be drawn without text labels" >&2
else
  echo "setup: DejaVu fonts missing (apt-get install fonts-dejavu-core); figures will have no text labels" >&2
fi

step "local .NET tools (dotnet-repl, dotnet-interactive)"
dotnet tool restore

step "build (Release)"
dotnet build MaskRcnn.slnx -c Release -nologo -clp:ErrorsOnly

step "native libraries (GLIBCXX fix where needed) and versions"
# The first TorchSharp start-up in each output folder applies the fix; doing it here means later runs
# (CLI, tests, notebooks) never need to write into the build output.
dotnet artifacts/bin/MaskRcnn.Cli/Release/maskrcnn.dll version

printf '\nsetup: done\n'
