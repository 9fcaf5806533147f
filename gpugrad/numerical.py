"""Finite differences: ``derivative``, ``gradient`` and ``jacobian`` by forward, backward or
central differences.

The function may be written for gpugrad tensors or for plain Python floats and NumPy arrays:
it is called with the kind of value it was given (a float for a float, a NumPy array for an
array, a tensor for a tensor). Tensors stay on their device: each coordinate is moved by
adding a one-hot step on the device, and only the function's values are combined.

Default steps balance truncation and rounding error: ``h = cbrt(eps) * max(1, |x|)`` for
central differences (error O(h^2)), ``h = sqrt(eps) * max(1, |x|)`` for one-sided ones (error
O(h)), with eps the machine epsilon of the input's dtype (float64 for Python numbers and
integer inputs). The difference is divided by the step actually taken, ``(x + h) - x`` after
rounding, as SciPy does; a step below the resolution of x therefore gives 0/0 = nan.

Example::

    >>> import math
    >>> from gpugrad import numerical
    >>> numerical.derivative(math.sin, 0.0)                        # cos 0 = 1
    0.9999999999938886
    >>> x = gpugrad.tensor([1.0, 2.0], dtype=gpugrad.float64)
    >>> numerical.gradient(lambda x: (x ** 2).sum(), x)
    tensor([2.0000, 4.0000], dtype=gpugrad.float64)
"""

from __future__ import annotations

from . import backend as B
from .autograd.grad_mode import no_grad
from .core import factories as _F
from .core.tensor import Tensor
from .ops import stack, where

__all__ = ["derivative", "gradient", "jacobian", "METHODS", "default_step"]

METHODS = ("central", "forward", "backward")

_EPS = {"float16": 2.0**-10, "float32": 2.0**-23, "float64": 2.0**-52}


def _check_method(name, method):
    if method not in METHODS:
        raise ValueError(
            f"{name}: unknown method {method!r}; expected one of "
            + ", ".join(repr(m) for m in METHODS)
        )


def _point(name, x):
    """(x as a float tensor, how to hand a tensor to the user's function, how to give results)."""
    if isinstance(x, Tensor):
        t = x.detach()
        if not t.dtype.is_floating_point:
            t = t.to(B.float64)
        return t, (lambda a: a), (lambda r: r)
    if isinstance(x, B.SCALAR_TYPES):
        if isinstance(x, bool):
            raise TypeError(f"{name}: expected a number, a tensor or an array, got bool")
        t = _F.tensor(float(x), dtype=B.float64)
        return t, (lambda a: a.item()), (lambda r: r.item() if r.numel() == 1 else r.numpy())
    if B.is_array(x) or isinstance(x, (list, tuple)):
        t = _F.as_tensor(x) if B.is_array(x) else _F.tensor(x, dtype=B.float64)
        if not t.dtype.is_floating_point:
            t = t.to(B.float64)
        return t, (lambda a: a.numpy() if a.device.type == "cpu" else a._data), _to_user_array(x)
    raise TypeError(f"{name}: expected a number, a tensor or an array, got {type(x).__name__}")


def _to_user_array(x):
    if isinstance(x, (list, tuple)) or type(x) is B.ndarray:
        return lambda r: r.numpy()
    return lambda r: r._data  # a CuPy array stays one


def _value(name, y, device):
    """The function's value as a tensor (float64 for Python numbers)."""
    if isinstance(y, Tensor):
        y = y.detach()
    elif isinstance(y, (int, float)) and not isinstance(y, bool):
        y = _F.tensor(float(y), dtype=B.float64, device=device)
    else:
        try:
            y = _F.as_tensor(y)
        except Exception:
            raise TypeError(
                f"{name}: the function returned {type(y).__name__}; expected a "
                "number, an array or a tensor"
            ) from None
    if not y.dtype.is_floating_point:
        y = y.to(B.float64)
    return y


def default_step(x, method="central"):
    """The default step for `x` (a tensor): cbrt(eps) * max(1, |x|) central, sqrt(eps) * ... else.

    Example::

        >>> numerical.default_step(gpugrad.tensor([0.5, 100.0], dtype=gpugrad.float64))
        tensor([6.0555e-06, 6.0555e-04], dtype=gpugrad.float64)
    """
    _check_method("default_step", method)
    eps = _EPS.get(x.dtype.name, _EPS["float64"])
    c = eps ** (1 / 3) if method == "central" else eps**0.5
    return x.detach().abs().clamp(min=1.0) * c


def _nan_if_zero(step):
    """A step that rounded away gives nan (0/nan) rather than 0/0 and a warning."""
    return where(step == 0, float("nan"), step)


