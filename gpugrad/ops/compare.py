"""Comparing whole tensors: ``isclose``, ``allclose``, ``equal`` (composites of the
comparison ops; no gradient)."""

from __future__ import annotations

from .. import backend as B
from ..core.tensor import Tensor
from .elementwise import eq, isfinite, isnan, logical_and, logical_or
from .registry import public
from .shape import broadcast_shapes

GROUP = "Comparison and logic"


@public(GROUP)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (broadcasting), as a bool
    tensor; infinities are close only to themselves, NaN to NaN only with `equal_nan`.
    The dtypes must match, as in PyTorch.

    Example::

        >>> gpugrad.isclose(gpugrad.tensor([1.0, 2.0]), gpugrad.tensor([1.0 + 1e-9, 2.1]))
        tensor([ True, False])
    """
    if rtol < 0:
        raise RuntimeError(f"isclose: rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"isclose: atol must be greater than or equal to zero, but got {atol}")
    a = input.detach()
    b = other.detach() if isinstance(other, Tensor) else other
    if isinstance(b, Tensor):
        if a.dtype is not b.dtype:
            raise RuntimeError(f"isclose: {a.dtype} did not match {b.dtype} (convert one with "
                               ".to)")
        broadcast_shapes("isclose", tuple(a.shape), tuple(b.shape))
    close = eq(a, b)
    if a.dtype.name == "bool":
        return close
    if not a.dtype.is_floating_point:
        a = a.double()
        b = b.double() if isinstance(b, Tensor) else float(b)
    with B.quiet_fp():  # inf - inf is NaN here, and not close
        diff = (a - b).abs()
        bound = atol + rtol * (b.abs() if isinstance(b, Tensor) else abs(b))
        close = logical_or(close, logical_and(diff <= bound, isfinite(diff)))
    if equal_nan and isinstance(b, Tensor):
        close = logical_or(close, logical_and(isnan(a), isnan(b)))
    return close


@public(GROUP)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when every element of `input` is close to `other` (see ``isclose``).

    Example::

        >>> gpugrad.allclose(gpugrad.tensor([1.0, 2.0]), gpugrad.tensor([1.0, 2.0 + 1e-7]))
        True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


@public(GROUP)
def equal(input, other) -> bool:
    """True when the two tensors have the same shape and the same values (any dtypes).

    Example::

        >>> gpugrad.equal(gpugrad.tensor([1, 2]), gpugrad.tensor([1.0, 2.0]))
        True
    """
    if not isinstance(other, Tensor):
        raise TypeError(f"equal(): argument 'other' must be a Tensor, not {type(other).__name__}")
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool(eq(input.detach(), other.detach()).all().item())
