"""distributed: collectives, data-parallel training and linear-regression strong scaling.

    mpiexec -n 2 python -m mpi4py -m gpugrad.bench distributed [--n 2000000] [--d 256]
    python -m gpugrad.bench distributed --quick      # a world of one process: a smoke test

Run under ``mpiexec -n N`` (named explicitly: ``all`` does not include it); every rank runs
the same rows in the same order, and rank 0 prints its timings. Tables:

- all_reduce: ``gpugrad.distributed.all_reduce`` of a float32 tensor against raw mpi4py
  ``Allreduce`` on the same buffer (the target: within 5%), for 4 KB to 64 MB; GB/s is the
  buffer's bytes over the time.
- DDP step: one SGD step of the mlp suite's 784-256-256-10 MLP under DistributedDataParallel
  with a batch of ``--batch`` rows per rank, against one process stepping the whole global
  batch (``--batch`` times N rows) alone while the other ranks wait.
- linreg scaling: the gradient of mean((X w - y)^2) for X float32 (``--n``, ``--d``), computed
  by rank 0 alone on all rows, and by the N ranks each on its n / N rows (the fused
  ``linear_mse_loss``) followed by one all_reduce of the d numbers (the target: at least 1.8x
  faster on 2 ranks for 2e6 x 256). Both rows' gradients are checked against each other.
"""

from __future__ import annotations

from typing import Any

import gpugrad
import gpugrad.distributed as dist
from gpugrad import backend as B
from gpugrad import nn
from gpugrad.distributed.group import _mpi, default_group
from gpugrad.nn import functional as F
from gpugrad.nn.parallel import DistributedDataParallel

from .harness import Bench, Row

SUITE = "distributed"
BLOCK = 65536  # rows per seeded block of X: the same rows whichever rank draws them


def rows_of(n: int, d: int, lo: int, hi: int) -> tuple[Any, Any]:
    """Rows [lo, hi) of X (float32) and y, from per-block seeds (independent of the split)."""
    np = B.numpy
    X = np.empty((hi - lo, d), np.float32)
    y = np.empty(hi - lo, np.float32)
    for k in range(lo // BLOCK, (hi + BLOCK - 1) // BLOCK):
        rng = np.random.default_rng([7, k])
        start = k * BLOCK
        rows = min(BLOCK, n - start)
        Xk = rng.standard_normal((rows, d), dtype=np.float32)
        yk = rng.standard_normal(rows, dtype=np.float32)
        a, b = max(lo, start), min(hi, start + rows)
        X[a - lo:b - lo] = Xk[a - start:b - start]
        y[a - lo:b - lo] = yk[a - start:b - start]
    return X, y


def all_reduce_table(bench: Bench, rank: int, size: int) -> None:
    np = B.numpy
    MPI = _mpi()
    comm = default_group().comm
    sizes = [1 << 10, 1 << 18] if bench.quick else [1 << 10, 1 << 18, 1 << 22, 1 << 24]
    for count in sizes:
        buf = np.ones(count, np.float32)
        t = gpugrad.as_tensor(buf)  # the same buffer

        def raw(buf=buf):
            comm.Allreduce(MPI.IN_PLACE, buf)

        def ours(t=t):
            dist.all_reduce(t)

        rows = [Row("mpi4py Allreduce", raw, grad=False),
                Row("gpugrad all_reduce", ours, grad=False)]
        res = bench.measure(SUITE, f"all_reduce {count * 4} B", rows, repeat=21,
                            ratio_ref="mpi4py Allreduce")
        for r in res.values():
            r.extra["GB/s"] = count * 4 / r.median_s / 1e9
        bench.table(f"all_reduce of {count} float32 ({count * 4 / 1e6:.3g} MB) on {size} "
                    "rank(s), times in ms", res, ["GB/s"], "mpi4py Allreduce")
        if count == sizes[-1]:
            bench.target("gpugrad all_reduce <= 1.05x mpi4py on the largest buffer",
                         res["gpugrad all_reduce"].ratio, 1.05,
                         res["gpugrad all_reduce"].min_ratio)


def mlp(seed: int) -> Any:
    gpugrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(),
                         nn.Linear(256, 10))


