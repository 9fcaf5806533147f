"""Elementwise primitives: unary maths, binary arithmetic, comparisons, where, clamp, casts.

A unary primitive gives one local derivative ``d(x, out)``; its vjp is ``g * d`` and its jvp
``t * d``. Binary rules end in ``sum_to``, the shared unbroadcast.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import backend as B
from ..autograd.grad_mode import fw_levels, state
from ..tensor import Tensor, _wrap
from .registry import OPS, apply, apply1, apply2, defop, promote, sum_to

# ----------------------------------------------------------------------------- unary


class _Math:
    """The functions local derivatives call, at one level: gpugrad's ops on tensors (a graph is
    recorded when one is being built), or the array module's on raw arrays (no graph)."""

    __slots__ = ("cos", "sin", "sign", "sigmoid")

    def __init__(self, cos, sin, sign, sigmoid):
        self.cos, self.sin, self.sign, self.sigmoid = cos, sin, sign, sigmoid


_array_math: dict = {}  # array type -> _Math of its module


def _math_of(array_type):
    m = _array_math.get(array_type)
    if m is None:
        xp = B._XP[array_type]
        m = _array_math[array_type] = _Math(xp.cos, xp.sin, xp.sign,
                                            lambda x: _sigmoid_fwd(xp, x))
    return m


def _unary(name, fwd, d, uses="x", floating=True, doc=""):
    """Register a unary primitive from its forward and local derivative ``d(F, x, out, *params)``.

    `uses` says what `d` reads: "x", "out", "both", or None when the derivative is zero. `d` is
    written with operators and ``F.cos``-style calls, so the one formula runs on tensors (for
    higher order and forward mode) and, when no graph is being built, on the raw arrays.
    """
    if d is None:
        def vjp(n, g):
            return (_zeros(g),)

        def jvp(ts, out, args, params):
            return _zeros(ts[0])
        save, save_out = None, False
    else:
        save = ((0,),) if uses in ("x", "both") else ((),)
        save_out = uses in ("out", "both")

        def vjp(n, g):
            saved = n.saved
            if state.grad_enabled or fw_levels[0]:
                x = saved[0] if saved is not None else None
                out = n.out() if save_out else None
                return (g * d(_TENSOR_MATH, x, out, *n.params),)
            # No graph to build: the same formula on arrays, one tensor for the result.
            gd = g._data
            x = saved[0]._data if saved is not None else None
            out = n.out_data
            tg = type(gd)
            dv = d(_array_math.get(tg) or _math_of(tg), x, out, *n.params)
            if gd.size < _IN_PLACE_MIN:  # _g_times's small case, without the call (per op)
                r = gd * dv
                return (_wrap(r if type(r) is tg else B._XP[tg].asarray(r)),)
            return (_wrap(_g_times(gd, dv, x, out)),)

        def jvp(ts, out, args, params):
            return ts[0] * d(_TENSOR_MATH, args[0], out, *params)
    return _public1(defop(name, fwd, vjp, jvp, save=save, save_out=save_out), floating, doc)


def _public1(op, floating, doc):
    """The public function of a one-input op (integers promoted to float when `floating`)."""
    if floating:
        def public(input):
            if input._data.dtype.kind != "f":
                input = input.to(B.get_default_dtype())
            return apply1(op, input)
    else:
        def public(input):
            return apply1(op, input)
    public.__name__ = public.__qualname__ = op.name
    public.__doc__ = doc
    return public


# From this many elements on, a vjp on arrays multiplies g into a fresh local derivative in
# place: one pass over memory and one array fewer (below it, out= costs more than it saves).
_IN_PLACE_MIN = 1 << 15


def _g_times(gd, d, *inputs):
    """``g * d`` on arrays, as an array of g's type. A large `d` that the formula made fresh
    (not one of `inputs`, not a view, g's shape and dtype) takes the product in place."""
    if (gd.size >= _IN_PLACE_MIN and type(d) is type(gd) and d.base is None
            and d.shape == gd.shape and d.dtype == gd.dtype and all(d is not a for a in inputs)):
        return B._XP[type(gd)].multiply(d, gd, out=d)
    r = gd * d
    return r if type(r) is type(gd) else B._XP[type(gd)].asarray(r)


def _zeros(like):
    return _wrap(_xp(like).zeros_like(like._data))


def _xp(t):
    return B._XP[type(t._data)]


