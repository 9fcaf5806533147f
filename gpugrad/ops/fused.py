"""Fused primitives: one op where the composite would pass over memory more often.

``linear_mse(X, w, b, y) = mean((X @ w + b - y) ** 2)`` is the loss of linear regression. As a
composite it reads X twice per step: ``X @ w`` in the forward and ``X^T r`` in the backward.
The fused forward sweeps the rows of X in cache-sized chunks; for each chunk it forms the
residual ``r = X_c w + b - y_c``, adds ``r . r`` to the loss and, while the chunk is still in
cache, ``X_c^T r`` to the weight gradient: gradient accumulation over chunks, so value and
gradient together cost one pass over X. The vjp then only scales what the forward accumulated.
When a graph is being built (``create_graph``) or a tangent carried, the vjp and jvp are the
composite's formulas in gpugrad ops instead, so higher-order derivatives stay exact.
"""

from __future__ import annotations

import functools

from .. import backend as B
from ..autograd.grad_mode import fw_levels, state
from ..factories import arange
from ..tensor import Tensor, _wrap
from .composite import softmax
from .registry import _push_tangent, _record, defop, device_error, op_error, sum_to


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

    parts = B.map_rows(X, chunk, part)
    sq, gw, gb = parts[0]
    for p in parts[1:]:
        sq = sq + p[0]
        gw = None if gw is None else gw + p[1]
        gb = None if gb is None else gb + p[2]
    # NumPy gives scalars for 0-d results: keep arrays.
    return sq, gw, None if gb is None else xp.asarray(gb), R


# Array type -> the sweep for it: _sweep, or a device kernel with its signature (gpugrad/kernels,
# tested against _sweep in tests/test_kernels.py).
KERNELS: dict = {B.ndarray: _sweep}


def _run_sweep(sweep, xp, X, w, b, y, chunk, grad_w, grad_b, keep_r):
    """`sweep`, with one output given as a column (w of shape (D, 1)) run as a vector: matrix-
    vector products are faster, and device kernels take that case."""
    if w.ndim == 2 and w.shape[1] == 1:
        sq, gw, gb, R = sweep(xp, X, w[:, 0], None if b is None else b.reshape(1), y[:, 0],
                              chunk, grad_w, grad_b, keep_r)
        return (sq, None if gw is None else gw[:, None], None if gb is None else gb.reshape(1),
                None if R is None else R[:, None])
    return sweep(xp, X, w, b, y, chunk, grad_w, grad_b, keep_r)


def _sweep_for(array_type):
    k = KERNELS.get(array_type)
    if k is None:
        from ..kernels import linear_mse as cuda

        k = KERNELS[array_type] = functools.partial(cuda.sweep, fallback=_sweep)
    return k


def _scale(y, g):
    n = y._data.size
    return g * (2.0 / n if n else B.nan)


def _bias_grad(t, shape):
    """Reduce a cotangent over the output's trailing dims to the bias's `shape`."""
    extra = len(shape) - t._data.ndim
    if extra > 0:
        t = t.reshape((1,) * extra + t._data.shape)
    return sum_to(t, shape)


def _linear_mse_vjp(n, g):
    X, w, b, y, (gw, gb, R) = n.saved
    nX, nw, nb, ny = n.needs
    s = _scale(y, g)
    if state.grad_enabled or fw_levels[0]:
        # A graph to build: the composite's rule in gpugrad ops, differentiable again.
        sr = s * _residual(X, w, b, y)
        return (_outer_w(sr, w) if nX else None, X.mT @ sr if nw else None,
                sum_to(sr, b._data.shape) if nb else None, -sr if ny else None)
    sr = s * _wrap(R) if R is not None else None
    return (_outer_w(sr, w) if nX else None, s * _wrap(gw) if nw else None,
            _bias_grad(s * _wrap(gb), b._data.shape) if nb else None, -sr if ny else None)


def _residual(X, w, b, y):
    """X w + b - y, in gpugrad ops."""
    r = X @ w
    return (r if b is None else r + b) - y


def _outer_w(sr, w):
    """d loss / dX from the scaled residual: sr w^T."""
    return sr.unsqueeze(-1) * w if w._data.ndim == 1 else sr @ w.mT


def _linear_mse_jvp(ts, out, args, params):
    (tX, tw, tb, ty), (X, w, b, y) = ts, args
    r = _residual(X, w, b, y)
    dr = None
    for term in (None if tX is None else tX @ w, None if tw is None else X @ tw, tb,
                 None if ty is None else -ty):
        if term is not None:
            dr = term if dr is None else dr + term
    return _scale(y, (r * dr).sum())


