#!/usr/bin/env bash
# One-shot GPU check: GPU tests and GPU benchmarks in one call, results under $OUT.
# Installs nothing. Needs torch (CUDA), cupy, numpy, scipy, scikit-image, pandas, pyarrow.
# Usage (from the repository root): OUT=/tmp/gpu_out bash benchmarks/gpu_check.sh
set -uo pipefail
OUT="${OUT:-./gpu_out}"
mkdir -p "$OUT"
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
    python -c "import torch, cupy; print('torch', torch.__version__, 'cupy', cupy.__version__)" 2>&1
} > "$OUT/device.txt"
status=0
# 1. feature kernels: parity against the CPU reference, then speed
timeout 240 python benchmarks/gpu_features_check.py > "$OUT/features.log" 2>&1 || status=1
# 2. U-Net throughput: eager bf16, torch.compile bf16, CUDA graphs, training step
timeout 240 python benchmarks/bench_unet.py --device cuda --json "$OUT/unet.json" > "$OUT/unet.log" 2>&1 || status=1
# 3. gpu-marked tests that need no zarr/xgboost
if python -c "import pytest" 2>/dev/null; then
    timeout 120 python -m pytest -m gpu -q -p no:cacheprovider tests/features tests/seg > "$OUT/pytest_gpu.txt" 2>&1 || status=1
fi
tail -n 40 "$OUT"/*.log
exit $status
