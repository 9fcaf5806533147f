"""The distributed tests run in the normal suite (a world of one process) and, in CI, under
``timeout 300 mpiexec -n 2 python -m mpi4py -m pytest -x -q tests/distributed``.

Every test here runs the same collectives in the same order on every rank. A test that fails
on one rank aborts the whole job (after printing the failure) so that the other ranks never
wait for it in a collective.
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("mpi4py", reason="the distributed tests need mpi4py (pip install mpi4py "
                    "mpich, or the test extra)")

import gpugrad.distributed as dist  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def process_group():
    """The default process group, made once for the session (MPI can be initialised once)."""
    made = not dist.is_initialized()
    if made:
        dist.init_process_group("mpi", timeout=120)
    yield
    if made and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


@pytest.fixture
def world():
    """(rank, world size)."""
    return dist.get_rank(), dist.get_world_size()


@pytest.fixture
def several(world):
    """Skips at a world of one process (the test is about what passes between ranks)."""
    if world[1] < 2:
        pytest.skip("needs 2 or more processes: mpiexec -n 2 python -m mpi4py -m pytest "
                    "tests/distributed")
    return world


def pytest_runtest_logreport(report):
    if report.failed and dist.is_initialized() and dist.get_world_size() > 1:
        sys.stderr.write(f"\n[rank {dist.get_rank()}] {report.nodeid} failed:\n"
                         f"{report.longreprtext}\n")
        sys.stderr.flush()
        dist.abort(f"[rank {dist.get_rank()}] a test failed; aborting the job so that the "
                   "other ranks do not wait for it")
