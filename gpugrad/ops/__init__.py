"""The op library: primitives in the registry, composites, and the Tensor methods that call them."""

from __future__ import annotations

import builtins
import functools
from typing import Any

from .. import backend as B
from ..tensor import Tensor, check_inplace
from . import composite, elementwise, fused, linalg, reduction, shape
from .composite import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .linalg import *  # noqa: F403
from .reduction import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    sum,
    var,
)
from .registry import OPS, apply2
from .shape import *  # noqa: F403

E, R, S, L = elementwise, reduction, shape, linalg
# The methods and operators are attached to the class at import time; type checkers see them
# through the declarations under ``TYPE_CHECKING`` in gpugrad/tensor.py.
_T: Any = Tensor

# ----------------------------------------------------------------------------- methods

_METHODS = {
    # elementwise
    "exp": E.exp, "log": E.log, "log1p": E.log1p, "expm1": E.expm1, "sqrt": E.sqrt,
    "rsqrt": E.rsqrt, "sin": E.sin, "cos": E.cos, "tan": E.tan, "tanh": E.tanh,
    "sigmoid": E.sigmoid, "relu": E.relu, "abs": E.abs, "absolute": E.abs, "sign": E.sign,
    "floor": E.floor, "ceil": E.ceil, "round": E.round, "reciprocal": E.reciprocal,
    "neg": E.neg, "negative": E.neg, "add": E.add, "sub": E.sub, "subtract": E.sub,
    "mul": E.mul, "multiply": E.mul, "div": E.div, "divide": E.div, "true_divide": E.div,
    "pow": E.pow, "maximum": E.maximum, "minimum": E.minimum, "clamp": E.clamp,
    "clip": E.clamp, "eq": E.eq, "ne": E.ne, "lt": E.lt, "le": E.le, "gt": E.gt, "ge": E.ge,
    "greater": E.gt, "greater_equal": E.ge, "less": E.lt, "less_equal": E.le,
    "not_equal": E.ne, "logical_and": E.logical_and, "logical_or": E.logical_or,
    "logical_xor": E.logical_xor, "logical_not": E.logical_not, "isnan": E.isnan,
    "isinf": E.isinf, "isfinite": E.isfinite, "square": composite.square,
    "lerp": composite.lerp,
    # reductions
    "sum": R.sum, "prod": R.prod, "amax": R.amax, "amin": R.amin, "norm": R.norm,
    "argmax": R.argmax, "argmin": R.argmin, "all": R.all, "any": R.any, "mean": R.mean,
    "var": R.var, "std": R.std, "logsumexp": R.logsumexp, "max": R.max, "min": R.min,
    # linear algebra
    "matmul": L.matmul, "mm": L.mm, "mv": L.mv, "bmm": L.bmm, "dot": L.dot, "inner": L.dot,
    "outer": L.outer, "ger": L.outer,
    # shape
    "reshape": S.reshape, "view": S.view, "flatten": S.flatten, "squeeze": S.squeeze,
    "unsqueeze": S.unsqueeze, "permute": S.permute, "transpose": S.transpose,
    "swapaxes": S.transpose, "t": S.t, "movedim": S.movedim, "expand": S.expand,
    "expand_as": S.expand_as, "broadcast_to": S.broadcast_to, "flip": S.flip,
    "repeat": S.repeat, "tile": S.tile, "split": S.split, "chunk": S.chunk,
    "unbind": S.unbind, "narrow": S.narrow, "select": S.select, "gather": S.gather,
    "take_along_dim": S.take_along_dim, "scatter_add": S.scatter_add,
    "index_put": S.index_put, "clone": S.clone,
    # composites
    "softmax": composite.softmax, "log_softmax": composite.log_softmax,
}

for _name, _fn in _METHODS.items():
    setattr(_T, _name, _fn)


def _where_method(self, condition, other):
    """``x.where(condition, y)`` is ``gpugrad.where(condition, x, y)``."""
    return E.where(condition, self, other)


def _reshape_as(self, other):
    return S.reshape(self, *other._data.shape)


def _view_as(self, other):
    return S.reshape(self, *other._data.shape)


_T.where = _where_method
_T.reshape_as = _reshape_as
_T.view_as = _view_as
_T.T = property(lambda self: S.permute(self, *reversed(range(self._data.ndim)))
                    if self._data.ndim >= 2 else self,
                    doc="The tensor with its dims reversed (the transpose of a matrix).")
_T.mT = property(lambda self: S.transpose(self, -2, -1),
                     doc="The transpose of the last two dims (batched matrices).")

# ----------------------------------------------------------------------------- operators

_ADD, _SUB, _MUL, _DIV = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"]


def _add(self, other):
    return apply2(_ADD, self, other)


def _mul(self, other):
    return apply2(_MUL, self, other)


def _sub(self, other):
    return apply2(_SUB, self, other)


def _rsub(self, other):
    return apply2(_SUB, other, self)


def _rdiv(self, other):
    return E.div(other, self)


