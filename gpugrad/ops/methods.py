"""The Tensor methods of the ops layer, attached once at import from the declarations
(`registry.PUBLIC`): a method per declared public op, ``<name>_`` for each in-place variant,
the operators, indexing, and ``to``.

An in-place variant ``x.<name>_(*args)`` is ``<name>(x, *args, out=x)``: `apply` writes the
result into x's storage (with no temporary when no graph is being built) and x takes the new
node; the guard refuses changes that would corrupt the graph, naming the method.
"""

from __future__ import annotations

from .. import backend as B
from ..core.tensor import Tensor, attach, parse_to
from . import elementwise as E
from . import linalg as L
from . import shape as S
from .registry import PUBLIC, Target, apply, check_inplace, named, public


def _inplace(name, fn):
    def method(self, *args, **kwargs):
        check_inplace(name, self, args)
        return fn(self, *args, out=Target(self, name), **kwargs)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place ``{fn.__name__}``; returns self."
    return method


def _declared_methods():
    for name, p in PUBLIC.items():
        if p.method:
            attach(name, p.fn if p.method is True else p.method)
        if p.inplace:
            attach(name + "_", _inplace(name + "_", p.fn))


# ----------------------------------------------------------------------------- writes


@public("In place", function=False)
def fill_(self, value):
    """Fill with `value` (a number or a one-element tensor) in place; returns self."""
    check_inplace("fill_", self, (value,))
    if isinstance(value, Tensor):
        if value._data.size != 1:
            raise RuntimeError(f"fill_: only supports a 0-dimensional value tensor, but got one "
                               f"with shape {tuple(value._data.shape)}")
        value = value.reshape(())
    else:
        value = B.check_scalar(value, self.dtype, "fill_")
    node = "FillBackward3" if isinstance(value, Tensor) else "FillBackward2"
    return _written(self, self.grad_fn, S.index_put(self, (Ellipsis,), value,
                                                    out=Target(self, "fill_")), node)


def _written(self, before, r, node):
    """`r` (self after an in-place write), its new node, if the write recorded one, shown as
    PyTorch's `node`."""
    return named(r, node) if r.grad_fn is not before else r


@public("In place", function=False)
def zero_(self):
    """Fill with zeros in place; returns self."""
    before = self.grad_fn
    return _written(self, before, fill_(self, 0), "ZeroBackward0")


