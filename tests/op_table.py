"""The op table: every primitive in ``gpugrad.ops.registry.OPS`` and the public composites.

One row (`OpCase`) per op and sample: the op as called on gpugrad tensors, a NumPy reference,
how to draw each input, and which inputs get gradients. `tests/test_ops.py` runs one
parametrised test per property over ``CASES x device``; adding an op means adding rows here.

Inputs are drawn inside the op's domain (positive for log/sqrt, away from the kink at 0 for
abs/relu/sign) so that central finite differences are meaningful.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import operator
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

import gpugrad as gg

# One row per line reads as a table: keep the formatter out.
# fmt: off

# ----------------------------------------------------------------------------- input specs


@dataclasses.dataclass(frozen=True)
class Arg:
    """How to draw one input: uniform in [lo, hi], optionally |x| >= away, or a fixed value."""

    shape: tuple = ()
    lo: float = -2.0
    hi: float = 2.0
    away: float = 0.0  # keep |x| >= away: stay off a kink at 0
    integer: bool = False  # integer-valued floats, to make ties for comparisons
    kind: str = "float"  # float | bool | const
    value: Any = None

    @property
    def is_float(self) -> bool:
        if self.kind == "const":
            return np.asarray(self.value).dtype.kind == "f"
        return self.kind == "float"

    def draw(self, rng: np.random.Generator, dtype) -> np.ndarray:
        if self.kind == "const":
            a = np.array(self.value)
            return a.astype(dtype) if a.dtype.kind == "f" else a
        if self.kind == "bool":
            return np.asarray(rng.random(self.shape) < 0.5)
        if self.away:
            mag = rng.uniform(self.away, max(abs(self.lo), abs(self.hi)), self.shape)
            x = np.where(rng.random(self.shape) < 0.5, -mag, mag)
        else:
            x = rng.uniform(self.lo, self.hi, self.shape)
        if self.integer:
            x = np.round(x)
        return np.asarray(x, dtype=dtype)


def F(*shape, lo=-2.0, hi=2.0, away=0.0, integer=False) -> Arg:
    """A float input of `shape`."""
    return Arg(shape, lo, hi, away, integer)


def P(*shape, lo=0.5, hi=2.0) -> Arg:
    """A positive float input (log, sqrt, pow bases)."""
    return Arg(shape, lo, hi)


def Z(*shape) -> Arg:
    """Floats in {-1, 0, 1}: ties for comparisons, zeros for logical ops."""
    return Arg(shape, -1.4, 1.4, integer=True)


def B(*shape) -> Arg:
    """A random bool input."""
    return Arg(shape, kind="bool")


def C(value) -> Arg:
    """A fixed input (floats stay differentiable; ints and bools are indices and masks)."""
    return Arg(np.shape(value), kind="const", value=value)


def I(value) -> Arg:  # noqa: E743 - I for index
    """A fixed int64 index input."""
    return C(np.asarray(value, dtype=np.int64))


# ----------------------------------------------------------------------------- rows


@dataclasses.dataclass(frozen=True)
class OpCase:
    name: str  # registry key in OPS (primitive) or public name (composite)
    fn: Callable  # on gpugrad tensors; may return a tuple of tensors
    ref: Callable  # on NumPy arrays; returns what fn returns
    args: tuple
    label: str = ""
    composite: bool = False
    differentiable: bool = True
    grad: tuple | None = None  # inputs that get gradients; None: every float input
    fd_eps: float = 1e-6
    rtol: float = 1e-5
    atol: float = 1e-6

    @property
    def id(self) -> str:
        return f"{self.name}-{self.label}" if self.label else self.name

    @property
    def grad_args(self) -> tuple:
        if not self.differentiable:
            return ()
        if self.grad is not None:
            return self.grad
        return tuple(i for i, a in enumerate(self.args) if a.is_float)


CASES: list[OpCase] = []


def _label(args):
    return "_".join("x".join(map(str, a.shape)) if a.shape else "s" for a in args) or "noargs"


def row(name, fn, ref, *args, label=None, **kw):
    """Add one row (primitive unless composite=True)."""
    CASES.append(OpCase(name, fn, ref, args, label or _label(args), **kw))


def comp(name, fn, ref, *args, label=None, **kw):
    """Add one composite row (no derivative code of its own)."""
    row(name, fn, ref, *args, label=label, composite=True, **kw)


def _G(name):
    """gpugrad.<name>, looked up at call time so one missing name fails one row only."""
    return lambda *a, **k: getattr(gg, name)(*a, **k)


def _shape_ops():
    return importlib.import_module("gpugrad.ops.shape")


# ----------------------------------------------------------------------------- references


def np_sigmoid(a):
    return np.exp(-np.logaddexp(0, -a))  # 1 / (1 + exp(-a)) without overflow


def np_logsumexp(a, axis, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    r = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


def np_softmax(a, axis):
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_log_softmax(a, axis):
    return a - np_logsumexp(a, axis, keepdims=True)


def np_split(a, split_size_or_sections, dim):
    n = a.shape[dim]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        sizes = [s] * (n // s) + ([n % s] if n % s else [])
    else:
        sizes = list(split_size_or_sections)
    return tuple(np.split(a, np.cumsum(sizes)[:-1], axis=dim))


def np_chunk(a, chunks, dim):
    return np_split(a, -(-a.shape[dim] // chunks), dim)


def _along(index, dim):
    idx = list(np.indices(index.shape, sparse=True))
    idx[dim] = index
    return tuple(idx)


def np_gather(a, dim, index):
    return a[_along(index, dim)]


def np_scatter_add(a, dim, index, src):
    out = a.copy()
    np.add.at(out, _along(index, dim), src[tuple(slice(0, s) for s in index.shape)])
    return out


def np_index_put(a, indices, values):
    out = a.copy()
    out[tuple(indices)] = values
    return out


def np_index_add_zeros(g, shape, index):
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


def np_xlogy(a, b):
    """x log y, 0 where x == 0, NaN where y is NaN (PyTorch's xlogy)."""
    with np.errstate(all="ignore"):
        r = np.where(a == 0, 0.0, a * np.log(b))
    return np.where(np.isnan(b), b, r).astype(np.result_type(a, b))


def np_div_trunc(a, b):
    """a / b rounded towards zero; integers stay integers (exactly, no float round trip)."""
    if np.result_type(a, b).kind in "iu":
        q = np.abs(a) // np.abs(b)
        return np.where((a < 0) != (b < 0), -q, q)
    return np.trunc(np.true_divide(a, b))


def np_max_dim(a, dim, keepdim=False):
    return (np.max(a, axis=dim, keepdims=keepdim), np.argmax(a, axis=dim, keepdims=keepdim))


def np_min_dim(a, dim, keepdim=False):
    return (np.min(a, axis=dim, keepdims=keepdim), np.argmin(a, axis=dim, keepdims=keepdim))


# ----------------------------------------------------------------------------- unary elementwise

UNARY_SHAPES = [(3, 4), (), (0, 3)]
UNARY = [
    # name, reference, domain, differentiable
    ("neg", np.negative, F(), True),
    ("exp", np.exp, F(), True),
    ("log", np.log, P(), True),
    ("log1p", np.log1p, F(lo=-0.5, hi=2.0), True),
    ("expm1", np.expm1, F(), True),
    ("sqrt", np.sqrt, P(lo=0.5, hi=3.0), True),
    ("rsqrt", lambda a: 1 / np.sqrt(a), P(lo=0.5, hi=3.0), True),
    ("sin", np.sin, F(lo=-3.0, hi=3.0), True),
    ("cos", np.cos, F(lo=-3.0, hi=3.0), True),
    ("tan", np.tan, F(lo=-1.2, hi=1.2), True),
    ("tanh", np.tanh, F(lo=-3.0, hi=3.0), True),
    ("sigmoid", np_sigmoid, F(lo=-4.0, hi=4.0), True),
    ("relu", lambda a: np.maximum(a, 0), F(away=0.1), True),
    ("abs", np.abs, F(away=0.1), True),
    ("reciprocal", lambda a: 1 / a, F(away=0.5), True),
    ("sign", np.sign, F(away=0.1), False),
    ("floor", np.floor, F(lo=-3.0, hi=3.0), False),
    ("ceil", np.ceil, F(lo=-3.0, hi=3.0), False),
    ("round", np.round, F(lo=-3.0, hi=3.0), False),
    ("exp2", np.exp2, F(), True),
    ("log2", np.log2, P(), True),
    ("log10", np.log10, P(), True),
    ("asin", np.arcsin, F(lo=-0.8, hi=0.8), True),
    ("acos", np.arccos, F(lo=-0.8, hi=0.8), True),
    ("atan", np.arctan, F(lo=-3.0, hi=3.0), True),
    ("sinh", np.sinh, F(), True),
    ("cosh", np.cosh, F(), True),
    ("asinh", np.arcsinh, F(lo=-3.0, hi=3.0), True),
    ("acosh", np.arccosh, P(lo=1.2, hi=3.0), True),
    ("atanh", np.arctanh, F(lo=-0.8, hi=0.8), True),
    ("trunc", np.trunc, F(lo=-3.0, hi=3.0), False),
    # the gradient is 1: finite differences hold away from the integers (a random draw is)
    ("frac", lambda a: a - np.trunc(a), F(lo=-3.0, hi=3.0), True),
]
for _name, _ref, _dom, _diff in UNARY:
    for _shape in UNARY_SHAPES:
        row(_name, _G(_name), _ref, dataclasses.replace(_dom, shape=_shape), differentiable=_diff)
    # the Tensor method spelling as well
    row(_name, lambda x, _n=_name: getattr(x, _n)(), _ref, dataclasses.replace(_dom, shape=(5,)),
        label="method", differentiable=_diff)

row("neg", operator.neg, operator.neg, F(2, 3), label="operator")
row("abs", abs, abs, F(2, 3, away=0.1), label="builtin")
row("softplus", lambda x: gg.nn.functional.softplus(x), lambda a: np.logaddexp(0, a),
    F(3, 4, lo=-4.0, hi=4.0))
row("softplus", lambda x: gg.nn.functional.softplus(x), lambda a: np.logaddexp(0, a),
    F(lo=-4.0, hi=4.0))
row("softplus", lambda x: gg.nn.functional.softplus(x), lambda a: np.logaddexp(0, a), F(0, 2))
row("relu", lambda x: gg.nn.functional.relu(x), lambda a: np.maximum(a, 0), F(3, 4, away=0.1),
    label="functional")
row("sigmoid", lambda x: gg.nn.functional.sigmoid(x), np_sigmoid, F(3, 4), label="functional")
row("sigmoid", _G("sigmoid"), np_sigmoid, C([-800.0, -30.0, 0.0, 30.0, 800.0]), label="saturated")
row("round", lambda x: gg.round(x, decimals=2), lambda a: np.round(a, 2), F(3, 4), label="decimals",
    differentiable=False)

# the NumPy-style aliases, as functions and methods
for _alias, _name, _ref, _dom in [
    ("arcsin", "asin", np.arcsin, F(lo=-0.8, hi=0.8)),
    ("arccos", "acos", np.arccos, F(lo=-0.8, hi=0.8)),
    ("arctan", "atan", np.arctan, F(lo=-3.0, hi=3.0)),
    ("arcsinh", "asinh", np.arcsinh, F(lo=-3.0, hi=3.0)),
    ("arccosh", "acosh", np.arccosh, P(lo=1.2, hi=3.0)),
    ("arctanh", "atanh", np.arctanh, F(lo=-0.8, hi=0.8)),
]:
    row(_name, _G(_alias), _ref, dataclasses.replace(_dom, shape=(2, 3)), label="alias")
    row(_name, lambda x, _a=_alias: getattr(x, _a)(), _ref, dataclasses.replace(_dom, shape=(4,)),
        label="alias_method")
row("trunc", _G("fix"), np.trunc, F(2, 3, lo=-3.0, hi=3.0), label="alias", differentiable=False)
row("trunc", lambda x: x.fix(), np.trunc, F(4, lo=-3.0, hi=3.0), label="alias_method",
    differentiable=False)
# trunc's zero gradient: finite differences of a step are 0 away from its jumps
row("trunc", _G("trunc"), np.trunc, F(2, 3, lo=-3.0, hi=3.0), label="zero_grad")
row("trunc", _G("trunc"), np.trunc, I([[-3, 0, 2]]), label="int", differentiable=False)
# In place, on a non-leaf (the clone): the node moves to the written tensor, and a rule that
# reads the input it overwrote gets a copy of the old value (tests/test_inplace.py has the
# in-place dimension of every op).
for _name, _ref, _dom in [
    ("asin", np.arcsin, F(3, 4, lo=-0.8, hi=0.8)),
    ("acosh", np.arccosh, P(3, 4, lo=1.2, hi=3.0)),
    ("atan", np.arctan, F(3, 4, lo=-3.0, hi=3.0)),
    ("log10", np.log10, P(3, 4)),
    ("exp2", np.exp2, F(3, 4)),  # its rule reads the output
    ("frac", lambda a: a - np.trunc(a), F(3, 4, lo=-3.0, hi=3.0)),  # reads nothing
]:
    row(_name, lambda x, _n=_name: getattr(x.clone(), _n + "_")(), _ref, _dom, label="inplace")

# ----------------------------------------------------------------------------- binary elementwise

BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (3,)), ((0, 3), (3,))]
BINARY = [
    ("add", operator.add, F(), F()),
    ("sub", operator.sub, F(), F()),
    ("mul", operator.mul, F(), F()),
    ("div", operator.truediv, F(), F(away=0.5)),
    ("pow", operator.pow, P(), F()),
    ("maximum", np.maximum, F(), F()),
    ("minimum", np.minimum, F(), F()),
    ("atan2", np.arctan2, F(away=0.3), F()),  # off the origin and the cut at input == 0
    ("hypot", np.hypot, F(away=0.3), F()),
    ("logaddexp", np.logaddexp, F(), F()),
    ("xlogy", np_xlogy, F(), P()),
    # a random draw keeps a / b off the integers, where these jump (test_new_elementwise checks)
    ("remainder", np.remainder, F(lo=-3.0, hi=3.0), F(away=0.5)),
    ("fmod", np.fmod, F(lo=-3.0, hi=3.0), F(away=0.5)),
]
for _name, _ref, _da, _db in BINARY:
    for _sa, _sb in BINARY_SHAPES:
        row(_name, _G(_name), _ref, dataclasses.replace(_da, shape=_sa),
            dataclasses.replace(_db, shape=_sb))
