"""Sorting, selection and counting: sort, argsort, topk, kthvalue, median, mode, unique,
bincount, histc.

The selections are composites: an index primitive (``argsort``, ``mode``, no gradient) picks
the positions and ``gather`` takes the values, so the values' gradient flows to the entries
taken through gather's rule; no derivative code here. unique and bincount record a node
whose backward raises, as PyTorch's do; histc records none.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

from .. import backend as B
from ..core.batched import physical
from ..core.dims import norm_dim
from ..core.tensor import Tensor, wrap
from .elementwise import where
from .reduction import amax, amin
from .registry import apply, defop, named, public
from .shape import gather

_TYPES: dict = {}


def return_type(name, fields):
    """A named tuple shown as PyTorch's ``torch.return_types.<name>`` (``.values``,
    ``.indices``, ...)."""
    t = _TYPES.get(name)
    if t is None:
        t = namedtuple(name, fields)
        t.__module__ = "gpugrad.return_types"

        def __repr__(self):
            body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
            return f"gpugrad.return_types.{type(self).__name__}(\n{body})"
        t.__repr__ = __repr__
        _TYPES[name] = t
    return t


# ----------------------------------------------------------------------------- argsort


def _argsort_fwd(xp, x, dim, descending):
    if x.ndim == 0:
        return xp.zeros((), dtype=B.int64.np)
    if not descending:
        return xp.argsort(x, axis=dim, kind="stable").astype(B.int64.np, copy=False)
    # Descending and stable (equal values keep their order, NaN first, as PyTorch): sort the
    # reversed slice ascending, reverse the order, and map the positions back.
    n = x.shape[dim]
    r = xp.argsort(xp.flip(x, dim), axis=dim, kind="stable")
    return (n - 1 - xp.flip(r, dim)).astype(B.int64.np, copy=False)


ARGSORT = defop("argsort", _argsort_fwd)


def _sorted_indices(name, input, dim, descending):
    if input._data.dtype.kind == "c":
        raise RuntimeError(f"{name}: complex tensors cannot be sorted")
    d = norm_dim(name, dim, input._data.ndim)
    return d, apply(ARGSORT, (input,), (d, builtins.bool(descending)))


@public("Sorting and counting")
def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort `input` along `dim` (ascending unless `descending`). The sort is
    always stable (equal values keep their order; NaN sorts as the largest value).

    Example: ``gpugrad.tensor([3., 1., 2.]).argsort()`` -> tensor([1, 2, 0])
    """
    return _sorted_indices("argsort", input, dim, descending)[1]


def _take(input, d, idx):
    """The values of `input` at indices `idx` along `d` (0-d tensors: itself)."""
    if input._data.ndim == 0:
        return input * 1 if input._data.dtype.kind != "b" else input.clone()
    return gather(input, d, idx)


@public("Sorting and counting")
def sort(input, dim=-1, descending=False, stable=False):
    """Sort along `dim`: ``(values, indices)``, stable (see `argsort`).

    Example: ``gpugrad.tensor([3., 1., 2.]).sort()`` -> values tensor([1., 2., 3.]),
    indices tensor([1, 2, 0])
    """
    d, idx = _sorted_indices("sort", input, dim, descending)
    return return_type("sort", ("values", "indices"))(
        named(_take(input, d, idx), "SortBackward0", input), idx)


def _narrow(t, d, start, length):
    if t._data.ndim == 0:
        return t
    return t.narrow(d, start, length)


@public("Sorting and counting")
def topk(input, k, dim=-1, largest=True, sorted=True):
    """The `k` largest (or smallest, ``largest=False``) entries along `dim`: ``(values,
    indices)``, in sorted order. Among equal values the first ones are taken.

    Example: ``gpugrad.tensor([1., 3., 2.]).topk(2)`` -> values tensor([3., 2.]), indices
    tensor([1, 2])
    """
    n = input._data.shape[norm_dim("topk", dim, input._data.ndim)] if input._data.ndim else 1
    if not isinstance(k, int) or not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k out of range (k={k}, dim size {n})")
    d, idx = _sorted_indices("topk", input, dim, largest)
    idx = _narrow(idx, d, 0, k)
    return return_type("topk", ("values", "indices"))(
        named(_take(input, d, idx), "TopkBackward0", input), idx)