exp = _unary("exp", lambda xp, x: xp.exp(x), lambda F, x, out: out, "out",
             doc="Elementwise e**x. Example: ``gpugrad.exp(gpugrad.tensor([0.]))`` -> tensor([1.])")
log = _unary("log", lambda xp, x: xp.log(x), lambda F, x, out: 1.0 / x,
             doc="Natural logarithm, elementwise (``log(0) = -inf``).")
log1p = _unary("log1p", lambda xp, x: xp.log1p(x), lambda F, x, out: 1.0 / (x + 1.0),
               doc="log(1 + x), accurate for small x.")
expm1 = _unary("expm1", lambda xp, x: xp.expm1(x), lambda F, x, out: out + 1.0, "out",
               doc="exp(x) - 1, accurate for small x.")
sqrt = _unary("sqrt", lambda xp, x: xp.sqrt(x), lambda F, x, out: 0.5 / out, "out",
              doc="Square root, elementwise (gradient inf at 0, as in PyTorch).")
rsqrt = _unary("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda F, x, out: -0.5 * out * out * out,
               "out", doc="1 / sqrt(x), elementwise.")
sin = _unary("sin", lambda xp, x: xp.sin(x), lambda F, x, out: F.cos(x), doc="Sine, elementwise.")
cos = _unary("cos", lambda xp, x: xp.cos(x), lambda F, x, out: -F.sin(x),
             doc="Cosine, elementwise.")
tan = _unary("tan", lambda xp, x: xp.tan(x), lambda F, x, out: 1.0 + out * out, "out",
             doc="Tangent, elementwise.")
tanh = _unary("tanh", lambda xp, x: xp.tanh(x), lambda F, x, out: 1.0 - out * out, "out",
              doc="Hyperbolic tangent, elementwise.")
reciprocal = _unary("reciprocal", lambda xp, x: 1 / x, lambda F, x, out: -out * out, "out",
                    doc="1 / x, elementwise.")


def _sigmoid_fwd(xp, x):
    # exp of a non-positive number never overflows: split by sign.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


sigmoid = _unary("sigmoid", _sigmoid_fwd, lambda F, x, out: out * (1.0 - out), "out",
                 doc="The logistic function 1 / (1 + exp(-x)), computed without overflow.")
relu = _unary("relu", lambda xp, x: xp.maximum(x, 0),
              lambda F, x, out: out > 0, "out", floating=False,
              doc="max(x, 0), elementwise; gradient 0 at 0, as in PyTorch.")
abs = _unary("abs", lambda xp, x: xp.abs(x), lambda F, x, out: F.sign(x), floating=False,
             doc="Absolute value; gradient sign(x), 0 at 0.")
sign = _unary("sign", lambda xp, x: xp.sign(x), None, floating=False,
              doc="-1, 0 or 1 by the sign of x (zero gradient).")
floor = _unary("floor", lambda xp, x: xp.floor(x), None, floating=False,
               doc="Round down, elementwise (zero gradient).")
ceil = _unary("ceil", lambda xp, x: xp.ceil(x), None, floating=False,
              doc="Round up, elementwise (zero gradient).")
_round = _unary("round", lambda xp, x: xp.round(x), None, floating=False,
                doc="Round half to even, elementwise (zero gradient).")


def round(input, decimals=0):
    """Round half to even, elementwise (zero gradient); ``decimals`` as in PyTorch."""
    if decimals == 0:
        return _round(input)
    s = 10.0 ** decimals
    return _round(input * s) / s


def _softplus_fwd(xp, x, beta, threshold):
    bx = x * beta
    return xp.where(bx > threshold, x, xp.logaddexp(0, bx) / beta).astype(x.dtype, copy=False)


