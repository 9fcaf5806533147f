"""Scans along one dim: cumsum and cumprod (primitives)."""

from __future__ import annotations

from .. import backend as B
from ..core.dims import norm_dim
from .elementwise import linear_op
from .namespace import cast_like
from .registry import apply, defop, public


def _scan_fwd(fn):
    def fwd(xp, x, dim):
        return x.copy() if x.ndim == 0 else getattr(xp, fn)(x, axis=dim)
    return fwd


def _rev_cumsum(F, g, dim):
    """``sum_{j >= i} g_j`` along `dim`: the transpose of cumsum."""
    if len(g.shape) == 0:
        return g
    return F.flip(F.cumsum(F.flip(g, (dim,)), dim), (dim,))


def _cumsum_vjp(F, g, args, out, n):
    return (_rev_cumsum(F, g, n.params[0]),)


CUMSUM = linear_op("cumsum", _scan_fwd("cumsum"), _cumsum_vjp)


def _cumprod_vjp(F, g, args, out, n):
    # out_j = prod_{i <= j} x_i, so d out_j / d x_k = prod_{i <= j, i != k} x_i for j >= k.
    # Without zeros: grad_k = sum_{j >= k} g_j out_j / x_k. With zeros (z the first zero of
    # a slice): that formula holds before z; at z the product skips x_z (cumprod of x with
    # x_z = 1); after z every term holds the factor x_z (written as such, so that the second
    # derivative in x_z is right too). No division by a zero anywhere.
    (x,), dim = args, n.params[0]
    if len(x.shape) == 0:
        return (g,)
    zero = x == 0
    if not bool(zero.any()):
        return (_rev_cumsum(F, g * out, dim) / x,)
    seen = F.cumsum(cast_like(F, zero, g), dim)
    before = seen == 0
    first = zero & (seen == 1)
    safe = F.where(zero, 1.0, x)
    out1 = F.cumprod(F.where(first, 1.0, x), dim)
    shape = tuple(x.shape)
    xz = F.sum(F.where(first, x, 0.0), (dim,), True, shape)
    at_z = _rev_cumsum(F, g * out1, dim)
    return (F.where(before, _rev_cumsum(F, g * out, dim) / safe,
                    F.where(first, at_z, xz * at_z / safe)),)


def _cumprod_jvp(F, ts, args, out, params):
    # The vjp's transpose: sum_{k <= j} t_k prod_{i <= j, i != k} x_i, via the vjp's formula
    # on each basis direction would cost n passes; the product rule as a scan is exact
    # without zeros, and with zeros it is written with the same split as the vjp.
    (t,), (x,), dim = ts, args, params[0]
    if len(x.shape) == 0:
        return t
    zero = x == 0
    if not bool(zero.any()):
        return out * F.cumsum(t / x, dim)
    seen = F.cumsum(cast_like(F, zero, t), dim)
    before = seen == 0
    first = zero & (seen == 1)
    safe = F.where(zero, 1.0, x)
    # Before z (and at positions j < z): out_j * sum_{k <= j} t_k / x_k.
    r = F.cumsum(F.where(before, t / safe, 0.0), dim)
    # From z on: only the terms k = z survive the factor x_z = 0 (k > z terms hold x_z):
    # t_z * prod_{i <= j, i != z} x_i = t_z * cumprod(x with x_z = 1)_j, plus the terms of a
    # second zero, which hold x_z, hence 0.
    out1 = F.cumprod(F.where(first, 1.0, x), dim)
    shape = tuple(x.shape)
    tz = F.sum(F.where(first, t, 0.0), (dim,), True, shape)
    return F.where(before, out * r, tz * out1)


CUMPROD = defop("cumprod", _scan_fwd("cumprod"), _cumprod_vjp, _cumprod_jvp, save=((0,),),
                save_out=True)


def _scan(op, name, input, dim, dtype):
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(B.int64)  # integer scans accumulate in int64, as in PyTorch
    d = norm_dim(name, dim, input._data.ndim)
    return apply(op, (input,), (d,))


@public("Reductions")
def cumsum(input, dim, *, dtype=None):
    """Cumulative sum along `dim`: ``out[i] = input[0] + ... + input[i]``.

    Example: ``gpugrad.cumsum(gpugrad.tensor([1., 2., 3.]), 0)`` -> tensor([1., 3., 6.])
    """
    return _scan(CUMSUM, "cumsum", input, dim, dtype)


@public("Reductions")
def cumprod(input, dim, *, dtype=None):
    """Cumulative product along `dim`; its gradient is exact where entries are 0.

    Example: ``gpugrad.cumprod(gpugrad.tensor([1., 2., 3.]), 0)`` -> tensor([1., 2., 6.])
    """
    return _scan(CUMPROD, "cumprod", input, dim, dtype)

