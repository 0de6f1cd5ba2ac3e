#!/usr/bin/env bash
# The GPU recordings, in parts that each fit one call of the `run` tool (at most 10 minutes):
#     bash benchmarks/device_session.sh baseline          # ResNet-18 to 90%, fp32 (about 3-6 min)
#     bash benchmarks/device_session.sh system speedrun   # system chapter + speedrun seeds (~8 min)
# With no argument it runs all three, which needs more than one call's 10 minutes: name the parts.
# Before calling it, on the developer machine:
#     echo /.devdata/ >> .git/info/exclude; mkdir -p .devdata; cp ../shared/data/* .devdata/
# then call it with carry [".devdata"]. The results come back under $OUT/results/: copy them into
# benchmarks/results/ (they are the whole JSON files, with the runs recorded before plus the new
# ones) and re-execute the baselines, system and speedrun pages.
#
# Why `baseline` comes first: the ResNet-18 baseline needs about 20 epochs to reach 90%, over ten
# hours on the book's 2-core CPU, more than one working session; on a GPU it takes minutes. The
# number of epochs it needs does not depend on the machine (TF32 is off: the same fp32 arithmetic),
# so the speedrun page prices that count with this CPU's measured images/s
# (`accel_lib.recipes.study.pick_baseline`).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
export ACCEL_DATA_DIR="${ACCEL_DATA_DIR:-$PWD/.devdata}" ACCEL_CACHE_DIR="${ACCEL_CACHE_DIR:-/tmp/accel_cache}"
OUT="${OUT:-/tmp/device_out}"
mkdir -p "$OUT/results"
PY="${PY:-python3}"
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(baseline system speedrun)
for part in "${parts[@]}"; do  # refuse a misspelt part before spending device time
  case "$part" in baseline|system|speedrun) ;; *) echo "unknown part '$part': choose from baseline, system, speedrun" >&2; exit 2 ;; esac
done
nvidia-smi -L || true
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
for part in "${parts[@]}"; do
  echo "== $part ($(date -u +%H:%M:%S))"
  case "$part" in
    baseline)  # stops by itself at 90% or after 7 minutes, then writes its record (resnet18/cuda)
      $PY benchmarks/baselines.py --only resnet18 --full --target 0.90 --channels-last --max-minutes 7 \
        2>&1 | tee "$OUT/baseline.log"
      cp benchmarks/results/baselines.json "$OUT/results/" ;;
    system)  # each part of it is written as soon as it is done
      timeout 330 $PY benchmarks/gpu_session.py 2>&1 | tee "$OUT/gpu_session.log"
      cp benchmarks/results/system_gpu.json "$OUT/results/" 2>/dev/null ;;
    speedrun)  # bf16 autocast switches on by itself on the GPU; several seeds
      timeout 240 $PY benchmarks/speedrun.py cifar --seeds 0 1 2 2>&1 | tee "$OUT/speedrun.log"
      cp benchmarks/results/speedrun.json "$OUT/results/" 2>/dev/null ;;
  esac
done
ls -la "$OUT/results"
