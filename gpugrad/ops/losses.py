"""Loss primitives: those whose gradient is not the gradient of their forward's formula.

``binary_cross_entropy`` clamps its logs at -100 (so that a probability of exactly 0 or 1 gives
a finite loss, 100); the derivative of the clamped formula would be 0 there, but PyTorch's
gradient is ``(x - y) / max(x (1 - x), 1e-12)``, finite and pointing the right way. That is
this primitive's partial in x; in y it is ``log(1 - x) - log(x)`` (unclamped, as in PyTorch).
The other losses are composites in ``gpugrad.nn.functional``.
"""

from __future__ import annotations

from .elementwise import binary

# PyTorch's floor on x (1 - x) in the gradient of binary cross-entropy (both float dtypes).
BCE_EPS = 1e-12


def _bce_fwd(xp, x, y):
    if not bool(xp.all((x >= 0) & (x <= 1))):  # (NaN fails too)
        raise ValueError("all elements of input should be between 0 and 1")
    if not bool(xp.all((y >= 0) & (y <= 1))):
        raise ValueError("all elements of target should be between 0 and 1")
    # max(log x, -100) and max(log(1 - x), -100), without evaluating log 0.
    pos, below = x > 0, x < 1
    lx = xp.where(pos, xp.maximum(xp.log(xp.where(pos, x, 1)), -100), -100)
    l1x = xp.where(below, xp.maximum(xp.log1p(xp.where(below, -x, 0)), -100), -100)
    return ((y - 1) * l1x - y * lx).astype(x.dtype, copy=False)


def _bce_dx(F, x, y, out):
    return (x - y) / F.maximum((1.0 - x) * x, BCE_EPS)


def _bce_dy(F, x, y, out):
    return F.log1p(-x) - F.log(x)


# Elementwise (unreduced, unweighted): weight and reduction are linear, applied by the caller.
BINARY_CROSS_ENTROPY = binary("binary_cross_entropy", _bce_fwd, (_bce_dx, _bce_dy),
                              save=((0, 1), (0,)))