LINEAR_MSE = defop("linear_mse", _sweep, _linear_mse_vjp, _linear_mse_jvp, save="all",
                   node_name="LinearMseBackward0")


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
    name = "linear_mse_loss"
    _check(name, input, weight, target, bias)
    args = (input, weight, bias, target)
    record = state.grad_enabled and any(a is not None and a._rg for a in args)
    nX, nw, nb, ny = (record and a is not None and a._rg for a in args)
    Xd = input._data
    xp = B._XP[type(Xd)]
    if chunk is None and not record:
        chunk = Xd.shape[0] or 1  # the value alone: no second use of a chunk to keep in cache
    chunk = B.row_chunk(Xd, chunk)
    sweep = _sweep_for(type(Xd))
    try:
        sq, gw, gb, R = _run_sweep(sweep, xp, Xd, weight._data,
                                   None if bias is None else bias._data, target._data, chunk,
                                   nw, nb, nX or ny)
    except Exception as exc:
        raise op_error(name, exc, tuple(a for a in args if a is not None)) from None
    n = target._data.size
    return _finish(LINEAR_MSE, xp.asarray(sq / n if n else B.nan, dtype=Xd.dtype), args,
                   (chunk,), record, (gw, gb, R))


def _finish(op, out, args, params, record, aux):
    """Wrap a fused forward's result; record its node, with `aux` (the arrays its forward
    made for the vjp) saved after the inputs, and push forward-mode tangents."""
    t = _wrap(out)
    if record:
        _record(op, t, args, params)
        t.grad_fn.saved += (aux,)
    if fw_levels[0]:
        _push_tangent(op, t, args, params)
    return t


# ----------------------------------------------------------------------------- cross-entropy


def _ce_fwd(xp, x, t, reduction, keep_p):
    """-log_softmax(x, 1) at the classes `t`, reduced; and softmax(x, 1) when `keep_p`."""
    m = x.max(axis=1, keepdims=True)
    z = x - xp.where(xp.isfinite(m), m, 0.0)  # shifted by the max: exp never overflows
    e = xp.exp(z)
    s = e.sum(axis=1, keepdims=True)
    nll = (xp.log(s) - xp.take_along_axis(z, t[:, None], axis=1))[:, 0]
    if reduction == "mean":
        loss = nll.sum() / nll.shape[0] if nll.shape[0] else xp.asarray(B.nan, x.dtype)
    else:
        loss = nll.sum() if reduction == "sum" else nll
    return xp.asarray(loss, dtype=x.dtype), (e / s if keep_p else None)


def _ce_scale(g, reduction, n):
    """The cotangent of each row's loss, as a column (or one value); tensors or arrays."""
    if reduction == "mean":
        return g / n if n else g * B.nan
    return g if reduction == "sum" else g[:, None]


def _ce_vjp(n, g):
    x, t, p = n.saved
    reduction = n.params[0]
    rows = x._data.shape[0]
    if state.grad_enabled or fw_levels[0]:
        return ((softmax(x, 1) - _one_hot(t, x)) * _ce_scale(g, reduction, rows), None)
    gd = g._data
    scale = _ce_scale(gd, reduction, rows)
    r = p * scale
    r[B._XP[type(gd)].arange(rows), t._data] -= scale.reshape(-1)  # softmax - one_hot(t)
    return (_wrap(r), None)


def _one_hot(t, like):
    classes = arange(like._data.shape[1], dtype=t.dtype, device=like.device)
    return (classes == t.unsqueeze(1)).to(like.dtype)


def _ce_jvp(ts, out, args, params):
    (tx, _), (x, t) = ts, args
    per_row = (softmax(x, 1) * tx).sum(1) - tx.gather(1, t.unsqueeze(1)).squeeze(1)
    reduction = params[0]
    if reduction == "none":
        return per_row
    return per_row.mean() if reduction == "mean" else per_row.sum()


CROSS_ENTROPY = defop("cross_entropy", _ce_fwd, _ce_vjp, _ce_jvp, save="all",
                      node_name="NllLossBackward0")


def cross_entropy(input, target, reduction):
    """Cross-entropy of logits (N, C) at integer classes (N,), in one node: the forward keeps
    the softmax that the vjp, softmax - one_hot, needs."""
    record = state.grad_enabled and input._rg
    xd = input._data
    try:
        out, p = _ce_fwd(B._XP[type(xd)], xd, target._data, reduction, record)
    except IndexError as exc:
        raise IndexError(f"cross_entropy: a target class index is out of range for "
                         f"{xd.shape[1]} classes ({exc})") from None
    except Exception as exc:
        raise op_error("cross_entropy", exc, (input, target)) from None
    return _finish(CROSS_ENTROPY, out, (input, target), (reduction,), record, p)


__all__ = ["linear_mse_loss"]
