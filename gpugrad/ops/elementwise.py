"""Elementwise primitives: unary maths, binary arithmetic, comparisons, where, clamp, casts.

An elementwise op is declared by its local derivatives: ``d(F, x, out, *params)`` for a unary
op, one per input ``d_i(F, a, b, out)`` for a binary one (a number for a constant). Its vjp
is ``g * d_i`` summed down to input i's shape, its jvp ``sum_i t_i * d_i``: one formula, both
modes, any order (PyTorch's ``auto_element_wise``).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable

from .. import backend as B
from ..core.tensor import Tensor
from .namespace import IN_PLACE_MIN, cast_like, expand_to
from .registry import apply, defop, named, public

# ----------------------------------------------------------------------------- builders


def _unary_rules(d, uses):
    """vjp and jvp of a unary op from its local derivative `d` (a callable, a number, or None
    for a zero derivative)."""
    if d is None:
        def vjp(F, g, args, out, n):
            return (F.zeros_like(g),)

        def jvp(F, ts, args, out, params):
            return F.zeros_like(ts[0])
    elif not callable(d):  # a constant: -1 for neg
        def vjp(F, g, args, out, n):
            return (g * d,)

        def jvp(F, ts, args, out, params):
            return ts[0] * d
    else:
        def vjp(F, g, args, out, n):
            x = args[0] if args is not None else None
            params = n.params
            dv = d(F, x, out, *params) if params else d(F, x, out)
            if F.builds_graph or g.size < IN_PLACE_MIN:
                return (g * dv,)
            return (F.times(g, dv, x, out),)

        def jvp(F, ts, args, out, params):
            return ts[0] * d(F, args[0], out, *params)
    return vjp, jvp


def unary_op(name, fwd, d, uses="x", *, floating=True, node_name=None):
    """Register a unary elementwise primitive from its local derivative `d(F, x, out, *params)`
    (`uses` says what it reads: "x", "out" or "both"; None when `d` is a number or None).
    `floating`: integer inputs become the default float dtype first, as in PyTorch."""
    vjp, jvp = _unary_rules(d, uses)
    return defop(name, fwd, vjp, jvp, save=((0,),) if uses in ("x", "both") else None,
                 save_out=uses in ("out", "both"), floating=floating, node_name=node_name)


def unary(name, fwd, d, uses="x", *, floating=True, group="Elementwise", aliases=(),
          doc="", node_name=None) -> Callable[..., Tensor]:
    """`unary_op`, and its public function ``gpugrad.<name>(input, *, out=None)`` declared with
    a Tensor method, an in-place variant and `aliases`; returns the public function."""
    op = unary_op(name, fwd, d, uses, floating=floating, node_name=node_name)

    def fn(input, *, out=None):
        return apply(op, (input,), (), out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return public(group, inplace=True, aliases=aliases)(fn)


def _binary_rules(d):
    """vjp and jvp of a binary op from its partials ``d = (d0, d1)``: callables
    ``d_i(F, a, b, out)``, or numbers (1 and -1 cost no multiplication)."""
    def term(F, g, di, a, b, out):
        if di == 1:
            return g
        if di == -1:
            return -g
        dv = di(F, a, b, out)
        if F.builds_graph or g.size < IN_PLACE_MIN:
            return g * dv
        return F.times(g, dv, a, b, out)

    d0, d1 = d

    def vjp(F, g, args, out, n):
        a, b = args if args is not None else (None, None)
        na, nb = n.needs
        return (term(F, g, d0, a, b, out) if na else None,
                term(F, g, d1, a, b, out) if nb else None)

    def jvp(F, ts, args, out, params):
        a, b = args
        r = None
        for t, di in zip(ts, d):
            if t is not None:
                t = term(F, t, di, a, b, out)
                r = t if r is None else r + t
        return expand_to(F, r, out.shape)

    return vjp, jvp


def binary(name, fwd, d, *, save=None, save_out=False, node_name=None):
    """Register a binary elementwise primitive from its partials (see `_binary_rules`); the
    operands are promoted to a common dtype and gradients unbroadcast by the mechanism."""
    vjp, jvp = _binary_rules(d)
    return defop(name, fwd, vjp, jvp, save=save, save_out=save_out, nin=2, promote=(0, 1),
                 unbroadcast=True, node_name=node_name)


def linear_jvp(name, linear=()):
    """The jvp of op `name` when it is linear in the inputs at positions `linear` (all when
    empty): the op itself applied to the tangents, zeros where an input has none."""
    def jvp(F, ts, args, out, params):
        ins = []
        for i, (t, a) in enumerate(zip(ts, args)):
            if linear and i not in linear:
                ins.append(a)
            elif t is not None:
                ins.append(t)
            else:
                ins.append(F.zeros_like(a) if isinstance(a, Tensor) else (None if a is None else 0))
        return getattr(F, name)(*ins, *params)
    return jvp


def linear_op(name, fwd, vjp, *, linear=(), **kw):
    """Register an op that is linear in its inputs (or in those at `linear`): its jvp is the op
    applied to the tangents."""
    return defop(name, fwd, vjp, linear_jvp(name, linear), **kw)


# ----------------------------------------------------------------------------- unary maths


def _sigmoid_fwd(xp, x):
    # exp of a non-positive number never overflows: split by sign.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


_LN2, _LN10 = math.log(2.0), math.log(10.0)

exp = unary("exp", "exp", lambda F, x, out: out, "out",
            doc="Elementwise e**x. Example: ``gpugrad.exp(gpugrad.tensor([0.]))`` -> tensor([1.])")
exp2 = unary("exp2", "exp2", lambda F, x, out: out * _LN2, "out", doc="Elementwise 2**x.")
expm1 = unary("expm1", "expm1", lambda F, x, out: out + 1.0, "out",
              doc="exp(x) - 1, accurate for small x.")
log = unary("log", "log", lambda F, x, out: 1.0 / x,
            doc="Natural logarithm, elementwise (``log(0) = -inf``).")
log2 = unary("log2", "log2", lambda F, x, out: 1.0 / (x * _LN2), doc="Base-2 logarithm.")
log10 = unary("log10", "log10", lambda F, x, out: 1.0 / (x * _LN10), doc="Base-10 logarithm.")
log1p = unary("log1p", "log1p", lambda F, x, out: 1.0 / (x + 1.0),
              doc="log(1 + x), accurate for small x.", node_name="Log1PBackward0")
sqrt = unary("sqrt", "sqrt", lambda F, x, out: 0.5 / out, "out",
             doc="Square root, elementwise (gradient inf at 0, as in PyTorch).")
# Primitive, not sqrt then reciprocal: one node named RsqrtBackward0, as in PyTorch.
rsqrt = unary("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda F, x, out: -0.5 * out * out * out,
              "out", doc="1 / sqrt(x), elementwise.")
sin = unary("sin", "sin", lambda F, x, out: F.cos(x), doc="Sine, elementwise.")
cos = unary("cos", "cos", lambda F, x, out: -F.sin(x), doc="Cosine, elementwise.")
tan = unary("tan", "tan", lambda F, x, out: 1.0 + out * out, "out", doc="Tangent, elementwise.")
asin = unary("asin", "arcsin", lambda F, x, out: F.rsqrt(1.0 - x * x), aliases=("arcsin",),
             doc="Inverse sine, elementwise (NaN outside [-1, 1]).")
acos = unary("acos", "arccos", lambda F, x, out: -F.rsqrt(1.0 - x * x), aliases=("arccos",),
             doc="Inverse cosine, elementwise (NaN outside [-1, 1]).")
atan = unary("atan", "arctan", lambda F, x, out: 1.0 / (1.0 + x * x), aliases=("arctan",),
             doc="Inverse tangent, elementwise.")
sinh = unary("sinh", "sinh", lambda F, x, out: F.cosh(x), doc="Hyperbolic sine, elementwise.")
cosh = unary("cosh", "cosh", lambda F, x, out: F.sinh(x), doc="Hyperbolic cosine, elementwise.")
tanh = unary("tanh", "tanh", lambda F, x, out: 1.0 - out * out, "out",
             doc="Hyperbolic tangent, elementwise.")
asinh = unary("asinh", "arcsinh", lambda F, x, out: F.rsqrt(x * x + 1.0), aliases=("arcsinh",),
              doc="Inverse hyperbolic sine, elementwise.")
# (x - 1)(x + 1) rather than x*x - 1: no cancellation near x = 1.
# + 0.0 turns the -0.0 of x = -1 into +0.0, so the gradient there is +inf, as in PyTorch.
acosh = unary("acosh", "arccosh", lambda F, x, out: F.rsqrt((x - 1.0) * (x + 1.0) + 0.0),
              aliases=("arccosh",), doc="Inverse hyperbolic cosine, elementwise (x >= 1).")
atanh = unary("atanh", "arctanh", lambda F, x, out: 1.0 / ((1.0 - x) * (1.0 + x)),
              aliases=("arctanh",), doc="Inverse hyperbolic tangent, elementwise (|x| < 1).")
reciprocal = unary("reciprocal", "reciprocal", lambda F, x, out: -out * out, "out",
                   group="Arithmetic", doc="1 / x, elementwise.")
sigmoid = unary("sigmoid", _sigmoid_fwd, lambda F, x, out: out * (1.0 - out), "out",
                group="Activations",
                doc="The logistic function 1 / (1 + exp(-x)), computed without overflow.")
# Primitive, not maximum(x, 0): one node named ReluBackward0, the mask read off the output.
def _relu_fwd(xp, x):
    if x.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    return xp.maximum(x, 0)


relu = unary("relu", _relu_fwd,
             lambda F, x, out: out > 0, "out", floating=False, group="Activations",
             doc="max(x, 0), elementwise; gradient 0 at 0, as in PyTorch.")
abs = unary("abs", "abs", lambda F, x, out: F.sign(x), floating=False, aliases=("absolute",),
            doc="Absolute value; gradient sign(x), 0 at 0.")
sign = unary("sign", lambda xp, x: x.copy() if x.dtype.kind == "b" else xp.sign(x), None, None,
             floating=False,
             doc="-1, 0 or 1 by the sign of x (zero gradient).")
def _no_bool(fn):
    """A forward that refuses bool input, as PyTorch has no kernel for it."""
    def fwd(xp, x, *params):
        if x.dtype.kind == "b":
            raise NotImplementedError(f"\"{fn}\" is not implemented for bool tensors")
        return getattr(xp, fn)(x, *params)
    return fwd


floor = unary("floor", _no_bool("floor"), None, None, floating=False,
              doc="Round down, elementwise (zero gradient).")
ceil = unary("ceil", _no_bool("ceil"), None, None, floating=False,
             doc="Round up, elementwise (zero gradient).")
trunc = unary("trunc", _no_bool("trunc"), None, None, floating=False, aliases=("fix",),
              doc="Round towards zero, elementwise (zero gradient).")
frac = unary("frac", lambda xp, x: x - xp.trunc(x), 1, None,
             doc="The fractional part x - trunc(x), with the sign of x.")
_ROUND = unary_op("round", _no_bool("round"), None, None, floating=False)


@public("Elementwise", inplace=True)
def round(input, decimals=0, *, out=None):
    """Round half to even, elementwise (zero gradient); ``decimals`` as in PyTorch."""
    if decimals == 0:
        return apply(_ROUND, (input,), (), out)
    s = 10.0 ** decimals
    return div(apply(_ROUND, (input * s,)), s, out=out)


def _softplus_fwd(xp, x, beta, threshold):
    bx = x * beta
    return xp.where(bx > threshold, x, xp.logaddexp(0, bx) / beta).astype(x.dtype, copy=False)


_SOFTPLUS = unary_op("softplus", _softplus_fwd,
                     lambda F, x, out, beta, threshold: F.sigmoid(x * beta))


@public("Activations", method=False)
def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, computed without overflow; x itself where beta x > threshold."""
    return apply(_SOFTPLUS, (input,), (beta, threshold))