for _name, _ref, _da, _db in BINARY[:5]:  # the operator spelling: x + y, x ** y, ...
    row(_name, _ref, _ref, dataclasses.replace(_da, shape=(2, 3)),
        dataclasses.replace(_db, shape=(3,)), label="operator")

# a Python scalar on either side
row("add", lambda x: x + 1.5, lambda a: a + 1.5, F(2, 3), label="scalar")
row("add", lambda x: 2 + x, lambda a: 2 + a, F(2, 3), label="rscalar")
row("sub", lambda x: x - 1.5, lambda a: a - 1.5, F(2, 3), label="scalar")
row("sub", lambda x: 1.5 - x, lambda a: 1.5 - a, F(2, 3), label="rscalar")
row("mul", lambda x: x * 2.5, lambda a: a * 2.5, F(2, 3), label="scalar")
row("mul", lambda x: 3 * x, lambda a: 3 * a, F(2, 3), label="rscalar")
row("div", lambda x: x / 4.0, lambda a: a / 4.0, F(2, 3), label="scalar")
row("div", lambda x: 2.0 / x, lambda a: 2.0 / a, F(2, 3, away=0.5), label="rscalar")
row("mul", lambda x, y: x * y, lambda a, b: a * b, F(3, 1), F(3, 4), label="same_input_broadcast")
row("mul", lambda x: x * x, lambda a: a * a, F(3), label="same_input")
# integer arithmetic stays integer (forward only)
row("add", operator.add, operator.add, I([1, 2, 3]), I([[4], [5]]), label="int")
row("mul", operator.mul, operator.mul, I([1, -2, 3]), I(4), label="int")

# ----------------------------------------------------------------------------- rounding division

# floor_divide has no derivative (backward raises, as in PyTorch): forward rows only. div with a
# rounding_mode is the primitive div_rounded, whose gradient is zero: finite differences of a
# step are 0 away from its jumps (the draw keeps a / b off the integers).
_DIV_MODES = [("floor", np.floor_divide), ("trunc", np_div_trunc)]


def _div_mode(mode):
    return lambda a, b: gg.div(a, b, rounding_mode=mode)


for _sa, _sb in BINARY_SHAPES:
    _args = (F(*_sa, lo=-3.0, hi=3.0), F(*_sb, away=0.5))
    row("floor_divide", _G("floor_divide"), np.floor_divide, *_args, differentiable=False)
    for _mode, _ref in _DIV_MODES:
        row("div_rounded", _div_mode(_mode), _ref, *_args, label=f"{_mode}_{_label(_args)}")


def _ifloordiv(x, y):
    z = x.clone()
    z //= y
    return z


def _imod(x, y):
    z = x.clone()
    z %= y
    return z


_A23, _B3 = F(2, 3, lo=-3.0, hi=3.0), F(3, away=0.5)
_A23_AWAY = F(2, 3, away=0.5)
# the operator, method, scalar and in-place spellings
row("floor_divide", operator.floordiv, operator.floordiv, _A23, _B3, label="operator",
    differentiable=False)
row("floor_divide", lambda x, y: x.floor_divide(y), np.floor_divide, _A23, _B3, label="method",
    differentiable=False)
row("floor_divide", lambda x: x // 1.5, lambda a: a // 1.5, _A23, label="scalar",
    differentiable=False)
row("floor_divide", lambda x: 2.5 // x, lambda a: 2.5 // a, _A23_AWAY, label="rscalar",
    differentiable=False)
row("floor_divide", _ifloordiv, operator.floordiv, _A23, _B3, label="inplace",
    differentiable=False)
row("remainder", operator.mod, operator.mod, _A23, _B3, label="operator")
row("remainder", lambda x, y: x.remainder(y), np.remainder, _A23, _B3, label="method")
row("remainder", lambda x: x % 1.5, lambda a: a % 1.5, _A23, label="scalar")
row("remainder", lambda x: x % -1.5, lambda a: a % -1.5, _A23, label="neg_scalar")
row("remainder", lambda x: 2.5 % x, lambda a: 2.5 % a, _A23_AWAY, label="rscalar")
# (in place: the gradient of the dividend only, which reads no input; the divisor's reads the
# overwritten dividend, see the unary in-place rows)
row("remainder", _imod, operator.mod, _A23, _B3, label="inplace", grad=(0,))
row("remainder", lambda x, y: x.clone().remainder_(y), np.remainder, _A23, _B3,
    label="inplace_method", grad=(0,))
