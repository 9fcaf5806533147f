#!/usr/bin/env bash
# CPU test run: a fresh virtual environment, then the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
# shellcheck disable=SC1091
source "$tmp/venv/bin/activate"

python -m pip install --progress-bar off -e ".[test]"
# Any failure fails CI, "no tests collected" (exit 5) included.
python -m pytest "$@"