NEG = unary_op("neg", "negative", -1, None, floating=False)


@public("Arithmetic", inplace=True, aliases=("negative",))
def neg(input, *, out=None):
    """-x, elementwise."""
    if input._data.dtype.kind == "b":
        raise TypeError("neg: negation of a bool tensor is not supported; use logical_not")
    return apply(NEG, (input,), (), out)


# ----------------------------------------------------------------------------- arithmetic

ADD = binary("add", "add", (1, 1))
SUB = binary("sub", "subtract", (1, -1))
MUL = binary("mul", "multiply", (lambda F, a, b, out: b, lambda F, a, b, out: a),
             save=((1,), (0,)))


def _div_vjp(F, g, args, out, n):
    a, b = args
    na, nb = n.needs
    return (g / b if na else None, -g * a / (b * b) if nb else None)


def _div_jvp(F, ts, args, out, params):
    (ta, tb), (a, b) = ts, args
    r = None if ta is None else ta / b
    if tb is not None:
        t = -tb * a / (b * b)
        r = t if r is None else r + t
    return expand_to(F, r, out.shape)


# Its own rules, not the partials 1/b and -a/b^2: g / b is one rounding, g * (1/b) two.
DIV = defop("div", "true_divide", _div_vjp, _div_jvp, save=((1,), (0, 1)), nin=2,
            promote=(0, 1), unbroadcast=True)