row("fmod", lambda x, y: x.fmod(y), np.fmod, _A23, _B3, label="method")
row("fmod", lambda x: gg.fmod(x, 1.5), lambda a: np.fmod(a, 1.5), _A23, label="scalar")
row("fmod", lambda x: x.fmod(-1.5), lambda a: np.fmod(a, -1.5), _A23, label="neg_scalar")
row("fmod", lambda x, y: x.clone().fmod_(y), np.fmod, _A23, _B3, label="inplace", grad=(0,))
for _mode, _ref in _DIV_MODES:
    row("div_rounded", lambda x, y, _m=_mode: x.div(y, rounding_mode=_m), _ref, _A23, _B3,
        label=f"{_mode}_method")
    row("div_rounded", lambda x, _m=_mode: gg.div(x, 1.5, rounding_mode=_m),
        lambda a, _r=_ref: _r(a, 1.5), _A23, label=f"{_mode}_scalar")
    row("div_rounded", lambda x, _m=_mode: gg.div(2.5, x, rounding_mode=_m),
        lambda a, _r=_ref: _r(2.5, a), _A23_AWAY, label=f"{_mode}_rscalar")
    row("div_rounded", lambda x, y, _m=_mode: x.clone().div_(y, rounding_mode=_m), _ref, _A23,
        _B3, label=f"{_mode}_inplace")

# integers stay integers (int64 in, int64 out; int32 stays int32), with PyTorch's signs:
# floor_divide and remainder round down (the remainder has the divisor's sign), fmod and
# trunc round towards zero (the remainder has the dividend's sign)
_IA, _IB = I([[7, -7, 5, -5, 0, 9]]), I([[2], [-3]])
_IV = I([7, -7, 5, -5, 0])
_I32 = C(np.array([7, -7, 5, -5, 0], dtype=np.int32))
for _name, _fn, _ref in [
    ("floor_divide", _G("floor_divide"), np.floor_divide),
    ("remainder", _G("remainder"), np.remainder),
    ("fmod", _G("fmod"), np.fmod),
    ("div_rounded", _div_mode("floor"), np.floor_divide),
    ("div_rounded", _div_mode("trunc"), np_div_trunc),
]:
    _tag = "" if _name != "div_rounded" else ("floor_" if _ref is np.floor_divide else "trunc_")
    row(_name, _fn, _ref, _IA, _IB, label=f"{_tag}int", differentiable=False)
    row(_name, lambda x, _f=_fn: _f(x, -3), lambda a, _r=_ref: _r(a, -3), _IV,
        label=f"{_tag}int_neg_scalar", differentiable=False)
    row(_name, lambda x, _f=_fn: _f(x, 2), lambda a, _r=_ref: _r(a, np.int32(2)), _I32,
        label=f"{_tag}int32_scalar", differentiable=False)
    row(_name, _fn, _ref, _IV, I(3), label=f"{_tag}int_0d", differentiable=False)
row("floor_divide", operator.floordiv, operator.floordiv, _IA, _IB, label="int_operator",
    differentiable=False)
row("floor_divide", lambda x: 7 // x, lambda a: 7 // a, I([2, -3, 4, -5, 7]), label="int_rscalar",
    differentiable=False)
row("floor_divide", _ifloordiv, operator.floordiv, _IA, I([2, 2, -3, -3, 4, 4]),
    label="int_inplace", differentiable=False)
row("remainder", operator.mod, operator.mod, _IA, _IB, label="int_operator", differentiable=False)
row("remainder", lambda x: 7 % x, lambda a: 7 % a, I([2, -3, 4, -5, 7]), label="int_rscalar",
    differentiable=False)
row("remainder", _imod, operator.mod, _IA, I([2, 2, -3, -3, 4, 4]), label="int_inplace",
    differentiable=False)
row("div_rounded", lambda y: gg.div(7, y, rounding_mode="trunc"), lambda b: np_div_trunc(7, b),
    I([2, -3, 4, -5, 7]), label="trunc_int_rscalar", differentiable=False)

# ----------------------------------------------------------------------------- binary maths

for _name in ("atan2", "hypot", "logaddexp", "xlogy"):
    _ref = dict(atan2=np.arctan2, hypot=np.hypot, logaddexp=np.logaddexp, xlogy=np_xlogy)[_name]
    _a = F(2, 3, away=0.3)
    _b = P(3) if _name == "xlogy" else F(3)
    row(_name, lambda x, y, _n=_name: getattr(x, _n)(y), _ref, _a, _b, label="method")
    # (forward only: each rule reads the overwritten input, see the unary in-place rows)
    row(_name, lambda x, y, _n=_name: getattr(x.clone(), _n + "_")(y), _ref, _a, _b,
        label="inplace", differentiable=False)
row("atan2", _G("arctan2"), np.arctan2, F(2, 3, away=0.3), F(3), label="alias")
row("atan2", lambda x, y: x.arctan2(y), np.arctan2, F(2, 3, away=0.3), F(3), label="alias_method")
row("atan2", lambda x: gg.atan2(x, -1.5), lambda a: np.arctan2(a, -1.5), F(2, 3, away=0.3),
    label="scalar")
# every quadrant, and the axes (off the origin)
row("atan2", _G("atan2"), np.arctan2, C([1.0, 1.0, -1.0, -1.0, 0.5, -0.5, 2.0]),
    C([1.0, -1.0, 1.0, -1.0, 0.0, 0.0, 3.0]), label="quadrants")
row("hypot", _G("hypot"), np.hypot, C([3.0, 1e200, -1e-200]), C([4.0, 1e200, 0.0]),
    label="no_overflow", differentiable=False)
row("logaddexp", _G("logaddexp"), np.logaddexp, C([1000.0, -1000.0, 0.0]),
    C([1000.0, -1001.0, -800.0]), label="large")
row("xlogy", lambda x: gg.xlogy(x, 2.5), lambda a: np_xlogy(a, 2.5), F(2, 3), label="scalar")
# exact zeros in x: x log y is 0 there; its x-gradient is log y where y > 0 (PyTorch's rule,
# and the finite difference: x log y is smooth in x)
row("xlogy", _G("xlogy"), np_xlogy, C([[0.0, 1.5, 0.0], [-0.5, 0.0, 2.0]]), P(2, 3),
    label="x_zero")
row("xlogy", _G("xlogy"), np_xlogy, C([0.0, 0.0, 1.0, 0.0, 2.0, 0.0]),
    C([0.0, math.nan, math.nan, -1.0, 0.0, math.inf]), label="special", differentiable=False)

row("pow_scalar", lambda x: gg.pow(x, 2.5), lambda a: a**2.5, P(3, 4))
row("pow_scalar", lambda x: x**2.5, lambda a: a**2.5, P())
row("pow_scalar", lambda x: x**2, lambda a: a**2, F(3, 4), label="square")
row("pow_scalar", lambda x: x**3, lambda a: a**3, F(5), label="cube")
row("pow_scalar", lambda x: x**-1.5, lambda a: a**-1.5, P(4), label="negative")
row("pow_scalar", lambda x: x**0.5, lambda a: a**0.5, P(0, 2), label="empty")

row("where", _G("where"), np.where, B(3, 4), F(3, 4), F(3, 4))
row("where", _G("where"), np.where, B(3, 1), F(4), F(3, 4))
row("where", _G("where"), np.where, B(2, 3), F(), F(2, 3))
row("where", lambda c, x: gg.where(c, x, 0.0), lambda c, a: np.where(c, a, 0.0), B(2, 3), F(2, 3),
    label="scalar_other")

row("clamp", lambda x: gg.clamp(x, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), F(3, 4))
row("clamp", lambda x: gg.clamp(x, min=0.2), lambda a: np.maximum(a, 0.2), F(3, 4),
    label="min_only")
row("clamp", lambda x: x.clamp(max=0.3), lambda a: np.minimum(a, 0.3), F(5), label="max_only")
row("clamp", lambda x: gg.clamp(x, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), F())
row("clamp", lambda x: gg.clamp(x, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), F(0, 2))

# ----------------------------------------------------------------------------- comparisons, logic

COMPARISONS = [
    ("eq", operator.eq, np.equal),
    ("ne", operator.ne, np.not_equal),
    ("lt", operator.lt, np.less),
    ("le", operator.le, np.less_equal),
    ("gt", operator.gt, np.greater),
    ("ge", operator.ge, np.greater_equal),
]
for _name, _op, _ref in COMPARISONS:
    row(_name, _G(_name), _ref, Z(3, 4), Z(3, 4), differentiable=False)
    row(_name, _G(_name), _ref, Z(3, 4), Z(4), differentiable=False)
    row(_name, _G(_name), _ref, Z(), Z(0, 2), differentiable=False)
    row(_name, _op, _op, Z(2, 3), Z(3), label="operator", differentiable=False)
    row(_name, lambda x, _op=_op: _op(x, 0.0), lambda a, _op=_op: _op(a, 0.0), Z(2, 3),
        label="scalar", differentiable=False)
    row(_name, _op, _op, I([1, 2, 3]), I([3, 2, 1]), label="int", differentiable=False)

for _name, _ref in [
    ("logical_and", np.logical_and),
    ("logical_or", np.logical_or),
    ("logical_xor", np.logical_xor),
]:
    row(_name, _G(_name), _ref, B(3, 4), B(3, 4), differentiable=False)
    row(_name, _G(_name), _ref, B(3, 4), B(4), differentiable=False)
    row(_name, _G(_name), _ref, Z(2, 3), Z(2, 3), label="float", differentiable=False)
row("logical_not", _G("logical_not"), np.logical_not, B(3, 4), differentiable=False)
row("logical_not", _G("logical_not"), np.logical_not, B(), differentiable=False)
row("logical_not", _G("logical_not"), np.logical_not, Z(2, 3), label="float", differentiable=False)

for _name, _op, _ref in [("bitwise_and", operator.and_, np.bitwise_and),
                         ("bitwise_or", operator.or_, np.bitwise_or),
                         ("bitwise_xor", operator.xor, np.bitwise_xor)]:
    row(_name, _G(_name), _ref, B(3, 4), B(4), differentiable=False)
    row(_name, _op, _op, I([[1, 6, 12]]), I([3, 5, 10]), label="int", differentiable=False)

