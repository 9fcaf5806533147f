"""The one module that imports NumPy or CuPy: devices, dtypes, array-module lookup, transfers, RNG.

Everything else gets its array module (`xp`) from here and never branches on the device.
CuPy is imported lazily, the first time a CUDA device is asked for.

Where CuPy does not refuse what NumPy refuses, the checks live here: an out-of-range index is
an IndexError at once on the CPU and, on a GPU, a check done on the device and raised at the
next sync point (`check_index`, "index checks" below), as PyTorch's device-side asserts.
"""

from __future__ import annotations

import contextlib
import math
import threading

import numpy as np

ndarray = np.ndarray
numpy = np

# ----------------------------------------------------------------------------- dtypes


class dtype:
    """A tensor element type under PyTorch's name (``gpugrad.float32``, ...)."""

    __slots__ = ("name", "np", "is_floating_point", "itemsize", "_rank")

    def __init__(self, name, np_dtype, is_floating_point, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = is_floating_point
        self.itemsize = self.np.itemsize
        self._rank = rank

    def __repr__(self):
        return f"gpugrad.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


float16 = dtype("float16", np.float16, True, 10)
float32 = dtype("float32", np.float32, True, 11)
float64 = dtype("float64", np.float64, True, 12)
uint8 = dtype("uint8", np.uint8, False, 2)
int8 = dtype("int8", np.int8, False, 2)
int16 = dtype("int16", np.int16, False, 3)
int32 = dtype("int32", np.int32, False, 4)
int64 = dtype("int64", np.int64, False, 5)
bool_ = dtype("bool", np.bool_, False, 0)

DTYPES = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NP = {d.np: d for d in DTYPES}
_BY_NAME = {d.name: d for d in DTYPES}
_BY_NAME.update(half=float16, float=float32, double=float64, int=int32, long=int64, short=int16)


def _dtype_by_name(name):
    return _BY_NAME[name]


def to_dtype(d) -> dtype:
    """Normalise a gpugrad dtype, a NumPy dtype, a type or a name to a gpugrad dtype."""
    if d.__class__ is dtype:
        return d
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    if d is float:
        return float64  # Python's float is a double, as in PyTorch
    if d is int:
        return int64
    if d is bool:
        return bool_
    try:
        return _BY_NP[np.dtype(d)]
    except (TypeError, KeyError):
        raise TypeError(f"gpugrad: unsupported dtype {d!r}; use one of "
                        f"{', '.join(x.name for x in DTYPES)}") from None


def dtype_of(a) -> dtype:
    return _BY_NP[a.dtype]


_default = [float32]


def set_default_dtype(d):
    """Set the dtype of new floating-point tensors (float32 or float64), as torch does."""
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _default[0] = d


def get_default_dtype() -> dtype:
    """The dtype of new floating-point tensors (float32 unless changed)."""
    return _default[0]


def default_float_np():
    return _default[0].np


_promote_cache: dict = {}


def promote_types(a: dtype, b: dtype) -> dtype:
    """PyTorch's promotion of two dtypes: a float beats any integer or bool, else the wider."""
    key = (a, b)
    r = _promote_cache.get(key)
    if r is None:
        if a.is_floating_point != b.is_floating_point:
            r = a if a.is_floating_point else b
        else:
            r = _BY_NP[np.promote_types(a.np, b.np)]
            if r not in DTYPES:  # e.g. uint8 + int8 -> int16 is fine; guard against anything else
                r = int64
        _promote_cache[key] = r
    return r


def result_type(a, b):
    """Result NumPy dtype of two arrays under PyTorch's rules (0-d arrays rank below n-d)."""
    da, db = _BY_NP[a.dtype], _BY_NP[b.dtype]
    if _category(da) == _category(db) and (a.ndim == 0) != (b.ndim == 0):
        # Same category (bool, integer, float): a dimensioned tensor decides over a 0-d one, as
        # in PyTorch; a higher category always wins.
        return (da if b.ndim == 0 else db).np
    return promote_types(da, db).np


def _category(d):
    return 2 if d.is_floating_point else (0 if d is bool_ else 1)


def scalar_result_type(a, s):
    """Result NumPy dtype of array `a` with Python scalar `s` (no upcast within a category)."""
    k = a.dtype.kind
    if isinstance(s, bool):
        return a.dtype
    if isinstance(s, int):
        return np.dtype(np.int64) if k == "b" else a.dtype
    if isinstance(s, float):
        return a.dtype if k == "f" else _default[0].np
    raise TypeError(f"unsupported scalar {s!r} of type {type(s).__name__}")


# ----------------------------------------------------------------------------- devices


class device:
    """Where a tensor's storage lives: ``device("cpu")``, ``device("cuda")``, ``"cuda:1"``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - torch's name
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {type!r}")
        name = type.strip().lower()
        if ":" in name:
            if index is not None:
                raise ValueError(f"device: index given twice in {type!r}")
            name, _, idx = name.partition(":")
            if not idx.isdigit():
                raise ValueError(f"device: invalid device string {type!r}; expected 'cuda:N'")
            index = int(idx)
        if name not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device type {type!r}; "
                             "expected 'cpu', 'cuda' or 'cuda:N'")
        if name == "cpu" and index not in (None, 0):
            raise ValueError(f"device: cpu has no index {index}")
        self.type = name
        self.index = None if name == "cpu" else index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")
_cuda_devices: dict = {}


def as_device(d) -> device:
    """Normalise a device, a string or a CUDA index; None is the default device."""
    if d is None:
        return _default_device[0]
    if d.__class__ is device:
        return d
    if isinstance(d, int):
        return device("cuda", d)
    return device(d)


_default_device = [CPU]


def set_default_device(d) -> None:
    """Make `d` the device of new tensors made without ``device=`` (None: back to the CPU)."""
    _default_device[0] = CPU if d is None else as_device(d)


def get_default_device() -> device:
    """The device of new tensors made without ``device=`` (the CPU unless changed)."""
    return _default_device[0]


# ----------------------------------------------------------------------------- CuPy, lazily

_cupy = None
_cupy_error = None
_lock = threading.Lock()


def _load_cupy():
    """Import CuPy once; return it, or None with the reason kept in `_cupy_error`."""
    global _cupy, _cupy_error
    if _cupy is not None or _cupy_error is not None:
        return _cupy
    with _lock:
        if _cupy is None and _cupy_error is None:
            try:
                import cupy  # noqa: PLC0415 - optional, lazy by design

                _cupy = cupy
                _XP[cupy.ndarray] = cupy
            except Exception as exc:  # ImportError, or a broken CUDA install
                _cupy_error = f"{type(exc).__name__}: {exc}"
    return _cupy


def load_nccl(op: str = "gpugrad.distributed"):
    """CuPy's NCCL bindings (``cupy.cuda.nccl``), or an error saying what is missing."""
    require_cuda(device("cuda", 0), op)
    try:
        from cupy.cuda import nccl  # noqa: PLC0415 - optional, lazy by design
    except Exception as exc:
        raise RuntimeError(f"{op}: the 'nccl' backend needs CuPy's NCCL bindings "
                           f"(cupy.cuda.nccl), which could not be imported ({exc}); install "
                           "NCCL for your CUDA version (pip install nvidia-nccl-cu12) or use "
                           "the 'mpi' backend with CPU tensors") from exc
    if not getattr(nccl, "available", True):
        raise RuntimeError(f"{op}: this CuPy was built without NCCL; install NCCL "
                           "(pip install nvidia-nccl-cu12) or use the 'mpi' backend")
    return nccl


def cuda_device_count() -> int:
    cp = _load_cupy()
    if cp is None:
        return 0
    try:
        return cp.cuda.runtime.getDeviceCount()
    except Exception:
        return 0


def cuda_is_available() -> bool:
    return cuda_device_count() > 0


def require_cuda(dev: device, op: str = "gpugrad"):
    """Return CuPy for `dev`, or raise an error that says what is missing and how to fix it."""
    cp = _load_cupy()
    if cp is None:
        raise RuntimeError(
            f"{op}: device '{dev}' needs CuPy, which could not be imported ({_cupy_error}). "
            "Install it with `pip install 'gpugrad[cuda12]'` (CUDA 12) or "
            "`pip install 'gpugrad[cuda13]'` (CUDA 13), or use device='cpu'."
        )
    n = cuda_device_count()
    if n == 0:
        raise RuntimeError(
            f"{op}: device '{dev}' was asked for, but CuPy sees no CUDA GPU (device count 0). "
            "Check the NVIDIA driver and CUDA_VISIBLE_DEVICES, or use device='cpu'."
        )
    if dev.index is not None and dev.index >= n:  # (no index: the current device, which exists)
        raise RuntimeError(f"{op}: device '{dev}' does not exist; {n} CUDA device(s) are visible")
    return cp


class NoValues(np.ndarray):
    """A read-only array that has a shape and a dtype but refuses to give values: the `_data`
    of a batched tensor inside vmap (the values are the batch's, elsewhere). Code that reads
    only shapes works; code that computes on the values raises here instead of computing on
    a stand-in (a silent wrong answer)."""

    def _refuse(self, *_a, **_k):
        raise RuntimeError(
            "vmap: an op read the values of a batched tensor's raw array (its `_data`), which "
            "inside vmap holds only the shape and dtype of one example; this op has no batched "
            "path for that (please report it). Call it outside vmap, or on unbatched tensors")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        self._refuse()

    def __array_function__(self, func, types, args, kwargs):
        if func in _SHAPE_ONLY:
            args = tuple(a.view(np.ndarray) if type(a) is NoValues else a for a in args)
            return func(*args, **kwargs)
        self._refuse()

    def __getitem__(self, key):
        r = super().__getitem__(key)
        if not isinstance(r, np.ndarray):  # one entry: a value
            self._refuse()
        return r

    item = tolist = tobytes = __int__ = __float__ = __complex__ = __index__ = _refuse
    __bool__ = __iter__ = __array__ = _refuse


_SHAPE_ONLY = {np.shape, np.ndim, np.size, np.result_type, np.can_cast, np.broadcast_shapes,
               np.broadcast_to, np.empty_like, np.zeros_like, np.ones_like, np.full_like,
               np.may_share_memory, np.shares_memory}


# Array class -> array module. CuPy's class is added when CuPy loads.
_XP: dict = {np.ndarray: np, NoValues: np}


def xp_of(a):
    """The array module (numpy or cupy) that owns array `a`."""
    return _XP[type(a)]


def device_of(a) -> device:
    if type(a) is np.ndarray or type(a) is NoValues:
        return CPU
    return _cuda_device(a.device.id)


def same_device(a, b) -> bool:
    ta, tb = type(a), type(b)
    if ta is not tb:
        return _XP.get(ta) is np and _XP.get(tb) is np  # an ndarray and a NoValues
    return ta is np.ndarray or ta is NoValues or a.device.id == b.device.id


def is_array(a) -> bool:
    """True for NumPy and CuPy arrays (CuPy is loaded when a CuPy array is seen)."""
    t = type(a)
    if t in _XP:
        return True
    if t.__module__.partition(".")[0] == "cupy" and _load_cupy() is not None:
        return t in _XP
    return False


def xp_for(dev: device, op: str = "gpugrad"):
    """The array module for a device (raises a clear error for unusable CUDA)."""
    if dev.type == "cpu":
        return np
    return require_cuda(dev, op)


# ----------------------------------------------------------------------------- current device
# CuPy allocates and launches on the *current* CUDA device (per host thread), not on the device
# of the arrays it is given: ``a.copy()``, ``a.astype(t)``, ``xp.zeros(...)`` and every kernel
# of an array on cuda:1 run on cuda:0 while cuda:0 is current (through peer access, with the
# result on cuda:0, or a ValueError without it). So work on an array enters its device first,
# as PyTorch's device guards do: `on_device_of(a)` (the ops' forwards in `apply`, the rules in
# the backward engine, copies and casts) and `on_device(dev)` (factories, random draws). Both
# compare first and give the shared no-op `NO_SWITCH` for NumPy arrays and for the device that
# is current already (the common case: one GPU), so that a switch costs only where one is made.
# A device with no index (``"cuda"``) means the current device, as in PyTorch.


class _NoSwitch:
    """The shared do-nothing context: nothing to switch (the CPU, or the current device)."""

    __slots__ = ()

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


NO_SWITCH = _NoSwitch()


def _cuda_device(i: int) -> device:
    """The (shared) device object of cuda:i."""
    d = _cuda_devices.get(i)
    if d is None:
        d = _cuda_devices[i] = device("cuda", i)
    return d


def resolve(dev: device) -> device:
    """`dev` with its CUDA index made explicit: ``device("cuda")`` (no index) is the current
    device, as PyTorch's ``to`` resolves it, so that ``x.to("cuda")`` on a tensor already on
    the current GPU is a no-op. The device object itself keeps PyTorch's equality
    (``device("cuda") != device("cuda", 0)``); moves compare resolved devices. Where CuPy or a
    GPU is missing, `dev` unchanged (the move that follows explains what is missing)."""
    if dev.index is not None or dev.type == "cpu":
        return dev
    cp = _load_cupy()
    if cp is None:
        return dev
    try:
        return _cuda_device(cp.cuda.runtime.getDevice())
    except Exception:  # no driver, no device: `require_cuda` says so at the move
        return dev


def on_device(dev: device, op="gpugrad"):
    """A context that makes `dev` the current CUDA device (`NO_SWITCH` on the CPU, for a
    device with no index, and for the current device); raises `require_cuda`'s error for an
    unusable CUDA device."""
    if dev.type == "cpu":
        return NO_SWITCH
    cp = require_cuda(dev, op)
    i = dev.index
    if i is None or i == cp.cuda.runtime.getDevice():
        return NO_SWITCH
    return cp.cuda.Device(i)


def on_device_of(a):
    """A context in which CuPy works on array `a`'s device: `NO_SWITCH` for NumPy arrays (no
    CUDA call) and for an array on the current device, else ``cupy.cuda.Device(i)``.

    Example::

        with B.on_device_of(a):
            b = a.astype(a.dtype)   # on a's device, whichever is current
    """
    t = type(a)
    if t is np.ndarray or t is NoValues or _cupy is None:  # (no CuPy: a stand-in in tests)
        return NO_SWITCH
    i = a.device.id
    if i == _cupy.cuda.runtime.getDevice():
        return NO_SWITCH
    return _cupy.cuda.Device(i)


def copy_of(a):
    """A copy of array `a` on `a`'s own device (CuPy's ``copy`` allocates on the current one)."""
    if type(a) is np.ndarray:
        return a.copy()
    with on_device_of(a):
        return a.copy()


class DeviceKeeper:
    """The backward engine's device for CuPy: `follow(a)` makes array `a`'s device (or device
    `a`) current, where a node's rule then allocates and launches, and where the cotangents it
    returns are summed; at exit the device current when it was made is current again. It wraps
    the engine's other context (`inner`, entered already) and exits it too, so that the engine
    has one exit for both, and nothing to do on NumPy."""

    __slots__ = ("inner", "index")

    def __init__(self, inner):
        self.inner = inner
        self.index = None if _cupy is None else _cupy.cuda.runtime.getDevice()

    def follow(self, a):
        if self.index is None:
            return
        if type(a) is device:
            if a.type == "cpu":
                return
            i = cuda_index(a)
        elif _XP.get(type(a), np) is np:  # (host arrays and scalars)
            return
        else:
            i = a.device.id
        runtime = _cupy.cuda.runtime
        if i != runtime.getDevice():
            runtime.setDevice(i)

    def __exit__(self, *exc):
        try:
            return self.inner.__exit__(*exc)
        finally:
            if self.index is not None and _cupy.cuda.runtime.getDevice() != self.index:
                _cupy.cuda.runtime.setDevice(self.index)


class RangeError(OverflowError, RuntimeError):
    """A value that does not fit the target dtype (an OverflowError; also a RuntimeError, the
    type PyTorch raises for it)."""


_REFUSED_KINDS = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "V": "structured",
                  "M": "datetime64", "m": "timedelta64"}