def ddp_table(bench: Bench, batch: int, rank: int, size: int) -> None:
    np = B.numpy
    rng = np.random.default_rng(3)
    X = gpugrad.tensor(rng.standard_normal((batch * size, 784), dtype=np.float32))
    labels = gpugrad.tensor(rng.integers(0, 10, batch * size))
    one = mlp(0)
    ddp = DistributedDataParallel(mlp(0))
    mine = slice(rank * batch, (rank + 1) * batch)
    Xr, lr = X[mine], labels[mine]

    def step_alone():
        if rank == 0:
            one.zero_grad()
            F.cross_entropy(one(X), labels).backward()
        dist.barrier()
        return [p.grad for p in one.parameters()] if rank == 0 else None

    def step_ddp():
        ddp.zero_grad()
        F.cross_entropy(ddp(Xr), lr).backward()
        return [p.grad for p in ddp.parameters()]

    rows = [Row(f"one process, batch {batch * size}", step_alone),
            Row(f"DDP on {size} rank(s), batch {batch} each", step_ddp)]
    res = bench.measure(SUITE, "ddp", rows, repeat=11, ratio_ref=rows[0].name,
                        grad_ref=rows[0].name if rank == 0 else None)
    bench.table("DDP step: forward + backward + gradient averaging of a 784-256-256-10 MLP, "
                "times in ms", res, (), rows[0].name)


def linreg_table(bench: Bench, n: int, d: int, rank: int, size: int) -> None:
    lo, hi = rank * n // size, (rank + 1) * n // size
    X, y = rows_of(n, d, 0, n) if rank == 0 else rows_of(n, d, lo, hi)
    mine = (X[lo:hi], y[lo:hi]) if rank == 0 else (X, y)
    gX, gy = gpugrad.as_tensor(X), gpugrad.as_tensor(y)
    sX, sy = gpugrad.as_tensor(mine[0]), gpugrad.as_tensor(mine[1])
    w0 = B.numpy.random.default_rng(1).standard_normal(d).astype(B.numpy.float32)
    w_one = gpugrad.as_tensor(w0.copy()).requires_grad_()
    w_all = gpugrad.as_tensor(w0.copy()).requires_grad_()

    def alone():
        if rank == 0:
            w_one.grad = None
            F.linear_mse_loss(gX, w_one, gy).backward()
        dist.barrier()
        return w_one.grad if rank == 0 else None

    def spread():
        w_all.grad = None
        (F.linear_mse_loss(sX, w_all, sy) * ((hi - lo) / n)).backward()
        dist.all_reduce(w_all.grad)
        return w_all.grad

    rows = [Row("1 rank, all rows", alone), Row(f"{size} rank(s), n / {size} rows each", spread)]
    res = bench.measure(SUITE, "linreg", rows, repeat=7, ratio_ref=rows[0].name,
                        grad_ref=rows[0].name if rank == 0 else None)
    for r in res.values():
        r.extra["speed-up"] = res[rows[0].name].median_s / r.median_s
    bench.table(f"linreg scaling: one gradient of mean((X w - y)^2), X float32 ({n}, {d}) = "
                f"{X.nbytes * (size if rank else 1) / 1e6:.4g} MB, times in ms", res,
                ["speed-up"], rows[0].name)
    bench.target(f"{size} ranks >= 1.8x faster than 1 (1 / speed-up <= 0.556)",
                 res[rows[1].name].ratio, 1 / 1.8)


def run(bench: Bench, args) -> None:
    if not dist.is_initialized():
        dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    if size == 1:
        bench.say("  a world of one process: launch with `mpiexec -n 2 python -m mpi4py -m "
                  "gpugrad.bench distributed` for the figures that matter")
    all_reduce_table(bench, rank, size)
    ddp_table(bench, args.batch or (8 if bench.quick else 64), rank, size)
    n = args.n or (4096 if bench.quick else 2_000_000)
    d = args.d or (16 if bench.quick else 256)
    linreg_table(bench, n, d, rank, size)
