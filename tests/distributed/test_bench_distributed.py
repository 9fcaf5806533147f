"""``python -m gpugrad.bench distributed`` runs (tiny sizes) at the world size of the tests,
prints its three tables on rank 0, and its gradients agree."""

from __future__ import annotations

import contextlib
import io

import gpugrad.distributed as dist
from gpugrad.bench import __main__ as bench_main


def test_distributed_suite_runs_at_tiny_sizes(world):
    r, n = world
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = bench_main.main(["distributed", "--quick", "--repeat", "1", "--n", "3000",
                              "--d", "8", "--batch", "4"])
    assert rc == 0, out.getvalue()
    text = out.getvalue()
    if r == 0:
        for title in ("all_reduce of 1024 float32", "all_reduce of 262144 float32",
                      "DDP step", "linreg scaling"):
            assert title in text, text
        for row in ("mpi4py Allreduce", "gpugrad all_reduce", "one process, batch",
                    f"DDP on {n} rank(s)", "1 rank, all rows", f"{n} rank(s), n / {n} rows"):
            assert f"  {row}" in text, (row, text)
        assert "WRONG" not in text
    else:
        assert text == ""  # only rank 0 prints
    assert dist.is_initialized()


def test_all_does_not_include_distributed():
    assert "distributed" not in bench_main.ALL and "distributed" in bench_main.SUITES