def _refuse(a, data, op):
    """TypeError for data gpugrad has no dtype for (complex, object, strings, datetimes)."""
    what = _REFUSED_KINDS.get(a.dtype.kind)
    if what == "object" and not isinstance(data, np.ndarray):
        for v in _leaves(data):
            if isinstance(v, int) and not isinstance(v, bool) and not -2**63 <= v < 2**63:
                raise RangeError(f"{op}: the integer {v} does not fit in int64 (range "
                                 f"[{-2**63}, {2**63 - 1}])")
        raise TypeError(f"{op}: could not infer a numeric dtype from the data (an element of "
                        f"type {_odd_leaf(data)}); use numbers, bools, arrays or tensors")
    if what is not None:
        raise TypeError(f"{op}: can't make a tensor of {what} data (NumPy dtype {a.dtype}); "
                        f"gpugrad holds {', '.join(d.name for d in DTYPES)}")


def _leaves(data):
    if isinstance(data, (list, tuple)):
        for x in data:
            yield from _leaves(x)
    else:
        yield data


def _odd_leaf(data):
    for v in _leaves(data):
        if not isinstance(v, (int, float, bool, np.generic)):
            return type(v).__name__
    return "object"


def check_range(a, target, op):
    """Raise RangeError when array `a` holds values that `target` (a NumPy dtype) can't hold:
    NaN, inf or out-of-range numbers into an integer dtype. Casts that can't lose range skip
    the scan."""
    if target.kind not in "iu" or a.dtype.kind not in "iuf" or a.size == 0:
        return
    if np.can_cast(a.dtype, target, "safe"):
        return
    xp = xp_of(a) if type(a) is not np.ndarray else np
    info = np.iinfo(target)
    if a.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = not bool(xp.isfinite(a).all()) or float(a.min()) < info.min \
                or float(a.max()) >= float(info.max) + 1
    else:
        bad = int(a.min()) < info.min or int(a.max()) > info.max
    if bad:
        lo, hi = float(a.min()), float(a.max())
        shown = "NaN or inf" if a.dtype.kind == "f" and not (math.isfinite(lo) and math.isfinite(
            hi)) else f"values in [{a.min()}, {a.max()}]"
        raise RangeError(f"{op}: {shown} can't be converted to {_BY_NP[target].name} without "
                         f"overflow (its range is [{info.min}, {info.max}])")