_SPECIAL = [1.0, math.nan, math.inf, -math.inf, 0.0, -2.5]
for _name, _ref in [("isnan", np.isnan), ("isinf", np.isinf), ("isfinite", np.isfinite)]:
    row(_name, _G(_name), _ref, C(_SPECIAL), differentiable=False)
    row(_name, _G(_name), _ref, C([_SPECIAL[:3], _SPECIAL[3:]]), differentiable=False)
    row(_name, _G(_name), _ref, C(math.nan), differentiable=False)

# ----------------------------------------------------------------------------- reductions

row("sum", _G("sum"), np.sum, F(3, 4))
row("sum", lambda x: x.sum(dim=1), lambda a: np.sum(a, axis=1), F(3, 4), label="dim")
row("sum", lambda x: gg.sum(x, dim=(0, 2), keepdim=True),
    lambda a: np.sum(a, axis=(0, 2), keepdims=True), F(2, 3, 4), label="dims_keepdim")
row("sum", lambda x: x.sum(-1), lambda a: np.sum(a, axis=-1), F(2, 3, 4), label="neg_dim")
row("sum", _G("sum"), np.sum, F())
row("sum", _G("sum"), np.sum, F(0, 3))
row("sum", lambda x: x.sum(0), lambda a: np.sum(a, axis=0), F(0, 3), label="empty_dim")

row("prod", _G("prod"), np.prod, F(2, 3))
row("prod", lambda x: x.prod(dim=1), lambda a: np.prod(a, axis=1), F(3, 4), label="dim")
row("prod", lambda x: gg.prod(x, 0, keepdim=True), lambda a: np.prod(a, axis=0, keepdims=True),
    F(3, 2), label="keepdim")
row("prod", _G("prod"), np.prod, F())
_WITH_ZERO = [[1.5, 0.0, -2.0], [0.5, 1.2, 2.0]]
row("prod", _G("prod"), np.prod, C(_WITH_ZERO), label="zero")
row("prod", lambda x: x.prod(dim=1), lambda a: np.prod(a, axis=1), C(_WITH_ZERO), label="zero_dim")

for _name, _ref in [("amax", np.amax), ("amin", np.amin)]:
    row(_name, _G(_name), _ref, F(3, 4))
    row(_name, lambda x, _n=_name: getattr(x, _n)(dim=1), lambda a, _r=_ref: _r(a, axis=1), F(3, 4),
        label="dim")
    row(_name, lambda x, _n=_name: getattr(gg, _n)(x, dim=(0, 2), keepdim=True),
        lambda a, _r=_ref: _r(a, axis=(0, 2), keepdims=True), F(2, 3, 4), label="dims_keepdim")
    row(_name, _G(_name), _ref, F())

row("norm", _G("norm"), np.linalg.norm, F(3, 4))
row("norm", lambda x: x.norm(dim=1), lambda a: np.linalg.norm(a, axis=1), F(3, 4), label="dim")
row("norm", lambda x: gg.norm(x, dim=0, keepdim=True),
    lambda a: np.linalg.norm(a, axis=0, keepdims=True), F(3, 4), label="keepdim")
row("norm", lambda x: gg.norm(x, p=1, dim=0), lambda a: np.linalg.norm(a, ord=1, axis=0),
    F(3, 4, away=0.1), label="p1")
row("norm", _G("norm"), lambda a: np.abs(a), F(away=0.1))

for _name, _ref in [("argmax", np.argmax), ("argmin", np.argmin)]:
    row(_name, _G(_name), _ref, F(3, 4), differentiable=False)
    row(_name, lambda x, _n=_name: getattr(x, _n)(dim=1), lambda a, _r=_ref: _r(a, axis=1), F(3, 4),
        label="dim", differentiable=False)
    row(_name, lambda x, _n=_name: getattr(gg, _n)(x, dim=0, keepdim=True),
        lambda a, _r=_ref: _r(a, axis=0, keepdims=True), F(3, 4), label="keepdim",
        differentiable=False)
    row(_name, _G(_name), _ref, F(), differentiable=False)

for _name, _ref in [("all", np.all), ("any", np.any)]:
    row(_name, _G(_name), _ref, B(3, 4), differentiable=False)
    row(_name, lambda x, _n=_name: getattr(x, _n)(dim=1), lambda a, _r=_ref: _r(a, axis=1), B(3, 4),
        label="dim", differentiable=False)
    row(_name, _G(_name), _ref, Z(2, 3), label="float", differentiable=False)
    row(_name, _G(_name), _ref, B(0), differentiable=False)

# ----------------------------------------------------------------------------- linear algebra

for _sa, _sb in [
    ((3, 4), (4, 5)),
    ((4,), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((3, 0), (0, 2)),
]:
    row("matmul", _G("matmul"), np.matmul, F(*_sa), F(*_sb))
row("matmul", operator.matmul, operator.matmul, F(2, 3), F(3, 2), label="operator")

# nn.functional.linear with a 2-D weight is the "linear" primitive (one node, as addmm).


def _linear(*a):
    return gg.nn.functional.linear(*a)


def _linear_ref(x, W, b=0.0):
    return x @ W.T + b


row("linear", _linear, _linear_ref, F(3, 4), F(5, 4), F(5), label="bias")
row("linear", _linear, _linear_ref, F(3, 4), F(5, 4), label="no_bias")
row("linear", _linear, _linear_ref, F(4), F(5, 4), F(5), label="vector")
row("linear", _linear, _linear_ref, F(2, 3, 4), F(5, 4), F(5), label="batched")
row("linear", _linear, _linear_ref, F(0, 4), F(2, 4), F(2), label="empty")

# Cross-entropy at class indices: one node (log_softmax and the pick fused).


def _ce(reduction):
    return lambda z, t: gg.nn.functional.cross_entropy(z, t, reduction=reduction)


def _ce_ref(reduction):
    def ref(z, t):
        m = z.max(1, keepdims=True)
        nll = np.log(np.exp(z - m).sum(1)) + m[:, 0] - z[np.arange(len(t)), t]
        return {"mean": nll.mean(), "sum": nll.sum(), "none": nll}[reduction]
    return ref


for _red in ("mean", "sum", "none"):
    row("cross_entropy", _ce(_red), _ce_ref(_red), F(5, 3), I([0, 2, 1, 1, 0]), label=_red,
        grad=(0,))
row("cross_entropy", _ce("mean"), _ce_ref("mean"), F(1, 4), I([3]), label="one_row", grad=(0,))

# Binary cross-entropy: a primitive, since its log clamped at -100 has PyTorch's gradient,
# (x - y) / max(x (1 - x), 1e-12), not the clamped formula's.


def _bce(reduction):
    def fn(x, y, *w):
        return gg.nn.functional.binary_cross_entropy(x, y, *w, reduction=reduction)
    return fn


def _bce_ref(reduction):
    def ref(x, y, w=1.0):
        loss = -w * (y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log1p(-x), -100))
        return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]
    return ref


row("binary_cross_entropy", _bce("none"), _bce_ref("none"), F(3, 4, lo=0.05, hi=0.95),
    F(3, 4, lo=0.0, hi=1.0), label="none")
row("binary_cross_entropy", _bce("mean"), _bce_ref("mean"), F(5, lo=0.05, hi=0.95),
    F(5, lo=0.0, hi=1.0), F(5), label="mean_weight")
row("binary_cross_entropy", _bce("sum"), _bce_ref("sum"), F(lo=0.05, hi=0.95), F(lo=0.0, hi=1.0),
    label="sum_0d")

# The fused linear-regression loss: chunk sizes that do and do not divide the rows.


def _lin_mse(chunk):
    return lambda X, w, y, b=None: gg.nn.functional.linear_mse_loss(X, w, y, b, chunk=chunk)


def _lin_mse_ref(X, w, y, b=0.0):
    return np.mean((X @ w + b - y) ** 2)


row("linear_mse", _lin_mse(3), _lin_mse_ref, F(7, 3), F(3), F(7), F(1), label="bias_chunk3")
row("linear_mse", _lin_mse(None), _lin_mse_ref, F(7, 3), F(3), F(7), label="no_bias")
row("linear_mse", _lin_mse(2), _lin_mse_ref, F(5, 3), F(3, 2), F(5, 2), F(2), label="k2")
row("linear_mse", _lin_mse(4), _lin_mse_ref, F(6, 2), F(2, 2), F(6, 2), F(1, 2), label="k2_b1k")

# ----------------------------------------------------------------------------- scans

row("cumsum", lambda x: gg.cumsum(x, 1), lambda a: np.cumsum(a, 1), F(3, 4))
row("cumsum", lambda x: x.cumsum(-1), lambda a: np.cumsum(a, -1), F(2, 3, 4), label="neg_dim")
row("cumsum", lambda x: x.cumsum(0), lambda a: a.copy(), F(), label="0d")
row("cumsum", lambda x: x.cumsum(0), lambda a: np.cumsum(a, 0), F(0, 3), label="empty")
row("cumsum", lambda x: x.cumsum(0), lambda a: np.cumsum(a, 0), I([3, -1, 2]), label="int",
    differentiable=False)
row("cumprod", lambda x: gg.cumprod(x, 1), lambda a: np.cumprod(a, 1), F(3, 4, away=0.3))
row("cumprod", lambda x: x.cumprod(0), lambda a: np.cumprod(a, 0), F(4, 2, away=0.3), label="dim0")
row("cumprod", lambda x: x.cumprod(0), lambda a: a.copy(), F(), label="0d")
# one zero, two zeros, a zero first and a zero last in a slice; all zeros
_CUMPROD_ZEROS = [[1.5, 0.0, -2.0, 0.5, 1.1], [0.0, 1.2, 0.0, 2.0, -0.7],
                  [0.5, 1.2, 2.0, -0.8, 0.0], [0.0, 0.0, 0.0, 1.3, 0.0]]