def _rpow(self, other):
    return E.pow(other, self)


def _rmatmul(self, other):
    return L.matmul(other, self)


def _pos(self):
    return self


def _and(self, other):
    return E.logical_and(self, other) if self._data.dtype.kind == "b" else \
        E.bitwise_and(self, other)


def _or(self, other):
    return E.logical_or(self, other) if self._data.dtype.kind == "b" else \
        E.bitwise_or(self, other)


def _xor(self, other):
    return E.logical_xor(self, other) if self._data.dtype.kind == "b" else \
        E.bitwise_xor(self, other)


def _invert(self):
    if self._data.dtype.kind != "b":
        raise TypeError(f"~: only bool tensors are supported, got {self.dtype}")
    return E.logical_not(self)


def _floordiv(self, other):
    return E.div(self, other, rounding_mode="floor")


def _rfloordiv(self, other):
    return E.div(other, self, rounding_mode="floor")


def _mod(self, other):
    return self - _floordiv(self, other) * other


_T.__add__ = _T.__radd__ = _add
_T.__mul__ = _T.__rmul__ = _mul
_T.__sub__ = _sub
_T.__rsub__ = _rsub
_T.__truediv__ = E.div
_T.__rtruediv__ = _rdiv
_T.__pow__ = E.pow
_T.__rpow__ = _rpow
_T.__matmul__ = L.matmul
_T.__rmatmul__ = _rmatmul
_T.__neg__ = E.neg
_T.__pos__ = _pos
_T.__abs__ = E.abs
_T.__eq__ = E.eq
_T.__ne__ = E.ne
_T.__lt__ = E.lt
_T.__le__ = E.le
_T.__gt__ = E.gt
_T.__ge__ = E.ge
_T.__and__ = _T.__rand__ = _and
_T.__or__ = _T.__ror__ = _or
_T.__xor__ = _T.__rxor__ = _xor
_T.__invert__ = _invert
_T.__floordiv__ = _floordiv
_T.__rfloordiv__ = _rfloordiv
_T.__mod__ = _mod
_T.__getitem__ = S.getitem

# ----------------------------------------------------------------------------- in place
# Without a graph to record, the update runs on the storage itself (``out=``, no temporary);
# with one, the out-of-place op is recorded on an alias of the old value, the result is
# written into the storage, and the tensor takes the new node. Either way the version
# counter moves, so backward can tell that a saved value changed.

_UFUNCS = {"add_": "add", "sub_": "subtract", "mul_": "multiply", "div_": "true_divide"}


def _operand(name, self, other):
    if isinstance(other, Tensor):
        if not B.same_device(other._data, self._data):
            raise RuntimeError(f"{name}: expected all tensors on the same device, but found one "
                               f"on {self.device} and one on {other.device}")
        return other._data
    if isinstance(other, B.SCALAR_TYPES):
        return B.py_scalar(other)
    raise TypeError(f"{name}: expected a tensor or a number, got {type(other).__name__}")


def _commit(name, self, r):
    """Write result `r` into `self`'s storage and give `self` the node that made `r`."""
    sd, rd = self._data, r._data
    if rd.shape != sd.shape:
        raise RuntimeError(f"{name}: the result has shape {tuple(rd.shape)}, which does not match "
                           f"the in-place target's shape {tuple(sd.shape)}")
    if rd.dtype != sd.dtype and not B.numpy.can_cast(rd.dtype, sd.dtype, "same_kind"):
        raise RuntimeError(f"{name}: result type {B.dtype_of(rd)} can't be cast to the in-place "
                           f"target's dtype {self.dtype}")
    try:
        B.xp_of(sd).copyto(sd, rd, casting="same_kind")
    except ValueError as exc:  # read-only storage, e.g. an expanded view
        raise RuntimeError(f"{name}: cannot write into this tensor ({exc}); clone() it first") \
            from None
    self._vc[0] += 1
    if r.grad_fn is not None:
        self.grad_fn = r.grad_fn
        self._rg = True
    fw = getattr(r, "_fw", None)
    if fw is not None:
        self._fw = fw
        from .. import autograd

        autograd.forward_ad._track(self)
    return self


def _inplace_arith(name):
    ufunc = _UFUNCS[name]
    public = {"add_": E.add, "sub_": E.sub, "mul_": E.mul, "div_": E.div}[name]

    def method(self, other, *, alpha=1):
        if alpha != 1:
            other = other * alpha
        if check_inplace(name, self, other):
            return _commit(name, self, public(self._alias(), other))
        sd = self._data
        od = _operand(name, self, other)
        try:
            getattr(B.xp_of(sd), ufunc)(sd, od, out=sd, casting="same_kind")
        except (TypeError, ValueError) as exc:
            raise _inplace_error(name, self, other, exc) from None
        self._vc[0] += 1
        return self
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place ``{public.__name__}``; returns self."
    return method


