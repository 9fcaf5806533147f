"""matmul and linear (primitives) and their composites: mm, mv, dot, outer, bmm, inner."""

from __future__ import annotations

from .. import backend as B
from ..core.tensor import Tensor
from .namespace import mT, sum_to
from .registry import apply, defop, named, public


def _col(F, v):
    """`v` with a trailing dim of size 1 (a column)."""
    s = tuple(v.shape)
    return F.reshape(v, s + (1,), s)


def _row(F, v):
    """`v` with a size-1 dim before its last (a row)."""
    s = tuple(v.shape)
    return F.reshape(v, s[:-1] + (1,) + s[-1:], s)


def _drop(F, v, axis):
    """`v` without its size-1 dim `axis` (-1 or -2)."""
    s = tuple(v.shape)
    return F.reshape(v, s[:axis] + (s[axis + 1:] if axis != -1 else ()), s)


def _matmul_vjp(F, g, args, out, n):
    a, b = args
    sa, sb = n.params
    na, nb = n.needs
    ga = gb = None
    # No transposed copies: a transposed operand is a strided view that BLAS reads directly,
    # and the vector cases are written as vector-matrix products.
    if len(sa) == 1 and len(sb) == 1:
        ga = g * b if na else None
        gb = g * a if nb else None
    elif len(sb) == 1:
        if na:
            ga = sum_to(F, _col(F, g) * b, sa)
        if nb:
            gb = g @ a if len(sa) == 2 else sum_to(F, _drop(F, _row(F, g) @ a, -2), sb)
    elif len(sa) == 1:
        if na:
            ga = b @ g if len(sb) == 2 else sum_to(F, _drop(F, b @ _col(F, g), -1), sa)
        if nb:
            gb = sum_to(F, _col(F, a) * _row(F, g), sb)
    else:
        if na:
            ga = sum_to(F, g @ mT(F, b), sa)
        if nb:
            gb = sum_to(F, mT(F, a) @ g, sb)
    return ga, gb


def _matmul_jvp(F, ts, args, out, params):
    (ta, tb), (a, b) = ts, args
    r = None if ta is None else ta @ b
    if tb is not None:
        r = a @ tb if r is None else r + a @ tb
    return r


def _matmul_name(params):
    """PyTorch's node for a matmul of these ranks (its other cases are views around bmm)."""
    ranks = (len(params[0]), len(params[1]))
    return {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0"}.get(
        ranks, "MatmulBackward0")


MATMUL = defop("matmul", lambda xp, a, b, sa, sb: xp.matmul(a, b), _matmul_vjp, _matmul_jvp,
               save=((1,), (0,)), nin=2, promote=(0, 1), node_name=_matmul_name)


def _linear_fwd(xp, x, W, b):
    out = xp.matmul(x, W.T)
    if b is not None:
        out += b  # a fresh array: no second one for the sum
    return out


def _linear_vjp(F, g, args, out, n):
    x, W, _ = args
    nx, nW, nb = n.needs
    gx = g @ W if nx else None
    if x is not None and x.ndim == 1:  # a single vector: gW is an outer product
        return gx, g[..., None] * x if nW else None, g if nb else None
    # Batch dims folded into rows: gW = g^T x is one product, laid out as W (no copy).
    g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
    x2 = x.reshape(-1, x.shape[-1]) if nW and x.ndim != 2 else x
    return gx, g2.T @ x2 if nW else None, g2.sum(0) if nb else None


def _linear_jvp(F, ts, args, out, params):
    (tx, tW, tb), (x, W, _) = ts, args
    r = None if tx is None else tx @ W.mT
    if tW is not None:
        r = x @ tW.mT if r is None else r + x @ tW.mT
    if tb is not None:
        r = tb.expand(*out._data.shape) if r is None else r + tb
    return r