row("cumprod", lambda x: x.cumprod(1), lambda a: np.cumprod(a, 1), C(_CUMPROD_ZEROS), label="zeros")

# ----------------------------------------------------------------------------- sorting


def np_sort(a, dim=-1, descending=False):
    idx = np.argsort(-a if descending else a, axis=dim, kind="stable")
    return np.take_along_axis(a, idx, dim), idx


row("argsort", lambda x: gg.argsort(x, 1), lambda a: np.argsort(a, 1, kind="stable"), Z(3, 5),
    differentiable=False)
row("argsort", lambda x: x.argsort(0, descending=True),
    lambda a: np.argsort(-a, 0, kind="stable"), Z(5, 3), label="descending", differentiable=False)
row("argsort", lambda x: x.argsort(), lambda a: np.zeros((), np.int64), F(), label="0d",
    differentiable=False)
comp("sort", lambda x: gg.sort(x, 1), lambda a: np_sort(a, 1), F(3, 5))
comp("sort", lambda x: x.sort(0, descending=True), lambda a: np_sort(a, 0, True), Z(5, 3),
     label="ties_descending", grad=())
comp("sort", lambda x: x.sort(descending=True), lambda a: np_sort(a, -1, True), F(2, 3, 4),
     label="descending")
comp("topk", lambda x: gg.topk(x, 2), lambda a: tuple(v[:, :2] for v in np_sort(a, 1, True)),
     F(3, 5))
comp("topk", lambda x: x.topk(3, dim=0, largest=False),
     lambda a: tuple(v[:3] for v in np_sort(a, 0)), F(5, 2), label="smallest")
comp("kthvalue", lambda x: gg.kthvalue(x, 2, 1),
     lambda a: tuple(v[:, 1] for v in np_sort(a, 1)), F(3, 5))
comp("kthvalue", lambda x: x.kthvalue(3, 0, keepdim=True),
     lambda a: tuple(v[2:3] for v in np_sort(a, 0)), F(4, 2), label="keepdim")
comp("median", lambda x: gg.median(x), lambda a: np.sort(a.ravel())[(a.size - 1) // 2], F(3, 4))
comp("median", lambda x: x.median(1), lambda a: tuple(v[:, 1] for v in np_sort(a, 1)), F(3, 4),
     label="dim_even")
comp("median", lambda x: x.median(0, keepdim=True),
     lambda a: tuple(v[2:3] for v in np_sort(a, 0)), F(5, 3), label="dim_odd_keepdim")


def np_mode(a, dim):
    a = np.moveaxis(a, dim, -1)
    vals, idx = [], []
    for row_ in a.reshape(-1, a.shape[-1]):
        u, c = np.unique(row_, return_counts=True)
        v = u[np.argmax(c)]
        vals.append(v)
        idx.append(np.flatnonzero(row_ == v)[-1])
    shape = a.shape[:-1]
    return np.array(vals).reshape(shape), np.array(idx, dtype=np.int64).reshape(shape)


row("mode_index", lambda x: gg.ops.sorting.apply(gg.ops.sorting.MODE, (x,), (1,)),
    lambda a: np_mode(a, 1)[1], Z(4, 6), differentiable=False)
comp("mode", lambda x: gg.mode(x, 1), lambda a: np_mode(a, 1), Z(4, 6), label="values", grad=())
comp("mode", lambda x: x.mode(0), lambda a: np_mode(a, 0), F(3, 2), label="distinct")
row("unique", lambda x: gg.unique(x), np.unique, Z(3, 4), differentiable=False)
row("unique", lambda x: gg.unique(x, return_inverse=True, return_counts=True)[0],
    np.unique, Z(7), label="with_inverse", differentiable=False)
row("unique", lambda x: gg.unique(x, dim=0), lambda a: np.unique(a, axis=0),
    C([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0]]), label="dim", differentiable=False)
row("bincount", lambda x, w: gg.bincount(x, w), lambda a, w: np.bincount(a, w).astype(w.dtype),
    I([0, 3, 1, 3]), F(4), differentiable=False)
row("bincount", lambda x, w: gg.bincount(x, w, minlength=6),
    lambda a, w: np.bincount(a, w, minlength=6).astype(w.dtype), I([0, 3, 1, 3]), F(4),
    label="minlength", differentiable=False)
row("histc", lambda x: gg.histc(x, 4, -2, 2),
    lambda a: np.histogram(a, 4, (-2, 2))[0].astype(a.dtype), F(20), differentiable=False)
row("histc", lambda x: gg.histc(x, 3), lambda a: np.histogram(a, 3)[0].astype(a.dtype), F(10),
    label="data_range", differentiable=False)

# ----------------------------------------------------------------------------- diagonals, einsum

row("tril", lambda x: gg.tril(x), np.tril, F(4, 3))
row("tril", lambda x: x.tril(-1), lambda a: np.tril(a, -1), F(2, 3, 3), label="batched_k")
row("triu", lambda x: gg.triu(x, 1), lambda a: np.triu(a, 1), F(3, 4))
row("triu", lambda x: x.triu(), np.triu, F(2, 3, 3), label="batched")
row("diagonal", lambda x: gg.diagonal(x), np.diagonal, F(3, 4))
row("diagonal", lambda x: x.diagonal(1, 2, 0), lambda a: np.diagonal(a, 1, 2, 0), F(3, 2, 4),
    label="dims_offset")
row("diag_embed", lambda x: gg.diag_embed(x), lambda a: a[..., None] * np.eye(3, dtype=a.dtype),
    F(2, 3))
row("diag_embed", lambda x: gg.diag_embed(x, -1, 0, 2),
    lambda a: np.moveaxis(np.stack([np.diag(v, -1) for v in a]), 0, 1), F(2, 3), label="dims")
comp("diag", lambda x: gg.diag(x, 1), lambda a: np.diag(a, 1), F(3))
comp("diag", lambda x: x.diag(-1), lambda a: np.diag(a, -1), F(3, 4), label="matrix")
comp("trace", lambda x: gg.trace(x), np.trace, F(3, 4))
for _eq, _shapes in [("ij,jk->ik", ((3, 4), (4, 2))), ("ii->i", ((3, 3),)), ("ii", ((3, 3),)),
                     ("ij->", ((3, 4),)), ("bij,bjk->bik", ((2, 3, 4), (2, 4, 2))),
                     ("i,j->ij", ((3,), (4,))), ("ij,ij->i", ((3, 4), (3, 4))),
                     ("ij,jk,kl->il", ((2, 3), (3, 4), (4, 2))), ("iij->j", ((2, 2, 3),)),
                     ("ij->ji", ((3, 4),)), ("...ij,...j->...i", ((2, 3, 4), (4,))),
                     ("ij,j", ((3, 4), (1,)))]:
    row("einsum", lambda *xs, _e=_eq: gg.einsum(_e, *xs),
        lambda *a, _e=_eq: np.einsum(_e, *[np.broadcast_to(x, (4,)) if x.shape == (1,) else x
                                          for x in a]),
        *(F(*s) for s in _shapes), label=_eq.replace(",", "_").replace("->", "_to_")
        .replace("...", "E"))

# ----------------------------------------------------------------------------- inv, solve, lstsq

_WELL = [[3.0, 0.5, -1.0], [0.2, 2.5, 0.4], [-0.6, 0.3, 2.0]]
_WELL_B = [_WELL, [[1.5, -0.3, 0.2], [0.4, -2.0, 0.1], [0.0, 0.5, 1.2]]]
row("inv", lambda a: gg.linalg.inv(a), np.linalg.inv, C(_WELL))
row("inv", lambda a: gg.inverse(a), np.linalg.inv, C(_WELL_B), label="batched")
row("det", lambda a: gg.linalg.det(a), np.linalg.det, C(_WELL))
row("det", lambda a: a.det(), np.linalg.det, C(_WELL_B), label="batched")
row("slogdet", lambda a: gg.linalg.slogdet(a).logabsdet, lambda a: np.linalg.slogdet(a)[1],
    C(_WELL_B))
row("slogdet", lambda a: gg.slogdet(a), lambda a: tuple(np.linalg.slogdet(a)), C(_WELL_B),
    label="sign", differentiable=False)
comp("logdet", lambda a: gg.logdet(a), lambda a: np.log(np.linalg.det(a)), C(_WELL))
row("solve", lambda a, b: gg.linalg.solve(a, b), np.linalg.solve, C(_WELL), F(3, 2))
row("solve", lambda a, b: gg.linalg.solve(a, b),
    lambda a, b: np.linalg.solve(a, b[..., None])[..., 0], C(_WELL), F(3), label="vector")
row("solve", lambda a, b: gg.linalg.solve(a, b), np.linalg.solve, C(_WELL_B), F(3, 2),
    label="broadcast")
row("solve", lambda a, b: gg.linalg.solve(a, b, left=False),
    lambda a, b: np.linalg.solve(a.T, b.T).T, C(_WELL), F(2, 3), label="right")


def _spd(a):
    return a @ a.mT + 3 * gg.eye(a.shape[-1], dtype=a.dtype, device=a.device)


def np_spd(a):
    return a @ np.swapaxes(a, -1, -2) + 3 * np.eye(a.shape[-1])


row("cholesky", lambda a: gg.linalg.cholesky(_spd(a)),
    lambda a: np.linalg.cholesky(np_spd(a)).astype(a.dtype), F(3, 3))
row("cholesky", lambda a: gg.linalg.cholesky(_spd(a), upper=True),
    lambda a: np.swapaxes(np.linalg.cholesky(np_spd(a)), -1, -2).astype(a.dtype), F(2, 3, 3),
    label="upper_batched")


def np_lstsq(a, b):
    return np.linalg.lstsq(a, b, rcond=None)[0]


row("lstsq", lambda a, b: gg.linalg.lstsq(a, b).solution, np_lstsq, F(6, 3), F(6, 2))
row("lstsq", lambda a, b: gg.linalg.lstsq(a, b).solution, np_lstsq, F(6, 3), F(6), label="vector")
row("lstsq", lambda a, b: gg.linalg.lstsq(a, b).solution, np_lstsq, F(2, 4), F(2, 2), label="wide")
row("lstsq", lambda a, b: gg.linalg.lstsq(a, b).solution,
    lambda a, b: np.stack([np_lstsq(x, y) for x, y in zip(a, b)]), F(2, 5, 3), F(2, 5, 1),
    label="batched")
comp("vector_norm", lambda x: gg.linalg.vector_norm(x, 3, 1),
     lambda a: np.linalg.norm(a, 3, axis=1), F(3, 4, away=0.1))
comp("matrix_norm", lambda x: gg.linalg.matrix_norm(x), np.linalg.norm, F(3, 4))
comp("matrix_norm", lambda x: gg.linalg.matrix_norm(x, 1), lambda a: np.linalg.norm(a, 1),
     F(3, 4, away=0.1), label="ord1")
comp("matrix_norm", lambda x: gg.linalg.matrix_norm(x, -math.inf),
     lambda a: np.linalg.norm(a, -np.inf), F(3, 4, away=0.1), label="ord_minus_inf")

# ----------------------------------------------------------------------------- shape

row("reshape", lambda x: x.reshape(4, 6), lambda a: a.reshape(4, 6), F(2, 3, 4))
row("reshape", lambda x: gg.reshape(x, (-1,)), lambda a: a.reshape(-1), F(2, 3, 4), label="infer")
row("reshape", lambda x: x.reshape(()), lambda a: a.reshape(()), F(1), label="to_0d")
row("reshape", lambda x: x.reshape(1, 1), lambda a: a.reshape(1, 1), F(), label="from_0d")
row("reshape", lambda x: x.reshape(0, 5), lambda a: a.reshape(0, 5), F(5, 0), label="empty")
row("reshape", lambda x: x.view(3, 2), lambda a: a.reshape(3, 2), F(6), label="view")

row("permute", lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), F(2, 3, 4))
row("permute", lambda x: gg.permute(x, (1, 0)), lambda a: a.T, F(3, 4))
row("permute", lambda x: x.permute(1, 0), lambda a: a.T, F(0, 2))

