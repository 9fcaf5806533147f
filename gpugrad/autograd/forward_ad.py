"""Forward-mode AD with dual tensors, as ``torch.autograd.forward_ad``.

Inside ``dual_level()``, a tensor made by ``make_dual(primal, tangent)`` carries its tangent
through every op: each op's jvp rule computes the output's tangent.

Levels nest: each ``dual_level()`` opens a new, innermost level (numbered 0, 1, ... from the
outermost; ``__enter__`` returns the number), and ``make_dual`` / ``unpack_dual`` act on the
innermost one unless given ``level=``. A tensor carries one tangent per level, and the
tangent on an inner level carries the outer levels' tangents (mixed derivatives), so that
nested levels give higher derivatives and no level mistakes another's perturbation for its
own. Exiting a level drops that level's tangents only.

Example::

    import gpugrad.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        x = fwAD.make_dual(gpugrad.tensor(2.0), gpugrad.tensor(1.0))
        y = 2 * x ** 3 - 1
        fwAD.unpack_dual(y).tangent      # tensor(24.)

    with fwAD.dual_level():                  # level 0: d/dx
        x = fwAD.make_dual(gpugrad.tensor(2.0), gpugrad.tensor(1.0))
        with fwAD.dual_level():              # level 1: d/dx again
            x2 = fwAD.make_dual(x, gpugrad.tensor(1.0))
            dy = fwAD.unpack_dual(x2 ** 3).tangent    # 3 x^2 = 12, carrying 6 x on level 0
        fwAD.unpack_dual(dy).tangent     # tensor(12.)
"""

from __future__ import annotations

from collections import namedtuple

from ..core.factories import zeros_like
from ..core.state import duals, fw_levels, track_all
from ..core.tensor import Tensor
from ..ops.shape import alias

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class dual_level:
    """Context manager for a new, innermost forward-AD level; ``with dual_level() as level``
    gives its number. Its tangents are dropped when it exits (the outer levels' stay)."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False


def enter_dual_level() -> int:
    """Open a new, innermost forward-AD level and return its number (as ``dual_level``)."""
    duals.append({})  # the level's token and its tensors: id -> weak reference
    fw_levels[0] = len(duals)
    return len(duals) - 1


def exit_dual_level(*, level=None) -> None:
    """Close the innermost forward-AD level (`level`, if given, must be it), dropping the
    tangents on it from every tensor."""
    last = len(duals) - 1
    if last < 0 or (level is not None and level != last):
        raise RuntimeError(f"exit_dual_level: level {level} is not the innermost open level "
                           f"(open levels: {list(range(last + 1))}); levels exit innermost first")
    for ref in duals.pop().values():
        t = ref()
        fw = getattr(t, "_fw", None)
        if fw and last in fw:
            rest = {k: v for k, v in fw.items() if k != last}
            if rest:
                t._fw = rest
            else:
                del t._fw
    fw_levels[0] = last


def _level(name, level):
    """The level a call acts on: `level`, or the innermost open one."""
    if level is None:
        if not duals:
            raise RuntimeError(f"{name}: must be called inside `with dual_level():`")
        return len(duals) - 1
    if not isinstance(level, int) or not 0 <= level < len(duals):
        raise RuntimeError(f"{name}: level {level!r} is not open (open levels: "
                           f"{list(range(len(duals)))})")
    return level


def make_dual(tensor, tangent, *, level=None):
    """A tensor with `tensor`'s values (and graph) that carries `tangent` on `level` (the
    innermost open level by default), keeping the tangents `tensor` has on other levels.

    Example::

        >>> with dual_level():
        ...     x = make_dual(gpugrad.tensor(2.0), gpugrad.tensor(1.0))
        ...     unpack_dual(x * x).tangent
        tensor(4.)
    """
    k = _level("make_dual", level)
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError("make_dual: expected two tensors (primal, tangent)")
    if tangent._data.shape != tensor._data.shape:
        raise RuntimeError(f"make_dual: tangent has shape {tuple(tangent.shape)} but primal has "
                           f"shape {tuple(tensor.shape)}")
    if not tensor.dtype.is_floating_point:
        raise TypeError(f"make_dual: expected a floating-point primal, got {tensor.dtype}")
    if tangent.device != tensor.device:
        raise RuntimeError(f"make_dual: tangent is on {tangent.device} but primal is on "
                           f"{tensor.device}")
    if tangent.dtype is not tensor.dtype:
        tangent = tangent.to(tensor.dtype)
    return _with_tangents(tensor, {**(getattr(tensor, "_fw", None) or {}), k: tangent})


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)`` of `tensor` on `level` (the innermost open level by default); the
    tangent is None where `tensor` has none on it. The primal keeps the tangents on the other
    levels; the tangent carries the mixed derivatives (its own tangents on the other levels).

    Example::

        >>> with dual_level():
        ...     x = make_dual(gpugrad.tensor(3.0), gpugrad.tensor(1.0))
        ...     unpack_dual(x * x)
        UnpackedDualTensor(primal=tensor(9.), tangent=tensor(6.))
    """
    if not duals and level is None:
        return UnpackedDualTensor(tensor, None)
    k = _level("unpack_dual", level)
    tangent = _derivative(tensor, k)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    return UnpackedDualTensor(_strip(tensor, k), tangent)


# A nested dual number keeps each mixed coefficient once: the coefficient of e_j e_k (j < k)
# is the level-j tangent of the level-k tangent. Unpacking level k is the derivative along
# e_k (`_derivative`) and the rest (`_strip`); on the innermost level both are one lookup.


def _derivative(t, k):
    """The coefficient of level k's perturbation in `t`, carrying its own tangents on the other
    levels (None where it is zero)."""
    fw = getattr(t, "_fw", None)
    if not fw:
        return None
    tk = fw.get(k)
    inner = {}
    for j, v in fw.items():
        if j > k:
            d = _derivative(v, k)
            if d is not None:
                inner[j] = d
    if not inner:
        return tk
    base = tk if tk is not None else zeros_like(t)
    return _with_tangents(base, {**(getattr(base, "_fw", None) or {}), **inner})


def _strip(t, k):
    """`t` without level k's perturbation: its tangent on level k dropped, and the level-k
    parts of its tangents on inner levels."""
    fw = getattr(t, "_fw", None)
    if not fw or max(fw) < k:
        return t
    return _with_tangents(t, {j: (_strip(v, k) if j > k else v) for j, v in fw.items() if j != k})


def _with_tangents(tensor, fw):
    """`tensor` itself as a new tensor object carrying tangents `fw` ({level: tangent}):
    recorded (so gradients reach `tensor`) when `tensor` is in a graph, a plain alias
    otherwise."""
    if tensor._rg:
        n = fw_levels[0]
        fw_levels[0] = 0  # the copy takes `fw`, not a tangent pushed from `tensor`'s
        try:
            d = alias(tensor)
        finally:
            fw_levels[0] = n
    else:
        d = tensor._alias()
    if fw:
        d._fw = fw
        track_all(d)
    elif getattr(d, "_fw", None) is not None:
        del d._fw
    return d


__all__ = ["dual_level", "make_dual", "unpack_dual", "UnpackedDualTensor", "enter_dual_level",
           "exit_dual_level"]