def check_scalar(value, dt: dtype, op: str):
    """A fill value checked against `dt`: a number (else TypeError) that fits (else RangeError)."""
    value = py_scalar(value)
    if not isinstance(value, (int, float, bool)):
        raise TypeError(f"{op}: fill value must be a number (int, float or bool), got "
                        f"{type(value).__name__}")
    if dt.np.kind in "iu" and not isinstance(value, bool):
        info = np.iinfo(dt.np)
        if isinstance(value, float) and not math.isfinite(value) or not (
                info.min <= value < info.max + 1):
            raise RangeError(f"{op}: value {value!r} can't be converted to {dt.name} without "
                             f"overflow (its range is [{info.min}, {info.max}])")
    return value


def _host_array(data, dt, copy, op):
    """`data` as a NumPy array of a gpugrad dtype (`dt`, or inferred as PyTorch does),
    refusing what no gpugrad dtype can hold."""
    try:
        a = np.array(data, copy=True if copy else None)
    except ValueError as exc:  # ragged nested lists, ...
        raise ValueError(f"{op}: could not make a tensor of this data: {exc}") from None
    except OverflowError as exc:
        raise RangeError(f"{op}: {exc}") from None
    _refuse(a, data, op)
    if dt is None:
        return _infer(a, data, op)
    check_range(a, dt.np, op)
    return a.astype(dt.np, copy=False)


