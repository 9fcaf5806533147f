#!/usr/bin/env bash
# CPU test run: a fresh virtual environment, then the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
# shellcheck disable=SC1091
source "$tmp/venv/bin/activate"

python -m pip install --progress-bar off -e ".[test,cuda-check]"
python -m ruff check gpugrad tests examples tools
python -m mypy gpugrad
# The built wheel, installed with NumPy only, runs the examples' smoke tests (20-35 s); it runs
# first so that the last test summary printed is the whole suite's.
bash ci/wheel.sh
# Any failure fails CI, "no tests collected" (exit 5) included.
python -m pytest "$@"
# The distributed tests again, on 2 processes (they ran at a world of 1 above).
timeout 300 mpiexec -n 2 python -m mpi4py -m pytest -x -q tests/distributed
