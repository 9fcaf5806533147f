"""Reductions: sum, prod, amax, amin, norm (primitives); mean, var, std, logsumexp, max, min."""

from __future__ import annotations

import builtins
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from .. import backend as B
from ..core.dims import norm_dim, reduce_dims
from ..core.tensor import Tensor
from .elementwise import linear_op, maximum, minimum, where
from .namespace import cast_like
from .registry import apply, defop, named, public
from .shape import gather


def _kshape(shape, dims):
    """`shape` with the reduced `dims` kept as size 1."""
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_back(F, g, x_shape, dims, keepdim):
    """Broadcast a reduced cotangent back over the reduced dims."""
    if not keepdim:
        ks = _kshape(x_shape, dims)
        g = F.reshape(g, ks, tuple(g.shape))
    return F.expand(g, x_shape, tuple(g.shape))


def _count(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def weighted(name, fwd, w, **kw):
    """Register a reduction whose derivative is a weight field ``w(F, x, out, dims, keepdim)``
    over its input: vjp ``expand(g) * w``, jvp ``sum(t * w)`` (one formula, both modes)."""
    def vjp(F, g, args, out, n):
        dims, keepdim, x_shape = n.params
        return (_expand_back(F, g, x_shape, dims, keepdim) * w(F, args[0], out, dims, keepdim),)

    def jvp(F, ts, args, out, params):
        dims, keepdim, x_shape = params
        return F.sum(ts[0] * w(F, args[0], out, dims, keepdim), dims, keepdim, x_shape)

    return defop(name, fwd, vjp, jvp, save=((0,),), save_out=True, **kw)


def _reduce_fwd(fn):
    def fwd(xp, x, dims, keepdim, shape):
        if x.dtype == B.float16.np:  # accumulate float16 in float32, as PyTorch does
            return getattr(xp, fn)(x, axis=dims, keepdims=keepdim,
                                   dtype=B.float32.np).astype(x.dtype)
        if x.dtype.kind in "iub":  # integers sum to int64, as in PyTorch
            return getattr(xp, fn)(x, axis=dims, keepdims=keepdim, dtype=B.int64.np)
        return getattr(xp, fn)(x, axis=dims, keepdims=keepdim)
    return fwd


# ----------------------------------------------------------------------------- sum


def _sum_vjp(F, g, args, out, n):
    dims, keepdim, x_shape = n.params
    return (_expand_back(F, g, x_shape, dims, keepdim),)


SUM = linear_op("sum", _reduce_fwd("sum"), _sum_vjp)


@public("Reductions")
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over `dim` (an int, a tuple, or all dims when None); keep reduced dims with `keepdim`.

    Example: ``gpugrad.tensor([[1., 2.], [3., 4.]]).sum(0)`` -> tensor([4., 6.])
    """
    return _accumulate(SUM, input, dim, keepdim, dtype)


def _accumulate(op, input, dim, keepdim, dtype):
    """Run sum or prod: optional cast, dims normalised, bools counted as int64 (as torch)."""
    if dtype is not None:
        input = input.to(dtype)
    x_shape = input._data.shape
    dims = reduce_dims(op.name, dim, len(x_shape))
    if input._data.dtype.kind == "b":
        input = input.to(B.int64)
    out = apply(op, (input,), (dims, keepdim, x_shape))
    # PyTorch's overload over dims (x.sum(0): SumBackward1) has its own node name.
    return out if dim is None else named(out, op.node_name[:-1] + "1")


# ----------------------------------------------------------------------------- prod


def _prod_grad(F, x, out, dims, keepdim):
    """d prod / d x_i = prod of the others, exact with zeros (no division by a zero)."""
    shape = tuple(x.shape)
    if not keepdim:
        out = F.reshape(out, _kshape(shape, dims), tuple(out.shape))
    zero = x == 0
    nz = F.where(zero, 1.0, x)
    n_zeros = F.sum(cast_like(F, zero, x), dims, True, shape)
    prod_nz = F.prod(nz, dims, True, shape)
    only_zero = F.where(n_zeros == 1, prod_nz, 0.0)
    return F.where(zero, F.expand(only_zero, shape, tuple(only_zero.shape)), out / nz)


PROD = weighted("prod", _reduce_fwd("prod"), _prod_grad)


@public("Reductions")
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over `dim` (one dim, or all when None); the gradient is exact when entries are 0."""
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod: dim must be an int or None, got {dim!r}")
    return _accumulate(PROD, input, dim, keepdim, dtype)


# ----------------------------------------------------------------------------- amax, amin


def _ext_weights(F, x, out, dims, keepdim):
    # The gradient of a max is split evenly among the entries that attain it (PyTorch's rule).
    shape = tuple(x.shape)
    if not keepdim:
        out = F.reshape(out, _kshape(shape, dims), tuple(out.shape))
    m = cast_like(F, x == out, x)
    return m / F.sum(m, dims, True, shape)


def _ext_fwd(fn):
    def fwd(xp, x, dims, keepdim, shape):
        if x.size == 0 and _count(shape, dims or range(len(shape))) == 0:
            raise RuntimeError("cannot reduce over a zero-size dimension (no identity)")
        return getattr(xp, fn)(x, axis=dims, keepdims=keepdim)
    return fwd


# Both primitives (not amin(x) = -amax(-x)): one node each, named as in PyTorch.
AMAX = weighted("amax", _ext_fwd("amax"), _ext_weights)
AMIN = weighted("amin", _ext_fwd("amin"), _ext_weights)


@public("Reductions")
def amax(input, dim=None, keepdim=False):
    """Maximum over `dim` (all dims when None); ties share the gradient evenly."""
    dims = reduce_dims("amax", dim, input._data.ndim)
    return apply(AMAX, (input,), (dims, keepdim, input._data.shape))


@public("Reductions")
def amin(input, dim=None, keepdim=False):
    """Minimum over `dim` (all dims when None); ties share the gradient evenly."""
    dims = reduce_dims("amin", dim, input._data.ndim)
    return apply(AMIN, (input,), (dims, keepdim, input._data.shape))


# ----------------------------------------------------------------------------- norm


def _norm_dir(F, x, out, dims, keepdim):
    # d||x|| / dx = x / ||x||, taken as 0 where ||x|| = 0 (PyTorch's subgradient).
    if not keepdim:
        out = F.reshape(out, _kshape(tuple(x.shape), dims), tuple(out.shape))
    zero = out == 0
    return F.where(zero, 0.0, x / F.where(zero, 1.0, out))


# A primitive, not sqrt(sum(x * x)): its gradient at 0 is 0, where the composite's is NaN.
def _norm_fwd(xp, x, dims, keepdim, shape):
    a = x.astype(B.float32.np) if x.dtype == B.float16.np else x  # float16: float32 inside
    return xp.sqrt(xp.sum(a * a, axis=dims, keepdims=keepdim)).astype(x.dtype, copy=False)


NORM = weighted("norm", _norm_fwd, _norm_dir, node_name="LinalgVectorNormBackward0")


@public("Reductions")
def norm(input, p="fro", dim=None, keepdim=False):
    """The p-norm over `dim` (all dims when None): p = 2 / "fro" (default), 1, inf, -inf, or any
    number. The gradient of the 2-norm at 0 is 0, as in PyTorch.
    """
    if input._data.dtype.kind != "f":
        raise TypeError(f"norm: expected a floating-point tensor, got {input.dtype}")
    dims = reduce_dims("norm", dim, input._data.ndim)
    if p in ("fro", 2, 2.0):
        return apply(NORM, (input,), (dims, keepdim, input._data.shape))
    if p == builtins.float("inf"):
        r = amax(input.abs(), dim, keepdim)
    elif p == -builtins.float("inf"):
        r = amin(input.abs(), dim, keepdim)
    elif p == 1:
        r = sum(input.abs(), dim, keepdim)
    elif p == 0:
        r = sum((input != 0).to(input.dtype), dim, keepdim)
    elif isinstance(p, (int, builtins.float)):
        # Zeros take PyTorch's subgradient 0: where twice keeps |x|**p (p < 1) and s**(1/p)
        # off 0 in the differentiated branch, so no inf * 0 = NaN.
        a = input.abs()
        az = a == 0
        s = sum(where(az, 0.0, where(az, 1.0, a) ** p) if p > 0 else a ** p, dim, keepdim)
        sz = s == 0
        r = where(sz, 0.0, where(sz, 1.0, s) ** (1.0 / p)) if p > 0 else s ** (1.0 / p)
    else:
        raise ValueError(f"norm: unsupported p={p!r}; use 'fro', a number, inf or -inf")
    return named(r, "LinalgVectorNormBackward0")


# ----------------------------------------------------------------------------- no gradient


def _argfwd(fn):
    def fwd(xp, x, dim, keepdim):
        if x.size == 0 and (dim is None or x.shape[dim] == 0):
            raise RuntimeError("cannot take the arg of an empty tensor")
        r = getattr(xp, fn)(x, axis=dim, keepdims=keepdim if dim is not None else False)
        if dim is None and keepdim:
            r = r.reshape((1,) * x.ndim)
        return xp.asarray(r).astype(B.numpy.int64, copy=False)
    return fwd


def _index_reduce(name) -> Callable[..., Tensor]:
    op = defop(name, _argfwd(name))

    def fn(input, dim=None, keepdim=False):
        if dim is not None:
            dim = norm_dim(name, dim, input._data.ndim) if input._data.ndim else (
                norm_dim(name, dim, 0) and None)
        return apply(op, (input,), (dim, keepdim))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Indices of the {name[3:]}imum values over `dim` (of the flattened tensor " \
                 "when None), as int64."
    return public("Reductions")(fn)


argmax = _index_reduce("argmax")
argmin = _index_reduce("argmin")


def _bool_reduce(name) -> Callable[..., Tensor]:
    # uint8 in, uint8 out (PyTorch's rule); every other dtype gives bool
    op = defop(name, lambda xp, x, dims, keepdim: getattr(xp, name)(
        x, axis=dims, keepdims=keepdim).astype(B.uint8.np if x.dtype == B.uint8.np else bool,
                                              copy=False))

    def fn(input, dim=None, keepdim=False):
        return apply(op, (input,), (reduce_dims(name, dim, input._data.ndim), keepdim))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"True where {'every' if name == 'all' else 'some'} element over `dim` is nonzero."
    return public("Reductions")(fn)


all = _bool_reduce("all")
any = _bool_reduce("any")

# ----------------------------------------------------------------------------- composites

values_indices = namedtuple("values_indices", ["values", "indices"])


@public("Reductions")
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over `dim` (all dims when None). Floating-point tensors only, as in PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean: could not infer the output dtype: the input has dtype "
                           f"{input.dtype}; use a floating-point tensor (e.g. x.float())")
    dims = reduce_dims("mean", dim, input._data.ndim)
    half = input._data.dtype == B.float16.np  # float16: accumulate and divide in float32
    total = sum(input.to(B.float32) if half else input, None if dim is None else dims, keepdim)
    r = total / _count(input._data.shape, dims)
    return named(r.to(B.float16) if half else r,
                 "MeanBackward0" if dim is None else "MeanBackward1")


