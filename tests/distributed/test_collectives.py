"""Every collective, for float32/float64/int64 and 0-d, empty, small and large tensors, at the
world size the tests run under (1 in the normal suite, 2 in CI's mpiexec run)."""

from __future__ import annotations

import numpy as np
import pytest

import gpugrad
import gpugrad.distributed as dist

DTYPES = [gpugrad.float32, gpugrad.float64, gpugrad.int64]
SHAPES = [(), (0,), (3, 4), (1 << 18,)]
ids = [f"shape{s}" for s in SHAPES]


def value(shape, dtype, r):
    """What rank r holds: distinct, exactly representable in every dtype (products too)."""
    n = int(np.prod(shape))
    base = (np.arange(n) % 7 + 1).reshape(shape)
    return (base * (r + 1)).astype(dtype.np)


def tensor(a):
    return gpugrad.tensor(a)


@pytest.fixture(params=DTYPES, ids=lambda d: d.name)
def dtype(request):
    return request.param


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
@pytest.mark.parametrize("op", ["SUM", "AVG", "PRODUCT", "MIN", "MAX"])
def test_all_reduce(world, dtype, shape, op):
    r, n = world
    each = np.stack([value(shape, dtype, k) for k in range(n)])
    x = tensor(value(shape, dtype, r))
    if op == "AVG" and not dtype.is_floating_point:
        with pytest.raises(TypeError, match="AVG needs a floating-point"):
            dist.all_reduce(x, op=dist.ReduceOp.AVG)
        return
    expect = {"SUM": each.sum(0), "AVG": each.sum(0) / n, "PRODUCT": each.prod(0),
              "MIN": each.min(0), "MAX": each.max(0)}[op].astype(dtype.np)
    v = x._version
    assert dist.all_reduce(x, op=getattr(dist.ReduceOp, op)) is None
    assert x.dtype == dtype and x.shape == shape
    np.testing.assert_array_equal(x.numpy(), expect)
    assert x._version == v + 1


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_broadcast(world, dtype, shape):
    r, n = world
    x = tensor(value(shape, dtype, r))
    dist.broadcast(x, src=n - 1)
    np.testing.assert_array_equal(x.numpy(), value(shape, dtype, n - 1))


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_all_gather(world, dtype, shape):
    r, n = world
    out = [gpugrad.zeros(shape, dtype=dtype) for _ in range(n)]
    dist.all_gather(out, tensor(value(shape, dtype, r)))
    for k in range(n):
        np.testing.assert_array_equal(out[k].numpy(), value(shape, dtype, k))
    flat = gpugrad.zeros((n * max(1, int(np.prod(shape))),) if shape else (n,), dtype=dtype)
    if shape == (0,):
        flat = gpugrad.zeros((0,), dtype=dtype)
    dist.all_gather_into_tensor(flat, tensor(value(shape, dtype, r)))
    expect = np.concatenate([value(shape, dtype, k).reshape(-1) for k in range(n)])
    np.testing.assert_array_equal(flat.numpy(), expect)


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_reduce_scatter(world, dtype, shape):
    r, n = world
    out = gpugrad.zeros(shape, dtype=dtype)
    dist.reduce_scatter(out, [tensor(value(shape, dtype, r + k)) for k in range(n)])
    expect = sum(value(shape, dtype, q + r) for q in range(n))  # rank q sends value(q + r)
    np.testing.assert_array_equal(out.numpy(), expect)
    out2 = gpugrad.zeros(shape, dtype=dtype)
    big = np.stack([value(shape, dtype, r + k) for k in range(n)])
    dist.reduce_scatter_tensor(out2, tensor(big))
    np.testing.assert_array_equal(out2.numpy(), expect)


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_reduce_gather_scatter(world, dtype, shape):
    r, n = world
    x = tensor(value(shape, dtype, r))
    dist.reduce(x, dst=0, op=dist.ReduceOp.MAX)
    np.testing.assert_array_equal(x.numpy(), value(shape, dtype, n - 1 if r == 0 else r))
    got = [gpugrad.zeros(shape, dtype=dtype) for _ in range(n)] if r == 0 else None
    dist.gather(tensor(value(shape, dtype, r)), got, dst=0)
    if r == 0:
        for k in range(n):
            np.testing.assert_array_equal(got[k].numpy(), value(shape, dtype, k))
    out = gpugrad.zeros(shape, dtype=dtype)
    parts = [tensor(value(shape, dtype, 10 + k)) for k in range(n)] if r == n - 1 else None
    dist.scatter(out, parts, src=n - 1)
    np.testing.assert_array_equal(out.numpy(), value(shape, dtype, 10 + r))


def test_async_work_handles(world):
    r, n = world
    x = gpugrad.ones(1000) * (r + 1)
    work = dist.all_reduce(x, async_op=True)
    assert isinstance(work, dist.Work)
    assert work.wait() is True and work.is_completed()
    np.testing.assert_array_equal(x.numpy(), np.full(1000, n * (n + 1) / 2))
    out = [gpugrad.zeros(2) for _ in range(n)]
    w2 = dist.all_gather(out, gpugrad.ones(2) * r, async_op=True)
    w3 = dist.broadcast(y := gpugrad.ones(3) * r, src=0, async_op=True)
    w2.wait()
    w3.wait()
    assert [o[0].item() for o in out] == list(range(n))
    assert y.tolist() == [0.0, 0.0, 0.0]
    dist.barrier(async_op=True).wait()