row("expand", lambda x: x.expand(3, 4), lambda a: np.broadcast_to(a, (3, 4)), F(1, 4))
row("expand", lambda x: x.expand(2, -1, 3), lambda a: np.broadcast_to(a, (2, 4, 3)), F(1, 4, 1),
    label="keep_dim")
row("expand", lambda x: x.expand(2, 3, 4), lambda a: np.broadcast_to(a, (2, 3, 4)), F(3, 1),
    label="new_dims")
row("expand", lambda x: x.expand(3), lambda a: np.broadcast_to(a, (3,)), F())
row("expand", lambda x: x.expand_as(gg.zeros(2, 3, dtype=x.dtype, device=x.device)),
    lambda a: np.broadcast_to(a, (2, 3)), F(3), label="expand_as")

row("cat", lambda x, y: gg.cat([x, y]), lambda a, b: np.concatenate([a, b]), F(2, 3), F(1, 3))
row("cat", lambda *xs: gg.cat(list(xs), dim=-1), lambda *a: np.concatenate(a, axis=-1), F(2, 3),
    F(2, 1), F(2, 2), label="last")
row("cat", lambda x, y: gg.cat((x, y), dim=1), lambda a, b: np.concatenate([a, b], axis=1), F(2, 0),
    F(2, 3), label="empty_part")
row("cat", lambda x: gg.cat([x]), lambda a: a.copy(), F(3), label="single")

row("flip", lambda x: gg.flip(x, (0,)), lambda a: np.flip(a, 0), F(3, 4))
row("flip", lambda x: gg.flip(x, (0, 2)), lambda a: np.flip(a, (0, 2)), F(2, 3, 4))
row("flip", lambda x: x.flip(-1), lambda a: np.flip(a, -1), F(0, 3), label="method")

_IDX = [
    ("int", lambda x: x[1], F(3, 4)),
    ("slice", lambda x: x[:, 1:3], F(3, 4)),
    ("ellipsis_none", lambda x: x[..., None, 0], F(2, 3, 4)),
    ("step", lambda x: x[-1, ::2], F(3, 4)),
    ("empty_slice", lambda x: x[1:1], F(3, 4)),
    ("list", lambda x: x[[0, 2]], F(3, 4)),
    ("scalar", lambda x: x[()], F()),
]
for _label_, _fn, _arg in _IDX:
    row("getitem", _fn, _fn, _arg, label=_label_)
row("getitem", lambda x, i: x[i], lambda a, i: a[i], F(3, 4), I([0, 2, 0]), label="dup_index")
row("getitem", lambda x, i, j: x[i, j], lambda a, i, j: a[i, j], F(3, 4), I([0, 2]), I([1, 3]),
    label="pairs")
row("getitem", lambda x, i: x[:, i], lambda a, i: a[:, i], F(3, 4), I([[0, 1], [3, 3]]),
    label="slice_index")
row("getitem", lambda x, m: x[m], lambda a, m: a[m], F(3, 4),
    C(np.array([[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 0]], dtype=bool)), label="mask")


def _iaz(g, shape, index):
    return _shape_ops().index_add_zeros(g, shape, index)


row("index_add_zeros", lambda g: _iaz(g, (4, 3), (slice(1, 3), 0)),
    lambda g: np_index_add_zeros(g, (4, 3), (slice(1, 3), 0)), F(2), label="basic")
row("index_add_zeros", lambda g: _iaz(g, (3,), 1), lambda g: np_index_add_zeros(g, (3,), 1), F(),
    label="int")
row("index_add_zeros", lambda g, i: _iaz(g, (4, 3), _shape_ops().norm_index("getitem", g, (i,))),
    lambda g, i: np_index_add_zeros(g, (4, 3), (i,)), F(3, 3), I([0, 2, 0]), label="dup_index")

# The base of an in-place write into a view (CopySlices) and its transpose, at the flat
# positions of a strided view and of a transposed one.
def _view_op(name, *args, pos, shape=None):
    registry = importlib.import_module("gpugrad.ops.registry")
    p = gg.backend.xp_of(args[0]._data).asarray(pos)
    return registry.apply(registry.OPS[name], args, (p,) if shape is None else (p, shape))


def np_view_scatter(b, s, pos):
    out = b.copy()
    out.reshape(-1)[pos] = s
    return out


_POS = {"strided": np.arange(12).reshape(3, 4)[1:, ::2], "transposed": np.arange(6).reshape(2, 3).T}
for _label_, _pos in _POS.items():
    _b = (3, 4) if _label_ == "strided" else (2, 3)
    row("view_scatter", lambda b, s, _p=_pos: _view_op("view_scatter", b, s, pos=_p),
        lambda b, s, _p=_pos: np_view_scatter(b, s, _p), F(*_b), F(*_pos.shape), label=_label_)
    row("view_take", lambda x, _p=_pos, _s=_b: _view_op("view_take", x, pos=_p, shape=_s),
        lambda a, _p=_pos: a.reshape(-1)[_p], F(*_b), label=_label_)

row("gather", lambda x, i: gg.gather(x, 1, i), lambda a, i: np_gather(a, 1, i), F(3, 4),
    I([[0, 3], [1, 1], [2, 0]]))
row("gather", lambda x, i: x.gather(0, i), lambda a, i: np_gather(a, 0, i), F(3, 4),
    I([[2, 0, 1, 2], [0, 0, 0, 1]]), label="dim0")
row("gather", lambda x, i: gg.gather(x, 1, i), lambda a, i: np_gather(a, 1, i), F(3, 4),
    I([[0], [3]]), label="smaller_index")

row("scatter_add", lambda x, i, s: gg.scatter_add(x, 0, i, s),
    lambda a, i, s: np_scatter_add(a, 0, i, s), F(3, 4), I([[0, 1, 2, 0], [2, 2, 0, 0]]), F(2, 4))
row("scatter_add", lambda x, i, s: x.scatter_add(1, i, s),
    lambda a, i, s: np_scatter_add(a, 1, i, s), F(2, 5), I([[4, 4], [0, 1]]), F(2, 3),
    label="dim1_bigger_src")

row("index_put", lambda x, i, v: x.index_put((i,), v), lambda a, i, v: np_index_put(a, (i,), v),
    F(5, 3), I([0, 3]), F(2, 3))
row("index_put", lambda x, i, v: x.index_put((i,), v), lambda a, i, v: np_index_put(a, (i,), v),
    F(5, 3), I([4, 1]), F(3), label="broadcast")
row("index_put", lambda x, i, j, v: x.index_put((i, j), v),
    lambda a, i, j, v: np_index_put(a, (i, j), v), F(3, 4), I([0, 2, 1]), I([3, 0, 0]), F(),
    label="pairs_scalar")

row("to_dtype", lambda x: x.to(gg.float32), lambda a: a.astype(np.float32), F(3, 4), fd_eps=1e-2,
    rtol=1e-3, atol=1e-4)
row("to_dtype", lambda x: x.to(gg.float64), lambda a: a.astype(np.float64), F(3, 4),
    label="float64")
row("to_dtype", lambda x: x.to(gg.int64), lambda a: a.astype(np.int64), F(3, 4), label="int",
    differentiable=False)
row("to_dtype", lambda x: x.to(gg.float32), lambda a: a.astype(np.float32), I([[1, -2], [3, 4]]),
    label="from_int")
row("to_dtype", lambda x: x.double(), lambda a: a.astype(np.float64), F(0, 2), label="empty")