@public("Reductions")
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over `dim` with Bessel's correction (``correction=1``) unless told otherwise."""
    return _var("var", input, dim, unbiased, keepdim, correction)


def _var(name, input, dim, unbiased, keepdim, correction):
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{name}: expected a floating-point tensor, got {input.dtype}")
    dims = reduce_dims(name, dim, input._data.ndim)
    half = input._data.dtype == B.float16.np  # float16: accumulate in float32
    x = input.to(B.float32) if half else input
    d = x - mean(x, dims, keepdim=True)
    n = builtins.max(_count(input._data.shape, dims) - correction, 0)
    r = sum(d * d, dims, keepdim) / n
    return named(r.to(B.float16) if half else r, "VarBackward0")


@public("Reductions")
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation over `dim` (square root of ``var``); its gradient where the data are
    constant (std 0) is 0, PyTorch's subgradient."""
    v = _var("std", input, dim, unbiased, keepdim, correction)
    zero = v == 0
    # where twice: the sqrt branch never sees 0, so no inf * 0 = NaN reaches the gradient
    return named(where(zero, 0.0, where(zero, 1.0, v).sqrt()), "StdBackward0")


@public("Reductions")
def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over `dim`, computed without overflow (shifted by the max)."""
    dims = reduce_dims("logsumexp", dim, input._data.ndim)
    if input._data.dtype.kind != "f":
        input = input.to(B.get_default_dtype())
    if _count(input._data.shape, dims) == 0:  # the log of an empty sum, as in PyTorch
        return named(sum(input, dims, keepdim) - builtins.float("inf"), "LogsumexpBackward0",
                     input)
    m = amax(input.detach(), dims, keepdim=True)
    m = where(m.isfinite(), m, 0.0)
    r = (input - m).exp().sum(dims, keepdim=True).log() + m
    if not keepdim:
        r = r.reshape(tuple(s for i, s in enumerate(r._data.shape) if i not in dims))
    return named(r, "LogsumexpBackward0", input)


def _extreme(name, full, binary, arg) -> Callable[..., Any]:
    node = name.capitalize() + "Backward"

    def fn(input, dim=None, keepdim=False) -> Any:
        if dim is None:
            return named(full(input), node + "1")
        if isinstance(dim, Tensor):
            return binary(input, dim)
        dim = norm_dim(name, dim, input._data.ndim)
        if input._data.ndim and input._data.shape[dim] == 0:
            raise IndexError(f"{name}: Expected reduction dim {dim} to have non-zero size "
                             f"(input of shape {tuple(input._data.shape)})")
        idx = arg(input, dim, keepdim=True)
        values = gather(input, dim, idx)
        if not keepdim:
            values = values.squeeze(dim)
            idx = idx.squeeze(dim)
        return values_indices(named(values, node + "0", input), idx)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"``{name}(x)``: the {name}imum of all elements; ``{name}(x, dim)``: "
                  f"(values, indices) over `dim`, the gradient going to the index taken; "
                  f"``{name}(x, other)``: elementwise {name}imum.")
    return public("Reductions")(fn)


max = _extreme("max", amax, maximum, argmax)
min = _extreme("min", amin, minimum, argmin)
