"""Fused primitives: one op where the composite would pass over memory more often.

``linear_mse(X, w, b, y) = mean((X @ w + b - y) ** 2)`` is the loss of linear regression. As a
composite it reads X twice per step: ``X @ w`` in the forward and ``X^T r`` in the backward.
The fused forward sweeps the rows of X in cache-sized chunks; for each chunk it forms the
residual ``r = X_c w + b - y_c``, adds ``r . r`` to the loss and, while the chunk is still in
cache, ``X_c^T r`` to the weight gradient: gradient accumulation over chunks, so value and
gradient together cost one pass over X. The vjp then only scales what the forward accumulated.
On the CPU, where Numba is installed (the ``fast`` extra), a compiled loop does the same row by
row (``kernels/linear_mse_cpu.py``): the NumPy sweep's two BLAS calls per chunk cost up to twice
a plain read of X on some CPUs, the loop about one read. When a graph is being built
(``create_graph``) or a tangent carried, the vjp and jvp are the composite's formulas in
gpugrad ops instead, so higher-order derivatives stay exact.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from .. import backend as B
from ..core.factories import arange
from ..core.tensor import Tensor
from .composite import softmax
from .kernels import linear_mse as _cuda_linear_mse
from .kernels import linear_mse_cpu as _cpu_linear_mse
from .namespace import sum_to
from .registry import apply, defop, device_error

# ----------------------------------------------------------------------------- row sweeps


def _cache_bytes() -> int:
    """Half of one core's L2 cache (from sysfs; 1 MiB where it cannot be read)."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index2/size") as f:
            text = f.read().strip().upper()
        scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
        return int(text.rstrip("KM")) * scale // 2
    except (OSError, ValueError):
        return 1 << 20