def test_non_contiguous_tensor_is_written_back(world):
    r, n = world
    base = gpugrad.zeros(4, 3)
    col = base.t()[1]  # a strided view of column 1
    col += r + 1
    dist.all_reduce(col)
    assert base[:, 1].tolist() == [n * (n + 1) / 2] * 4
    assert base[:, 0].tolist() == [0.0] * 4


def test_argument_errors_raise_on_every_rank(world):
    r, n = world
    with pytest.raises(ValueError, match="one tensor per rank"):
        dist.all_gather([gpugrad.zeros(2)] * (n + 1), gpugrad.zeros(2))
    with pytest.raises(ValueError, match="src=7 is not a rank"):
        dist.broadcast(gpugrad.zeros(2), src=7)
    with pytest.raises(TypeError, match="must be a Tensor"):
        dist.all_reduce([1.0, 2.0])
    with pytest.raises(RuntimeError, match="read-only"):
        dist.all_reduce(gpugrad.zeros(1).expand(3))
    dist.barrier()  # the group still works


def test_mismatched_shapes_and_dtypes_raise_instead_of_garbage(several):
    r, n = several
    with pytest.raises(RuntimeError, match=r"differ in shape.*rank 0: all_reduce of a float32 "
                       r"tensor of shape \(3,\).*rank 1: all_reduce of a float32 tensor of shape "
                       r"\(4,\)"):
        dist.all_reduce(gpugrad.ones(3 + r))
    with pytest.raises(RuntimeError, match="differ in dtype"):
        dist.all_reduce(gpugrad.ones(3, dtype=gpugrad.float64 if r else gpugrad.float32))
    with pytest.raises(RuntimeError, match="called different collectives"):
        if r == 0:
            dist.all_reduce(gpugrad.ones(3))
        else:
            dist.broadcast(gpugrad.ones(3), src=0)
    with pytest.raises(RuntimeError, match="differ in op"):
        dist.all_reduce(gpugrad.ones(3), op=dist.ReduceOp.MAX if r else dist.ReduceOp.SUM)
    # an invalid argument on one rank raises on all of them
    with pytest.raises((RuntimeError, TypeError), match="invalid arguments|AVG needs"):
        dist.all_reduce(gpugrad.ones(2, dtype=gpugrad.int64),
                        op=dist.ReduceOp.AVG if r == 1 else dist.ReduceOp.SUM)
    with pytest.raises(RuntimeError, match="invalid arguments|read-only"):
        dist.broadcast(gpugrad.zeros(1).expand(3) if r == 1 else gpugrad.zeros(3), src=0)
    x = gpugrad.ones(2)
    dist.all_reduce(x)
    assert x.tolist() == [float(n)] * 2


def test_send_recv(several):
    r, n = several
    if r == 0:
        dist.send(gpugrad.arange(5.0), dst=1, tag=3)
        dist.send(gpugrad.ones(4, dtype=gpugrad.int64), dst=1)
        got = gpugrad.zeros(2)
        assert dist.recv(got) == 1
        assert got.tolist() == [7.0, 8.0]
        w = dist.isend(gpugrad.full((3,), 2.0), dst=1)
        w.wait()
        dist.send(gpugrad.ones(3), dst=1)  # a mismatch: the receiver raises, nobody hangs
    elif r == 1:
        x = gpugrad.zeros(5)
        assert dist.recv(x, src=0, tag=3) == 0
        assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        y = gpugrad.zeros(4, dtype=gpugrad.int64)
        dist.recv(y, src=0)
        assert y.tolist() == [1] * 4
        dist.send(gpugrad.tensor([7.0, 8.0]), dst=0)
        z = gpugrad.zeros(3)
        dist.irecv(z, src=0).wait()
        assert z.tolist() == [2.0] * 3
        with pytest.raises(RuntimeError, match="rank 0 sent a float32 tensor of shape \\(3,\\)"):
            dist.recv(gpugrad.zeros(2, 2), src=0)
    dist.barrier()


def test_point_to_point_argument_errors(world):
    r, n = world
    with pytest.raises(ValueError, match="should not be the same as the rank"):
        dist.send(gpugrad.ones(1), dst=r)
    with pytest.raises(ValueError, match="not a rank"):
        dist.send(gpugrad.ones(1), dst=n)


def test_group_queries(world):
    r, n = world
    assert dist.is_available() and dist.is_initialized()
    assert dist.get_backend() == "mpi"
    assert 0 <= r < n
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group("mpi")
    with pytest.raises(ValueError, match="only the default process group"):
        dist.get_rank(group=object())


def test_mpi_backend_refuses_cuda_tensors(world, cuda_device):
    x = gpugrad.ones(3, device=cuda_device)
    with pytest.raises(RuntimeError, match="not CUDA-aware.*'nccl'"):
        dist.all_reduce(x)


def test_a_list_on_a_non_root_rank_raises_on_every_rank(several):
    r, n = several
    parts = [gpugrad.zeros(2) for _ in range(n)]
    for call, what, role, root in ((dist.gather, "gather_list", "destination", "dst"),
                                   (dist.scatter, "scatter_list", "source", "src")):
        # every rank passes a list; the root may, rank 1 may not: rank 1 says why, the root
        # names the rank that erred
        if r == 1:
            err = (ValueError, rf"``{what}`` must NOT be specified on non-{role} ranks "
                   rf"\(rank 1; {root} is 0\)")
        else:
            err = (RuntimeError, r"rank\(s\) \[1(, \d+)*\] passed invalid arguments")
        with pytest.raises(err[0], match=err[1]):
            call(gpugrad.zeros(2), parts, 0)
    dist.barrier()
