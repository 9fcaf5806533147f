"""Forward-mode AD with dual tensors, as ``torch.autograd.forward_ad``.

Inside ``dual_level()``, a tensor made by ``make_dual(primal, tangent)`` carries its tangent
through every op: each op's jvp rule computes the output's tangent.

Example::

    import gpugrad.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        x = fwAD.make_dual(gpugrad.tensor(2.0), gpugrad.tensor(1.0))
        y = 2 * x ** 3 - 1
        fwAD.unpack_dual(y).tangent      # tensor(24.)
"""

from __future__ import annotations

from collections import namedtuple

from ..core.state import duals, fw_levels, track
from ..core.tensor import Tensor
from ..ops.shape import alias

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class dual_level:
    """Context manager for a forward-AD level; tangents are dropped when it exits."""

    def __enter__(self):
        if fw_levels[0]:
            raise RuntimeError("dual_level: nested forward AD levels are not supported")
        fw_levels[0] += 1
        duals.append({})  # id -> weak reference (a WeakSet would compare tensors with ==)
        return 0

    def __exit__(self, *exc):
        fw_levels[0] -= 1
        for ref in duals.pop().values():
            t = ref()
            if t is None:
                continue
            try:
                del t._fw
            except AttributeError:
                pass
        return False


def enter_dual_level():
    lvl = dual_level()
    lvl.__enter__()
    return lvl


def exit_dual_level(level=None):
    dual_level().__exit__(None, None, None)


def make_dual(tensor, tangent, *, level=None):
    """A tensor with `tensor`'s values (and graph) that carries `tangent` through every op."""
    if not fw_levels[0]:
        raise RuntimeError("make_dual: must be called inside `with dual_level():`")
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
    d = _identity(tensor)
    d._fw = tangent
    track(d)
    return d


def _identity(tensor):
    """`tensor` itself as a new tensor object; recorded (so gradients reach `tensor`) when
    `tensor` is in a graph, a plain alias otherwise."""
    if tensor._rg:
        return alias(tensor)
    return tensor._alias()


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)`` of a dual tensor; the tangent is None for an ordinary tensor."""
    tangent = getattr(tensor, "_fw", None)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    p = _identity(tensor)
    if getattr(p, "_fw", None) is not None:
        del p._fw
    return UnpackedDualTensor(p, tangent)


__all__ = ["dual_level", "make_dual", "unpack_dual", "UnpackedDualTensor", "enter_dual_level",
           "exit_dual_level"]
