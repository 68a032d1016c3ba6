#!/usr/bin/env bash
# Rebuilds the committed GLIBCXX shim (lib/MaskRcnn/Runtime/Native/libmaskrcnn_glibcxx_shim.so) from its
# source with the system g++. Only needed if you change the source; the built file is committed so that
# machines without a compiler work too. Build it on the oldest distribution you support (Debian 12 here),
# so that it needs nothing newer than that libstdc++.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$here/lib/MaskRcnn/Runtime/Native"
g++ -shared -fPIC -O2 -s -o "$dir/libmaskrcnn_glibcxx_shim.so" "$dir/glibcxx_shim.cpp"
nm -D "$dir/libmaskrcnn_glibcxx_shim.so" | grep -q ' T _ZSt21ios_base_library_initv' \
  || { echo "build-shim: symbol missing from the built shim" >&2; exit 1; }
echo "built $dir/libmaskrcnn_glibcxx_shim.so"
