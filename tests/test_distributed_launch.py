"""The 2-process checks the normal suite runs itself: it launches ``mpiexec -n 2`` (about
10 s in all). A rank that raises, or a collective that never completes, ends the whole job
instead of hanging it; and a few key distributed tests pass on 2 ranks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("mpi4py", reason="needs mpi4py (pip install mpi4py mpich)")
MPIEXEC = shutil.which("mpiexec") or str(Path(sys.executable).parent / "mpiexec")
if not os.path.exists(MPIEXEC):
    pytest.skip("needs mpiexec (pip install mpich)", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent


def launch(args, timeout, tmp_path=None, script=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # a child of an MPI singleton must not inherit its process-manager settings
    for k in list(env):
        if k.startswith(("PMI_", "PMIX_", "MPIR_", "HYDRA_")):
            del env[k]
    cmd = [MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4py"]
    if script is not None:
        path = tmp_path / "job.py"
        path.write_text(textwrap.dedent(script))
        cmd.append(str(path))
    start = time.monotonic()
    proc = subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)
    return proc, time.monotonic() - start


def test_a_rank_that_raises_ends_the_job(tmp_path):
    proc, took = launch([], 30, tmp_path, """
        import gpugrad, gpugrad.distributed as dist
        dist.init_process_group("mpi")
        if dist.get_rank() == 1:
            raise ValueError("boom on rank 1")
        dist.barrier()  # rank 0 would wait here for ever
        print("rank 0 got past the barrier")
        """)
    assert proc.returncode != 0
    assert "ValueError: boom on rank 1" in proc.stderr
    assert "uncaught ValueError on rank 1; aborting the job" in proc.stderr
    assert "got past" not in proc.stdout
    assert took < 30


def test_a_collective_that_never_completes_times_out_naming_it(tmp_path):
    proc, took = launch([], 30, tmp_path, """
        import time
        import gpugrad, gpugrad.distributed as dist
        dist.init_process_group("mpi", timeout=1.5)
        if dist.get_rank() == 0:
            dist.all_reduce(gpugrad.ones(3))
        else:
            time.sleep(60)
        """)
    assert proc.returncode != 0
    assert "all_reduce did not complete on rank 0 (of 2) within the timeout of 1.5 s" \
        in proc.stderr, proc.stderr
    assert took < 30


def test_key_distributed_tests_pass_on_two_ranks():
    keys = ("test_all_reduce or test_send_recv or test_mismatched or test_ddp_20_steps or "
            "test_distributed_equals_one_process or test_dataloader_follows")
    proc, _ = launch(["-m", "pytest", "-x", "-p", "no:cacheprovider", "-k", keys,
                      "tests/distributed"], 120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # both ranks report (at a world of 2 nothing is skipped)
    assert proc.stdout.count(" passed") == 2 and "skipped" not in proc.stdout, proc.stdout