def _steps(x, method, h):
    """Per-coordinate steps as a tensor shaped like `x`."""
    if h is None:
        return default_step(x, method)
    if isinstance(h, Tensor):
        return h.detach().to(device=x.device, dtype=x.dtype).expand(*x.shape)
    return _F.full(tuple(x.shape), float(h), dtype=x.dtype, device=x.device)


def derivative(f, a, method="central", h=None):
    """f'(a) by finite differences, for a scalar function f (applied elementwise to a tensor).

    `a` is a Python number (f gets and returns floats), a NumPy array or a tensor (f is applied
    to the whole array, which must act elementwise). `method` is ``"central"``
    ((f(a+h) - f(a-h)) / 2h), ``"forward"`` ((f(a+h) - f(a)) / h) or ``"backward"``
    ((f(a) - f(a-h)) / h); `h` a number or a tensor of steps, the module's default if None.

    Example::

        >>> derivative(lambda x: 2 * x ** 3 - 1, 2.0)               # 6 x^2 = 24
        24.000000000293348
        >>> derivative(gpugrad.exp, gpugrad.tensor([0.0, 1.0], dtype=gpugrad.float64), "forward")
        tensor([1.0000, 2.7183], dtype=gpugrad.float64)
    """
    _check_method("derivative", method)
    x, wrap, unwrap = _point("derivative", a)
    hs = _steps(x, method, h)

    def F(t):
        return _value("derivative", f(wrap(t)), x.device)

    with no_grad():
        up, dn = x + hs, x - hs
        if method == "central":
            r = (F(up) - F(dn)) / _nan_if_zero(up - dn)
        elif method == "forward":
            r = (F(up) - F(x)) / _nan_if_zero(up - x)
        else:
            r = (F(x) - F(dn)) / _nan_if_zero(x - dn)
    return unwrap(r)


def jacobian(f, x, method="central", h=None):
    """The Jacobian of f at x by finite differences: shape ``f(x).shape + x.shape``.

    One coordinate of x moves at a time (by a one-hot step on x's device): central differences
    take 2n evaluations of f, one-sided ones n + 1. x and f as for `derivative`.

    Example::

        >>> jacobian(lambda v: v ** 2, gpugrad.tensor([1.0, 2.0], dtype=gpugrad.float64))
        tensor([[2.0000, 0.0000],
                [0.0000, 4.0000]], dtype=gpugrad.float64)
    """
    return _jacobian("jacobian", f, x, method, h, scalar=False)


def gradient(f, x, method="central", h=None):
    """The gradient of a scalar function f at x by finite differences (one partial per coordinate).

    f returns one number; the result has x's shape. x and f as for `derivative`.

    Example::

        >>> x = gpugrad.tensor([1.0, 5.0], dtype=gpugrad.float64)
        >>> gradient(lambda v: v[0] ** 3 + 2 * v[1] ** 2, x)
        tensor([ 3.0000, 20.0000], dtype=gpugrad.float64)
    """
    return _jacobian("gradient", f, x, method, h, scalar=True)


def _jacobian(name, f, x0, method, h, scalar):
    _check_method(name, method)
    x, wrap, unwrap = _point(name, x0)
    shape = tuple(x.shape)
    flat = x.reshape(-1)
    hs = _steps(x, method, h).reshape(-1)

    def F(t):
        y = _value(name, f(wrap(t.reshape(shape))), x.device)
        if scalar and y.numel() != 1:
            raise ValueError(
                f"{name}: f must return a single number, but returned shape "
                f"{tuple(y.shape)}; use jacobian for vector-valued functions"
            )
        return y.reshape(()) if scalar else y

    def moved(i, to):
        t = flat.clone()
        t[i] = to[i]
        return t

    with no_grad():
        up, dn = flat + hs, flat - hs
        lo, hi = (
            (dn, up) if method == "central" else (flat, up) if method == "forward" else (dn, flat)
        )
        steps = _nan_if_zero(hi - lo)
        f0 = None if method == "central" else F(flat)
        cols = []
        for i in range(flat.numel()):
            f_hi = f0 if method == "backward" else F(moved(i, up))
            f_lo = f0 if method == "forward" else F(moved(i, dn))
            cols.append(f_hi - f_lo)
        if not cols:  # x is empty: evaluate once for the output's shape
            y = F(flat)
            return unwrap(_F.zeros(*(tuple(y.shape) + shape), dtype=y.dtype, device=y.device))
        d = stack(cols, -1) / steps
        return unwrap(d.reshape(tuple(d.shape[:-1]) + shape))