def as_array(data, dt: dtype | None, dev: device, copy: bool, op: str = "tensor"):
    """Make an array of `data` (nested lists, scalars, NumPy or CuPy arrays) on `dev`.

    Complex, object, string and datetime data raise TypeError; values out of the dtype's range
    (NaN into an integer dtype, 2**63 into int64) raise RangeError (an OverflowError)."""
    if dev.type == "cpu":
        if type(data) is not np.ndarray and not isinstance(data, (list, tuple, int, float, bool)):
            cp = _cupy
            if cp is not None and isinstance(data, cp.ndarray):
                raise TypeError(f"{op}: data is a CuPy array on cuda:{data.device.id}; "
                                "pass device='cuda' or move it with .get() first")
        return _host_array(data, dt, copy, op)
    cp = require_cuda(dev, op)
    if isinstance(data, cp.ndarray):
        # Checked, inferred and cast on the data's own device (CuPy casts on the current one),
        # then moved: one copy, unless both a cast and a move are needed.
        i = cuda_index(dev)
        with on_device_of(data):
            _refuse(data, data, op)
            target = dt.np if dt is not None else _infer_dtype(data)
            check_range(data, target, op)
            a = data.astype(target, copy=copy and data.device.id == i)
        return a if a.device.id == i else transfer(a, dev, op)
    host = _host_array(data, dt, False, op)  # (the ragged-data and dtype errors of the CPU)
    with on_device(dev, op):
        return cp.asarray(host)


