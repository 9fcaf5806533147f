"""Reductions: sum, prod, amax, amin, norm (primitives); mean, var, std, logsumexp, max, min."""

from __future__ import annotations

import builtins
from collections import namedtuple
from collections.abc import Callable

from .. import backend as B
from ..autograd.grad_mode import fw_levels, state
from ..tensor import Tensor, _wrap
from .registry import apply1, defop
from .shape import norm_dims


def _kshape(shape, dims):
    """`shape` with the reduced `dims` kept as size 1."""
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_back(g, x_shape, dims, keepdim):
    """Broadcast a reduced cotangent back over the reduced dims."""
    if not keepdim:
        g = g.reshape(_kshape(x_shape, dims))
    return g.expand(*x_shape)


def _count(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _weighted(w) -> tuple[Callable, Callable]:
    """vjp and jvp of a reduction whose derivative is a weight field ``w(x, out, dims, keepdim)``
    over its input: vjp is ``expand(g) * w``, jvp is ``sum(t * w)`` (one formula, both modes)."""
    def vjp(n, g):
        dims, keepdim, x_shape = n.params
        return (_expand_back(g, x_shape, dims, keepdim) * w(n.saved[0], n.out(), dims, keepdim),)

    def jvp(ts, out, args, params):
        dims, keepdim, _ = params
        return sum(ts[0] * w(args[0], out, dims, keepdim), dims, keepdim)

    return vjp, jvp


# ----------------------------------------------------------------------------- sum


def _sum_vjp(n, g):
    dims, keepdim, x_shape = n.params
    if not (state.grad_enabled or fw_levels[0]):  # no graph to build: a view of g's array
        gd = g._data
        if not keepdim:
            gd = gd.reshape(_kshape(x_shape, dims))
        return (_wrap(B.xp_of(gd).broadcast_to(gd, x_shape)),)
    return (_expand_back(g, x_shape, dims, keepdim),)


def _sum_jvp(ts, out, args, params):
    dims, keepdim, _ = params
    return sum(ts[0], dims, keepdim)


SUM = defop("sum", lambda xp, x, dims, keepdim, shape: xp.sum(x, axis=dims, keepdims=keepdim),
            _sum_vjp, _sum_jvp)


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
    dims = norm_dims(op.name, dim, len(x_shape))
    if input._data.dtype.kind == "b":
        input = input.to(B.int64)
    return apply1(op, input, (dims, keepdim, x_shape))


# ----------------------------------------------------------------------------- prod


def _prod_grad(x, out, dims, keepdim):
    """d prod / d x_i = prod of the others, exact with zeros (no division by a zero)."""
    if not keepdim:
        out = out.reshape(_kshape(x._data.shape, dims))
    zero = x == 0
    nz = _where(zero, 1.0, x)
    n_zeros = zero.to(x.dtype).sum(dims, keepdim=True)
    prod_nz = apply1(PROD, nz, (dims, True, nz._data.shape))
    only_zero = _where(n_zeros == 1, prod_nz, 0.0)
    return _where(zero, only_zero.expand(*x._data.shape), out / nz)


def _where(c, a, b):
    from .elementwise import where

    return where(c, a, b)


PROD = defop("prod", lambda xp, x, dims, keepdim, shape: xp.prod(x, axis=dims, keepdims=keepdim),
             *_weighted(_prod_grad), save=((0,),), save_out=True)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over `dim` (one dim, or all when None); the gradient is exact when entries are 0."""
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod: dim must be an int or None, got {dim!r}")
    return _accumulate(PROD, input, dim, keepdim, dtype)


# ----------------------------------------------------------------------------- amax, amin


def _ext_weights(x, out, dims, keepdim):
    # The gradient of a max is split evenly among the entries that attain it (PyTorch's rule).
    if not keepdim:
        out = out.reshape(_kshape(x._data.shape, dims))
    m = (x == out).to(x.dtype)
    return m / m.sum(dims, keepdim=True)


def _ext_fwd(fn):
    def fwd(xp, x, dims, keepdim, shape):
        if x.size == 0 and _count(shape, dims or range(len(shape))) == 0:
            raise RuntimeError("cannot reduce over a zero-size dimension (no identity)")
        return getattr(xp, fn)(x, axis=dims, keepdims=keepdim)
    return fwd


AMAX = defop("amax", _ext_fwd("amax"), *_weighted(_ext_weights), save=((0,),), save_out=True)
AMIN = defop("amin", _ext_fwd("amin"), *_weighted(_ext_weights), save=((0,),), save_out=True)


def amax(input, dim=None, keepdim=False):
    """Maximum over `dim` (all dims when None); ties share the gradient evenly."""
    dims = norm_dims("amax", dim, input._data.ndim)
    return apply1(AMAX, input, (dims, keepdim, input._data.shape))


def amin(input, dim=None, keepdim=False):
    """Minimum over `dim` (all dims when None); ties share the gradient evenly."""
    dims = norm_dims("amin", dim, input._data.ndim)
    return apply1(AMIN, input, (dims, keepdim, input._data.shape))


# ----------------------------------------------------------------------------- norm


def _norm_dir(x, out, dims, keepdim):
    # d||x|| / dx = x / ||x||, taken as 0 where ||x|| = 0 (PyTorch's subgradient).
    if not keepdim:
        out = out.reshape(_kshape(x._data.shape, dims))
    zero = out == 0
    return _where(zero, 0.0, x / _where(zero, 1.0, out))


NORM = defop("norm", lambda xp, x, dims, keepdim, shape: xp.sqrt(
    xp.sum(x * x, axis=dims, keepdims=keepdim)), *_weighted(_norm_dir), save=((0,),),
    save_out=True)


def norm(input, p="fro", dim=None, keepdim=False):
    """The p-norm over `dim` (all dims when None): p = 2 / "fro" (default), 1, inf, -inf, or any
    number. The gradient of the 2-norm at 0 is 0, as in PyTorch.
    """
    if input._data.dtype.kind != "f":
        raise TypeError(f"norm: expected a floating-point tensor, got {input.dtype}")
    dims = norm_dims("norm", dim, input._data.ndim)
    if p in ("fro", 2, 2.0):
        return apply1(NORM, input, (dims, keepdim, input._data.shape))
    if p == builtins.float("inf"):
        return amax(input.abs(), dim, keepdim)
    if p == -builtins.float("inf"):
        return amin(input.abs(), dim, keepdim)
    if p == 1:
        return sum(input.abs(), dim, keepdim)
    if p == 0:
        return sum((input != 0).to(input.dtype), dim, keepdim)
    if isinstance(p, (int, builtins.float)):
        return sum(input.abs() ** p, dim, keepdim) ** (1.0 / p)
    raise ValueError(f"norm: unsupported p={p!r}; use 'fro', a number, inf or -inf")


# ----------------------------------------------------------------------------- no gradient


def _index_reduce(name, fn):
    op = defop(name, lambda xp, x, dim, keepdim: _argfwd(xp, fn, x, dim, keepdim))

    def public(input, dim=None, keepdim=False):
        if dim is not None:
            dim = norm_dims(name, dim, input._data.ndim)
            if len(dim) != 1:
                raise TypeError(f"{name}: dim must be a single int")
            dim = dim[0] if input._data.ndim else None
        return apply1(op, input, (dim, keepdim))
    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"Indices of the {name[3:]}imum values over `dim` (of the flattened tensor " \
                     "when None), as int64."
    return public


def _argfwd(xp, fn, x, dim, keepdim):
    if x.size == 0:
        raise RuntimeError("cannot take the arg of an empty tensor")
    r = getattr(xp, fn)(x, axis=dim, keepdims=keepdim if dim is not None else False)
    if dim is None and keepdim:
        r = r.reshape((1,) * x.ndim)
    return r.astype(B.numpy.int64) if hasattr(r, "astype") else r


argmax = _index_reduce("argmax", "argmax")
argmin = _index_reduce("argmin", "argmin")


def _bool_reduce(name, fn):
    op = defop(name, lambda xp, x, dims, keepdim: getattr(xp, fn)(x, axis=dims, keepdims=keepdim))

    def public(input, dim=None, keepdim=False):
        return apply1(op, input, (norm_dims(name, dim, input._data.ndim), keepdim))
    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"True where {'every' if name == 'all' else 'some'} element over `dim` " \
                     "is nonzero."
    return public


all = _bool_reduce("all", "all")
any = _bool_reduce("any", "any")

# ----------------------------------------------------------------------------- composites

values_indices = namedtuple("values_indices", ["values", "indices"])


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over `dim` (all dims when None). Floating-point tensors only, as in PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean: could not infer the output dtype: the input has dtype "
                           f"{input.dtype}; use a floating-point tensor (e.g. x.float())")
    dims = norm_dims("mean", dim, input._data.ndim)
    return sum(input, dims, keepdim) / _count(input._data.shape, dims)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over `dim` with Bessel's correction (``correction=1``) unless told otherwise."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"var: expected a floating-point tensor, got {input.dtype}")
    dims = norm_dims("var", dim, input._data.ndim)
    d = input - mean(input, dims, keepdim=True)
    return sum(d * d, dims, keepdim) / builtins.max(_count(input._data.shape, dims) - correction,
                                                    0)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation over `dim` (square root of ``var``)."""
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over `dim`, computed without overflow (shifted by the max)."""
    dims = norm_dims("logsumexp", dim, input._data.ndim)
    if input._data.dtype.kind != "f":
        input = input.to(B.get_default_dtype())
    m = amax(input.detach(), dims, keepdim=True)
    m = _where(m.isfinite(), m, 0.0)
    r = (input - m).exp().sum(dims, keepdim=True).log() + m
    return r if keepdim else r.reshape(tuple(s for i, s in enumerate(r._data.shape)
                                             if i not in dims))


def _extreme(name, full, binary, arg):
    def public(input, dim=None, keepdim=False):
        if dim is None:
            return full(input)
        if isinstance(dim, Tensor):
            return binary(input, dim)
        from .shape import gather, norm_dim

        dim = norm_dim(name, dim, input._data.ndim)
        idx = arg(input, dim, keepdim=True)
        values = gather(input, dim, idx)
        if not keepdim:
            values = values.squeeze(dim)
            idx = idx.squeeze(dim)
        return values_indices(values, idx)
    public.__name__ = public.__qualname__ = name
    public.__doc__ = (f"``{name}(x)``: the {name}imum of all elements; ``{name}(x, dim)``: "
                      f"(values, indices) over `dim`, the gradient going to the index taken; "
                      f"``{name}(x, other)``: elementwise {name}imum.")
    return public


def _max_binary(a, b):
    from .elementwise import maximum

    return maximum(a, b)


def _min_binary(a, b):
    from .elementwise import minimum

    return minimum(a, b)


max = _extreme("max", amax, _max_binary, argmax)
min = _extreme("min", amin, _min_binary, argmin)