def _select(name, node, input, d, pos, keepdim, idx):
    """The entries at sorted position(s) `pos` (an int or an int64 tensor with the reduced dim
    kept as size 1) of `idx` (the sorting indices along `d`): ``(values, indices)``."""
    if input._data.ndim == 0:
        i = wrap(B.xp_of(input._data).zeros((), dtype=B.int64.np))
        return return_type(name, ("values", "indices"))(named(input * 1, node, input), i)
    if isinstance(pos, int):
        i = _narrow(idx, d, pos, 1)
    else:
        i = gather(idx, d, pos)
    v = gather(input, d, i)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    return return_type(name, ("values", "indices"))(named(v, node, input), i)


def _dim_size(name, input, dim):
    d = norm_dim(name, dim, input._data.ndim)
    n = input._data.shape[d] if input._data.ndim else 1
    if n == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size. (shape "
                         f"{tuple(input._data.shape)})")
    return d, n


@public("Sorting and counting")
def kthvalue(input, k, dim=-1, keepdim=False):
    """The `k`-th smallest entry (k from 1) along `dim`: ``(values, indices)``.

    Example: ``gpugrad.tensor([3., 1., 2.]).kthvalue(2)`` -> values tensor(2.), indices
    tensor(2)
    """
    d, n = _dim_size("kthvalue", input, dim)
    if not isinstance(k, int) or not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} "
                           f"(k={k}, size {n})")
    idx = _sorted_indices("kthvalue", input, d, False)[1]
    return _select("kthvalue", "KthvalueBackward0", input, d, k - 1, keepdim, idx)