# input @ weight^T + bias, as nn.Linear computes it: one node, and the weight's gradient in
# the weight's own layout (the composite would transpose it back and copy it into .grad).
LINEAR = defop("linear", _linear_fwd, _linear_vjp, _linear_jvp, save=((1,), (0,), ()), nin=3,
               node_name="AddmmBackward0")


def _check_matmul(name, a, b):
    sa, sb = a._data.shape, b._data.shape
    if not sa or not sb:
        raise RuntimeError(f"{name}: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(sa)} and {tuple(sb)}")
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise RuntimeError(f"{name}: shapes {tuple(sa)} and {tuple(sb)} cannot be multiplied "
                           f"(inner dimensions {k_a} and {k_b} differ)")
    if len(sa) > 2 and len(sb) > 2:
        try:
            B.numpy.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise RuntimeError(f"{name}: batch dimensions of shapes {tuple(sa)} and {tuple(sb)} "
                               "cannot be broadcast") from None


@public("Linear algebra", first_tensor=False)
def matmul(input, other):
    """Matrix product with NumPy/PyTorch semantics: 1-D, 2-D, batched and broadcast batches.

    Example: ``gpugrad.randn(2, 3) @ gpugrad.randn(3)`` has shape (2,).
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"matmul: expected two tensors, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    _check_matmul("matmul", input, other)
    return apply(MATMUL, (input, other), (input._data.shape, other._data.shape))


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` for a 2-D weight (out_features, in_features), as one node."""
    dt = input._data.dtype
    if (weight._data.ndim == 2 and weight._data.dtype == dt and input._data.ndim >= 1
            and (bias is None or (bias._data.shape == weight._data.shape[:1]
                                  and bias._data.dtype == dt))):
        out = apply(LINEAR, (input, weight, bias))
        return out if bias is not None or input._data.ndim != 2 else named(out, "MmBackward0")
    out = input @ weight.mT if weight._data.ndim >= 2 else input @ weight
    return out if bias is None else out + bias


def _need_dims(name, what, *pairs):
    """Check each (tensor, ndim) pair; the error names the op and the shapes."""
    if any(t._data.ndim != n for t, n in pairs):
        shapes = " and ".join(str(tuple(t._data.shape)) for t, _ in pairs)
        raise RuntimeError(f"{name}: expected {what}, got shapes {shapes}")


@public("Linear algebra")
def mm(input, mat2):
    """Product of two 2-D matrices."""
    _need_dims("mm", "2-D tensors", (input, 2), (mat2, 2))
    return matmul(input, mat2)


@public("Linear algebra")
def mv(input, vec):
    """Product of a 2-D matrix and a 1-D vector."""
    _need_dims("mv", "a 2-D matrix and a 1-D vector", (input, 2), (vec, 1))
    return matmul(input, vec)


@public("Linear algebra")
def bmm(input, mat2):
    """Batched product of two 3-D tensors."""
    _need_dims("bmm", "3-D tensors", (input, 3), (mat2, 3))
    return named(matmul(input, mat2), "BmmBackward0")


@public("Linear algebra", aliases=("inner",))
def dot(input, other):
    """Inner product of two 1-D tensors of the same length."""
    _need_dims("dot", "1-D tensors", (input, 1), (other, 1))
    if input._data.shape != other._data.shape:
        raise RuntimeError(f"dot: inconsistent tensor sizes {input._data.shape[0]} and "
                           f"{other._data.shape[0]}")
    return matmul(input, other)


@public("Linear algebra")
def vdot(input, other):
    """Inner product of two 1-D tensors (real tensors: the same as ``dot``)."""
    return named(dot(input, other), "VdotBackward0")



@public("Linear algebra", aliases=("ger",))
def outer(input, vec2):
    """Outer product of two 1-D tensors: ``out[i, j] = a[i] * b[j]``."""
    _need_dims("outer", "1-D tensors", (input, 1), (vec2, 1))
    return input.unsqueeze(1) * vec2.unsqueeze(0)
