"""The elementwise ops added with asin ... xlogy, where the op table's generic properties say too
little: PyTorch's integer division (signs, dtypes, division by zero), the gradients PyTorch
defines at the edges (none for floor_divide, zero for a rounding div, xlogy at x = 0), result
dtypes, in-place variants and aliases; and values, gradients (first and second order, reverse
and forward mode) and node names against PyTorch where it is installed.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest
from op_table import CASES
from test_ops import draw

import gpugrad as gg
from gpugrad.autograd import forward_ad as fwAD


def to_np(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy())


def check(t, values, dtype):
    """`t` holds `values` (NaN equal to NaN, signs of zero ignored) with gpugrad dtype `dtype`."""
    assert t.dtype == dtype, f"dtype {t.dtype}, expected {dtype}"
    np.testing.assert_array_equal(to_np(t), np.asarray(values, dtype=to_np(t).dtype))


# ----------------------------------------------------------------------------- (a) integers


def test_integer_division_follows_pytorch(device):
    x = gg.tensor([7, -7], device=device)
    check(x // 2, [3, -4], gg.int64)  # rounds down
    check(x % 3, [1, 2], gg.int64)  # the divisor's sign
    check(gg.fmod(x, 3), [1, -1], gg.int64)  # the dividend's sign
    check(x % -3, [-2, -1], gg.int64)
    check(gg.remainder(x, gg.tensor([-3, -3], device=device)), [-2, -1], gg.int64)
    check(gg.fmod(x, -3), [1, -1], gg.int64)
    check(x // -2, [-4, 3], gg.int64)
    check(gg.div(x, 2, rounding_mode="trunc"), [3, -3], gg.int64)
    check(gg.div(x, 2, rounding_mode="floor"), [3, -4], gg.int64)
    check(x.div(-2, rounding_mode="trunc"), [-3, 3], gg.int64)
    check(gg.div(x, 2), [3.5, -3.5], gg.get_default_dtype())  # true division: a float
    # the reflected forms
    check(7 // gg.tensor([2, -2], device=device), [3, -4], gg.int64)
    check(7 % gg.tensor([3, -3], device=device), [1, -2], gg.int64)
    check(gg.div(7, gg.tensor([2, -2], device=device), rounding_mode="trunc"), [3, -3], gg.int64)
    # an int32 tensor with a Python int stays int32
    check(gg.tensor([7, -7], dtype=gg.int32, device=device) // 2, [3, -4], gg.int32)
    check(gg.tensor([7, -7], dtype=gg.int32, device=device) % 3, [1, 2], gg.int32)


def test_rounding_division_of_floats(device):
    x = gg.tensor([7.5, -7.5], device=device)
    check(gg.div(x, 2, rounding_mode="trunc"), [3.0, -3.0], gg.float32)
    check(gg.div(x, 2, rounding_mode="floor"), [3.0, -4.0], gg.float32)
    check(x // 2, [3.0, -4.0], gg.float32)
    check(x % 2, [1.5, 0.5], gg.float32)
    check(gg.fmod(x, 2), [1.5, -1.5], gg.float32)


def test_float_scalar_makes_a_float_result(device):
    """An integer tensor with a float scalar gives the default float dtype, as in PyTorch."""
    x = gg.tensor([7, -7], device=device)
    check(x // 2.0, [3.0, -4.0], gg.float32)
    check(x // 2.5, [2.0, -3.0], gg.float32)
    check(x % 2.5, [2.0, 0.5], gg.float32)
    check(gg.fmod(x, 2.5), [2.0, -2.0], gg.float32)
    check(gg.div(x, 2.5, rounding_mode="trunc"), [2.0, -2.0], gg.float32)
    gg.set_default_dtype(gg.float64)  # (the autouse fixture restores it)
    check(x // 2.5, [2.0, -3.0], gg.float64)


@pytest.mark.parametrize("dtype", [gg.float32, gg.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name, fn", [
    ("floor_divide", operator.floordiv),
    ("remainder", operator.mod),
    ("rfloordiv", lambda x, s: s // x),
    ("rmod", lambda x, s: s % x),
    ("fmod", gg.fmod),
    ("div_floor", lambda x, s: gg.div(x, s, rounding_mode="floor")),
    ("div_trunc", lambda x, s: gg.div(x, s, rounding_mode="trunc")),
    ("atan2", gg.atan2),
    ("hypot", gg.hypot),
    ("logaddexp", gg.logaddexp),
    ("xlogy", gg.xlogy),
])
@pytest.mark.parametrize("scalar", [2.5, 3], ids=["float", "int"])
def test_python_scalar_keeps_the_tensor_dtype(name, fn, scalar, dtype, device):
    """A Python scalar never widens a float tensor (PyTorch's scalars are weakly typed)."""
    x = gg.tensor([1.25, -3.5, 4.0], dtype=dtype, device=device)
    r = fn(x, scalar)
    assert r.dtype == dtype, f"{name}: {r.dtype}, expected {dtype}"


def test_int_tensor_with_float_tensor_takes_the_float_dtype(device):
    a = gg.tensor([7, -7], device=device)
    b = gg.tensor([2.0, 2.0], dtype=gg.float32, device=device)
    check(a // b, [3.0, -4.0], gg.float32)
    check(a % b, [1.0, 1.0], gg.float32)
    check(gg.fmod(a, b), [1.0, -1.0], gg.float32)


def test_integer_division_matches_python_on_every_sign(device):
    """Every a in [-9, 9] and b in [-4, 4] \\ {0}: //, % as Python's, fmod as C's, trunc
    division towards zero, and a == (a // b) * b + a % b."""
    pairs = [(a, b) for a in range(-9, 10) for b in range(-4, 5) if b != 0]
    a = gg.tensor([p[0] for p in pairs], device=device)
    b = gg.tensor([p[1] for p in pairs], device=device)
    for got, want in [
        (a // b, [x // y for x, y in pairs]),
        (a % b, [x % y for x, y in pairs]),
        (gg.fmod(a, b), [int(math.fmod(x, y)) for x, y in pairs]),
        (gg.div(a, b, rounding_mode="floor"), [x // y for x, y in pairs]),
        (gg.div(a, b, rounding_mode="trunc"), [int(x / y) for x, y in pairs]),
    ]:
        check(got, want, gg.int64)
    np.testing.assert_array_equal(to_np((a // b) * b + a % b), to_np(a))
    trunc = gg.div(a, b, rounding_mode="trunc")
    np.testing.assert_array_equal(to_np(trunc * b + gg.fmod(a, b)), to_np(a))


# ----------------------------------------------------------------------------- (b) zero divisors

ZERO_DIVISIONS = [
    ("floor_divide", lambda x: x // 0),
    ("floor_divide", lambda x: gg.floor_divide(x, gg.tensor([1, 0], device=x.device))),
    ("floor_divide", lambda x: 7 // gg.tensor([0, 1], device=x.device)),
    ("floor_divide", lambda x: x // gg.tensor(0, device=x.device)),
    ("remainder", lambda x: x % 0),
    ("remainder", lambda x: gg.remainder(x, gg.tensor([[1, 1], [0, 1]], device=x.device))),
    ("remainder", lambda x: 7 % gg.tensor([0, 1], device=x.device)),
    ("fmod", lambda x: gg.fmod(x, 0)),
    ("fmod", lambda x: x.fmod(gg.tensor([0, 3], device=x.device))),
    ("div", lambda x: gg.div(x, 0, rounding_mode="floor")),
    ("div", lambda x: gg.div(x, gg.tensor([3, 0], device=x.device), rounding_mode="trunc")),
    ("div", lambda x: gg.div(7, gg.tensor([0, 1], device=x.device), rounding_mode="trunc")),
    ("floor_divide", lambda x: x.floor_divide_(0)),
    ("remainder", lambda x: x.remainder_(0)),
    ("fmod", lambda x: x.fmod_(0)),
    ("div", lambda x: x.div_(0, rounding_mode="floor")),
]


def _ifloordiv_zero(x):
    x //= 0


def _imod_zero(x):
    x %= gg.tensor([3, 0], device=x.device)


ZERO_DIVISIONS += [("floor_divide", _ifloordiv_zero), ("remainder", _imod_zero)]


@pytest.mark.parametrize("name, call", ZERO_DIVISIONS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(ZERO_DIVISIONS)])
def test_integer_division_by_zero_raises(name, call, device):
    x = gg.tensor([7, -7], device=device)
    # the message names the op (div with a rounding mode is the primitive div_rounded)
    pattern = r"\bdiv(_rounded)?_?\b" if name == "div" else rf"\b{name}_?\b"
    with pytest.raises((RuntimeError, ZeroDivisionError), match=pattern) as info:
        call(x)
    assert "division by zero" in str(info.value)
    check(x, [7, -7], gg.int64)  # an in-place variant wrote nothing


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns of inf and NaN
def test_float_division_by_zero_gives_inf_and_nan_as_pytorch(device):
    x = gg.tensor([1.0, -1.0, 0.0], device=device)
    inf, nan = math.inf, math.nan
    check(x // 0, [inf, -inf, nan], gg.float32)
    check(x % 0, [nan, nan, nan], gg.float32)
    check(gg.fmod(x, 0.0), [nan, nan, nan], gg.float32)
    check(gg.div(x, 0, rounding_mode="floor"), [inf, -inf, nan], gg.float32)
    check(gg.div(x, 0.0, rounding_mode="trunc"), [inf, -inf, nan], gg.float32)
    check(gg.tensor([7, -7, 0], device=device) // 0.0, [inf, -inf, nan], gg.float32)
    check(x // gg.tensor([0.0, -0.0, 0.0], device=device), [inf, inf, nan], gg.float32)


# ----------------------------------------------------------------------------- (c) gradients


def test_backward_through_floor_divide_raises(device):
    x = gg.tensor([1.5, -2.5, 3.0], dtype=gg.float64, device=device, requires_grad=True)
    y = gg.tensor([0.7, 0.7, -1.1], dtype=gg.float64, device=device, requires_grad=True)
    for q in (x // y, gg.floor_divide(x, 2.0), x.floor_divide(y), 5.0 // y):
        assert q.grad_fn is not None and q.grad_fn.name() == "NotImplemented"  # as PyTorch's
        with pytest.raises(RuntimeError, match=r"\bfloor_divide\b"):
            q.sum().backward()
    with pytest.raises(RuntimeError, match=r"\bfloor_divide\b"):
        gg.autograd.grad((x // y).sum(), [x])
    # forward mode as well
    with fwAD.dual_level():
        d = fwAD.make_dual(x.detach(), gg.ones_like(x.detach()))
        with pytest.raises(RuntimeError, match=r"\bfloor_divide\b"):
            d // 2.0
    # without a graph to record, it runs
    with gg.no_grad():
        check(x // y, [2.0, -4.0, -3.0], gg.float64)
    check(x.detach() // y.detach(), [2.0, -4.0, -3.0], gg.float64)


@pytest.mark.parametrize("mode", ["floor", "trunc"])
def test_rounding_div_has_zero_gradients(mode, device):
    x = gg.tensor([[1.5, -2.5, 3.3, 0.2]] * 3, dtype=gg.float64, device=device,
                  requires_grad=True)
    y = gg.tensor([0.7, 0.7, -1.1, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    q = gg.div(x, y, rounding_mode=mode)
    assert q.grad_fn.name() == "DivBackward2"  # as PyTorch's
    gx, gy = gg.autograd.grad(q, [x, y], grad_outputs=gg.ones_like(q))
    check(gx, np.zeros((3, 4)), gg.float64)
    check(gy, np.zeros(4), gg.float64)
    (gs,) = gg.autograd.grad(gg.div(2.5, y, rounding_mode=mode).sum(), [y])
    check(gs, np.zeros(4), gg.float64)
    with fwAD.dual_level():
        d = fwAD.make_dual(x.detach(), gg.ones_like(x.detach()))
        t = fwAD.unpack_dual(gg.div(d, y.detach(), rounding_mode=mode)).tangent
        check(t, np.zeros((3, 4)), gg.float64)


def test_remainder_and_fmod_gradients(device):
    """d/da = 1; d/db = -floor(a / b) for remainder, -trunc(a / b) for fmod."""
    a = gg.tensor([7.5, -7.5, 1.0], dtype=gg.float64, device=device, requires_grad=True)
    b = gg.tensor([2.0, 2.0, -0.75], dtype=gg.float64, device=device, requires_grad=True)
    ga, gb = gg.autograd.grad(gg.remainder(a, b).sum(), [a, b])
    check(ga, [1.0, 1.0, 1.0], gg.float64)
    check(gb, [-3.0, 4.0, 2.0], gg.float64)
    ga, gb = gg.autograd.grad(gg.fmod(a, b).sum(), [a, b])
    check(ga, [1.0, 1.0, 1.0], gg.float64)
    check(gb, [-3.0, 3.0, 1.0], gg.float64)


# ----------------------------------------------------------------------------- (d) xlogy


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_xlogy_at_zero(device):
    def leaf(v):
        return gg.tensor(v, dtype=gg.float64, device=device, requires_grad=True)

    # xlogy(0, 0) == 0; its gradients there: 0 for x, x / y = NaN for y (as PyTorch)
    x, y = leaf(0.0), leaf(0.0)
    z = gg.xlogy(x, y)
    check(z, 0.0, gg.float64)
    gx, gy = gg.autograd.grad(z, [x, y])
    check(gx, 0.0, gg.float64)
    assert math.isnan(float(gy))
    # x == 0 elsewhere: the value is 0 (also for y <= 0 and y = inf), NaN where y is NaN;
    # the x-gradient is log y where y > 0 (x log y is smooth in x there; PyTorch >= 1.13,
    # pytorch/pytorch#80770) and 0 where y <= 0; the y-gradient x / y is 0 where y != 0
    x = leaf([0.0, 0.0, 0.0, 0.0, 2.0])
    y = leaf([2.0, -1.0, math.inf, math.nan, 0.0])
    z = gg.xlogy(x, y)
    check(z, [0.0, 0.0, 0.0, math.nan, -math.inf], gg.float64)
    gx, gy = gg.autograd.grad(z.sum(), [x, y])
    check(gx, [math.log(2.0), 0.0, math.inf, math.nan, -math.inf], gg.float64)
    check(gy, [0.0, 0.0, 0.0, math.nan, math.inf], gg.float64)
    # the second derivative at x == 0, y <= 0 is finite (the masked log never runs on y <= 0)
    x, y = leaf([0.0, 0.0]), leaf([0.0, -1.0])
    (gx,) = gg.autograd.grad(gg.xlogy(x, y).sum(), [x], create_graph=True)
    (gyx,) = gg.autograd.grad(gx.sum(), [y])
    check(gyx, [0.0, 0.0], gg.float64)
    # a Python scalar y
    x = leaf([0.0, 1.5])
    for yv, value, grad in [(2.0, [0.0, 1.5 * math.log(2.0)], [math.log(2.0)] * 2),
                            (0.0, [0.0, -math.inf], [0.0, -math.inf])]:
        (gx,) = gg.autograd.grad(gg.xlogy(x, yv).sum(), [x])
        check(gg.xlogy(x, yv), value, gg.float64)
        check(gx, grad, gg.float64)


# ----------------------------------------------------------------------------- (e) dtypes


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # atanh(+-1) = +-inf
@pytest.mark.parametrize("name", ["exp2", "log2", "log10", "asin", "acos", "atan", "sinh",
                                  "cosh", "asinh", "acosh", "atanh", "frac"])
def test_unary_of_integers_gives_the_default_float(name, device):
    x = gg.tensor([1, 2, 3] if name in ("acosh", "log2", "log10") else [0, -1, 1], device=device)
    assert getattr(gg, name)(x).dtype == gg.float32
    gg.set_default_dtype(gg.float64)
    assert getattr(gg, name)(x).dtype == gg.float64


@pytest.mark.parametrize("name", ["atan2", "xlogy", "hypot", "logaddexp"])
def test_binary_maths_of_integers_gives_the_default_float(name, device):
    a, b = gg.tensor([1, 0, 3], device=device), gg.tensor([2, 5, 1], device=device)
    fn = getattr(gg, name)
    r = fn(a, b)
    assert r.dtype == gg.float32
    ref = {"atan2": np.arctan2, "hypot": np.hypot, "logaddexp": np.logaddexp,
           "xlogy": lambda p, q: p * np.log(q)}[name]
    np.testing.assert_allclose(to_np(r), ref(np.array([1.0, 0, 3]), np.array([2.0, 5, 1])),
                               rtol=1e-6)
    assert fn(a, 2).dtype == gg.float32
    gg.set_default_dtype(gg.float64)
    assert fn(a, b).dtype == gg.float64


def test_trunc_of_integers_stays_integer(device):
    check(gg.trunc(gg.tensor([-3, 2], device=device)), [-3, 2], gg.int64)
    check(gg.tensor([-3, 2], device=device).fix(), [-3, 2], gg.int64)


# ----------------------------------------------------------------------------- (f) spellings

ALIASES = [("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"), ("arcsinh", "asinh"),
           ("arccosh", "acosh"), ("arctanh", "atanh"), ("fix", "trunc")]


@pytest.mark.parametrize("alias, name", ALIASES)
def test_unary_aliases_and_in_place_variants(alias, name, device):
    v = [1.3, 1.7, 2.9] if name == "acosh" else [-0.6, 0.25, 0.5]
    x = gg.tensor(v, dtype=gg.float64, device=device)
    want = to_np(getattr(gg, name)(x))
    for got in (getattr(gg, alias)(x), getattr(x, name)(), getattr(x, alias)()):
        np.testing.assert_array_equal(to_np(got), want)
    for method in (name + "_", alias + "_"):
        y = x.clone()
        r = getattr(y, method)()
        assert r is y, f"{method} returns its tensor"
        np.testing.assert_array_equal(to_np(y), want)


@pytest.mark.parametrize("name", ["exp2", "log2", "log10", "sinh", "cosh", "frac", "trunc"])
def test_unary_in_place_variants(name, device):
    x = gg.tensor([0.5, 1.25, 2.75], dtype=gg.float64, device=device)
    y = x.clone()
    assert getattr(y, name + "_")() is y
    np.testing.assert_array_equal(to_np(y), to_np(getattr(gg, name)(x)))


@pytest.mark.parametrize("name", ["atan2", "arctan2", "hypot", "logaddexp", "xlogy", "fmod",
                                  "remainder", "floor_divide"])
def test_binary_in_place_variants(name, device):
    a = gg.tensor([[0.5, -1.25, 2.75]], dtype=gg.float64, device=device)
    b = gg.tensor([1.5, 0.75, 2.25], dtype=gg.float64, device=device)
    want = to_np(getattr(gg, name)(a, b))
    np.testing.assert_array_equal(to_np(getattr(a, name)(b)), want)
    y = a.clone()
    assert getattr(y, name + "_")(b) is y
    np.testing.assert_array_equal(to_np(y), want)


def test_arctan2_is_atan2(device):
    a = gg.tensor([1.0, -1.0], device=device)
    b = gg.tensor([-2.0, 3.0], device=device)
    np.testing.assert_array_equal(to_np(gg.arctan2(a, b)), to_np(gg.atan2(a, b)))
    np.testing.assert_array_equal(to_np(a.arctan2(b)), to_np(gg.atan2(a, b)))


def test_in_place_integer_division(device):
    x = gg.tensor([7, -7], device=device)
    assert x.floor_divide_(2) is x
    check(x, [3, -4], gg.int64)
    x = gg.tensor([7, -7], device=device)
    ref = x
    x %= 3
    assert x is ref
    check(x, [1, 2], gg.int64)
    x //= -2
    assert x is ref
    check(x, [-1, -1], gg.int64)
    x = gg.tensor([7, -7], device=device)
    x.fmod_(3)
    check(x, [1, -1], gg.int64)
    x = gg.tensor([7, -7], device=device)
    x.div_(2, rounding_mode="trunc")
    check(x, [3, -3], gg.int64)
    # a float result does not fit an integer tensor (as in PyTorch)
    with pytest.raises(RuntimeError, match=r"\bfmod_\b"):
        gg.tensor([7, -7], device=device).fmod_(2.5)
    with pytest.raises(RuntimeError, match=r"\batan2_\b"):
        gg.tensor([7, -7], device=device).atan2_(gg.tensor([1, 1], device=device))


# ----------------------------------------------------------------------------- the op table

ROUNDING = {"remainder", "fmod", "div_rounded"}


def _quotient_operands(case, arrays):
    """(a, b) of a rounding row: its two inputs, or its input and the scalar in its lambda
    (the labels say which: "...rscalar" is 2.5 / x, "...neg_scalar" x / -1.5, "...scalar"
    x / 1.5)."""
    if len(arrays) == 2:
        return arrays
    (x,) = arrays
    if case.label.endswith("rscalar"):
        return 2.5, x
    if case.label.endswith("neg_scalar"):
        return x, -1.5
    assert case.label.endswith("scalar"), case.id
    return x, 1.5


@pytest.mark.parametrize("case", [c for c in CASES if c.name in ROUNDING and c.grad_args],
                         ids=lambda c: c.id)
def test_table_draws_keep_quotients_off_the_integers(case):
    """The finite differences of remainder, fmod and div_rounded hold only away from the
    jumps at integer quotients: the op table's draws keep a / b at least 1e-4 from them, far
    beyond what a step of 1e-6 along a unit-scale direction moves it (|b| >= 0.5, |a| <= 3)."""
    a, b = _quotient_operands(case, draw(case, np.float64))
    q = np.asarray(a) / np.asarray(b)
    if q.size:
        assert np.min(np.abs(q - np.round(q))) > 1e-4, case.id


# ----------------------------------------------------------------------------- (g) vs PyTorch

UNARY = {  # name: (low, high) of the draw, inside the domain and away from its edges
    "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atan": (-3.0, 3.0), "sinh": (-2.0, 2.0),
    "cosh": (-2.0, 2.0), "asinh": (-3.0, 3.0), "acosh": (1.1, 3.0), "atanh": (-0.9, 0.9),
    "log2": (0.2, 3.0), "log10": (0.2, 3.0), "exp2": (-2.0, 2.0), "trunc": (-3.0, 3.0),
    "frac": (-3.0, 3.0),
}
BINARY = {  # name: (gpugrad op, torch op by name, draw of (a, b))
    "atan2": "atan2", "hypot": "hypot", "logaddexp": "logaddexp", "xlogy": "xlogy",
    "remainder": "remainder", "fmod": "fmod", "div_floor": "div_floor",
    "div_trunc": "div_trunc",
}


def _torch():
    return pytest.importorskip("torch")


def _rng(name):
    return np.random.default_rng(sum(map(ord, name)))


def _draw_binary(name, rng):
    a = rng.uniform(-2.0, 2.0, (3, 4))
    b = rng.uniform(-2.0, 2.0, (4,))
    if name in ("atan2", "hypot"):
        a = np.where(np.abs(a) < 0.3, 0.3 * np.sign(a) + 0.3 * (a == 0), a)  # off the origin
    if name == "xlogy":
        b = rng.uniform(0.2, 3.0, (4,))
    if name in ("remainder", "fmod", "div_floor", "div_trunc"):
        # a = q b with q at least 0.2 away from the integers: off the jumps
        b = rng.uniform(0.5, 2.0, (4,)) * rng.choice([-1.0, 1.0], (4,))
        q = rng.integers(-3, 4, (3, 4)) + rng.uniform(0.2, 0.8, (3, 4))
        a = q * b
    return a, b


def _gg_binary(name, a, b):
    if name.startswith("div_"):
        return gg.div(a, b, rounding_mode=name[4:])
    return getattr(gg, name)(a, b)


def _torch_binary(torch, name, a, b):
    if name.startswith("div_"):
        return torch.div(a, b, rounding_mode=name[4:])
    return getattr(torch, name)(a, b)


def _compare_grads(torch, y, ty, xs, txs, device, rng):
    """First and second order reverse mode against PyTorch, for the random cotangent u and
    direction v: grad <u, y>, and grad <grad <u, y>, v>."""
    u = rng.standard_normal(tuple(y.shape))
    gs = gg.autograd.grad(y, xs, grad_outputs=gg.tensor(u, device=device), create_graph=True,
                          allow_unused=True)
    tgs = torch.autograd.grad(ty, txs, grad_outputs=torch.tensor(u), create_graph=True,
                              allow_unused=True)
    for g, tg, x in zip(gs, tgs, xs):
        want = np.zeros(tuple(x.shape)) if tg is None else tg.detach().numpy()
        got = np.zeros(tuple(x.shape)) if g is None else to_np(g)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    vs = [rng.standard_normal(tuple(x.shape)) for x in xs]
    s = sum(((g * gg.tensor(v, device=device)).sum() for g, v in zip(gs, vs)
             if g is not None and g.requires_grad), gg.tensor(0.0, dtype=gg.float64,
                                                             device=device))
    ts = sum(((tg * torch.tensor(v)).sum() for tg, v in zip(tgs, vs)
              if tg is not None and tg.requires_grad), torch.tensor(0.0, dtype=torch.float64))
    hs = gg.autograd.grad(s, xs, allow_unused=True) if s.requires_grad else [None] * len(xs)
    ths = torch.autograd.grad(ts, txs, allow_unused=True) if ts.requires_grad else \
        [None] * len(xs)
    for h, th, x in zip(hs, ths, xs):
        want = np.zeros(tuple(x.shape)) if th is None else th.numpy()
        got = np.zeros(tuple(x.shape)) if h is None else to_np(h)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _compare_jvp(torch, fn, tfn, arrays, device, rng):
    """Forward mode against PyTorch's, all inputs with random tangents."""
    import torch.autograd.forward_ad as tfwAD

    ts = [rng.standard_normal(a.shape) for a in arrays]
    with fwAD.dual_level():
        duals = [fwAD.make_dual(gg.tensor(a, device=device), gg.tensor(t, device=device))
                 for a, t in zip(arrays, ts)]
        got = fwAD.unpack_dual(fn(*duals)).tangent
        got = np.zeros(np.broadcast_shapes(*[a.shape for a in arrays])) if got is None \
            else to_np(got)
    with tfwAD.dual_level():
        tduals = [tfwAD.make_dual(torch.tensor(a), torch.tensor(t)) for a, t in zip(arrays, ts)]
        want = tfwAD.unpack_dual(tfn(*tduals)).tangent
        want = np.zeros_like(got) if want is None else want.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_pytorch(name, device):
    torch = _torch()
    rng = _rng(name)
    lo, hi = UNARY[name]
    a = rng.uniform(lo, hi, (3, 4))
    x = gg.tensor(a, device=device, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    y, ty = getattr(gg, name)(x), getattr(torch, name)(tx)
    assert y.dtype == gg.float64
    np.testing.assert_allclose(to_np(y), ty.detach().numpy(), rtol=1e-13, atol=1e-15)
    assert y.grad_fn.name() == type(ty.grad_fn).__name__
    _compare_grads(torch, y, ty, [x], [tx], device, rng)
    _compare_jvp(torch, getattr(gg, name), getattr(torch, name), [a], device, rng)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_pytorch(name, device):
    torch = _torch()
    rng = _rng(name)
    a, b = _draw_binary(name, rng)
    x = gg.tensor(a, device=device, requires_grad=True)
    y = gg.tensor(b, device=device, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    z, tz = _gg_binary(name, x, y), _torch_binary(torch, name, tx, ty)
    np.testing.assert_allclose(to_np(z), tz.detach().numpy(), rtol=1e-13, atol=1e-15)
    assert z.grad_fn.name() == type(tz.grad_fn).__name__
    _compare_grads(torch, z, tz, [x, y], [tx, ty], device, rng)
    _compare_jvp(torch, lambda p, q: _gg_binary(name, p, q),
                 lambda p, q: _torch_binary(torch, name, p, q), [a, b], device, rng)
    # a Python scalar as the second operand (torch takes one for these)
    if name in ("xlogy", "remainder", "fmod", "div_floor", "div_trunc"):
        s = 1.75
        z, tz = _gg_binary(name, x, s), _torch_binary(torch, name, tx, s)
        np.testing.assert_allclose(to_np(z), tz.detach().numpy(), rtol=1e-13, atol=1e-15)
        _compare_grads(torch, z, tz, [x], [tx], device, rng)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_floor_divide_matches_pytorch(device):
    torch = _torch()
    rng = _rng("floor_divide")
    a, b = rng.uniform(-5.0, 5.0, (3, 4)), rng.uniform(-2.0, 2.0, (4,))
    np.testing.assert_array_equal(
        to_np(gg.tensor(a, device=device) // gg.tensor(b, device=device)),
        (torch.tensor(a) // torch.tensor(b)).numpy())
    ia, ib = rng.integers(-20, 20, (3, 4)), rng.integers(1, 6, (4,)) * rng.choice([-1, 1], (4,))
    for op in (operator.floordiv, operator.mod, torch.fmod):
        got = (gg.fmod if op is torch.fmod else op)(gg.tensor(ia, device=device),
                                                      gg.tensor(ib, device=device))
        want = op(torch.tensor(ia), torch.tensor(ib))
        assert str(want.dtype) == f"torch.{got.dtype.name}"
        np.testing.assert_array_equal(to_np(got), want.numpy())
    # backward raises in both
    tx = torch.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        torch.autograd.grad((tx // 2.0).sum(), [tx])
    x = gg.tensor(a, device=device, requires_grad=True)
    assert (x // 2.0).grad_fn.name() == type((tx // 2.0).grad_fn).__name__
    with pytest.raises(RuntimeError, match="floor_divide"):
        gg.autograd.grad((x // 2.0).sum(), [x])