@public("In place", function=False)
def copy_(self, src, non_blocking=False):
    """Copy `src`'s values (broadcast, converted, moved from another device) into self."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_: expected a tensor, got {type(src).__name__}")
    check_inplace("copy_", self, (src,))
    if not B.same_device(src._data, self._data):
        src = src.to(self.device)
    return _written(self, self.grad_fn, S.index_put(self, (Ellipsis,), src,
                                                    out=Target(self, "copy_")), "CopyBackwards")


def __setitem__(self, index, value) -> None:
    check_inplace("setitem", self, (value,))
    S.index_put(self, S.norm_index("setitem", self, index), value, out=Target(self, "setitem"))


# ----------------------------------------------------------------------------- other methods


def to(self, *args, **kwargs) -> Tensor:
    """Move to a device and/or convert to a dtype: ``to("cuda")``, ``to(gpugrad.float64)``,
    ``to(other_tensor)``, ``to(device, dtype)``. Returns self when nothing changes.

    Example::

        x = x.to("cuda", gpugrad.float32)
    """
    copy = kwargs.pop("copy", False)
    dev, dt = parse_to("to", args, kwargs)
    t = self
    if dt is not None and dt.np != t._data.dtype:
        t = E.to_dtype(t, dt)
    if dev is not None and dev != t.device:
        t = S.to_device(t, dev)
    if copy and t is self:
        t = self.clone()
    return t


def _T(self):
    return S.permute(self, *reversed(range(self._data.ndim)))


def _mT(self):
    return S.transpose(self, -2, -1)


# ----------------------------------------------------------------------------- operators


def __add__(self, other):
    return apply(E.ADD, (self, other))


def __radd__(self, other):
    return apply(E.ADD, (other, self))


def __sub__(self, other):
    return apply(E.SUB, (self, other))


def __rsub__(self, other):
    # PyTorch's rsub(Tensor, Scalar): RsubBackward1
    r = apply(E.SUB, (other, self))
    return r if isinstance(other, Tensor) else named(r, "RsubBackward1")


def __mul__(self, other):
    return apply(E.MUL, (self, other))


def __rmul__(self, other):
    return apply(E.MUL, (other, self))


def __truediv__(self, other):
    return E.div(self, other)


def __rtruediv__(self, other):
    return E.div(other, self)


def __floordiv__(self, other):
    return E.floor_divide(self, other)


def __rfloordiv__(self, other):
    return E.floor_divide(other, self)


def __mod__(self, other):
    return E.remainder(self, other)


def __rmod__(self, other):
    return E.remainder(other, self)


def __pow__(self, other):
    return E.pow(self, other)


def __rpow__(self, other):
    return E.pow(other, self)


def __matmul__(self, other):
    return L.matmul(self, other)


def __rmatmul__(self, other):
    return L.matmul(other, self)


def __neg__(self):
    return E.neg(self)


def __pos__(self):
    return self


def __abs__(self):
    return E.abs(self)


def __and__(self, other):
    return E.logical_and(self, other) if self._data.dtype.kind == "b" else \
        E.bitwise_and(self, other)


def __or__(self, other):
    return E.logical_or(self, other) if self._data.dtype.kind == "b" else \
        E.bitwise_or(self, other)


def __xor__(self, other):
    return E.logical_xor(self, other) if self._data.dtype.kind == "b" else \
        E.bitwise_xor(self, other)


def __invert__(self):
    if self._data.dtype.kind != "b":
        raise TypeError(f"~: only bool tensors are supported, got {self.dtype}")
    return E.logical_not(self)


def _iop(name):
    def iop(self, other):
        return getattr(self, name)(other)
    iop.__name__ = iop.__qualname__ = name
    return iop


_OPERATORS = {
    "__add__": __add__, "__radd__": __radd__, "__sub__": __sub__, "__rsub__": __rsub__,
    "__mul__": __mul__, "__rmul__": __rmul__, "__truediv__": __truediv__,
    "__rtruediv__": __rtruediv__, "__floordiv__": __floordiv__,
    "__rfloordiv__": __rfloordiv__, "__mod__": __mod__, "__rmod__": __rmod__,
    "__pow__": __pow__, "__rpow__": __rpow__, "__matmul__": __matmul__,
    "__rmatmul__": __rmatmul__, "__neg__": __neg__, "__pos__": __pos__, "__abs__": __abs__,
    "__eq__": E.eq, "__ne__": E.ne, "__lt__": E.lt, "__le__": E.le, "__gt__": E.gt,
    "__ge__": E.ge, "__and__": __and__, "__rand__": __and__, "__or__": __or__,
    "__ror__": __or__, "__xor__": __xor__, "__rxor__": __xor__, "__invert__": __invert__,
    "__getitem__": S.getitem, "__setitem__": __setitem__,
    "__iadd__": _iop("add_"), "__isub__": _iop("sub_"), "__imul__": _iop("mul_"),
    "__itruediv__": _iop("div_"), "__ifloordiv__": _iop("floor_divide_"),
    "__imod__": _iop("remainder_"), "__ipow__": _iop("pow_"),
}


def attach_all() -> None:
    """Attach the ops layer's methods to Tensor (once, when gpugrad.ops is imported)."""
    _declared_methods()
    attach("to", to)
    attach("T", property(_T, doc="The tensor with its dims reversed (the transpose of a matrix)."))
    attach("mT", property(_mT, doc="The transpose of the last two dims (batched matrices)."))
    for name, fn in _OPERATORS.items():
        attach(name, fn)
