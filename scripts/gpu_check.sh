#!/usr/bin/env bash
# On a lent GPU machine: install the kit's wheels, build pesq, run benchmarks/gpu_check.py.
#
# Here first (once per change of corpus or versions): make gpu-kit   (writes .gpukit/, git-ignored)
# Then one device call, from the repository root there:
#   run(command="bash scripts/gpu_check.sh", carry=[".gpukit"], timeout_s=600)
# Extra arguments go to gpu_check.py: by default it measures steps/s, trains the oracle for the steps that
# fit 300 s and the music model for 120 s (--oracle-budget-s, --music-budget-s, or exact --oracle-steps N).
# Reports land in $OUT (gpu_check.json, gpu_check.md), each rewritten as soon as a phase ends.
set -uo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-.gpukit}
SITE=${SITE:-/tmp/site}
OUT=${OUT:-build/gpu_check}
[ -d "$KIT/corpus" ] && [ -d "$KIT/whl" ] || { echo "no kit at $KIT: run 'make gpu-kit' here and carry $KIT" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$KIT"/whl/*.whl \
  || { echo "installing the kit's wheels failed" >&2; exit 3; }
# pesq ships source only: build it with the image's Cython and compiler, without an index
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --target "$SITE" "$KIT"/whl/pesq-*.tar.gz \
  || { echo "pesq did not build (it needs a C compiler and Cython there); the check scores PESQ-wb" >&2; exit 4; }
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
mkdir -p "$OUT"
python3 benchmarks/gpu_check.py --corpus "$KIT/corpus" --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