# Registered here; the public softplus below adds beta and threshold.
_unary("softplus", _softplus_fwd, lambda F, x, out, beta, threshold: F.sigmoid(x * beta))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, computed without overflow; x itself where beta x > threshold."""
    if input._data.dtype.kind != "f":
        input = input.to(B.get_default_dtype())
    return apply1(OPS["softplus"], input, (beta, threshold))


_TENSOR_MATH = _Math(cos, sin, sign, sigmoid)


def _no_graph(n):
    """True when a vjp may run on raw arrays: no graph is being built, no tangent to carry,
    and no broadcasting to undo."""
    return not (state.grad_enabled or fw_levels[0]) and n.shapes is None


def _raw(v):
    return v._data if isinstance(v, Tensor) else v


def _on_arrays(formula, n, g):
    """Evaluate a vjp `formula(g, *saved, needs)` on the raw arrays; wrap each result once.
    The results are new arrays (never `g` itself), so two gradients cannot alias."""
    gd = g._data
    tg = type(gd)
    saved = n.saved
    if saved is None:
        rs = formula(gd, *((None,) * len(n.next)), n.needs, *n.params)
    elif len(saved) == 2:
        a, b = saved
        rs = formula(gd, a._data if isinstance(a, Tensor) else a,
                     b._data if isinstance(b, Tensor) else b, n.needs, *n.params)
    else:
        rs = formula(gd, *(_raw(v) for v in saved), n.needs, *n.params)
    return tuple([None if r is None else _wrap(r if type(r) is tg else B._XP[tg].asarray(r))
                  for r in rs])


def _neg_formula(g, x, needs):
    return (-g,)


def _neg_vjp(n, g):
    if _no_graph(n):
        return _on_arrays(_neg_formula, n, g)
    return _neg_formula(g, None, n.needs)


def _neg_jvp(ts, out, args, params):
    return -ts[0]


NEG = defop("neg", lambda xp, x: xp.negative(x), _neg_vjp, _neg_jvp)


def neg(input):
    """-x, elementwise."""
    if input._data.dtype.kind == "b":
        raise TypeError("neg: negation of a bool tensor is not supported; use logical_not")
    return apply1(NEG, input)


negative = neg

# ----------------------------------------------------------------------------- binary


def _shapes(n):
    return n.shapes or (None, None)


def _unb(g, shape):
    return g if shape is None else sum_to(g, shape)


def _add_vjp(n, g):
    na, nb = n.needs
    if n.shapes is None:
        return (g if na else None, g if nb else None)
    sa, sb = n.shapes
    return (sum_to(g, sa) if na else None, sum_to(g, sb) if nb else None)


def _add_jvp(ts, out, args, params):
    ta, tb = ts
    if ta is None:
        return _expand_as(tb, out)
    return _expand_as(ta, out) if tb is None else ta + tb


def _expand_as(t, out):
    return t if t._data.shape == out._data.shape else t.expand(*out._data.shape)


ADD = defop("add", lambda xp, a, b: xp.add(a, b), _add_vjp, _add_jvp)


def _sub_vjp(n, g):
    sa, sb = _shapes(n)
    return (_unb(g, sa) if n.needs[0] else None, _unb(-g, sb) if n.needs[1] else None)


def _sub_jvp(ts, out, args, params):
    ta, tb = ts
    if ta is None:
        return _expand_as(-tb, out)
    return _expand_as(ta, out) if tb is None else ta - tb


SUB = defop("sub", lambda xp, a, b: xp.subtract(a, b), _sub_vjp, _sub_jvp)


def _mul_formula(g, a, b, needs):
    return (g * b if needs[0] else None, g * a if needs[1] else None)


def _div_formula(g, a, b, needs):
    return (g / b if needs[0] else None, -g * a / (b * b) if needs[1] else None)


def _binary_vjp(formula):
    """A binary vjp from one formula: on arrays when no graph is built, else on tensors and
    reduced to each input's shape by ``sum_to``."""
    def vjp(n, g):
        if _no_graph(n):
            return _on_arrays(formula, n, g)
        sa, sb = _shapes(n)
        ga, gb = formula(g, *n.saved, n.needs)
        return (None if ga is None else _unb(ga, sa), None if gb is None else _unb(gb, sb))
    return vjp


_mul_vjp = _binary_vjp(_mul_formula)


def _mul_jvp(ts, out, args, params):
    (ta, tb), (a, b) = ts, args
    r = None if ta is None else ta * b
    if tb is not None:
        r = a * tb if r is None else r + a * tb
    return _expand_as(r, out)


MUL = defop("mul", lambda xp, a, b: xp.multiply(a, b), _mul_vjp, _mul_jvp,
            save=((1,), (0,)))


_div_vjp = _binary_vjp(_div_formula)


def _div_jvp(ts, out, args, params):
    (ta, tb), (a, b) = ts, args
    r = None if ta is None else ta / b
    if tb is not None:
        t2 = -tb * a / (b * b)
        r = t2 if r is None else r + t2
    return _expand_as(r, out)


