#!/usr/bin/env bash
# One-shot GPU check: every GPU test and GPU benchmark in one call, results under $OUT.
# Installs nothing. Needs torch (CUDA), cupy, numpy, scipy, scikit-image, pandas, pyarrow;
# uses numba, zarr, pytest, dask, distributed and dask_cuda when present and says so when not.
# Usage (from the repository root): OUT=/tmp/gpu_out bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-./gpu_out}"
mkdir -p "$OUT"
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"

have() { "$PY" -c "import $1" >/dev/null 2>&1; }
note() { echo "$*" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
    "$PY" -c "import torch, cupy; print('torch', torch.__version__, 'cupy', cupy.__version__)" 2>&1
    for m in numba zarr pytest dask distributed dask_cuda xgboost; do
        if have "$m"; then echo "$m: present"; else echo "$m: not importable (parts needing it skip)"; fi
    done
} > "$OUT/device.txt"
cat "$OUT/device.txt"

status=0
step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to $OUT/NAME.log
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    note "$name: exit $rc in $((SECONDS - t0)) s (log: $OUT/$name.log)"
    [ "$rc" -eq 0 ] || status=1
}

# 1. feature kernels: cuda parity against the CPU reference, then frames/s
step features 240 "$PY" benchmarks/gpu_features_check.py
# 2. U-Net throughput: eager bf16, torch.compile bf16, CUDA graphs, training step
step unet 240 "$PY" benchmarks/bench_unet.py --device cuda --json "$OUT/unet.json"
# 3. segment -> features hand-off on the device (in-memory arrays), and a dask-cuda run
#    with one worker when dask, distributed, dask_cuda and zarr are importable
step scale 240 "$PY" benchmarks/gpu_scale_check.py
if ! have dask_cuda; then note "dask-cuda run: skipped (dask_cuda not importable)"; fi
# 4. gpu-marked tests (tests needing zarr or xgboost skip or are not collected without them)
if have pytest; then
    step pytest_gpu 180 "$PY" -m pytest -m gpu -q -p no:cacheprovider -rs tests/features tests/seg \
        tests/test_distributed.py
else
    note "pytest_gpu: skipped (pytest not importable)"
fi
tail -n 30 "$OUT"/*.log
cat "$OUT/summary.txt"
exit $status
