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


class _Zeros:
    """Where a slice along `dim` has its first and second zero (masks), x with them set to 1
    and the cumprods of those, and x_z (the first zero, 0 but differentiable) per slice."""

    def __init__(self, F, x, dim, like):
        self.zero = zero = x == 0
        seen = F.cumsum(cast_like(F, zero, like), dim)
        self.before = seen == 0
        self.first = zero & (seen == 1)
        self.second = zero & (seen == 2)
        self.upto2 = seen < 2
        self.safe = F.where(zero, 1.0, x)
        shape = tuple(x.shape)
        self.xz = F.sum(F.where(self.first, x, 0.0), (dim,), True, shape)
        self.out1 = F.cumprod(F.where(self.first, 1.0, x), dim)
        self.out2 = F.cumprod(F.where(self.first | self.second, 1.0, x), dim) \
            if bool(self.second.any()) else None


def _cumprod_vjp(F, g, args, out, n):
    # out_j = prod_{i <= j} x_i, so d out_j / d x_k = prod_{i <= j, i != k} x_i for j >= k.
    # Without zeros: grad_k = sum_{j >= k} g_j out_j / x_k. With zeros (z, z2 the first two
    # of a slice): that formula before z; at z the products skip x_z (out1: cumprod with
    # x_z = 1); after z every term holds the factor x_z, kept as such (x_z * .../x_k, and at
    # z2 x_z * sum g_j out2_j) so that the second derivative is exact too. No division by 0.
    (x,), dim = args, n.params[0]
    if len(x.shape) == 0:
        return (g,)
    if not bool((x == 0).any()):
        return (_rev_cumsum(F, g * out, dim) / x,)
    z = _Zeros(F, x, dim, g)
    at_z = _rev_cumsum(F, g * z.out1, dim)
    after = z.xz * at_z / z.safe
    if z.out2 is not None:
        after = F.where(z.second, z.xz * _rev_cumsum(F, g * z.out2, dim), after)
    return (F.where(z.before, _rev_cumsum(F, g * out, dim) / z.safe,
                    F.where(z.first, at_z, after)),)


def _cumprod_jvp(F, ts, args, out, params):
    # d out_j = sum_{k <= j} t_k prod_{i <= j, i != k} x_i. Before z: out_j sum_{k <= j}
    # t_k / x_k. From z on: t_z out1_j + x_z D1_j, D1 the same sum for x with x_z = 1 and
    # t_z = 0 (the k != z terms, which hold the factor x_z): out1_j sum t_k / x_k before z2,
    # t_z2 out2_j from z2 on (the rest holds x_z x_z2: 0 to second order).
    (t,), (x,), dim = ts, args, params[0]
    if len(x.shape) == 0:
        return t
    if not bool((x == 0).any()):
        return out * F.cumsum(t / x, dim)
    z = _Zeros(F, x, dim, t)
    shape = tuple(x.shape)
    r = F.cumsum(F.where(z.before, t / z.safe, 0.0), dim)
    tz = F.sum(F.where(z.first, t, 0.0), (dim,), True, shape)
    d1 = z.out1 * F.cumsum(F.where(z.upto2 & ~z.first, t / z.safe, 0.0), dim)
    if z.out2 is not None:
        tz2 = F.sum(F.where(z.second, t, 0.0), (dim,), True, shape)
        d1 = F.where(z.upto2, d1, tz2 * z.out2)
    return F.where(z.before, out * r, tz * z.out1 + z.xz * d1)


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