DIV = defop("div", lambda xp, a, b: xp.true_divide(a, b), _div_vjp, _div_jvp,
            save=((1,), (0, 1)))


def _pow_vjp(n, g):
    a, b = n.saved
    sa, sb = _shapes(n)
    ga = gb = None
    if n.needs[0]:
        ga = _unb(g * b * a ** (b - 1), sa)
    if n.needs[1]:
        # d/db a**b = a**b log a; PyTorch takes it as 0 where a == 0 and b >= 0.
        out = n.out()
        safe = where((a == 0) & (b >= 0), 1.0, a)
        gb = _unb(where((a == 0) & (b >= 0), 0.0, g * out * safe.log()), sb)
    return ga, gb


def _pow_jvp(ts, out, args, params):
    (ta, tb), (a, b) = ts, args
    r = None if ta is None else ta * b * a ** (b - 1)
    if tb is not None:
        safe = where((a == 0) & (b >= 0), 1.0, a)
        t2 = where((a == 0) & (b >= 0), 0.0, tb * out * safe.log())
        r = t2 if r is None else r + t2
    return _expand_as(r, out)


POW = defop("pow", lambda xp, a, b: xp.power(a, b), _pow_vjp, _pow_jvp, save="all",
            save_out=True, node_name="PowBackward1")


def _pow_scalar_d(x, p):
    # d/dx x**p = p x**(p-1); PyTorch takes 0 for p == 0 (even at x == 0).
    if p == 0:
        return None
    return p * x ** (p - 1) if p != 2 else 2 * x


def _pow_scalar_vjp(n, g):
    p = n.params[0]
    if p == 0:
        return (_zeros(g),)
    x = n.saved[0]
    if _no_graph(n):
        return (_wrap(_g_times(g._data, _pow_scalar_d(x._data, p), x._data)),)
    return (g * _pow_scalar_d(x, p),)


def _pow_scalar_jvp(ts, out, args, params):
    d = _pow_scalar_d(args[0], params[0])
    return _zeros(ts[0]) if d is None else ts[0] * d


def _pow_scalar_fwd(xp, x, p):
    if p == 2:
        return x * x
    return xp.power(x, p)


POW_SCALAR = defop("pow_scalar", _pow_scalar_fwd, _pow_scalar_vjp, _pow_scalar_jvp,
                   save=((0,),), node_name="PowBackward0")


def pow(input, exponent):
    """input ** exponent, elementwise; either may be a number.

    Example: ``gpugrad.pow(gpugrad.tensor([2., 3.]), 2)`` -> tensor([4., 9.])
    """
    if isinstance(exponent, Tensor):
        if not isinstance(input, Tensor):
            input = exponent.new_tensor(input, dtype=None)
            if not input.dtype.is_floating_point and exponent.dtype.is_floating_point:
                input = input.to(exponent.dtype)
        return apply2(POW, input, exponent)
    exponent = B.py_scalar(exponent)
    if not isinstance(exponent, (int, float)):
        raise TypeError("pow: exponent must be a tensor or a number, got "
                        f"{type(exponent).__name__}")
    if isinstance(exponent, float) and input._data.dtype.kind != "f":
        input = input.to(B.get_default_dtype())
    return apply1(POW_SCALAR, input, (exponent,))


def add(input, other, *, alpha=1):
    """input + alpha * other, with broadcasting. Example: ``gpugrad.add(x, 1)``."""
    if alpha != 1:
        other = other * alpha
    return apply2(ADD, input, other)


def sub(input, other, *, alpha=1):
    """input - alpha * other, with broadcasting."""
    if alpha != 1:
        other = other * alpha
    return apply2(SUB, input, other)


subtract = sub


def mul(input, other):
    """input * other, elementwise with broadcasting."""
    return apply2(MUL, input, other)


multiply = mul


def _int_like(a):
    return not isinstance(a, float) and (not isinstance(a, Tensor) or a._data.dtype.kind != "f")


def div(input, other, *, rounding_mode=None):
    """True division input / other (integers give the default float dtype), with broadcasting.

    ``rounding_mode="floor"`` or ``"trunc"`` rounds the quotient (zero gradient), as in PyTorch.
    """
    if _int_like(input) and _int_like(other):
        dt = B.get_default_dtype()
        if isinstance(input, Tensor):
            input = input.to(dt)
        else:
            other = other.to(dt)
    q = apply2(DIV, input, other)
    if rounding_mode is None:
        return q
    if rounding_mode == "floor":
        return q.floor()
    if rounding_mode == "trunc":
        return q.sign() * q.abs().floor()
    raise ValueError(f"div: unknown rounding_mode {rounding_mode!r}; expected None, 'floor' or "
                     "'trunc'")