CACHE_BYTES = _cache_bytes()
# An X this small is swept in one chunk by BLAS (its second read comes from cache), not by the
# compiled loop: two L2 caches' worth.
IN_CACHE_BYTES = 4 * CACHE_BYTES


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def row_chunk(a, rows=None) -> int:
    """Rows of 2-D array `a` per chunk of a one-pass sweep: `rows` when given; on the CPU as many
    as fill half a core's L2 cache, so that a second use of a chunk reads it from cache; on a
    GPU all of them (one launch per pass)."""
    n = a.shape[0]
    if rows is not None:
        if rows < 1:
            raise ValueError(f"chunk: expected a positive number of rows, got {rows}")
        return rows
    if type(a) is not B.ndarray:
        return max(n, 1)
    row_bytes = max(a.itemsize * (a.shape[1] if a.ndim > 1 else 1), 1)
    return max(1, min(n, CACHE_BYTES // row_bytes))


# At least this many elements of the swept array per thread: waking a thread costs tens of
# microseconds, as much as sweeping about a million elements that are in cache.
MIN_PER_THREAD = 1 << 20
BLOCKS_PER_THREAD = 8

_pool: list = []
_pool_lock = threading.Lock()


def map_rows(a, chunk, fn):
    """``[fn(lo, hi) for each block]`` over contiguous row ranges of `a` (blocks of whole chunks),
    in row order.

    On the CPU the blocks run on a thread per core, the calling thread's included (NumPy's BLAS
    and ufuncs release the GIL). The blocks are fixed by the shape, the chunk and the number of
    cores, and the results come back in row order whichever thread ran a block, so results do
    not depend on timing; the threads take blocks as they finish the last (several per thread),
    so that a core that is busy with something else, such as BLAS threads still spinning after
    a call, holds up only its share. On a GPU, one block.
    """
    n = a.shape[0]
    chunks = -(-n // chunk) if n else 0
    parts = min(_cpu_count(), chunks, a.size // MIN_PER_THREAD) if type(a) is B.ndarray else 1
    if parts <= 1:
        return [fn(0, n)]
    per = -(-chunks // min(chunks, BLOCKS_PER_THREAD * parts)) * chunk
    blocks = [(lo, min(lo + per, n)) for lo in range(0, n, per)]
    results: list = [None] * len(blocks)
    take = itertools.count().__next__  # (atomic under the GIL)

    def work():
        i = take()
        while i < len(blocks):
            results[i] = fn(*blocks[i])
            i = take()

    if not _pool:
        with _pool_lock:
            if not _pool:
                _pool.append(ThreadPoolExecutor(_cpu_count(), thread_name_prefix="gpugrad-rows"))
    futures = [_pool[0].submit(work) for _ in range(parts - 1)]
    try:
        work()  # the calling thread works too: one hand-off fewer
    finally:
        for f in futures:
            f.exception()  # (waits: no block still running once this returns or raises)
    for f in futures:
        f.result()  # a block's error, raised here
    return results


# ----------------------------------------------------------------------------- linear_mse


def _sweep(xp, X, w, b, y, chunk, grad_w, grad_b, keep_r):
    """One pass over the rows of X, `chunk` rows at a time.

    Returns ``(sum of r**2, X^T r, sum of r over rows, r)``, the last three None unless asked
    for (`grad_w`, `grad_b`, `keep_r`). Row ranges run in parallel on the CPU's cores.
    """
    R = xp.empty(y.shape, X.dtype) if keep_r else None

    def part(lo, hi):
        sq = xp.zeros((), xp.float64)
        gw = xp.zeros(w.shape, X.dtype) if grad_w else None
        gb = xp.zeros(y.shape[1:], X.dtype) if grad_b else None
        buf = None if keep_r else xp.empty((min(chunk, hi - lo),) + y.shape[1:], X.dtype)
        for s in range(lo, hi, chunk):
            e = min(s + chunk, hi)
            Xc = X[s:e]
            r = R[s:e] if R is not None else buf[: e - s]
            xp.matmul(Xc, w, out=r)
            if b is not None:
                r += b
            r -= y[s:e]
            sq += xp.vdot(r, r)
            if grad_w:
                gw += Xc.T @ r  # X_c was just read: this pass runs from cache
            if grad_b:
                gb += r.sum(axis=0)
        return sq, gw, gb

    parts = map_rows(X, chunk, part)
    sq, gw, gb = parts[0]
    for p in parts[1:]:
        sq = sq + p[0]
        gw = None if gw is None else gw + p[1]
        gb = None if gb is None else gb + p[2]
    # NumPy gives scalars for 0-d results: keep arrays.
    return sq, gw, None if gb is None else xp.asarray(gb), R


def _forward(sweep):
    """The linear_mse forward around a `sweep` (`_sweep`'s contract): the mean of the squared
    residuals, and as residuals what the needed gradients use (X^T r, the sum of r, r).

    A one-column weight (D, 1) is swept as a vector: matrix-vector products are faster, and
    device kernels take that case."""
    def fwd(xp, X, w, b, y, chunk, *, needs):
        nX, nw, nb, ny = needs
        if chunk is None and not any(needs):
            chunk = X.shape[0] or 1  # the value alone: no second use of a chunk to keep in cache
        chunk = row_chunk(X, chunk)
        column = w.ndim == 2 and w.shape[1] == 1
        if column:
            w, y = w[:, 0], y[:, 0]
            b = None if b is None else b.reshape(1)
        sq, gw, gb, R = sweep(xp, X, w, b, y, chunk, nw, nb, nX or ny)
        if column:
            gw = None if gw is None else gw[:, None]
            gb = None if gb is None else gb.reshape(1)
            R = None if R is None else R[:, None]
        n = y.size
        return xp.asarray(sq / n if n else B.nan, dtype=X.dtype), (gw, gb, R)
    return fwd


def _cuda_sweep(xp, *args):
    return _cuda_linear_mse.sweep(xp, *args, fallback=_sweep)


def _cpu_sweep(xp, *args):
    return _cpu_linear_mse.sweep(xp, *args, fallback=_sweep, map_rows=map_rows,
                                 in_cache=IN_CACHE_BYTES)


def _scale(y, g):
    n = 1
    for s in y.shape:
        n *= s
    return g * (2.0 / n if n else B.nan)


def _bias_grad(F, t, shape):
    """Reduce a cotangent over the output's trailing dims to the bias's `shape`."""
    extra = len(shape) - len(t.shape)
    if extra > 0:
        s = tuple(t.shape)
        t = F.reshape(t, (1,) * extra + s, s)
    return sum_to(F, t, shape)


def _residual(X, w, b, y):
    """X w + b - y, in gpugrad ops."""
    r = X @ w
    return (r if b is None else r + b) - y


def _outer_w(sr, w):
    """d loss / dX from the scaled residual: sr w^T."""
    return sr[..., None] * w if w.ndim == 1 else sr @ w.T


def _linear_mse_vjp(F, g, args, out, n):
    X, w, b, y = args
    nX, nw, nb, ny = n.needs
    s = _scale(y, g)
    if F.builds_graph:
        # A graph to build: the composite's rule in gpugrad ops, differentiable again.
        sr = s * _residual(X, w, b, y)
        return (_outer_w(sr, w) if nX else None, X.mT @ sr if nw else None,
                sum_to(F, sr, b.shape) if nb else None, -sr if ny else None)
    gw, gb, R = n.residuals  # what the forward's one pass accumulated
    sr = s * R if R is not None else None
    return (_outer_w(sr, w) if nX else None, s * gw if nw else None,
            _bias_grad(F, s * gb, b.shape) if nb else None, -sr if ny else None)


def _linear_mse_jvp(F, ts, args, out, params):
    (tX, tw, tb, ty), (X, w, b, y) = ts, args
    r = _residual(X, w, b, y)
    dr = None
    for term in (None if tX is None else tX @ w, None if tw is None else X @ tw, tb,
                 None if ty is None else -ty):
        if term is not None:
            dr = term if dr is None else dr + term
    return _scale(y, (r * dr).sum())


# Fused: value and gradient in one pass over X (the composite reads X twice per step).
LINEAR_MSE = defop("linear_mse", _forward(_sweep), _linear_mse_vjp, _linear_mse_jvp, save="all",
                   nin=4, residuals=True, with_needs=True, node_name="LinearMseBackward0",
                   kernels={"cuda": _forward(_cuda_sweep), "cpu": _forward(_cpu_sweep)})


def _check(name, X, w, y, b):
    for what, t in (("input", X), ("weight", w), ("target", y), ("bias", b)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must be a tensor, got {type(t).__name__}")
    ts = [t for t in (X, w, y, b) if t is not None]
    for t in ts[1:]:
        if not B.same_device(t._data, X._data):
            raise device_error(name, X, t)
    dts = {t.dtype for t in ts}
    if len(dts) > 1 or not X.dtype.is_floating_point:
        raise RuntimeError(f"{name}: expected input, weight, target and bias of one floating "
                           f"dtype, got {', '.join(str(t.dtype) for t in ts)}")
    sx, sw, sy = X._data.shape, w._data.shape, y._data.shape
    if len(sx) != 2 or len(sw) not in (1, 2) or sw[0] != sx[1]:
        raise RuntimeError(f"{name}: expected input (N, D) and weight (D,) or (D, K), got "
                           f"shapes {sx} and {sw}")
    if sy != sx[:1] + sw[1:]:
        raise RuntimeError(f"{name}: target has shape {sy} but input @ weight has shape "
                           f"{sx[:1] + sw[1:]}; they must match")
    if b is not None:
        sb = b._data.shape
        try:
            ok = B.numpy.broadcast_shapes(sb, sy) == sy
        except ValueError:
            ok = False
        if not ok or (len(sb) == len(sy) and sb[0] != 1):
            raise RuntimeError(f"{name}: bias of shape {sb} must broadcast to output rows of "
                               f"shape {sy[1:]} (the same bias for every row)")


def linear_mse_loss(input, weight, target, bias=None, *, chunk=None):
    """Mean squared error of a linear model, ``mean((input @ weight + bias - target) ** 2)``,
    with value and gradient in one pass over `input`.

    `input` is (N, D); `weight` is (D,) or (D, K); `target` is (N,) or (N, K); `bias`
    (optional) broadcasts to one output row. The result and its derivatives (any order, both
    modes) equal those of ``mse_loss(input @ weight + bias, target)``, but the forward reads
    `input` once, `chunk` rows at a time (default: half a core's L2 cache on the CPU, all rows
    on a GPU or when no gradient is needed), and accumulates the gradient of the weight and
    bias as it goes (in parallel over the CPU's cores), so that ``backward()`` does not read
    `input` again. A full-batch step then costs one pass over the data instead of two.

    Example::

        loss = gpugrad.nn.functional.linear_mse_loss(X, w, y, b)
        loss.backward()   # w.grad, b.grad
    """
    _check("linear_mse_loss", input, weight, target, bias)
    if chunk is not None:
        row_chunk(input._data, chunk)  # a bad chunk is an error even when nothing sweeps
    return apply(LINEAR_MSE, (input, weight, bias, target), (chunk,))


# ----------------------------------------------------------------------------- cross-entropy


def _ce_fwd(xp, x, t, reduction, *, needs):
    """-log_softmax(x, 1) at the classes `t`, reduced; and softmax(x, 1) for the vjp."""
    m = x.max(axis=1, keepdims=True)
    z = x - xp.where(xp.isfinite(m), m, 0.0)  # shifted by the max: exp never overflows
    e = xp.exp(z)
    s = e.sum(axis=1, keepdims=True)
    if not B.index_checked(t):  # (CuPy's take_along_axis wraps around: checked on the device)
        B.check_index(f"cross_entropy: Target {{value}} is out of bounds for {x.shape[1]} "
                      "classes", t, 0, x.shape[1])
    try:
        picked = z[xp.arange(z.shape[0]), t]
    except IndexError as exc:
        raise IndexError(f"a target class index is out of range for {x.shape[1]} classes "
                         f"({exc})") from None
    nll = xp.log(s)[:, 0] - picked
    if reduction == "mean":
        loss = nll.sum() / nll.shape[0] if nll.shape[0] else xp.asarray(B.nan, x.dtype)
    else:
        loss = nll.sum() if reduction == "sum" else nll
    return xp.asarray(loss, dtype=x.dtype), (e / s if needs[0] else None)


def _ce_scale(g, reduction, n):
    """The cotangent of each row's loss, as a column (or one value); tensors or arrays."""
    if reduction == "mean":
        return g / n if n else g * B.nan
    return g if reduction == "sum" else g[:, None]


def _ce_vjp(F, g, args, out, n):
    x, t = args
    reduction = n.params[0]
    scale = _ce_scale(g, reduction, x.shape[0])
    if F.builds_graph:
        return ((softmax(x, 1) - _one_hot(t, x)) * scale, None)
    r = n.residuals * scale  # the softmax the forward kept
    r[F.xp.arange(x.shape[0]), t] -= scale.reshape(-1)  # softmax - one_hot(t)
    return (r, None)


def _one_hot(t, like):
    classes = arange(like._data.shape[1], dtype=t.dtype, device=like.device)
    return (classes == t.unsqueeze(1)).to(like.dtype)


def _ce_jvp(F, ts, args, out, params):
    (tx, _), (x, t) = ts, args
    per_row = (softmax(x, 1) * tx).sum(1) - tx.gather(1, t.unsqueeze(1)).squeeze(1)
    reduction = params[0]
    if reduction == "none":
        return per_row
    return per_row.mean() if reduction == "mean" else per_row.sum()


# Fused: one node instead of about 12; the forward keeps the softmax that the vjp,
# softmax - one_hot, needs.
CROSS_ENTROPY = defop("cross_entropy", _ce_fwd, _ce_vjp, _ce_jvp, save="all", nin=2,
                      residuals=True, with_needs=True, node_name="NllLossBackward0")


def cross_entropy(input, target, reduction):
    """Cross-entropy of logits (N, C) at integer classes (N,), in one node."""
    return apply(CROSS_ENTROPY, (input, target), (reduction,))