def _pow_db(F, a, b, out):
    # d/db a**b = a**b log a; PyTorch takes it as 0 where a == 0 and b >= 0.
    zero = (a == 0) & (b >= 0)
    return F.where(zero, 0.0, out * F.log(F.where(zero, 1.0, a)))


def _pow_da(F, a, b, out):
    # d/da a**b = b a**(b-1); PyTorch takes it as 0 where b == 0 (0 * inf at a == 0 otherwise).
    return F.where(b == 0, 0.0, b * a ** (b - 1))


def _pow_fwd(xp, a, b):
    if a.dtype.kind == "b" and _kind(b) == "b":
        raise NotImplementedError("not implemented for two bool operands")
    # Integer bases to negative integer powers: the truncated quotient, as PyTorch (1, -1 or 0).
    # Computed for every integer exponent, not after asking whether one is negative: that
    # question would wait for a GPU (and CuPy's power gives other values for them).
    if getattr(b, "dtype", None) is not None and b.dtype.kind in "iu" and a.dtype.kind in "iu":
        r = xp.power(a, xp.where(b < 0, 0, b))
        unit = xp.where(a == 1, 1, xp.where(a == -1, 1 - 2 * (b % 2), 0)).astype(r.dtype)
        return xp.where(b < 0, unit, r)
    return xp.power(a, b)


