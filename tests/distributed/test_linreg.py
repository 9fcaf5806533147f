"""examples/linear_regression.py --distributed / --data / --mmap: the same answer however the
rows are split or read."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import gpugrad.distributed as dist

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("linreg_example",
                                              ROOT / "examples" / "linear_regression.py")
linreg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(linreg)

ARGS = ["--n", "3001", "--d", "8", "--steps", "40", "--device", "cpu", "--no-progress"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_distributed_equals_one_process(world, dtype, capsys):
    r, n = world
    args = [*ARGS, "--dtype", dtype]
    alone = linreg.main_sharded(linreg.parse(args))  # all rows in this process, no collective
    capsys.readouterr()
    spread = linreg.main([*args, "--distributed"])
    np.testing.assert_allclose(spread, alone, rtol=1e-6, atol=1e-6 if dtype == "float32" else 0)
    out = capsys.readouterr().out
    if r == 0:
        assert f"ranks {n}, rows per rank {3001 // n}" in out
        assert "mean time per step" in out and f"{n} rank(s)" in out
        err = float(out.split("max |[w, b] - least squares|    = ")[1].split()[0])
        assert err < 2e-2
    else:
        assert "step" not in out  # only rank 0 prints


def test_memory_mapped_run_equals_in_memory(world, tmp_path, capsys):
    path = str(tmp_path / "data.npy")
    linreg.main([*ARGS, "--dtype", "float64", "--write-data", path])
    assert np.load(path, mmap_mode="r").shape == (3001, 9)
    in_memory = linreg.main([*ARGS, "--dtype", "float64", "--data", path, "--distributed"])
    mapped = linreg.main([*ARGS, "--dtype", "float64", "--data", path, "--mmap", "--chunk",
                          "500", "--distributed"])
    np.testing.assert_allclose(mapped, in_memory, rtol=1e-10)
    generated = linreg.main([*ARGS, "--dtype", "float64", "--distributed"])
    np.testing.assert_allclose(generated, in_memory, rtol=1e-10)  # the file holds the same rows
    out = capsys.readouterr().out
    if dist.get_rank() == 0:
        assert "memory-mapped, streamed in chunks of 500 rows" in out


def test_lbfgs_distributed_equals_one_process(world):
    """L-BFGS evaluates the closure the same number of times on every rank."""
    args = [*ARGS, "--dtype", "float64", "--optimizer", "lbfgs", "--steps", "10"]
    alone = linreg.main_sharded(linreg.parse(args))
    spread = linreg.main([*args, "--distributed"])
    np.testing.assert_allclose(spread, alone, rtol=1e-6)
