#!/usr/bin/env bash
# Wheel test: build gpugrad's sdist and wheel, install the wheel into a fresh virtual
# environment with only its dependencies (NumPy) and pytest, and run the examples' smoke tests
# (tests/test_examples.py) against the installed wheel from outside the repository, so the
# checkout is not importable.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Build from a copy of the working tree: an in-tree build/ could ship stale modules.
mkdir "$tmp/src"
tar -C "$repo" --exclude=./.git --exclude=./build --exclude=./dist --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.venv -cf - . | tar -xf - -C "$tmp/src"
# `python -m build`: the sdist and the wheel, as a release would make them.
python3 -m venv "$tmp/buildenv"
"$tmp/buildenv/bin/python" -m pip install --progress-bar off -q build
"$tmp/buildenv/bin/python" -m build --outdir "$tmp/dist" "$tmp/src"
tar -tzf "$tmp"/dist/gpugrad-*.tar.gz > "$tmp/sdist.txt"
grep -q "gpugrad/ops/registry.py" "$tmp/sdist.txt" || {
    echo "the sdist lacks gpugrad/ops/registry.py" >&2; exit 1; }
python3 -m venv "$tmp/venv"
# shellcheck disable=SC1091
source "$tmp/venv/bin/activate"
python -m pip install --progress-bar off "$tmp"/dist/gpugrad-*.whl pytest

# A copy of the tests and examples only: test_examples.py runs ../examples/*.py.
mkdir "$tmp/run"
cp -r "$repo/tests" "$repo/examples" "$tmp/run/"
rm -rf "$tmp/run/tests/__pycache__"
cd "$tmp/run"
export PYTHONPATH=""
python - <<'PY'
import importlib.resources, pathlib, sys
import gpugrad
where = pathlib.Path(gpugrad.__file__).resolve()
assert "site-packages" in where.parts, f"gpugrad imported from {where}, not the wheel"
assert importlib.resources.files("gpugrad").joinpath("py.typed").is_file(), "py.typed missing"
print(f"gpugrad {gpugrad.__version__} from {where.parent}")
PY
python -m pytest -q -p no:cacheprovider --rootdir "$tmp/run" -c /dev/null tests/test_examples.py "$@"