@public("Sorting and counting")
def median(input, dim=None, keepdim=False):
    """``median(x)``: the median of all entries; ``median(x, dim)``: ``(values, indices)``
    along `dim`. With an even count it is the lower of the two middle values; a slice with
    NaN has median NaN (at its first NaN), as in PyTorch.

    Example: ``gpugrad.tensor([1., 4., 2., 3.]).median()`` -> tensor(2.)
    """
    if dim is None:
        flat = input.reshape(-1)
        if flat._data.shape[0] == 0:
            return named(flat.sum() * float("nan"), "MedianBackward0")
        m = median(flat, 0).values
        if not flat.dtype.is_floating_point:
            return named(m, "MedianBackward0", input)
        return named(_evenly(flat, m.detach()), "MedianBackward0", input)
    d, n = _dim_size("median", input, dim)
    idx = _sorted_indices("median", input, d, False)[1]
    if input._data.dtype.kind != "f" or input._data.ndim == 0:
        return _select("median", "MedianBackward1", input, d, (n - 1) // 2, keepdim, idx)
    # NaN sorts last: a slice with c NaNs has its first NaN at sorted position n - c.
    c = input.isnan().sum(d, keepdim=True)
    pos = (c > 0).to(B.int64) * (n - c - (n - 1) // 2) + (n - 1) // 2
    return _select("median", "MedianBackward1", input, d, pos, keepdim, idx)


def _evenly(flat, m):
    """`m` (a value of the 1-D float tensor `flat`, NaN included) with its gradient shared
    evenly among the entries equal to it: PyTorch's rule for ``median()`` of all entries.
    amax over the entries equal to `m` (the others -inf) shares it so; where `m` is -inf,
    amin with the others +inf does."""
    mask = (flat == m) | (flat.isnan() & m.isnan())
    inf = float("inf")
    up, down = amax(where(mask, flat, -inf)), amin(where(mask, flat, inf))
    return where(m == -inf, down, up)


def _mode_fwd(xp, x, dim):
    """The index of the most frequent value of each slice along `dim` (the smallest such
    value; its last occurrence), as PyTorch's mode picks it."""
    if x.ndim == 0:
        return xp.zeros((), dtype=B.int64.np)
    a = xp.moveaxis(x, dim, -1)
    lead = a.shape[:-1]
    n = a.shape[-1]
    a = a.reshape(-1, n)
    m = a.shape[0]
    idx = xp.argsort(a, axis=1, kind="stable")
    s = xp.take_along_axis(a, idx, 1)
    # Runs of equal values in each sorted row; a count at each run's start.
    new = xp.ones((m, n), dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    starts = xp.flatnonzero(new)
    ends = xp.concatenate([starts[1:], xp.asarray([m * n], dtype=starts.dtype)])
    counts = xp.zeros(m * n, dtype=B.int64.np)
    counts[starts] = ends - starts
    counts = counts.reshape(m, n)
    best = xp.argmax(counts, axis=1)  # the first largest count: the smallest value
    rows = xp.arange(m)
    last = best + counts[rows, best] - 1
    return idx[rows, last].reshape(lead).astype(B.int64.np, copy=False)


MODE = defop("mode_index", _mode_fwd)


@public("Sorting and counting")
def mode(input, dim=-1, keepdim=False):
    """The most frequent value along `dim` (the smallest among equally frequent ones) and the
    index of its last occurrence: ``(values, indices)``.

    Example: ``gpugrad.tensor([2., 1., 2., 1., 3.]).mode()`` -> values tensor(1.), indices
    tensor(3)
    """
    d, _ = _dim_size("mode", input, dim)
    i = apply(MODE, (input,), (d,))
    if input._data.ndim == 0:
        return return_type("mode", ("values", "indices"))(named(input * 1, "ModeBackward0"), i)
    i = i.unsqueeze(d)
    v = gather(input, d, i)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    return return_type("mode", ("values", "indices"))(named(v, "ModeBackward0", input), i)


# ----------------------------------------------------------------------------- counting


def _unique_vjp(F, g, args, out, n):
    name = "_unique2" if n.params[0] is None else "unique_dim"
    raise NotImplementedError(f"the derivative for '{name}' is not implemented.")


def _unique_fwd(xp, x, dim):
    return xp.unique(x) if dim is None else xp.unique(x, axis=dim)


UNIQUE = defop("unique", _unique_fwd, _unique_vjp,
               node_name=lambda params: "Unique2Backward0" if params[0] is None
               else "UniqueDimBackward0")


@public("Sorting and counting")
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (of the flattened tensor, or the distinct slices along `dim`), in
    ascending order; with `return_inverse` the index of each entry's value, with
    `return_counts` how often each occurs. Not differentiable (backward raises).

    Example: ``gpugrad.tensor([3, 1, 3]).unique()`` -> tensor([1, 3])
    """
    xd = input._data
    d = None if dim is None else norm_dim("unique", dim, xd.ndim)
    out = apply(UNIQUE, (input,), (d,))
    if not (return_inverse or return_counts):
        return out
    xp = B.xp_of(xd)
    _, inv, counts = xp.unique(xd if d is not None else xd.reshape(-1), return_inverse=True,
                               return_counts=True, axis=d)
    inv = inv.reshape(xd.shape if d is None else (xd.shape[d],)).astype(B.int64.np, copy=False)
    extra = ((wrap(inv),) if return_inverse else ()) + (
        (wrap(counts.astype(B.int64.np, copy=False)),) if return_counts else ())
    return (out, *extra)


def _bincount_fwd(xp, x, w, minlength):
    return xp.bincount(x, weights=w, minlength=minlength)


def _bincount_vjp(F, g, args, out, n):
    raise RuntimeError("derivative for aten::bincount is not implemented")


BINCOUNT = defop("bincount", _bincount_fwd, _bincount_vjp, nin=2, node_name="NotImplemented")


@public("Sorting and counting")
def bincount(input, weights=None, minlength=0):
    """How often each value 0, 1, ... occurs in a 1-D non-negative integer tensor (the sum of
    `weights` at its positions, with `weights`); at least `minlength` bins.

    Example: ``gpugrad.tensor([0, 1, 1, 3]).bincount()`` -> tensor([1, 2, 0, 1])
    """
    xd = input._data
    values = physical(input)  # (inside vmap: every example's)
    if xd.ndim != 1 or xd.dtype.kind not in "iub" or (xd.size and bool((values < 0).any())):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is not None:
        if weights._data.shape != xd.shape:
            raise RuntimeError("weights should be 1-d and have the same length as input")
        if weights._data.dtype.kind != "f":
            weights = weights.to(B.float64)
        out = apply(BINCOUNT, (input, weights), (minlength,))
        return out if out._data.dtype == weights._data.dtype else out.to(weights.dtype)
    r = B.xp_of(xd).bincount(xd, minlength=minlength) if xd.size else \
        B.xp_of(xd).zeros(minlength, dtype=B.int64.np)
    return wrap(r.astype(B.int64.np, copy=False))


def _histc_fwd(xp, x, bins, lo, hi):
    if lo == hi:
        if x.size:
            lo, hi = float(x.min()), float(x.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
    return xp.histogram(x, bins=bins, range=(lo, hi))[0].astype(x.dtype)


HISTC = defop("histc", _histc_fwd)


@public("Sorting and counting")
def histc(input, bins=100, min=0, max=0):
    """A histogram of `bins` equal-width bins between `min` and `max` (the data's range when
    both are 0); entries outside are ignored. Not differentiable.

    Example: ``gpugrad.tensor([1., 2., 1.]).histc(bins=4, min=0, max=3)`` ->
    tensor([0., 2., 1., 0.])
    """
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_torch_name(input)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for dimension 0")
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        raise TypeError("histc: min and max must be numbers")
    return apply(HISTC, (input,), (int(bins), float(min), float(max)))


def _torch_name(t):
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(t.dtype.name, t.dtype.name)