row("clone", lambda x: x.clone(), lambda a: a.copy(), F(3, 4))
row("clone", lambda x: gg.clone(x), lambda a: a.copy(), F())
row("reshape", lambda x: gg.ops.shape.alias(x), lambda a: a, F(3, 4), label="alias")


def _to_device(x, dev):
    return _shape_ops().to_device(x, gg.device(dev))


# a round trip through the CPU: a real transfer on cuda, the identity on cpu
row("to_device", lambda x: _to_device(_to_device(x, "cpu"), x.device), lambda a: a.copy(), F(3, 4))
row("to_device", lambda x: _to_device(x, x.device), lambda a: a.copy(), F(), label="same")

# ----------------------------------------------------------------------------- layers

# Convolution and its two transposes (params: x_shape, w_shape, stride, padding pairs,
# dilation, groups), against direct loops over output positions and kernel offsets.


def _layer_op(name, *args, params):
    registry = importlib.import_module("gpugrad.ops.registry")
    return registry.apply(registry.OPS[name], args, params)


def _conv_loops(x_shape, w_shape, stride, pads, dil, groups):
    """(output size, [(output pos, kernel offset, padded input pos)])."""
    nd = len(x_shape) - 2
    padded = [x_shape[2 + i] + sum(pads[i]) for i in range(nd)]
    out = tuple((padded[i] - dil[i] * (w_shape[2 + i] - 1) - 1) // stride[i] + 1 for i in range(nd))
    loops = [(o, k, tuple(o[i] * stride[i] + k[i] * dil[i] for i in range(nd)))
             for o in np.ndindex(*out) for k in np.ndindex(*w_shape[2:])]
    return out, loops


def np_conv(x, w, x_shape, w_shape, stride, pads, dil, groups):
    out, loops = _conv_loops(x_shape, w_shape, stride, pads, dil, groups)
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    cg, og = x_shape[1] // groups, w_shape[0] // groups
    y = np.zeros((x_shape[0], w_shape[0]) + out, dtype=np.result_type(x, w))
    for o, k, i in loops:
        for gi in range(groups):
            oc, ic = slice(gi * og, (gi + 1) * og), slice(gi * cg, (gi + 1) * cg)
            y[(slice(None), oc) + o] += xp[(slice(None), ic) + i] @ w[(oc, slice(None)) + k].T
    return y


def np_conv_input_grad(g, w, x_shape, w_shape, stride, pads, dil, groups):
    out, loops = _conv_loops(x_shape, w_shape, stride, pads, dil, groups)
    gx = np.zeros(x_shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads)),
                  dtype=np.result_type(g, w))
    cg, og = x_shape[1] // groups, w_shape[0] // groups
    for o, k, i in loops:
        for gi in range(groups):
            oc, ic = slice(gi * og, (gi + 1) * og), slice(gi * cg, (gi + 1) * cg)
            gx[(slice(None), ic) + i] += g[(slice(None), oc) + o] @ w[(oc, slice(None)) + k]
    return gx[(slice(None), slice(None)) + tuple(slice(lo, lo + n)
                                                 for n, (lo, _) in zip(x_shape[2:], pads))]


def np_conv_weight_grad(x, g, x_shape, w_shape, stride, pads, dil, groups):
    out, loops = _conv_loops(x_shape, w_shape, stride, pads, dil, groups)
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    gw = np.zeros(w_shape, dtype=np.result_type(x, g))
    cg, og = x_shape[1] // groups, w_shape[0] // groups
    for o, k, i in loops:
        for gi in range(groups):
            oc, ic = slice(gi * og, (gi + 1) * og), slice(gi * cg, (gi + 1) * cg)
            gw[(oc, slice(None)) + k] += g[(slice(None), oc) + o].T @ xp[(slice(None), ic) + i]
    return gw


_CONVS = {  # label: (x shape, w shape, stride, padding pairs, dilation, groups)
    "2d_groups_dilation": ((2, 4, 5, 6), (6, 2, 3, 2), (2, 1), ((1, 1), (0, 1)), (1, 2), 2),
    "1d_stride_asym_pad": ((2, 3, 7), (4, 3, 3), (2,), ((1, 2),), (1,), 1),
    "2d_1x1": ((1, 2, 3, 3), (3, 2, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    "3d_groups": ((1, 2, 3, 4, 3), (2, 1, 2, 2, 2), (1, 2, 1), ((0, 0), (1, 0), (0, 1)),
                  (1, 1, 1), 2),
    "2d_depthwise_unused_rows": ((1, 3, 6, 5), (3, 1, 2, 2), (3, 2), ((0, 0), (0, 0)), (1, 1), 3),
}
for _label_, _p in _CONVS.items():
    _out, _ = _conv_loops(*_p)
    _g = (_p[0][0], _p[1][0]) + _out
    row("conv", lambda x, w, _p=_p: _layer_op("conv", x, w, params=_p),
        lambda x, w, _p=_p: np_conv(x, w, *_p), F(*_p[0]), F(*_p[1]), label=_label_)
    row("conv_input_grad", lambda g, w, _p=_p: _layer_op("conv_input_grad", g, w, params=_p),
        lambda g, w, _p=_p: np_conv_input_grad(g, w, *_p), F(*_g), F(*_p[1]), label=_label_)
    row("conv_weight_grad", lambda x, g, _p=_p: _layer_op("conv_weight_grad", x, g, params=_p),
        lambda x, g, _p=_p: np_conv_weight_grad(x, g, *_p), F(*_p[0]), F(*_g), label=_label_)

# Max-pool indices (flat, per input plane; -inf padding; the first of ties).


def np_max_pool_indices(x, kernel, stride, pads, dil):
    nd = x.ndim - 2
    xp = np.pad(x, ((0, 0), (0, 0), *pads), constant_values=-np.inf)
    out, loops = _conv_loops(x.shape, (1, 1) + kernel, stride, pads, dil, 1)
    best = np.full(x.shape[:2] + out, -np.inf)
    idx = np.zeros(x.shape[:2] + out, dtype=np.int64)
    for o, _, i in loops:  # kernel offsets in order: a later equal value does not win
        v = xp[(slice(None), slice(None)) + i]
        flat = np.ravel_multi_index(tuple(i[d] - pads[d][0] for d in range(nd)), x.shape[2:],
                                    mode="clip")
        better = v > best[(slice(None), slice(None)) + o]
        best[(slice(None), slice(None)) + o][better] = v[better]
        idx[(slice(None), slice(None)) + o][better] = flat
    return idx


for _label_, _x, _pp in [
    ("2d", F(2, 3, 5, 6), ((3, 2), (2, 2), ((1, 1), (0, 1)), (1, 2))),
    ("2d_ties", Z(2, 2, 4, 4), ((2, 2), (1, 1), ((0, 0), (0, 0)), (1, 1))),
    ("1d_ceil", F(2, 2, 7), ((3,), (2,), ((1, 2),), (1,))),
]:
    row("max_pool_indices", lambda x, _pp=_pp: _layer_op("max_pool_indices", x, params=_pp),
        lambda x, _pp=_pp: np_max_pool_indices(x, *_pp), _x, label=_label_, differentiable=False)

# The normal CDF (exact GELU): Cephes' rational functions against math.erfc.
_np_ndtr = np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2)), otypes=[np.float64])


def np_ndtr(a):
    return _np_ndtr(a).astype(a.dtype)


row("ndtr", lambda x: _layer_op("ndtr", x, params=()), np_ndtr, F(3, 4, lo=-6.0, hi=6.0))
row("ndtr", lambda x: _layer_op("ndtr", x, params=()), np_ndtr,
    C([-40.0, -9.0, -1.5, -1.0, -0.3, 0.0, 0.7, 1.0, 3.0, 9.0, 40.0]), label="tails")
row("ndtr", lambda x: _layer_op("ndtr", x, params=()), np_ndtr,
    C([-np.inf, np.inf, np.nan]), label="special", differentiable=False)

# Random sampling: rows whose draws are determined (a zero std, an empty range, p in {0, 1}),
# so the forward has a reference on every device. The gradient is PyTorch's (zero: a sample
# does not depend on its parameters): the differentiable rows have outputs that truly do not
# depend on their input; tests/test_sampling.py checks the distributions.
row("sampled", lambda x: x.clone().uniform_(0.0, 0.0), np.zeros_like, F(3, 4), label="uniform_")
row("sampled", lambda x: x.clone().normal_(1.5, 0.0), lambda a: np.full_like(a, 1.5), F(3, 4),
    label="normal_")
row("sampled", lambda m: gg.normal(m, 0.0), lambda a: a.copy(), F(3, 4), label="normal_tf",
    differentiable=False)
row("sampled", lambda m, s: gg.normal(m, s), lambda a, b: a + 0 * b, F(3, 4), C(np.zeros(4)),
    label="normal_tt", differentiable=False)
row("sampled", _G("bernoulli"), lambda a: a.copy(), C([[0.0, 1.0], [1.0, 0.0]]),
    label="bernoulli", differentiable=False)
row("sampled", lambda p: gg.multinomial(p, 1), lambda a: np.argmax(a, -1)[:, None],
    C([[0.0, 2.0, 0.0], [1.0, 0.0, 0.0]]), label="multinomial", differentiable=False)

# ----------------------------------------------------------------------------- composites

comp("mean", _G("mean"), np.mean, F(3, 4))
comp("mean", lambda x: x.mean(dim=1), lambda a: np.mean(a, axis=1), F(3, 4), label="dim")
comp("mean", lambda x: gg.mean(x, dim=(0, 2), keepdim=True),
     lambda a: np.mean(a, axis=(0, 2), keepdims=True), F(2, 3, 4), label="dims_keepdim")
comp("var", _G("var"), lambda a: np.var(a, ddof=1), F(3, 4))
comp("var", lambda x: x.var(dim=1), lambda a: np.var(a, axis=1, ddof=1), F(3, 4), label="dim")
comp("var", lambda x: gg.var(x, dim=0, keepdim=True),
     lambda a: np.var(a, axis=0, ddof=1, keepdims=True), F(3, 4), label="keepdim")
