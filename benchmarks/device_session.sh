#!/usr/bin/env bash
# One device session's GPU recordings, as a single command for the `run` tool (about 6-8 minutes
# on one H200 after the machine starts). Before calling it, on the developer machine:
#     echo /.devdata/ >> .git/info/exclude; mkdir -p .devdata; cp ../shared/data/* .devdata/
# then run `bash benchmarks/device_session.sh` with carry [".devdata"]. The results come back under
# $OUT/results/: copy them into benchmarks/results/ and re-execute the system and speedrun pages.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
export ACCEL_DATA_DIR="${ACCEL_DATA_DIR:-$PWD/.devdata}" ACCEL_CACHE_DIR="${ACCEL_CACHE_DIR:-/tmp/accel_cache}"
OUT="${OUT:-/tmp/device_out}"
mkdir -p "$OUT/results"
PY="${PY:-python3}"
nvidia-smi -L || true
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
# 1. the system chapter's GPU figures (each part is written as soon as it is done)
timeout 330 $PY benchmarks/gpu_session.py 2>&1 | tee "$OUT/gpu_session.log"
cp benchmarks/results/system_gpu.json "$OUT/results/" 2>/dev/null
# 2. the capstone speedrun on the GPU (bf16 autocast switches on by itself), several seeds
timeout 240 $PY benchmarks/speedrun.py cifar --seeds 0 1 2 2>&1 | tee "$OUT/speedrun.log"
cp benchmarks/results/speedrun.json "$OUT/results/" 2>/dev/null
ls -la "$OUT/results"