def cuda_index(dev: device) -> int:
    """The CUDA device number `dev` stands for: its index, or the current device's for
    ``"cuda"`` (CuPy loaded: call after `require_cuda`)."""
    if dev.index is not None:
        return dev.index
    cp = _cupy
    assert cp is not None, "cuda_index: CuPy is not loaded (call require_cuda first)"
    return cp.cuda.runtime.getDevice()


def _infer_dtype(a):
    """The dtype PyTorch infers for device array `a` (its own, or int64/float64 for other
    widths), found from its dtype alone (no values read)."""
    if a.dtype in _BY_NP:
        return a.dtype
    return np.dtype(np.float64 if a.dtype.kind == "f" else np.int64)


def _infer(a, data, op="tensor"):
    """PyTorch's dtype inference: Python floats -> default dtype, ints -> int64, bools -> bool;
    arrays keep their dtype (other NumPy widths go to int64 or float64, range checked)."""
    k = a.dtype.kind
    if isinstance(data, (np.ndarray, np.generic)) or (
            _cupy is not None and isinstance(data, _cupy.ndarray)):
        if a.dtype in _BY_NP:
            return a
        target = np.dtype(np.float64 if k == "f" else np.int64)
        check_range(a, target, op)
        return a.astype(target)
    if k == "f":
        return a.astype(_default[0].np, copy=False)
    if k in "iu":
        check_range(a, np.dtype(np.int64), op)
        return a.astype(np.int64, copy=False)
    return a


