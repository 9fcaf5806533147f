"""Normalising dims and sizes given as PyTorch accepts them (negative dims, tuples, varargs)."""

from __future__ import annotations

from .. import backend as B


def norm_dim(name, dim, ndim):
    """A dim in range(ndim) from a possibly negative one; 0-d tensors accept 0 and -1."""
    n = max(ndim, 1)
    if not isinstance(dim, int) or isinstance(dim, bool):
        if isinstance(dim, B.SCALAR_TYPES) and float(dim).is_integer():
            dim = int(dim)
        else:
            raise TypeError(f"{name}: dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(f"{name}: dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim % n


def norm_dims(name, dim, ndim):
    """A sorted tuple of dims (all of them when `dim` is None); 0-d tensors reduce over ()."""
    if dim is None:
        return tuple(range(ndim))
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    out = tuple(sorted({norm_dim(name, d, ndim) for d in dims}))
    if len(out) != len(dims):
        raise RuntimeError(f"{name}: dim {dim} appears multiple times in the list of dims")
    return out if ndim else ()


def size_args(name, size):
    """Sizes given as varargs ``(2, 3)`` or as one sequence ``((2, 3),)``, checked to be ints."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, int):
            raise TypeError(f"{name}: sizes must be ints, got {s!r}")
    return tuple(size)


def reduce_dims(name, dim, ndim):
    """The dims a reduction runs over: as ``norm_dims``, and every dim when `dim` is None or
    empty (``sum(dim=())`` reduces everything, as in PyTorch)."""
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        dim = None
    return norm_dims(name, dim, ndim)
