#!/usr/bin/env bash
# Carry the onnxruntime-gpu wheel (CUDA 13 build, ~255 MB) to a device machine whose calls
# carry at most 64 MiB each, so that bench/gpu_check.py can check CUDAExecutionProvider.
#
#   here:   bench/ort_gpu_carry.sh prepare [VERSION]   -> .ort0 .. .ort3 (about 51 MB each,
#           git-ignored through .git/info/exclude) holding one xz part each and the sha256
#   there:  one call per part, each carrying only .ortN, while the machine stays warm:
#             mkdir -p /tmp/ortp && cp .ortN/part.* /tmp/ortp/
#           then, in the call that carries the last part:
#             bench/ort_gpu_carry.sh unpack && PYTHONPATH=/tmp/ortgpu:trainer:export:runtime \
#               python3 bench/gpu_check.py --json $OUT/gpu_check.json
# The wheel needs CUDA 13's cuBLAS/cuRAND/cudart and cuDNN 9: the device image's torch
# brings them (imported first by gpu_check.py), and `unpack` prints an LD_LIBRARY_PATH line.
set -euo pipefail
case "${1:-}" in
prepare)
  version=${2:-1.31.1}
  work=$(mktemp -d)
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 -d "$work" "onnxruntime-gpu==$version"
  (cd "$work" && mkdir w && cd w && unzip -q ../onnxruntime_gpu-*.whl \
    && rm -f onnxruntime/capi/libonnxruntime_providers_tensorrt.so)
  tar cf - -C "$work/w" . | xz -T2 -6 > "$work/ort.tar.xz"
  (cd "$work" && split -n 4 -d ort.tar.xz part. && sha256sum ort.tar.xz > ort.sha)
  grep -q '^/.ort' .git/info/exclude || echo '/.ort*/' >> .git/info/exclude
  for i in 0 1 2 3; do rm -rf ".ort$i"; mkdir ".ort$i"; mv "$work/part.0$i" ".ort$i/"; done
  cp "$work/ort.sha" .ort3/ && rm -rf "$work" && du -sh .ort?
  ;;
unpack)
  cp .ort3/part.* /tmp/ortp/ 2>/dev/null || true
  got=$(cat /tmp/ortp/part.0[0-3] | sha256sum | awk '{print $1}')
  [ "$got" = "$(awk '{print $1}' .ort3/ort.sha)" ] || { echo "parts missing or corrupt"; exit 1; }
  mkdir -p /tmp/ortgpu
  cat /tmp/ortp/part.0[0-3] | python3 -c "import lzma, sys, tarfile; tarfile.open(fileobj=lzma.LZMAFile(sys.stdin.buffer), mode='r|').extractall('/tmp/ortgpu')"
  python3 - <<'PY'
import glob, os, site
dirs = {os.path.dirname(p) for sp in site.getsitepackages()
        for p in glob.glob(os.path.join(sp, "nvidia", "**", "lib*.so*"), recursive=True)}
print("export LD_LIBRARY_PATH=" + ":".join(sorted(dirs)))
PY
  ;;
*) echo "usage: $0 prepare [VERSION] | unpack"; exit 2 ;;
esac
