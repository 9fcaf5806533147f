#!/usr/bin/env bash
# GPU runner: CuPy for CUDA 12 (GPUGRAD_CUDA_EXTRA=cuda13 for CUDA 13), then every test,
# those marked cuda included; the tests' device fixture picks the GPU up by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

nvidia-smi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
# shellcheck disable=SC1091
source "$tmp/venv/bin/activate"

python -m pip install --progress-bar off -e ".[test,${GPUGRAD_CUDA_EXTRA:-cuda12}]"
python -c "import gpugrad; assert gpugrad.cuda.is_available(), 'CuPy sees no GPU'"
python -m pytest -m "" "$@"  # -q is in addopts; a second -q would hide the counts
