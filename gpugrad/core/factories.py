"""Creating tensors: from data, filled, ranges, random; `manual_seed`; and the ``new_*``
Tensor methods, which create tensors like an existing one."""

from __future__ import annotations

import builtins
import math
import time

from .. import backend as B
from .batched import random_batch, wrap_levels
from .state import batch_levels
from .tensor import (
    LEGACY_TYPES,
    Size,
    Tensor,
    attach,
    device_of_data,
    from_data,
    parse_legacy_type,
    wrap,
)


def _finish(a, requires_grad, name="tensor"):
    t = wrap(a)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype, default=None):
    if dtype is None:
        return default if default is not None else B.get_default_dtype()
    return B.to_dtype(dtype)


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, numbers, NumPy/CuPy arrays, tensors).

    Floats become the default dtype (float32), ints int64, bools bool, as in PyTorch.

    Example::

        >>> gpugrad.tensor([[1., 2.], [3., 4.]], requires_grad=True)
        tensor([[1., 2.],
                [3., 4.]], requires_grad=True)
    """
    return _finish(from_data(data, dtype, device), requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy/CuPy array or tensor when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device or dtype) else data
    dev = B.as_device(device) if device is not None else device_of_data(data)
    dt = None if dtype is None else B.to_dtype(dtype)
    return wrap(B.as_array(data, dt, dev, copy=False, op="as_tensor"))


def from_numpy(ndarray) -> Tensor:
    """A CPU tensor sharing memory with a NumPy array (no copy)."""
    if type(ndarray) is not B.ndarray:
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype not in B._BY_NP:
        raise TypeError(f"from_numpy: unsupported dtype {ndarray.dtype}; supported: "
                        f"{', '.join(d.name for d in B.DTYPES)}")
    return wrap(ndarray)


def from_dlpack(ext_tensor) -> Tensor:
    """A tensor sharing memory (no copy) with any DLPack-aware tensor or array.

    NumPy, CuPy, PyTorch, JAX, ... objects with ``__dlpack__``; CPU memory gives a CPU tensor,
    CUDA memory a CUDA one (needs CuPy). Writes through either side show in the other.

    Example::

        >>> t = gpugrad.from_dlpack(np.arange(3.0))
        >>> u = torch.from_dlpack(t)     # and back, still the same memory
    """
    return wrap(B.from_dlpack(ext_tensor))


def _size(name, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, int) or isinstance(s, bool):
            raise TypeError(f"{name}: size must be a sequence of ints, got {s!r}")
        if s < 0:
            raise RuntimeError(f"{name}: negative dimension {s} in size {list(size)}")
        out.append(s)
    return tuple(out)


def _filled(name, size, value, dtype, device, requires_grad):
    value = B.check_scalar(value, dtype, name)
    dev = B.as_device(device)
    xp = B.xp_for(dev, name)
    try:
        with B.on_device(dev, name):
            a = xp.full(size, value, dtype=dtype.np)
    except (ValueError, MemoryError) as exc:  # too big for the address space or the memory
        raise RuntimeError(f"{name}: can't allocate a tensor of size {list(size)} and dtype "
                           f"{dtype.name} ({type(exc).__name__}: {exc})") from None
    return _finish(a, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros. Example: ``gpugrad.zeros(2, 3)``."""
    return _filled("zeros", _size("zeros", size), 0, _dtype(dtype), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones. Example: ``gpugrad.ones(3, device="cuda")``."""
    return _filled("ones", _size("ones", size), 1, _dtype(dtype), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor (zeros here: NumPy and CuPy allocate cheaply either way)."""
    return _filled("empty", _size("empty", size), 0, _dtype(dtype), device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor filled with `fill_value` (its dtype inferred from the value when not given)."""
    if dtype is None:
        fill_value = B.py_scalar(fill_value)
        dtype = B.bool_ if isinstance(fill_value, bool) else (
            B.int64 if isinstance(fill_value, int) else B.get_default_dtype())
    return _filled("full", _size("full", (size,) if isinstance(size, int) else tuple(size)),
                   fill_value, B.to_dtype(dtype), device, requires_grad)


def _like(name, input, value, dtype, device, requires_grad):
    return _filled(name, tuple(input._data.shape), value,
                   input.dtype if dtype is None else B.to_dtype(dtype),
                   input.device if device is None else device, requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros with the shape (and by default dtype and device) of `input`."""
    return _like("zeros_like", input, 0, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Ones with the shape (and by default dtype and device) of `input`."""
    return _like("ones_like", input, 1, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros_like(input, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """`fill_value` everywhere, with the shape (and by default dtype and device) of `input`."""
    return _like("full_like", input, fill_value, dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from `start` up to (not including) `end` by `step`; int64 unless a bound is a float.

    Example: ``gpugrad.arange(0, 16, 4.)`` -> tensor([ 0.,  4.,  8., 12.])
    """
    if end is None:
        start, end = 0, start
    start, end, step = (B.py_scalar(v) for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if not builtins.all(math.isfinite(v) for v in (start, end, step)):
        raise RuntimeError(f"arange: unsupported range {start} -> {end} (step {step}): the "
                           "bounds and the step must be finite")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    floating = builtins.any(isinstance(v, float) for v in (start, end, step))
    dt = _dtype(dtype, B.get_default_dtype() if floating else B.int64)
    dev = B.as_device(device)
    xp = B.xp_for(dev, "arange")
    with B.on_device(dev, "arange"):
        a = xp.arange(start, end, step, dtype=B.numpy.float64 if floating else None).astype(dt.np)
    return _finish(a, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """`steps` evenly spaced values from `start` to `end` inclusive."""
    if not isinstance(steps, int) or steps < 0:
        raise RuntimeError(f"linspace: number of steps must be a non-negative int, got {steps!r}")
    dev = B.as_device(device)
    xp = B.xp_for(dev, "linspace")
    with B.on_device(dev, "linspace"):
        a = xp.linspace(B.py_scalar(start), B.py_scalar(end), steps).astype(_dtype(dtype).np)
    return _finish(a, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False) -> Tensor:
    """`steps` values from base**start to base**end, evenly spaced in the exponent."""
    dev = B.as_device(device)
    xp = B.xp_for(dev, "logspace")
    with B.on_device(dev, "logspace"):
        a = xp.logspace(start, end, steps, base=base).astype(_dtype(dtype).np)
    return _finish(a, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n x m identity matrix (m = n by default)."""
    _size("eye", (n,) if m is None else (n, m))
    dev = B.as_device(device)
    xp = B.xp_for(dev, "eye")
    with B.on_device(dev, "eye"):
        a = xp.eye(n, m, dtype=_dtype(dtype).np)
    return _finish(a, requires_grad)


def _random(kind, size, dtype, device, requires_grad, generator=None, **kw):
    dev = B.as_device(device)
    if batch_levels:  # inside vmap: by the levels' randomness (an error, one draw, or per example)
        lead, levels = random_batch(size)
        if lead:
            t = wrap_levels(wrap(B.random(kind, lead + tuple(size), dtype.np, dev, kind, generator,
                                          **kw)), levels)
            return t.requires_grad_(True) if requires_grad else t
    return _finish(B.random(kind, size, dtype.np, dev, kind, generator, **kw), requires_grad)


def _size_kw(name, size, size_kw):
    """The size given positionally (``rand(2, 3)``, ``rand((2, 3))``) or as ``size=``."""
    if size_kw is not None:
        if size:
            raise TypeError(f"{name}(): size given both positionally and as size=")
        size = (size_kw,) if isinstance(size_kw, int) else tuple(size_kw)
    return _size(name, size)


def rand(*sizes, size=None, generator=None, dtype=None, device=None,
         requires_grad=False) -> Tensor:
    """Uniform random values in [0, 1).

    Example: ``gpugrad.rand(2, 3)``, ``gpugrad.rand(size=(2, 3), generator=g)``.
    """
    dt = _dtype(dtype)
    if not dt.is_floating_point:
        raise TypeError(f"rand: expected a floating-point dtype, got {dt}")
    return _random("rand", _size_kw("rand", sizes, size), dt, device, requires_grad, generator)


def randn(*sizes, size=None, generator=None, dtype=None, device=None,
          requires_grad=False) -> Tensor:
    """Standard normal random values.

    Example: ``gpugrad.randn(3, device="cuda")``, ``gpugrad.randn(size=(2, 3))``.
    """
    dt = _dtype(dtype)
    if not dt.is_floating_point:
        raise TypeError(f"randn: expected a floating-point dtype, got {dt}")
    return _random("randn", _size_kw("randn", sizes, size), dt, device, requires_grad, generator)


def randint(low=None, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Random integers in [low, high) (int64 unless `dtype` says otherwise).

    Example: ``randint(10, (3,))``, ``randint(2, 10, (3,))``, ``randint(high=10, size=(3,))``.
    """
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint: size must be given, e.g. randint(0, 10, (3,))")
    if high is None:
        low, high = 0, low
    if low is None:
        low = 0
    if high is None:
        raise TypeError("randint: high must be given, e.g. randint(0, 10, (3,))")
    low, high = B.py_scalar(low), B.py_scalar(high)
    if high <= low:
        raise RuntimeError(f"randint: random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    dt = _dtype(dtype, B.int64)
    if dt.np.kind in "iu":
        info = B.numpy.iinfo(dt.np)
        if low < info.min or high - 1 > info.max:
            raise B.RangeError(f"randint: the range [{low}, {high}) does not fit {dt.name} "
                               f"(its range is [{info.min}, {info.max}])")
    elif dt is B.bool_ and (low < 0 or high > 2):
        raise B.RangeError(f"randint: the range [{low}, {high}) does not fit bool")
    size = (size,) if isinstance(size, int) else tuple(size)
    return _random("randint", _size("randint", size), dt, device, requires_grad, generator,
                   low=int(low), high=int(high))


def randn_like(input, *, generator=None, dtype=None, device=None,
               requires_grad=False) -> Tensor:
    """Standard normal values with the shape (and by default dtype and device) of `input`."""
    return randn(*input.shape, generator=generator, dtype=dtype or input.dtype,
                 device=device or input.device, requires_grad=requires_grad)


def rand_like(input, *, generator=None, dtype=None, device=None,
              requires_grad=False) -> Tensor:
    """Uniform [0, 1) values with the shape (and by default dtype and device) of `input`."""
    return rand(*input.shape, generator=generator, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None,
                 requires_grad=False) -> Tensor:
    """Random integers in [low, high) with the shape (and by default dtype and device) of
    `input`: ``randint_like(x, 10)`` or ``randint_like(x, 2, 10)``."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator,
                   dtype=dtype or input.dtype, device=device or input.device,
                   requires_grad=requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0..n-1."""
    _size("randperm", (n,))
    dt = _dtype(dtype, B.int64)
    top = B.numpy.iinfo(dt.np).max if dt.np.kind in "iu" else (
        2 ** (B.numpy.finfo(dt.np).nmant + 1) if dt.is_floating_point else 1)
    if n - 1 > top:
        raise B.RangeError(f"randperm: n={n} is too large for dtype {dt.name} (values up to "
                           f"{top} only)")
    lead, levels = random_batch((n,)) if batch_levels else ((), ())
    idx = B.random("rand", lead + (n,), B.numpy.float64, B.as_device(device), "randperm",
                   generator)
    with B.on_device_of(idx):  # (CuPy sorts on the current device)
        perm = B.xp_of(idx).argsort(idx, axis=-1).astype(dt.np)
    t = _finish(perm, requires_grad)
    return wrap_levels(t, levels)


def manual_seed(seed):
    """Seed the random generators: the CPU's and every GPU's (each GPU's when it next draws,
    so a seed set before CuPy is loaded applies to the GPUs too)."""
    B.manual_seed(seed)


def seed():
    """Seed the random generators from the clock; returns the seed."""
    s = int(time.time_ns() % (2**63))
    B.manual_seed(s)
    return s


class Generator:
    """A seedable source of random numbers, independent of ``gpugrad.manual_seed``: pass it as
    ``generator=`` to the random factories and sampling ops on its device, and to
    ``DataLoader`` and ``random_split`` (shuffling orders). As in PyTorch, a new generator
    starts from the seed 67280421310721. On a CUDA device it wraps CuPy's generator, made
    the first time it draws.

    Example::

        g = Generator().manual_seed(0)
        x = gpugrad.randn(3, generator=g)
        loader = DataLoader(ds, batch_size=32, shuffle=True, generator=g)
    """

    default_seed = 67280421310721

    def __init__(self, device="cpu"):
        self.device = B.resolve(B.as_device(device))  # ("cuda": the current GPU, as torch)
        self._seed = self.default_seed
        self._rng = None

    def _engine(self):
        """The engine it draws with (NumPy's Generator, or CuPy's RandomState on a GPU)."""
        if self._rng is None:
            self._rng = B.new_engine(self.device, self._seed % 2**64)  # negative seeds as torch
        return self._rng

    def manual_seed(self, seed):
        """Reset the generator to the stream of `seed`; returns self."""
        self._seed = int(seed)
        self._rng = None
        return self

    def seed(self):
        """Reseed from the OS's entropy; returns the new seed."""
        self.manual_seed(int(B.numpy.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self):
        """The seed the generator's stream started from."""
        return self._seed

    def get_state(self):
        """The generator's state (a dict of plain Python values: ``gpugrad.save`` can store it)."""
        if self.device.type != "cpu":
            raise NotImplementedError("Generator.get_state: supported for CPU generators only; "
                                      "reseed a CUDA generator with manual_seed instead")
        return self._engine().bit_generator.state

    def set_state(self, state):
        """Restore a state from `get_state`; returns self."""
        if self.device.type != "cpu":
            raise NotImplementedError("Generator.set_state: supported for CPU generators only")
        self._engine().bit_generator.state = state
        return self

    def randperm(self, n):
        """A random permutation of 0..n-1 as an int64 CPU tensor."""
        if self.device.type != "cpu":
            raise NotImplementedError("Generator.randperm: CPU generators only")
        return as_tensor(self._engine().permutation(n).astype(B.int64.np))


# ----------------------------------------------------------------------------- legacy types


class _LegacyType(type):
    """The metaclass of ``FloatTensor`` and the like (``gpugrad.cuda.FloatTensor`` on the
    GPU): calling one makes a tensor of its dtype on its device type, and
    ``isinstance(t, FloatTensor)`` checks the dtype and the device type, as PyTorch."""

    legacy_dtype: B.dtype
    legacy_device: str

    def __call__(cls, *args, device=None):
        dt, where = cls.legacy_dtype, cls.legacy_device
        name = cls.__name__ if where == "cpu" else f"cuda.{cls.__name__}"
        dev = B.device(where) if device is None else B.as_device(device)
        if dev.type != where:
            raise RuntimeError(f"{name}: legacy constructor expects device type: {where} but "
                               f"device type: {dev.type} was passed")
        if not args:
            return zeros(0, dtype=dt, device=dev)
        if len(args) == 1 and isinstance(args[0], Tensor):
            t = args[0]
            if t.dtype is not dt or t.device.type != where:
                raise TypeError(f"{name}(): expected a tensor of dtype {dt} on {where}, got "
                                f"{t.type()}; convert it with .type('gpugrad.{name}')")
            return t
        if len(args) == 1 and isinstance(args[0], Size) or builtins.all(
                isinstance(a, int) and not isinstance(a, bool) for a in args):
            return zeros(*args, dtype=dt, device=dev)  # (zeros: no uninitialised memory)
        if len(args) == 1 and not isinstance(args[0], (bool, int, float)):
            return tensor(args[0], dtype=dt, device=dev)
        raise TypeError(f"{name}(): expected sizes (ints), a torch.Size, or data (a list or an "
                        f"array), got {', '.join(type(a).__name__ for a in args)}")

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls.legacy_dtype and \
            obj.device.type == cls.legacy_device


def legacy_type(dtype, device="cpu") -> _LegacyType:
    name = LEGACY_TYPES[dtype.name]
    where = "CPU" if device == "cpu" else "CUDA"
    mod = "gpugrad" if device == "cpu" else "gpugrad.cuda"
    doc = (f"Legacy constructor of {dtype} {where} tensors, as ``torch.{name}``: "
           f"``{name}(2, 3)`` (zeros of that size), ``{name}([1, 2])`` (from data), "
           f"``{name}()`` (empty).\n\n"
           f"Example::\n\n    >>> {mod}.{name}([1, 2]).dtype\n    {dtype!r}\n")
    return _LegacyType(name, (), {"legacy_dtype": dtype, "legacy_device": device,
                                  "__doc__": doc, "__module__": mod})


def set_default_tensor_type(t):
    """The legacy way to set the default float dtype (and device): a legacy type or its name,
    e.g. ``set_default_tensor_type('torch.cuda.DoubleTensor')`` (deprecated in PyTorch for
    ``set_default_dtype`` and ``set_default_device``)."""
    if isinstance(t, str):
        dev, dt = parse_legacy_type(t)
    elif isinstance(t, _LegacyType):
        dev, dt = t.legacy_device, t.legacy_dtype
    else:
        raise TypeError(f"set_default_tensor_type: expected a legacy type or its name, got "
                        f"{type(t).__name__}")
    if not dt.is_floating_point:
        raise TypeError(f"set_default_tensor_type: only floating-point types are supported as "
                        f"the default type, got {t!r}")
    B.set_default_dtype(dt)
    B.set_default_device(dev)


FloatTensor = legacy_type(B.float32)
DoubleTensor = legacy_type(B.float64)
HalfTensor = legacy_type(B.float16)
LongTensor = legacy_type(B.int64)
IntTensor = legacy_type(B.int32)
ShortTensor = legacy_type(B.int16)
CharTensor = legacy_type(B.int8)
ByteTensor = legacy_type(B.uint8)
BoolTensor = legacy_type(B.bool_)


# ----------------------------------------------------------------------------- new_* methods


def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor of `data`, by default with this tensor's dtype and device."""
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros of `size`, by default with this tensor's dtype and device."""
    return zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                 requires_grad=requires_grad)


def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Ones of `size`, by default with this tensor's dtype and device."""
    return ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """`fill_value` in a tensor of `size`, by default with this tensor's dtype and device."""
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Like ``new_zeros`` (gpugrad hands out no uninitialised memory)."""
    return new_zeros(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)


for _fn in (new_tensor, new_zeros, new_ones, new_full, new_empty):
    attach(_fn.__name__, _fn)
