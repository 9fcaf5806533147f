#!/usr/bin/env bash
# One call on a lent GPU machine (no network there: no venv, no pip). Runs the CUDA tests, then
# every benchmark suite on the GPU, with the machine's own Python (CuPy, PyTorch and JAX
# preinstalled). Results go to $OUT (default ./gpu-results): device.txt, pytest.txt, linreg.txt
# and .json, bench.txt and .json.
#   bash ci/device.sh            # about 5 minutes on an H100/H200
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-results}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
  python -c "import cupy, numpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__)"
} 2>&1 | tee "$out/device.txt"
python -c "import gpugrad; assert gpugrad.cuda.is_available(), 'CuPy sees no GPU'" || exit 2
# The CUDA half of the suite first (every test marked cuda: kernels, the no-sync test, the
# cuda-parametrised op table), then the benchmarks; a failing test does not stop them.
timeout 300 python -m pytest -m cuda -q -p no:cacheprovider --maxfail=50 tests \
    2>&1 | tail -60 > "$out/pytest.txt"
tail -5 "$out/pytest.txt"
# linreg at the issue's GPU size (X float32 10,000,000 x 128 = 5 GB), then the other suites.
timeout 200 python -m gpugrad.bench linreg --device cuda --n 10000000 --d 128 \
    --json "$out/linreg.json" 2>&1 | tee "$out/linreg.txt" | tail -25
timeout 300 python -m gpugrad.bench overhead mlp cheapgrad --device cuda \
    --json "$out/bench.json" 2>&1 | tee "$out/bench.txt" | tail -60