divide = true_divide = div


def _max_mask(a, b):
    # 1 where a wins, 0 where b wins, 1/2 at ties: PyTorch's split of the gradient.
    m = (a > b).to(_float_of(a, b))
    return m + (a == b).to(m.dtype) * 0.5


def _float_of(a, b):
    return a.dtype if isinstance(a, Tensor) else b.dtype


def _minmax_vjp(sign) -> tuple[Callable, Callable]:
    def vjp(n, g):
        a, b = n.saved
        sa, sb = _shapes(n)
        m = _max_mask(a, b) if sign > 0 else _max_mask(b, a)
        return (_unb(g * m, sa) if n.needs[0] else None,
                _unb(g * (1 - m), sb) if n.needs[1] else None)

    def jvp(ts, out, args, params):
        (ta, tb), (a, b) = ts, args
        m = _max_mask(a, b) if sign > 0 else _max_mask(b, a)
        r = None if ta is None else ta * m
        if tb is not None:
            r = tb * (1 - m) if r is None else r + tb * (1 - m)
        return _expand_as(r, out)

    return vjp, jvp


MAXIMUM = defop("maximum", lambda xp, a, b: xp.maximum(a, b), *_minmax_vjp(1), save="all")
MINIMUM = defop("minimum", lambda xp, a, b: xp.minimum(a, b), *_minmax_vjp(-1), save="all")


def maximum(input, other):
    """Elementwise maximum; at ties the gradient is split evenly, as in PyTorch."""
    return apply2(MAXIMUM, input, other)


def minimum(input, other):
    """Elementwise minimum; at ties the gradient is split evenly, as in PyTorch."""
    return apply2(MINIMUM, input, other)


# ----------------------------------------------------------------------------- where, clamp


def _where_vjp(n, g):
    c = n.params[0]
    _, sa, sb = n.shapes
    z = _zeros(g)
    ga = _unb(where(c, g, z), sa) if n.needs[1] else None
    gb = _unb(where(c, z, g), sb) if n.needs[2] else None
    return None, ga, gb


def _where_jvp(ts, out, args, params):
    _, ta, tb = ts
    c = params[0]
    z = _zeros(out)
    return where(c, z if ta is None else ta, z if tb is None else tb)


# The condition travels as a param (it is never differentiated); its array is the first input.
WHERE = defop("where", lambda xp, c, a, b, cond: xp.where(c, a, b), _where_vjp, _where_jvp)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other`` (either may be a number).

    Example: ``gpugrad.where(x > 0, x, 0.)``
    """
    if not isinstance(condition, Tensor):
        raise TypeError(f"where: condition must be a bool tensor, got {type(condition).__name__}")
    if condition._data.dtype.kind != "b":
        raise TypeError(f"where: condition must have dtype bool, got {condition.dtype}")
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            dt = B.get_default_dtype() if isinstance(input, float) or isinstance(other, float) \
                else B.int64
            input = condition.new_tensor(input, dtype=dt)
        input, other = promote("where", input, other)
        if not isinstance(input, Tensor):
            input = other.new_tensor(input, dtype=other.dtype)
        if not isinstance(other, Tensor):
            other = input.new_tensor(other, dtype=input.dtype)
    elif input._data.dtype != other._data.dtype:
        input, other = promote("where", input, other)
    return apply(WHERE, (condition, input, other), (condition,))


def _clamp_mask(x, lo, hi):
    m = None
    if lo is not None:
        m = x >= lo
    if hi is not None:
        m = (x <= hi) if m is None else m & (x <= hi)
    return m.to(x.dtype)


def _clamp_vjp(n, g):
    return (g * _clamp_mask(n.saved[0], *n.params),)


def _clamp_jvp(ts, out, args, params):
    return ts[0] * _clamp_mask(args[0], *params)


def _clamp_fwd(xp, x, lo, hi):
    if lo is not None:
        x = xp.maximum(x, lo)
    if hi is not None:
        x = xp.minimum(x, hi)
    return x


CLAMP = defop("clamp", _clamp_fwd, _clamp_vjp, _clamp_jvp, save=((0,),))


def clamp(input, min=None, max=None):
    """Limit values to [min, max]; the gradient passes where min <= x <= max (bounds included).

    Bounds may be numbers or tensors. Example: ``x.clamp(min=0)``.
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    lo = None if min is None else B.py_scalar(min)
    hi = None if max is None else B.py_scalar(max)
    if input._data.dtype.kind != "f" and (isinstance(lo, float) or isinstance(hi, float)):
        input = input.to(B.get_default_dtype())
    return apply1(CLAMP, input, (lo, hi))