POW = binary("pow", _pow_fwd, (_pow_da, _pow_db), save="all",
             save_out=True, node_name="PowBackward1")


def _pow_scalar_d(F, x, out, p):
    # d/dx x**p = p x**(p-1); PyTorch takes 0 for p == 0 (even at x == 0).
    if p == 0:
        return F.zeros_like(x)
    return p * x ** (p - 1) if p != 2 else 2 * x


def _pow_scalar_fwd(xp, x, p):
    if x.dtype.kind == "b":  # bool ** bool stays bool: x ** True is x, x ** False is True
        return x | (not p)
    if p < 0 and x.dtype.kind in "iu" and isinstance(p, int):
        # NumPy raises this; CuPy would return values (PyTorch raises too)
        raise ValueError("Integers to negative integer powers are not allowed.")
    return x * x if p == 2 else xp.power(x, p)


POW_SCALAR = unary_op("pow_scalar", _pow_scalar_fwd,
                      _pow_scalar_d, floating=False, node_name="PowBackward0")


def _scaled(other, alpha):
    return other if alpha == 1 else other * alpha


@public("Arithmetic", inplace=True)
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, with broadcasting. Example: ``gpugrad.add(x, 1)``."""
    return apply(ADD, (input, _scaled(other, alpha)), (), out)


@public("Arithmetic", inplace=True, aliases=("subtract",))
def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other, with broadcasting."""
    if builtins.any(isinstance(v, bool) or isinstance(v, Tensor) and v._data.dtype.kind == "b"
                    for v in (input, other)):
        raise RuntimeError("sub: Subtraction, the `-` operator, with a bool tensor is not "
                           "supported. If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    return apply(SUB, (input, _scaled(other, alpha)), (), out)


@public("Arithmetic", inplace=True, aliases=("multiply",))
def mul(input, other, *, out=None):
    """input * other, elementwise with broadcasting."""
    return apply(MUL, (input, other), (), out)


def _int_like(a):
    return not isinstance(a, float) and (not isinstance(a, Tensor) or a._data.dtype.kind != "f")


@public("Arithmetic", inplace=True, aliases=("divide", "true_divide"), first_tensor=False)
def div(input, other, *, rounding_mode=None, out=None):
    """True division input / other (integers give the default float dtype), with broadcasting.

    ``rounding_mode="floor"`` or ``"trunc"`` rounds the quotient; integer inputs then give an
    integer result and the gradient is zero, as in PyTorch.
    """
    if rounding_mode is not None:
        if rounding_mode not in ("floor", "trunc"):
            raise ValueError(f"div: unknown rounding_mode {rounding_mode!r}; expected None, "
                             "'floor' or 'trunc'")
        return apply(_ROUNDED_DIV, (input, other), (rounding_mode,), out)
    if _int_like(input) and _int_like(other):
        dt = B.get_default_dtype()
        if isinstance(input, Tensor):
            input = input.to(dt)
        else:
            other = other.to(dt)
    return apply(DIV, (input, other), (), out)


@public("Arithmetic", inplace=True, first_tensor=False)
def pow(input, exponent, *, out=None):
    """input ** exponent, elementwise; either may be a number.

    Example: ``gpugrad.pow(gpugrad.tensor([2., 3.]), 2)`` -> tensor([4., 9.])
    """
    if isinstance(exponent, Tensor):
        if not isinstance(input, Tensor):
            input = exponent.new_tensor(input, dtype=None)
            if not input.dtype.is_floating_point and exponent.dtype.is_floating_point:
                input = input.to(exponent.dtype)
            # PyTorch's pow(Scalar, Tensor) overload: PowBackward2
            return named(apply(POW, (input, exponent), (), out), "PowBackward2")
        return apply(POW, (input, exponent), (), out)
    exponent = B.py_scalar(exponent)
    if not isinstance(exponent, (int, float)):
        raise TypeError("pow: exponent must be a tensor or a number, got "
                        f"{type(exponent).__name__}")
    if isinstance(exponent, float) and input._data.dtype.kind != "f":
        input = input.to(B.get_default_dtype())
    elif input._data.dtype.kind == "b" and not isinstance(exponent, bool):
        input = input.to(B.int64)  # bool ** int is int64, as in PyTorch
    return apply(POW_SCALAR, (input,), (exponent,), out)


# ----------------------------------------------------------------------------- integer division


def _is_int(v):
    """An integer (or bool) array, or a Python int: the operands of an integer division."""
    dt = getattr(v, "dtype", None)
    return dt.kind in "biu" if dt is not None else isinstance(v, int)


def _kind(v):
    dt = getattr(v, "dtype", None)
    return dt.kind if dt is not None else None


def _divmod_fwd(fn):
    # Either operand may be a Python scalar: it stays one (weak, as in PyTorch: a float32
    # tensor // 2.5 is float32), and only an integer division checks for a zero divisor.
    def fwd(xp, a, b, *params):
        if _kind(a) == "b" and (_kind(b) == "b" or isinstance(b, bool)):
            raise NotImplementedError("not implemented for two bool operands")
        if _is_int(a) and _is_int(b) and bool(xp.any(xp.asarray(b) == 0)):
            raise ZeroDivisionError("integer division by zero")
        return fn(xp, a, b, *params)
    return fwd


def _rounded_div(xp, a, b, mode):
    if mode == "floor":
        return xp.floor_divide(a, b)
    if not (_is_int(a) and _is_int(b)):
        return xp.trunc(xp.true_divide(a, b)).astype(xp.result_type(a, b), copy=False)
    q = xp.floor_divide(a, b)  # exact for integers: floor, then up where the signs differ
    return xp.where((xp.remainder(a, b) != 0) & ((a < 0) != (b < 0)), q + 1, q)


def _zero_partial(F, a, b, out):
    return F.zeros_like(out)


# div with rounding_mode: a step function of the quotient, so its gradient is zero.
_ROUNDED_DIV = binary("div_rounded", _divmod_fwd(_rounded_div), (_zero_partial, _zero_partial),
                      save_out=True, node_name="DivBackward2")


def _no_derivative(name):
    def rule(*args):
        raise RuntimeError(f"{name}: the derivative of {name} is not implemented (as in "
                           "PyTorch); use div(..., rounding_mode='floor') for a zero gradient")
    return rule


# floor_divide has no derivative in PyTorch: backward through it raises, as there.
FLOOR_DIVIDE = defop("floor_divide", _divmod_fwd(lambda xp, a, b: xp.floor_divide(a, b)),
                     _no_derivative("floor_divide"), _no_derivative("floor_divide"), nin=2,
                     promote=(0, 1), node_name="NotImplemented")


@public("Arithmetic", inplace=True, first_tensor=False)
def floor_divide(input, other, *, out=None):
    """input // other rounded down; integer inputs give an integer result, as in PyTorch.
    Integer division by zero raises ZeroDivisionError; backward through it raises."""
    return apply(FLOOR_DIVIDE, (input, other), (), out)


def _quotient(mode):
    def d(F, a, b, out):
        return -F.div_rounded(a, b, mode)
    return d


REMAINDER = binary("remainder", _divmod_fwd(lambda xp, a, b: xp.remainder(a, b)),
                   (1, _quotient("floor")), save=((), (0, 1)))
FMOD = binary("fmod", _divmod_fwd(lambda xp, a, b: xp.fmod(a, b)), (1, _quotient("trunc")),
              save=((), (0, 1)))


@public("Arithmetic", inplace=True, first_tensor=False)
def remainder(input, other, *, out=None):
    """Python's modulus input % other: the result has the divisor's sign (integers stay
    integers). Gradient 1 and -floor(input / other)."""
    r = apply(REMAINDER, (input, other), (), out)
    # PyTorch's overloads: remainder(Tensor, Scalar) is RemainderBackward0, of two tensors 1.
    return named(r, "RemainderBackward1") if out is None and isinstance(other, Tensor) else r


@public("Arithmetic", inplace=True)
def fmod(input, other, *, out=None):
    """C's remainder: the result has the dividend's sign. Gradient 1 and -trunc(input / other)."""
    r = apply(FMOD, (input, other), (), out)
    return named(r, "FmodBackward1") if out is None and isinstance(other, Tensor) else r


# ----------------------------------------------------------------------------- binary maths


def _float_binary(name, fwd, d, doc, *, save="all", save_out=False, aliases=(),
                  group="Elementwise") -> Callable[..., Tensor]:
    op = binary(name, fwd, d, save=save, save_out=save_out)

    def fn(input, other, *, out=None):
        if _int_like(input) and _int_like(other):
            input = input.to(B.get_default_dtype()) if isinstance(input, Tensor) else input
            other = other.to(B.get_default_dtype()) if isinstance(other, Tensor) else other
        return apply(op, (input, other), (), out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return public(group, inplace=True, aliases=aliases)(fn)


def _atan2_d(i):
    def d(F, a, b, out):
        # 0 at the origin, PyTorch's subgradient (0 / 0 otherwise)
        r2 = a * a + b * b
        zero = r2 == 0
        return F.where(zero, 0.0, (b if i == 0 else -a) / F.where(zero, 1.0, r2))
    return d


atan2 = _float_binary("atan2", "arctan2", (_atan2_d(0), _atan2_d(1)), aliases=("arctan2",),
                      doc="atan(input / other) in the quadrant of (other, input), elementwise.")
hypot = _float_binary("hypot", "hypot", (lambda F, a, b, out: a / out,
                                         lambda F, a, b, out: b / out), save_out=True,
                      doc="sqrt(input**2 + other**2), elementwise, without overflow.")
# d/da log(e^a + e^b) = 1 / (1 + e^(b - a)): a sigmoid, which never overflows.
logaddexp = _float_binary("logaddexp", "logaddexp",
                          (lambda F, a, b, out: F.sigmoid(a - b),
                           lambda F, a, b, out: F.sigmoid(b - a)),
                          doc="log(exp(input) + exp(other)), elementwise, without overflow.")


def _xlogy_fwd(xp, x, y):
    # x is a float array (the inputs are promoted); y may be a Python scalar, which must not
    # widen the result (a float32 x with y = 2.5 stays float32).
    r = x * xp.log(xp.where(x == 0, 1, y).astype(x.dtype, copy=False))
    return xp.where(xp.isnan(y), y, r).astype(x.dtype, copy=False)


def _xlogy_dx(F, a, b, out):
    # d/dx x log y = log y, taken as 0 where x == 0 and y <= 0, as in PyTorch (since
    # pytorch/pytorch#80770: x log y is smooth in x at x = 0 when y > 0). The log reads 1
    # there, so that no inf or NaN reaches a second derivative.
    if isinstance(b, (int, float)):  # a Python scalar y: log y is a number
        if not b <= 0:  # (NaN too)
            return math.log(b) if b > 0 else b
        zero = F.zeros_like(a)
        return F.where(a == 0, zero, zero + (-math.inf if b == 0 else math.nan))
    zero = (a == 0) & (b <= 0)
    return F.where(zero, 0.0, F.log(F.where(zero, 1.0, b)))


# d/dy x log y = x / y.
xlogy = _float_binary("xlogy", _xlogy_fwd, (_xlogy_dx, lambda F, a, b, out: a / b),
                      doc="input * log(other), 0 where input is 0 (NaN where other is NaN).")


# ----------------------------------------------------------------------------- maximum, minimum


def _max_mask(F, a, b):
    # 1 where a wins, 0 where b wins, 1/2 at ties: PyTorch's split of the gradient.
    return cast_like(F, a > b, a) + cast_like(F, a == b, a) * 0.5


MAXIMUM = binary("maximum", "maximum", (lambda F, a, b, out: _max_mask(F, a, b),
                                        lambda F, a, b, out: _max_mask(F, b, a)), save="all")
MINIMUM = binary("minimum", "minimum", (lambda F, a, b, out: _max_mask(F, b, a),
                                        lambda F, a, b, out: _max_mask(F, a, b)), save="all")


@public("Elementwise")
def maximum(input, other, *, out=None):
    """Elementwise maximum; at ties the gradient is split evenly, as in PyTorch."""
    return apply(MAXIMUM, (input, other), (), out)


@public("Elementwise")
def minimum(input, other, *, out=None):
    """Elementwise minimum; at ties the gradient is split evenly, as in PyTorch."""
    return apply(MINIMUM, (input, other), (), out)


# ----------------------------------------------------------------------------- where, clamp


def _where_vjp(F, g, args, out, n):
    c = args[0]
    _, na, nb = n.needs
    return (None, F.where(c, g, 0.0) if na else None, F.where(c, 0.0, g) if nb else None)


# The gradients read the condition (input 0, never differentiated): it is saved for both.
WHERE = linear_op("where", "where", _where_vjp, linear=(1, 2), save=((), (0,), (0,)), nin=3,
                  promote=(1, 2), unbroadcast=True)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other`` (either may be a number).

    Example: ``gpugrad.where(x > 0, x, 0.)``
    """
    if not isinstance(condition, Tensor):
        raise TypeError(f"where: condition must be a bool tensor, got {type(condition).__name__}")
    if condition._data.dtype.kind != "b":
        raise TypeError(f"where: condition must have dtype bool, got {condition.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        dt = B.get_default_dtype() if isinstance(input, float) or isinstance(other, float) \
            else B.int64
        input = condition.new_tensor(input, dtype=dt)
    return apply(WHERE, (condition, input, other))


def _where_method(self, condition, other):
    """``x.where(condition, y)`` is ``gpugrad.where(condition, x, y)``."""
    return where(condition, self, other)


public("Elementwise", method=_where_method, first_tensor=False)(where)


def _clamp_d(F, x, out, lo, hi):
    m = None
    if lo is not None:
        m = x >= lo
    if hi is not None:
        m = (x <= hi) if m is None else m & (x <= hi)
    return cast_like(F, m, x)


def _clamp_fwd(xp, x, lo, hi):
    if lo is not None:
        x = xp.maximum(x, lo)
    if hi is not None:
        x = xp.minimum(x, hi)
    return x


CLAMP = unary_op("clamp", _clamp_fwd, _clamp_d, floating=False, node_name="ClampBackward1")


@public("Elementwise", inplace=True, aliases=("clip",))
def clamp(input, min=None, max=None, *, out=None):
    """Limit values to [min, max]; the gradient passes where min <= x <= max (bounds included).

    Bounds may be numbers or tensors. Example: ``x.clamp(min=0)``.
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if max is None:
            return maximum(input, min, out=out)
        return minimum(input if min is None else maximum(input, min), max, out=out)
    lo = None if min is None else B.py_scalar(min)
    hi = None if max is None else B.py_scalar(max)
    if input._data.dtype.kind != "f" and (isinstance(lo, float) or isinstance(hi, float)):
        input = input.to(B.get_default_dtype())
    return apply(CLAMP, (input,), (lo, hi), out)


# ----------------------------------------------------------------------------- casts


def _to_dtype_vjp(F, g, args, out, n):
    dt, src = n.params
    return (F.to_dtype(g, src, dt),)


TO_DTYPE = linear_op("to_dtype", lambda xp, x, dt, src: x.astype(dt.np), _to_dtype_vjp,
                     node_name="ToCopyBackward0", float_out=False)


@public("Casts", method=False)
def to_dtype(input, dtype):
    """`input` converted to `dtype` (differentiable between floating dtypes)."""
    return apply(TO_DTYPE, (input,), (dtype, input.dtype))


# ----------------------------------------------------------------------------- no gradient


def _comparison(name, fwd, doc, aliases=(), group="Comparison and logic",
                n_in=2) -> Callable[..., Tensor]:
    op = defop(name, fwd, nin=n_in, promote=(0, 1) if n_in == 2 else None)
    if n_in == 1:
        def fn(input):
            return apply(op, (input,))
    else:
        def fn(input, other):  # type: ignore[misc]
            return apply(op, (input, other))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return public(group, aliases=aliases, first_tensor=n_in == 1)(fn)


eq = _comparison("eq", "equal", "Elementwise ==, as a bool tensor.")
ne = _comparison("ne", "not_equal", "Elementwise !=, as a bool tensor.", ("not_equal",))
lt = _comparison("lt", "less", "Elementwise <, as a bool tensor.", ("less",))
le = _comparison("le", "less_equal", "Elementwise <=, as a bool tensor.", ("less_equal",))
gt = _comparison("gt", "greater", "Elementwise >, as a bool tensor.", ("greater",))
ge = _comparison("ge", "greater_equal", "Elementwise >=, as a bool tensor.", ("greater_equal",))
logical_and = _comparison("logical_and", "logical_and", "Elementwise logical and.")
logical_or = _comparison("logical_or", "logical_or", "Elementwise logical or.")
logical_xor = _comparison("logical_xor", "logical_xor", "Elementwise logical xor.")
logical_not = _comparison("logical_not", "logical_not", "Elementwise logical not.", n_in=1)
isnan = _comparison("isnan", "isnan", "True where the value is NaN.", n_in=1)
isinf = _comparison("isinf", "isinf", "True where the value is +-inf.", n_in=1)
isfinite = _comparison("isfinite", "isfinite",
                       "True where the value is neither NaN nor infinite.", n_in=1)


def _bitwise(name) -> Callable[..., Tensor]:
    op = defop(name, name, nin=2, promote=(0, 1))

    def fn(input, other):
        if input._data.dtype.kind not in "biu":
            raise TypeError(f"{name}: needs integer or bool tensors, got {input.dtype}")
        return apply(op, (input, other))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of integer or bool tensors."
    return public("Comparison and logic")(fn)


bitwise_and = _bitwise("bitwise_and")
bitwise_or = _bitwise("bitwise_or")
bitwise_xor = _bitwise("bitwise_xor")