def no_values(d, shape):
    """A read-only array of `shape` with `d`'s dtype and device that holds no values: on
    NumPy a `NoValues` that raises when read; on CuPy a broadcast fill value."""
    xp = xp_of(d)
    k = d.dtype.kind
    fill = np.nan if k in "fc" else (True if k == "b" else -(2 ** 62) if d.dtype.itemsize == 8
                                     else -1)
    a = xp.broadcast_to(xp.full_like(d, fill, shape=()), shape)
    return a.view(NoValues) if xp is np else a


# ----------------------------------------------------------------------------- index checks
# An index out of range must never give a silently wrong value. NumPy raises inside the call;
# CuPy wraps it around (``x[i]``, ``take_along_axis``, ``add.at``, ``x[i] = v``) with no error.
# Checking on the host would wait for the GPU (a sync per lookup, in every training step), so
# on a GPU the check is PyTorch's device-side assert done with array ops: each checked index
# array is reduced on its device to its min and max (two reductions, no transfer), kept per
# device and per check (op, dim, size), merged with ``minimum``/``maximum`` when the same check
# runs again (bounded memory in a loop), and looked at only at the next sync point, where the
# host waits for the GPU anyway: every copy to the host (`to_numpy`: ``.cpu()``, ``.tolist()``,
# ``.numpy()``, ``.item()``, printing) and `synchronize`. There the first failed check raises
# IndexError naming the op, the dim, its size and an offending index, and the pending checks
# are cleared. Values computed from a bad index never reach the host unreported. On the CPU
# the same check raises at once (the host has the values), naming the first bad index.

_pending: dict = {}  # device key -> {message: [lo, hi, min, max]}


def index_checked(a) -> bool:
    """Whether indexing array `a` with an out-of-range integer array raises by itself
    (NumPy's arrays; CuPy's wrap around, so callers check them with `check_index`)."""
    return type(a) is np.ndarray or type(a) is NoValues


def check_index(message: str, idx, lo: int, hi: int) -> None:
    """Refuse indices of `idx` (an integer array) outside [lo, hi).

    `message` is the error, with ``{value}`` where the offending index goes. On the CPU it
    raises IndexError now, naming the first bad index; on a GPU the check is deferred to the
    next sync point (see above), so no lookup waits for the device."""
    if idx.size == 0:
        return
    if type(idx) is np.ndarray:
        if int(idx.min()) < lo or int(idx.max()) >= hi:
            bad = idx[(idx < lo) | (idx >= hi)]
            raise IndexError(message.format(value=int(bad.reshape(-1)[0])))
        return
    defer_index_check(message, idx, lo, hi)


def defer_index_check(message: str, idx, lo: int, hi: int) -> None:
    """The device half of `check_index`: `idx`'s min and max, reduced on its device without a
    transfer, kept for the next sync point (`raise_deferred`). Array-module generic: called on
    a NumPy array it defers too (tests use that to exercise the logic on the CPU)."""
    if idx.size == 0:
        return
    xp = xp_of(idx)
    key = getattr(getattr(idx, "device", None), "id", "cpu")  # (a CUDA device's index)
    checks = _pending.setdefault(key, {})
    mn, mx = idx.min(), idx.max()
    seen = checks.get(message)
    if seen is None:
        checks[message] = [lo, hi, mn, mx]
    else:  # the same check again (a training loop): fold it in, memory stays bounded
        seen[2], seen[3] = xp.minimum(seen[2], mn), xp.maximum(seen[3], mx)


def raise_deferred() -> None:
    """Raise the first failed deferred index check (of any device) as an IndexError, and
    forget the pending ones; a sync point calls this (reading the min and max waits for the
    device, which the sync point does anyway). Nothing to do, and no cost, when none is
    pending."""
    if not _pending:
        return
    pending = list(_pending.values())
    _pending.clear()
    for checks in pending:
        for message, (lo, hi, mn, mx) in checks.items():
            mn, mx = int(mn), int(mx)
            if mn < lo or mx >= hi:
                raise IndexError(message.format(value=mn if mn < lo else mx) +
                                 " (checked on the device; reported at this sync point, "
                                 "after the op ran: values computed since are invalid)")