comp("std", _G("std"), lambda a: np.std(a, ddof=1), F(3, 4))
comp("std", lambda x: x.std(dim=1), lambda a: np.std(a, axis=1, ddof=1), F(3, 4), label="dim")
comp("logsumexp", lambda x: gg.logsumexp(x, dim=1), lambda a: np_logsumexp(a, 1), F(3, 4))
comp("logsumexp", lambda x: x.logsumexp(dim=0, keepdim=True),
     lambda a: np_logsumexp(a, 0, keepdims=True), F(3, 4), label="keepdim")
comp("logsumexp", lambda x: gg.logsumexp(x, dim=(0, 1)), lambda a: np_logsumexp(a, (0, 1)), F(2, 3),
     label="dims")
comp("logsumexp", lambda x: gg.logsumexp(x, dim=1), lambda a: np_logsumexp(a, 1),
     C([[1000.0, 1001.0], [-1000.0, -1002.0]]), label="large")
comp("softmax", lambda x: gg.softmax(x, dim=-1), lambda a: np_softmax(a, -1), F(3, 4))
comp("softmax", lambda x: x.softmax(0), lambda a: np_softmax(a, 0), F(3, 4), label="dim0")
comp("softmax", lambda x: gg.nn.functional.softmax(x, dim=1), lambda a: np_softmax(a, 1),
     C([[1000.0, 1001.0], [-1000.0, -1002.0]]), label="large")
comp("log_softmax", lambda x: gg.log_softmax(x, dim=-1), lambda a: np_log_softmax(a, -1), F(3, 4))
comp("log_softmax", lambda x: gg.nn.functional.log_softmax(x, dim=1),
     lambda a: np_log_softmax(a, 1), C([[1000.0, 1001.0], [-1000.0, -1002.0]]), label="large")
comp("mm", _G("mm"), np.matmul, F(3, 4), F(4, 2))
comp("mv", _G("mv"), np.matmul, F(3, 4), F(4))
comp("dot", _G("dot"), np.dot, F(4), F(4))
comp("outer", _G("outer"), np.outer, F(3), F(4))
comp("transpose", lambda x: gg.transpose(x, 0, 1), lambda a: a.T, F(3, 4))
comp("transpose", lambda x: x.transpose(0, 2), lambda a: a.transpose(2, 1, 0), F(2, 3, 4),
     label="method")
comp("transpose", lambda x: x.t(), lambda a: a.T, F(3, 4), label="t")
comp("transpose", lambda x: x.T, lambda a: a.T, F(3, 4), label="T")
comp("flatten", _G("flatten"), lambda a: a.reshape(-1), F(2, 3, 4))
comp("flatten", lambda x: x.flatten(1), lambda a: a.reshape(2, 12), F(2, 3, 4), label="start")
comp("flatten", lambda x: gg.flatten(x, 0, 1), lambda a: a.reshape(6, 4), F(2, 3, 4), label="range")
comp("flatten", _G("flatten"), lambda a: a.reshape(1), F())
comp("squeeze", _G("squeeze"), np.squeeze, F(3, 1, 4, 1))
comp("squeeze", lambda x: x.squeeze(1), lambda a: np.squeeze(a, 1), F(3, 1, 4), label="dim")
comp("squeeze", lambda x: x.squeeze(0), lambda a: a.copy(), F(3, 4), label="noop")
comp("unsqueeze", lambda x: gg.unsqueeze(x, 0), lambda a: a[None], F(3, 4))
comp("unsqueeze", lambda x: x.unsqueeze(-1), lambda a: a[..., None], F(3, 4), label="last")
comp("unsqueeze", lambda x: x.unsqueeze(0), lambda a: a[None], F())
comp("stack", lambda x, y: gg.stack([x, y]), lambda a, b: np.stack([a, b]), F(3, 4), F(3, 4))
comp("stack", lambda x, y: gg.stack((x, y), dim=1), lambda a, b: np.stack([a, b], axis=1), F(3, 4),
     F(3, 4), label="dim1")
comp("stack", lambda x, y: gg.stack([x, y], dim=-1), lambda a, b: np.stack([a, b], axis=-1), F(),
     F(), label="scalars")
comp("split", lambda x: gg.split(x, 2, dim=0), lambda a: np_split(a, 2, 0), F(5, 3))
comp("split", lambda x: x.split([1, 2], dim=1), lambda a: np_split(a, [1, 2], 1), F(2, 3),
     label="sections")
comp("chunk", lambda x: gg.chunk(x, 2, dim=1), lambda a: np_chunk(a, 2, 1), F(3, 4))
comp("chunk", lambda x: x.chunk(3), lambda a: np_chunk(a, 3, 0), F(5, 2), label="uneven")
comp("repeat", lambda x: x.repeat(2, 2), lambda a: np.tile(a, (2, 2)), F(2, 3))
comp("repeat", lambda x: x.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3)), F(2, 3),
     label="new_dims")
comp("max", lambda x: gg.max(x, dim=1), lambda a: np_max_dim(a, 1), F(3, 4), label="dim")
comp("max", lambda x: x.max(dim=0, keepdim=True), lambda a: np_max_dim(a, 0, True), F(3, 4),
     label="keepdim")
comp("max", _G("max"), np.max, F(3, 4), label="all")
comp("min", lambda x: gg.min(x, dim=1), lambda a: np_min_dim(a, 1), F(3, 4), label="dim")
comp("min", lambda x: x.min(dim=0, keepdim=True), lambda a: np_min_dim(a, 0, True), F(3, 4),
     label="keepdim")
comp("min", _G("min"), np.min, F(3, 4), label="all")
comp("broadcast_to", lambda x: gg.broadcast_to(x, (2, 3, 4)),
     lambda a: np.broadcast_to(a, (2, 3, 4)), F(3, 1))
comp("clip", lambda x: gg.clip(x, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), F(3, 4))
comp("rpow", lambda x: 2.0**x, lambda a: 2.0**a, F(3, 4))
# lerp, addcmul, addcdiv: out of place and in place (on a non-leaf clone, whose gradient flows
# to the clone's source), with broadcasting, a number or a tensor weight, and the two branches
# of a number weight (|w| < 0.5: input + w (end - input); else end - (1 - w) (end - input)).
comp("lerp", lambda x, y: gg.lerp(x, y, 0.3), lambda a, b: a + 0.3 * (b - a), F(3, 4), F(4))
comp("lerp", lambda x, y: x.lerp(y, 0.8), lambda a, b: a + 0.8 * (b - a), F(3, 4), F(3, 4),
     label="large_weight")
comp("lerp", lambda x, y, w: gg.lerp(x, y, w), lambda a, b, w: a + w * (b - a), F(3, 1), F(4),
     F(2, 1, 1), label="tensor_weight")
comp("lerp", lambda x, y: x.clone().lerp_(y, 0.1), lambda a, b: a + 0.1 * (b - a), F(3, 4),
     F(4), label="inplace")
comp("lerp", lambda x, y: x.clone().lerp_(y, -1.5), lambda a, b: a - 1.5 * (b - a), F(3, 4),
     F(3, 4), label="inplace_large_weight")
comp("lerp", lambda x, y, w: x.clone().lerp_(y, w), lambda a, b, w: a + w * (b - a), F(3, 4),
     F(3, 4), F(4), label="inplace_tensor_weight")
comp("addcmul", lambda x, y, z: gg.addcmul(x, y, z, value=0.5), lambda a, b, c: a + 0.5 * b * c,
     F(3, 4), F(3, 1), F(4))
comp("addcmul", lambda x, y, z: x.addcmul(y, z), lambda a, b, c: a + b * c, F(4), F(3, 4),
     F(3, 4), label="value1")
comp("addcmul", lambda x, y: x.clone().addcmul_(y, y, value=-0.1),
     lambda a, b: a - 0.1 * b * b, F(3, 4), F(3, 4), label="inplace_square")
comp("addcmul", lambda x, y, z: x.clone().addcmul_(y, z, value=2), lambda a, b, c: a + 2 * b * c,
     F(3, 4), F(4), F(3, 1), label="inplace_broadcast")
comp("addcmul", lambda x, y, z: gg.addcmul(x, y, z, value=3), lambda a, b, c: a + 3 * b * c,
     I([1, 2]), I([[3], [4]]), I([5, -6]), label="int")
comp("addcdiv", lambda x, y, z: gg.addcdiv(x, y, z, value=0.5), lambda a, b, c: a + 0.5 * b / c,
     F(3, 4), F(3, 1), F(4, away=0.5))
comp("addcdiv", lambda x, y, z: x.addcdiv(y, z), lambda a, b, c: a + b / c, F(4), F(3, 4),
     F(3, 4, away=0.5), label="value1")
comp("addcdiv", lambda x, y, z: x.clone().addcdiv_(y, z, value=-0.3),
     lambda a, b, c: a - 0.3 * b / c, F(3, 4), F(3, 4), P(3, 4), label="inplace")
comp("addcdiv", lambda x, y, z: x.clone().addcdiv_(y, z, value=2), lambda a, b, c: a + 2 * b / c,
     F(3, 4), F(4), F(3, 1, away=0.5), label="inplace_broadcast")


def _setitem(x, v):
    y = x * 1.0
    y[1:, 0] = v
    return y


def _np_setitem(a, v):
    y = a.copy()
    y[1:, 0] = v
    return y


comp("setitem", _setitem, _np_setitem, F(3, 4), F(2))


def _check_unique_ids():
    dup = [k for k, n in Counter(c.id for c in CASES).items() if n > 1]
    assert not dup, f"duplicate op table ids: {dup}"


_check_unique_ids()
