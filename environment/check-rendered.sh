#!/usr/bin/env bash
# Checks notebooks as readers' clients render them (see environment/check_rendered.py): every chart and picture
# present without scripts (GitHub), visible in headless Chromium through nbconvert's HTML, and not blank on a
# screenshot. Installs jupyter-nbconvert, chromium and python3-pil with apt when they are missing (root).
#
#   environment/check-rendered.sh NOTEBOOK.ipynb [...] [--out DIR] [--no-interactive]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
need=()
command -v jupyter-nbconvert >/dev/null || need+=(jupyter-nbconvert)
command -v chromium >/dev/null || need+=(chromium)
/usr/bin/python3 -c "import PIL" 2>/dev/null || need+=(python3-pil)
ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1 || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "check-rendered: installing ${need[*]}" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null
  else
    echo "check-rendered: missing ${need[*]} (apt-get install -y ${need[*]})" >&2
    exit 2
  fi
fi
exec /usr/bin/python3 "$root/environment/check_rendered.py" "$@"