def to_numpy(a):
    """A host (NumPy) array of `a`; copies from the GPU only here."""
    if type(a) is np.ndarray:
        return a
    if isinstance(a, np.generic):  # a NumPy scalar (a 0-d result of a rule on arrays)
        return np.asarray(a)
    raise_deferred()
    return a.get()


def transfer(a, dev: device, op="to"):
    """Copy array `a` to device `dev` (returns `a` itself when it is already there; a device
    with no index is the current one)."""
    if dev.type == "cpu":
        return to_numpy(a)
    cp = require_cuda(dev, op)
    idx = cuda_index(dev)
    if isinstance(a, cp.ndarray) and a.device.id == idx:
        return a
    with cp.cuda.Device(idx):
        if type(a) is np.ndarray:
            return cp.asarray(a)
        return cp.array(a, copy=True)  # GPU to GPU (CuPy reads it on its device, then copies)


# DLPack device types (dlpack.h): the ones gpugrad can hold.
_DLPACK_CPU, _DLPACK_CUDA, _DLPACK_CUDA_MANAGED = 1, 2, 13


def from_dlpack(obj, op="from_dlpack"):
    """The array (NumPy on CPU, CuPy on CUDA) viewing `obj`'s memory through DLPack, no copy."""
    get_device = getattr(obj, "__dlpack_device__", None)
    if get_device is None or not hasattr(obj, "__dlpack__"):
        raise TypeError(f"{op}: expected an object with __dlpack__ and __dlpack_device__ (a "
                        f"tensor or array of a DLPack-aware library), got {type(obj).__name__}")
    kind, index = get_device()
    kind, index = int(kind), int(index)
    if kind == _DLPACK_CPU:
        a = np.from_dlpack(obj)
    elif kind in (_DLPACK_CUDA, _DLPACK_CUDA_MANAGED):
        cp = require_cuda(device("cuda", index), op)
        with cp.cuda.Device(index):
            a = cp.from_dlpack(obj)
    else:
        raise RuntimeError(f"{op}: unsupported DLPack device type {kind} (gpugrad holds CPU "
                           f"({_DLPACK_CPU}) and CUDA ({_DLPACK_CUDA}) memory only)")
    if a.dtype not in _BY_NP:
        raise TypeError(f"{op}: unsupported dtype {a.dtype}; supported: "
                        f"{', '.join(d.name for d in DTYPES)}")
    return a


def synchronize(dev=None):
    """Wait for the work queued on CUDA device `dev` (an index, a name, a device; None: the
    current device, as ``torch.cuda.synchronize``), then raise a failed deferred index check.
    Nothing to wait for without CuPy or a GPU."""
    cp = _load_cupy()
    if cp is None or not cuda_is_available():
        return
    if dev is None:
        cp.cuda.runtime.deviceSynchronize()  # (the current device)
    else:
        d = as_device(dev)
        if d.type != "cuda":
            raise ValueError(f"synchronize: expected a CUDA device, got {d}")
        require_cuda(d, "synchronize")
        with cp.cuda.Device(cuda_index(d)):
            cp.cuda.runtime.deviceSynchronize()
    raise_deferred()


# ----------------------------------------------------------------------------- RNG
# An engine is NumPy's ``Generator`` on the CPU or CuPy's ``RandomState`` on a GPU; the
# draws below take either, so sampling code above never sees which.

_rng = [np.random.default_rng()]
# The seed of the last `manual_seed` (None: never called) and the GPUs whose generator has
# been seeded with it. A GPU's generator is seeded the first time it draws after the call, so
# a seed set before CuPy is loaded (or before a GPU is first used) seeds the GPUs too, and no
# GPU gets a CUDA context just to be seeded.
_seed: list = [None]
_seeded: set = set()


def manual_seed(seed: int):
    """Seed the CPU generator and every GPU's generator (each GPU's when it next draws, so a
    seed set before CuPy is loaded applies to the GPUs too)."""
    try:
        seed = int(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"manual_seed: expected an int seed, got {seed!r}") from None
    if not -2**63 <= seed < 2**64:
        raise RangeError(f"manual_seed: seed {seed} is out of range [-2**63, 2**64)")
    seed %= 2**64  # PyTorch accepts negative seeds (taken modulo 2**64)
    with _lock:
        _rng[0] = np.random.default_rng(seed)
        _seed[0] = seed
        _seeded.clear()
    return seed


def new_engine(dev: device, seed=None, op="Generator"):
    """A fresh engine for `dev` (seeded from the OS when `seed` is None)."""
    if dev.type == "cpu":
        return np.random.default_rng(seed)
    cp = require_cuda(dev, op)
    with cp.cuda.Device(cuda_index(dev)):
        return cp.random.RandomState(seed)


