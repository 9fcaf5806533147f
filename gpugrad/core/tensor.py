"""Tensor: an array (NumPy or CuPy) plus the fields of the recorded graph.

This is the core layer: storage, metadata, graph fields, conversions and printing. The op
methods (``exp``, ``sum``, ``reshape``, operators, in-place variants) and ``backward`` are
defined by the layers above and attached with `attach` when they are imported, as PyTorch's
``torch._C.TensorBase`` is completed by ``torch/_tensor.py``; type checkers see them through
the generated stub ``_tensor_methods.pyi``.
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import backend as B
from . import format as _format
from .dims import norm_dim
from .node import Handle
from .state import track_all, track_post_hooked

if TYPE_CHECKING:
    from ._tensor_methods import TensorMethods
else:
    TensorMethods = object

_new = object.__new__


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``gpugrad.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self):
        return f"gpugrad.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


def wrap(data) -> Tensor:
    """A new tensor around array `data`, outside any graph (no copy)."""
    t = _new(Tensor)
    t._data = data
    t.grad_fn = None
    t._rg = False
    t._vc = [0]
    return t


def make_view(out, x, step) -> Tensor:
    """Make `out` a view of `x`: it shares x's version counter, and remembers its root base and
    the steps ``(op, params)`` that make it from that base, so that an in-place change through
    any view can rebuild the graph of the base and of every other live view (PyTorch's
    CopySlices). The base keeps its views by weak reference."""
    out._vc = x._vc
    base = getattr(x, "_base", None)
    if base is None:
        out._base = base = x
        out._view = (step,)
    else:
        out._base = base
        out._view = x._view + (step,)
    views = getattr(base, "_views", None)
    if views is None:
        base._views = [weakref.ref(out)]
    else:
        views.append(weakref.ref(out))
        if not len(views) & 63:  # now and then, forget the views that died
            views[:] = [r for r in views if r() is not None]
    return out


def live_views(base) -> list:
    """The views of `base` that are still alive."""
    views = getattr(base, "_views", None)
    if not views:
        return []
    out = [v for v in (r() for r in views) if v is not None]
    views[:] = [weakref.ref(v) for v in out]
    return out


class Tensor(TensorMethods):
    """A multi-dimensional array on a device, recorded for automatic differentiation.

    ``Tensor(data, dtype=None, device=None, requires_grad=False)`` behaves as
    ``gpugrad.tensor`` except that integer data becomes the default float dtype, as
    ``torch.Tensor`` does.

    Example::

        >>> x = gpugrad.Tensor([1, 2, 3], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    # _data: the array; _rg: requires_grad; _vc: version counter shared with views. Set only
    # when used (read with getattr): _grad; _fw, the forward-mode tangents by level
    # ({level: tangent}); _hooks, a leaf's hooks; _post_hooks, a leaf's post-accumulate-grad
    # hooks; _name, a label for graph pictures; _base,
    # the root tensor a view looks into, and _view, the steps that make the view from it;
    # _views, a base's views (weak).
    __slots__ = ("_data", "grad_fn", "_rg", "_vc", "_grad", "_fw", "_hooks", "_name", "_base",
                 "_view", "_views", "_post_hooks", "__weakref__")
    __array_priority__ = 1000
    __array_ufunc__ = None  # NumPy scalars defer to our reflected operators

    def __init__(self, data=(), dtype=None, device=None, requires_grad=False):
        self._data = from_data(data, B.get_default_dtype() if dtype is None else dtype, device)
        self.grad_fn = None
        self._rg = False
        self._vc = [0]
        if requires_grad:
            self.requires_grad_(True)

    # -------------------------------------------------------------- graph fields

    @property
    def requires_grad(self) -> bool:
        """Whether gradients are computed for this tensor."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by ``backward()`` (None until then)."""
        try:
            return self._grad
        except AttributeError:
            return None

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: expected a Tensor or None, got {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"grad: assigned gradient has shape {tuple(value.shape)} but "
                                   f"the tensor has shape {tuple(self.shape)}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"grad: assigned gradient has dtype {value.dtype} but the "
                                   f"tensor has dtype {self.dtype}; convert it with "
                                   f".to({self.dtype})")
            if value.device != self.device:
                raise RuntimeError(f"grad: assigned gradient is on {value.device} but the "
                                   f"tensor is on {self.device}")
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (inputs, parameters, detached)."""
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        return self._vc[0]

    @property
    def name(self) -> str | None:
        """An optional label (used by graph pictures); None unless set."""
        try:
            return self._name
        except AttributeError:
            return None

    @name.setter
    def name(self, value):
        self._name = value

    def requires_grad_(self, requires_grad=True) -> Tensor:
        """Set whether autograd records ops on this tensor (in place); returns self.

        Example::

            w = gpugrad.zeros(3).requires_grad_()
        """
        requires_grad = bool(requires_grad)
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(
                f"requires_grad_: only floating-point tensors can require gradients, but this "
                f"tensor has dtype {self.dtype}; convert it first, e.g. x.float()")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                f"requires_grad_: cannot turn off requires_grad on a non-leaf tensor (output of "
                f"{self.grad_fn.name()}); use .detach() to get a tensor outside the graph")
        self._rg = requires_grad
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor during backward (a no-op on leaves)."""
        if self.grad_fn is None:
            if not self._rg:
                raise RuntimeError("retain_grad: can't retain_grad on a tensor that has "
                                   "requires_grad=False")
            return
        self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        n = self.grad_fn
        return n is not None and n.retained is not None and n.retained() is self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a result replaces it.

        Returns a handle whose ``remove()`` takes the hook away.

        Example::

            h = x.register_hook(lambda g: g * 2)
        """
        if not self._rg:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                               "require gradient")
        if self.grad_fn is not None:
            return self.grad_fn.register_hook(hook)
        hooks = getattr(self, "_hooks", None)
        if hooks is None:
            hooks = self._hooks = []
        hooks.append(hook)
        return Handle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` once backward has accumulated this leaf's gradient into
        ``.grad`` (after its last use in the graph has run, while backward goes on for the
        rest); its result is ignored. Not called by ``autograd.grad``, which accumulates
        nothing. Returns a handle whose ``remove()`` takes the hook away.

        Example::

            w.register_post_accumulate_grad_hook(lambda p: print("ready", p.grad.shape))
        """
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        hooks = getattr(self, "_post_hooks", None)
        if hooks is None:
            hooks = self._post_hooks = []
        hooks.append(hook)
        track_post_hooked(self)
        return Handle(hooks, hook)

    def detach(self) -> Tensor:
        """A tensor sharing this one's storage but outside the graph (no gradient flows back)."""
        t = wrap(self._data)
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        """Detach this tensor from the graph in place: it becomes a leaf."""
        self.grad_fn = None
        self._rg = False
        return self

    @property
    def data(self) -> Tensor:
        """The tensor's values outside the graph (shares storage, like ``detach()``)."""
        return self.detach()

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data = value._data

    def _lift(self):
        """A new tensor object on the same storage, outside the graph."""
        return wrap(self._data)

    def _alias(self):
        """A second tensor object for the same storage, graph position and version counter."""
        t = self._lift()
        t._vc = self._vc
        t.grad_fn = self.grad_fn
        t._rg = self._rg
        fw = getattr(self, "_fw", None)
        if fw:
            t._fw = fw
            track_all(t)
        return t

    # -------------------------------------------------------------- storage and metadata

    @property
    def shape(self) -> Size:
        """The tensor's dimensions."""
        return Size(self._data.shape)

    def size(self, dim=None) -> Size | int:
        """The shape, or the length of dimension `dim`."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[norm_dim("size", dim, self._data.ndim)]

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    def dim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return int(self._data.size)

    def nelement(self) -> int:
        return int(self._data.size)

    @property
    def dtype(self) -> B.dtype:
        """The element type (``gpugrad.float32``, ...)."""
        return B._BY_NP[self._data.dtype]

    @property
    def device(self) -> B.device:
        """The device holding the storage, e.g. ``device(type='cuda', index=0)``."""
        return B.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return type(self._data) is not B.ndarray

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def element_size(self) -> int:
        return self._data.itemsize

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"item: a tensor with {self._data.size} elements cannot be "
                               "converted to a Python number; only one-element tensors can")
        return B.to_numpy(self._data).item()  # (a sync point: B.to_numpy)

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return B.to_numpy(self._data).tolist()

    def numpy(self, *, force=False):
        """The values as a NumPy array sharing storage (CPU tensors that don't require grad).

        ``force=True`` detaches and copies to the host as needed, as in PyTorch.
        """
        if force:
            return B.to_numpy(self._data).copy() if self.is_cuda else self._data
        if self._rg:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use "
                               "tensor.detach().numpy() instead")
        if self.is_cuda:
            raise TypeError(f"numpy: can't convert a tensor on {self.device} to NumPy; use "
                            "tensor.cpu() to copy it to the host first")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if self.is_cuda:
            raise TypeError(f"__array__: can't convert a tensor on {self.device} to a NumPy array "
                            "implicitly; use tensor.cpu() (or .cpu().numpy()) first")
        a = self._data
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __dlpack__(self, stream=None, **kwargs):
        """A DLPack capsule of the storage (no copy); see `gpugrad.from_dlpack`.

        ``stream`` and the other keywords go to the NumPy/CuPy array's ``__dlpack__``.
        """
        if self._rg:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        return self._data.__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self):
        """``(device_type, index)`` in DLPack's codes: ``(1, 0)`` on CPU, ``(2, i)`` on cuda:i."""
        return self._data.__dlpack_device__()

    @property
    def __cuda_array_interface__(self):
        """CUDA tensors' memory for CuPy, Numba and PyTorch (AttributeError on CPU, as torch)."""
        if not self.is_cuda:
            raise AttributeError("Can't get __cuda_array_interface__ on non-CUDA tensor type: "
                                 f"{self.dtype} on {self.device}; use tensor.cuda() first")
        if self._rg:
            raise RuntimeError("Can't get __cuda_array_interface__ on a tensor that requires "
                               "grad; use tensor.detach() to get one that doesn't")
        return self._data.__cuda_array_interface__

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of a tensor with {self._data.size} elements is "
                               "ambiguous; use .any() or .all()")
        return bool(B.to_numpy(self._data).item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return _format.tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("deepcopy: only leaf tensors (made by the user, not by an op) "
                               "support deepcopy; use .detach() or .clone() first")
        t = wrap(self._data.copy())
        t._rg = self._rg
        memo[id(self)] = t
        g = self.grad
        if g is not None:
            t._grad = g.__deepcopy__(memo)
        return t

    def __reduce__(self):
        raise TypeError("gpugrad tensors are not pickled; use gpugrad.save / .numpy()")

    # -------------------------------------------------------------- device and dtype moves

    def cpu(self) -> Tensor:
        """This tensor on the CPU (self if it already is)."""
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        """This tensor on a CUDA device (``cuda:0`` by default)."""
        return self.to(B.device("cuda", device if isinstance(device, int) else None)
                       if not isinstance(device, (str, B.device)) else device)

    def type(self, dtype=None, non_blocking=False):
        """With no argument, the legacy type name (``'gpugrad.FloatTensor'``,
        ``'gpugrad.cuda.LongTensor'``); else this tensor converted to `dtype`: a dtype, a
        legacy type (``gpugrad.DoubleTensor``, which is on the CPU) or its name, with
        ``torch.`` or ``gpugrad.`` in front (``'torch.cuda.FloatTensor'`` moves to the GPU).

        Example::

            >>> gpugrad.ones(2).type()
            'gpugrad.FloatTensor'
            >>> gpugrad.ones(2).type('torch.DoubleTensor').dtype
            gpugrad.float64
        """
        if dtype is None:
            cuda = "cuda." if self.device.type == "cuda" else ""
            return f"gpugrad.{cuda}{LEGACY_TYPES[self.dtype.name]}"
        if isinstance(dtype, str):
            dev, dt = parse_legacy_type(dtype)
            return self.to(device=dev, dtype=dt)
        legacy = getattr(dtype, "legacy_dtype", None)  # gpugrad.FloatTensor, ...
        if legacy is not None:
            return self.to(device=dtype.legacy_device, dtype=legacy)
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(B.float32)

    def double(self) -> Tensor:
        return self.to(B.float64)

    def half(self) -> Tensor:
        return self.to(B.float16)

    def long(self) -> Tensor:
        return self.to(B.int64)

    def int(self) -> Tensor:
        return self.to(B.int32)

    def bool(self) -> Tensor:
        return self.to(B.bool_)

    def contiguous(self) -> Tensor:
        return self

    def is_contiguous(self) -> builtins.bool:
        return bool(self._data.flags.c_contiguous)


# Legacy tensor types (``torch.FloatTensor``, ...) by dtype name.
LEGACY_TYPES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
_LEGACY_DTYPES = {v: k for k, v in LEGACY_TYPES.items()}


def parse_legacy_type(name):
    """``(device, dtype)`` of a legacy type name: ``'torch.FloatTensor'``,
    ``'gpugrad.cuda.LongTensor'``, ..."""
    parts = name.split(".")
    if len(parts) in (2, 3) and parts[0] in ("torch", "gpugrad") and (
            len(parts) == 2 or parts[1] == "cuda") and parts[-1] in _LEGACY_DTYPES:
        return ("cuda" if len(parts) == 3 else "cpu"), B.to_dtype(_LEGACY_DTYPES[parts[-1]])
    raise ValueError(f"invalid type: {name!r} (expected a name such as 'torch.FloatTensor', "
                     "'gpugrad.cuda.LongTensor')")


# Methods attached by the layers above (name -> function), in the order attached: what the
# generated stub declares for type checkers.
ATTACHED: dict[str, Callable | property] = {}


def attach(name: str, fn: Callable | property) -> None:
    """Make `fn` the Tensor method (or operator, or property) `name`; each name once."""
    if name in ATTACHED or name in Tensor.__dict__:
        raise ValueError(f"Tensor.{name} is already defined")
    ATTACHED[name] = fn
    setattr(Tensor, name, fn)


def from_data(data, dtype=None, device=None, op="tensor"):
    """A new array holding a copy of `data` (nested lists, numbers, NumPy/CuPy arrays, tensors),
    with PyTorch's dtype inference when `dtype` is None."""
    dt = None if dtype is None else B.to_dtype(dtype)
    if isinstance(data, Tensor):
        a = B.transfer(data._data, data.device if device is None else B.as_device(device), op)
        return a.astype(a.dtype if dt is None else dt.np, copy=True)
    if isinstance(data, (list, tuple)) and data and builtins.any(
            isinstance(x, Tensor) for x in _flatten_first(data)):
        data = _lists_of_tensors(data)
    dev = B.as_device(device) if device is not None else device_of_data(data)
    return B.as_array(data, dt, dev, copy=True, op=op)


def _flatten_first(data):
    while isinstance(data, (list, tuple)) and data:
        yield data[0]
        data = data[0]


def _lists_of_tensors(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_lists_of_tensors(x) for x in data]
    return data


def device_of_data(data):
    """The device a tensor made of `data` goes to: a CuPy array's, else the default device."""
    if B.is_array(data) and type(data) is not B.ndarray:
        return B.device_of(data)
    return B.get_default_device()


def parse_to(name, args, kwargs):
    """``(device, dtype)`` from the arguments of a ``to`` call: a device, a dtype, both, or a
    tensor whose device and dtype are taken; either may be None."""
    dev = kwargs.pop("device", None)
    dt = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"{name}: unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, (str, B.device, int)) and not isinstance(a, bool):
            dev = a
        elif a is not None:
            dt = a
    return (None if dev is None else B.as_device(dev)), (None if dt is None else B.to_dtype(dt))


def is_tensor(obj) -> bool:
    """True if `obj` is a gpugrad Tensor."""
    return isinstance(obj, Tensor)
