#!/usr/bin/env bash
# Rebuilds the committed native shims from their sources with the system compilers: the GLIBCXX shim
# (lib/MaskRcnn/Runtime/Native/libmaskrcnn_glibcxx_shim.so) and the oneMKL dispatch shim
# (libmaskrcnn_mkl_dispatch_shim.so). Only needed if you change a source; the built files are committed so that
# machines without a compiler work too. Build them on the oldest distribution you support (Debian 12 here),
# so that it needs nothing newer than that libstdc++.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$here/lib/MaskRcnn/Runtime/Native"
g++ -shared -fPIC -O2 -s -o "$dir/libmaskrcnn_glibcxx_shim.so" "$dir/glibcxx_shim.cpp"
nm -D "$dir/libmaskrcnn_glibcxx_shim.so" | grep -q ' T _ZSt21ios_base_library_initv' \
  || { echo "build-shim: symbol missing from the built shim" >&2; exit 1; }
gcc -shared -fPIC -O2 -s -o "$dir/libmaskrcnn_mkl_dispatch_shim.so" "$dir/mkl_dispatch_shim.c"
nm -D "$dir/libmaskrcnn_mkl_dispatch_shim.so" | grep -q ' T mkl_serv_intel_cpu_true' \
  || { echo "build-shim: symbol missing from the built oneMKL dispatch shim" >&2; exit 1; }
echo "built $dir/libmaskrcnn_glibcxx_shim.so and $dir/libmaskrcnn_mkl_dispatch_shim.so"