def engine(dev: device, generator, op):
    """The engine to draw with on `dev`: `generator`'s (a ``gpugrad.Generator`` of the same
    device type), else the device's default one (seeded by `manual_seed` if it was called)."""
    if generator is not None:
        gdev = generator.device
        if gdev.type != dev.type:
            raise RuntimeError(f"{op}: expected a '{dev.type}' device type for generator but "
                               f"found '{gdev.type}'")
        return generator._engine()
    if dev.type == "cpu":
        return _rng[0]
    cp = require_cuda(dev, op)
    i = cuda_index(dev)
    with cp.cuda.Device(i):
        eng = cp.random.get_random_state()
        if i not in _seeded and _seed[0] is not None:
            with _lock:
                if i not in _seeded:
                    eng.seed(_seed[0])
                    _seeded.add(i)
        return eng


def uniform(eng, shape, np_dt):
    """Uniform in [0, 1) drawn in the target precision: k * 2**-(mantissa bits + 1) for a random
    integer k, so no float64 draw can round up to exactly 1.0 in float16 or float32."""
    cpu = isinstance(eng, np.random.Generator)
    np_dt = np.dtype(np_dt)
    if np_dt == np.float64:
        return eng.random(shape, dtype=np.float64) if cpu else \
            eng.random_sample(shape, dtype=np.float64)
    bits = np.finfo(np_dt).nmant + 1
    k = eng.integers(0, 2 ** bits, size=shape) if cpu else eng.randint(0, 2 ** bits, size=shape)
    return (k * 2.0 ** -bits).astype(np_dt)


def standard_normal(eng, shape, np_dt):
    return eng.standard_normal(shape, dtype=np.float64).astype(np_dt, copy=False)


def integers(eng, low, high, shape, np_dt):
    """Uniform integers in [low, high)."""
    if isinstance(eng, np.random.Generator):
        a = eng.integers(low, high, size=shape, dtype=np.int64)
    else:
        a = eng.randint(low, high, size=shape, dtype=np.int64)
    return a.astype(np_dt, copy=False)


def poisson(eng, lam):
    """Poisson draws with rates `lam` (an array), of `lam`'s dtype."""
    if isinstance(eng, np.random.Generator):
        return eng.poisson(lam.astype(np.float64)).astype(lam.dtype)
    return eng.poisson(lam.astype(np.float64), size=lam.shape).astype(lam.dtype)


def random(kind, shape, np_dt, dev: device, op, generator=None, **kw):
    """Random arrays from the device's generator (or `generator`, a ``gpugrad.Generator`` of
    the device's type): kind is 'rand', 'randn' or 'randint'."""
    eng = engine(dev, generator, op)
    with on_device(dev, op):
        if kind == "rand":
            return uniform(eng, shape, np_dt)
        if kind == "randn":
            return standard_normal(eng, shape, np_dt)
        return integers(eng, kw["low"], kw["high"], shape, np_dt)


# ----------------------------------------------------------------------------- scalars

pi = math.pi
e = math.e
inf = math.inf
nan = math.nan

SCALAR_TYPES = (int, float, bool, np.generic)


def py_scalar(s):
    """A NumPy scalar, or a 0-d CuPy array (CuPy's scalars: its reductions give them), as the
    Python number it holds; Python numbers and anything else unchanged."""
    t = type(s)
    if t is float or t is int or t is bool:
        return s
    if isinstance(s, np.generic):
        return s.item()
    if is_scalar_array(s):
        return to_numpy(s).item()  # (a sync point, as reading any device value)
    return s


def is_scalar_array(s) -> bool:
    """True for a 0-d CuPy array of a gpugrad dtype, which gpugrad takes where it takes a NumPy
    scalar."""
    t = type(s)
    return t is not np.ndarray and t is not NoValues and is_array(s) and s.ndim == 0 and \
        s.dtype in _BY_NP


def linalg_errors(a):
    """A context in which a factorization of `a` that fails (a singular matrix, one that is
    not positive-definite) raises numpy.linalg.LinAlgError: NumPy always does; CuPy only
    inside ``cupyx.errstate(linalg="raise")`` (else it returns garbage or NaN)."""
    if type(a) is np.ndarray:
        return contextlib.nullcontext()
    import cupyx  # noqa: PLC0415 - optional, lazy by design

    return cupyx.errstate(linalg="raise")


def quiet_fp():
    """Floating-point warnings (0/0, overflow) off: inf and NaN are values in gradients, as in
    PyTorch. One context per backward pass, not per op."""
    return np.errstate(all="ignore")