def _inplace_error(name, self, other, exc):
    shp = tuple(other._data.shape) if isinstance(other, Tensor) else "a number"
    odt = other.dtype if isinstance(other, Tensor) else type(other).__name__
    if "cast" in str(exc):
        return RuntimeError(f"{name}: result type of {self.dtype} and {odt} can't be cast to the "
                            f"in-place target's dtype {self.dtype}")
    return RuntimeError(f"{name}: operand of shape {shp} does not broadcast to the in-place "
                        f"target's shape {tuple(self._data.shape)} ({exc})")


for _n in _UFUNCS:
    setattr(_T, _n, _inplace_arith(_n))


def _iop(method):
    def iop(self, other):
        return method(self, other)
    return iop


_T.__iadd__ = _iop(_T.add_)
_T.__isub__ = _iop(_T.sub_)
_T.__imul__ = _iop(_T.mul_)
_T.__itruediv__ = _iop(_T.div_)


def _fill_(self, value):
    """Fill with `value` (a number or a one-element tensor) in place; returns self."""
    if isinstance(value, Tensor):
        if value._data.size != 1:
            raise RuntimeError(f"fill_: only supports a 0-dimensional value tensor, but got one "
                               f"with shape {tuple(value._data.shape)}")
        if check_inplace("fill_", self, value):
            return _setitem(self, Ellipsis, value.reshape(()), "fill_")
        value = value.item()
    if check_inplace("fill_", self):
        return _setitem(self, Ellipsis, value, "fill_")
    self._data.fill(value)
    self._vc[0] += 1
    return self


def _zero_(self):
    """Fill with zeros in place; returns self."""
    return _fill_(self, 0)


def _copy_(self, src, non_blocking=False):
    """Copy `src`'s values (broadcast, converted, moved from another device) into self."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_: expected a tensor, got {type(src).__name__}")
    if not B.same_device(src._data, self._data):
        src = src.to(self.device)
    return _setitem(self, Ellipsis, src, "copy_")


def _clamp_(self, min=None, max=None):  # noqa: F811 - torch's argument names
    """``clamp`` in place; returns self."""
    rec = check_inplace("clamp_", self, min if isinstance(min, Tensor) else max)
    return _commit("clamp_", self, E.clamp(self._alias() if rec else self.detach(), min, max))


def _setitem(self, index, value, name="setitem"):
    if check_inplace(name, self, value):
        return _commit(name, self, S.index_put(self._alias(), index, value))
    idx = S.norm_index(name, self, index)
    vd = _operand(name, self, value)
    try:
        self._data[idx] = vd
    except (ValueError, TypeError) as exc:
        raise RuntimeError(f"{name}: cannot assign a value of shape "
                           f"{tuple(getattr(vd, 'shape', ()))} to the selection of a tensor of "
                           f"shape {tuple(self._data.shape)}: {exc}") from None
    except IndexError as exc:
        raise IndexError(f"{name}: {exc} (tensor shape {tuple(self._data.shape)})") from None
    self._vc[0] += 1
    return self


def _setitem_method(self, index, value):
    _setitem(self, index, value)


def _unary_inplace(fn):
    def method(self, *args, **kwargs):
        rec = check_inplace(fn.__name__ + "_", self)
        return _commit(fn.__name__ + "_", self, fn(self._alias() if rec else self.detach(),
                                                     *args, **kwargs))
    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"``{fn.__name__}`` in place; returns self."
    return method


_T.fill_ = _fill_
_T.zero_ = _zero_
_T.copy_ = _copy_
_T.clamp_ = _T.clip_ = _clamp_
_T.__setitem__ = _setitem_method
for _fn in (E.exp, E.log, E.sqrt, E.sin, E.cos, E.tanh, E.sigmoid, E.relu, E.abs, E.neg,
            E.pow, E.floor, E.ceil, E.round, E.reciprocal):
    setattr(_T, _fn.__name__ + "_", _unary_inplace(_fn))

# ----------------------------------------------------------------------------- checked functions
# ``gpugrad.log("a")`` should say that `log` wants a tensor. The module-level functions check
# their first argument; Tensor methods and operators skip the check (self is a tensor).

_FIRST_NOT_TENSOR = {"cat", "concat", "concatenate", "stack", "hstack", "vstack", "pow",
                     "broadcast_tensors", "where", "add", "sub", "subtract", "mul", "multiply",
                     "div", "divide", "true_divide", "maximum", "minimum", "eq", "ne", "lt", "le",
                     "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal"}


def _checked(fn):
    name = fn.__name__

    @functools.wraps(fn)
    def checked(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be a Tensor, not "
                            f"{type(input).__name__}")
        return fn(input, *args, **kwargs)
    return checked


_PUBLIC = {*composite.__all__, *elementwise.__all__, *linalg.__all__, *shape.__all__, "all",
           "amax", "amin", "any", "argmax", "argmin", "logsumexp", "max", "mean", "min", "norm",
           "prod", "std", "sum", "var"}
for _name in _PUBLIC - _FIRST_NOT_TENSOR:
    globals()[_name] = _checked(globals()[_name])

__all__ = sorted(_PUBLIC)