clip = clamp

# ----------------------------------------------------------------------------- casts


def _to_dtype_vjp(n, g):
    src = n.params[1]
    return (g.to(src),)


def _to_dtype_jvp(ts, out, args, params):
    return ts[0].to(params[0])


TO_DTYPE = defop("to_dtype", lambda xp, x, dt, src: x.astype(dt.np), _to_dtype_vjp,
                 _to_dtype_jvp, node_name="ToCopyBackward0")


def to_dtype(input, dtype):
    """Convert to `dtype` (differentiable between floating dtypes)."""
    out = apply1(TO_DTYPE, input, (dtype, input.dtype))
    if not dtype.is_floating_point and out.grad_fn is not None:
        out.grad_fn = None
        out._rg = False
    return out


# ----------------------------------------------------------------------------- no-gradient ops


def _nograd(name, fwd, n_in=2, doc=""):
    op = defop(name, fwd)
    if n_in == 1:
        return _public1(op, False, doc)

    def public(input, other):
        return apply2(op, input, other)
    public.__name__ = public.__qualname__ = name
    public.__doc__ = doc
    return public


eq = _nograd("eq", lambda xp, a, b: xp.equal(a, b), doc="Elementwise ==, as a bool tensor.")
ne = _nograd("ne", lambda xp, a, b: xp.not_equal(a, b), doc="Elementwise !=, as a bool tensor.")
lt = _nograd("lt", lambda xp, a, b: xp.less(a, b), doc="Elementwise <, as a bool tensor.")
le = _nograd("le", lambda xp, a, b: xp.less_equal(a, b), doc="Elementwise <=, as a bool tensor.")
gt = _nograd("gt", lambda xp, a, b: xp.greater(a, b), doc="Elementwise >, as a bool tensor.")
ge = _nograd("ge", lambda xp, a, b: xp.greater_equal(a, b),
             doc="Elementwise >=, as a bool tensor.")
logical_and = _nograd("logical_and", lambda xp, a, b: xp.logical_and(a, b),
                      doc="Elementwise logical and.")
logical_or = _nograd("logical_or", lambda xp, a, b: xp.logical_or(a, b),
                     doc="Elementwise logical or.")
logical_xor = _nograd("logical_xor", lambda xp, a, b: xp.logical_xor(a, b),
                      doc="Elementwise logical xor.")
logical_not = _nograd("logical_not", lambda xp, a: xp.logical_not(a), 1,
                      doc="Elementwise logical not.")
isnan = _nograd("isnan", lambda xp, a: xp.isnan(a), 1, doc="True where the value is NaN.")
isinf = _nograd("isinf", lambda xp, a: xp.isinf(a), 1, doc="True where the value is +-inf.")
isfinite = _nograd("isfinite", lambda xp, a: xp.isfinite(a), 1,
                   doc="True where the value is neither NaN nor infinite.")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _bitwise(name, fwd):
    op = defop(name, fwd)

    def public(input, other):
        if input._data.dtype.kind not in "biu":
            raise TypeError(f"{name}: needs integer or bool tensors, got {input.dtype}")
        return apply2(op, input, other)
    return public


bitwise_and = _bitwise("bitwise_and", lambda xp, a, b: xp.bitwise_and(a, b))
bitwise_or = _bitwise("bitwise_or", lambda xp, a, b: xp.bitwise_or(a, b))
bitwise_xor = _bitwise("bitwise_xor", lambda xp, a, b: xp.bitwise_xor(a, b))

__all__ = [
    "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "reciprocal",
    "sigmoid", "relu", "abs", "sign", "floor", "ceil", "round", "softplus", "neg", "negative",
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow",
    "maximum", "minimum", "where", "clamp", "clip", "to_dtype", "eq", "ne", "lt", "le", "gt",
    "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "isnan", "isinf",
    "isfinite", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "bitwise_and", "bitwise_or", "bitwise_xor",
]

