"""Numerical edge cases: the stable functions stay finite, with finite gradients, at extreme
inputs (|x| up to 1e4 in float32 and 1e300 in float64), checked against mpmath at 50 digits; and
the subgradients PyTorch documents at kinks (sqrt, pow, abs, relu, norm at 0; max ties; clamp at
its bounds) and at division by zero."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F

mpmath.mp.dps = 50

DTYPES = {"float32": (gg.float32, np.float32, 1e4), "float64": (gg.float64, np.float64, 1e300)}


def val(t):
    return np.asarray(t.detach().cpu().numpy())


def extremes(big):
    return [-big, -1e3, -100.0, -30.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 30.0, 100.0, 1e3, big]


def value_and_grad(f, x, device, dtype):
    t = gg.tensor(x, dtype=dtype, device=device, requires_grad=True)
    y = f(t)
    y.sum().backward()
    return val(y), val(t.grad)


def assert_close_to(got, want, np_dtype):
    """Finite, and close to the 50-digit reference: 64 ulps relative, or 4 ulps of 1 absolute
    (tails such as sigmoid'(30) = s(1 - s) lose relative accuracy by cancellation, in PyTorch
    too; what matters here is finite and right to working precision)."""
    want = np.asarray(want, dtype=np_dtype)
    assert np.all(np.isfinite(got)), got
    eps = np.finfo(np_dtype).eps
    np.testing.assert_allclose(got, want, rtol=64 * eps, atol=4 * eps)


def mp_sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


# name -> (gpugrad function, mpmath value, mpmath derivative)
ELEMENTWISE = {
    "softplus": (F.softplus, lambda x: mpmath.log1p(mpmath.exp(x)), mp_sigmoid),
    "sigmoid": (F.sigmoid, mp_sigmoid, lambda x: mp_sigmoid(x) * (1 - mp_sigmoid(x))),
    "sigmoid-method": (lambda t: t.sigmoid(), mp_sigmoid, lambda x: mp_sigmoid(x) * mp_sigmoid(-x)),
    "tanh": (gg.tanh, mpmath.tanh, lambda x: mpmath.sech(x) ** 2),
}


@pytest.mark.parametrize("dname", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_stable_elementwise_at_extremes(name, dname, device):
    f, mp_f, mp_df = ELEMENTWISE[name]
    dtype, np_dtype, big = DTYPES[dname]
    xs = extremes(big)
    y, g = value_and_grad(f, xs, device, dtype)
    xs_rounded = [mpmath.mpf(float(np_dtype(x))) for x in xs]
    assert_close_to(y, [float(mp_f(x)) for x in xs_rounded], np_dtype)
    assert_close_to(g, [float(mp_df(x)) for x in xs_rounded], np_dtype)


@pytest.mark.parametrize("dname", DTYPES)
def test_log1p_and_expm1_are_accurate_and_finite_where_representable(dname, device):
    dtype, np_dtype, big = DTYPES[dname]
    # log1p: x > -1, up to big; tiny x keeps full relative accuracy (log(1 + x) would not).
    xs = [-0.5, -1e-8, -1e-30, 0.0, 1e-30, 1e-8, 1.0, 1e3, big]
    y, g = value_and_grad(gg.log1p, xs, device, dtype)
    r = [mpmath.mpf(float(np_dtype(x))) for x in xs]
    assert_close_to(y, [float(mpmath.log1p(x)) for x in r], np_dtype)
    assert_close_to(g, [float(1 / (1 + x)) for x in r], np_dtype)
    # expm1: from -big up to where exp still fits in the dtype.
    top = 80.0 if np_dtype == np.float32 else 700.0
    xs = [-big, -100.0, -1.0, -1e-8, -1e-30, 0.0, 1e-30, 1e-8, 1.0, top]
    y, g = value_and_grad(gg.expm1, xs, device, dtype)
    r = [mpmath.mpf(float(np_dtype(x))) for x in xs]
    assert_close_to(y, [float(mpmath.expm1(x)) for x in r], np_dtype)
    assert_close_to(g, [float(mpmath.exp(x)) for x in r], np_dtype)


def mp_logsumexp(row):
    m = max(mpmath.mpf(float(v)) for v in row)  # shifted, so 50 digits suffice even at 1e300
    return m + mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v)) - m) for v in row))


def mp_log_softmax(row):
    m = max(mpmath.mpf(float(v)) for v in row)
    shifted = [mpmath.mpf(float(v)) - m for v in row]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in shifted))
    return [v - lse for v in shifted]


def mp_softmax(row):
    return [mpmath.exp(v) for v in mp_log_softmax(row)]


def rows(big):
    return [[big, -big, 0.0], [-big, -big, -big], [big, big, 1.0], [1e-3, 0.0, -1e-3]]


def softmax_family(x, w, target, device, dtype):
    """Value and gradient (under the cotangent `w`) of softmax, log_softmax, cross_entropy."""
    wt = gg.tensor(w, dtype=dtype, device=device)
    lt = gg.tensor(target, device=device)
    return {
        "softmax": value_and_grad(lambda t: F.softmax(t, dim=1) * wt, x, device, dtype),
        "log_softmax": value_and_grad(lambda t: F.log_softmax(t, dim=1) * wt, x, device, dtype),
        "cross_entropy": value_and_grad(
            lambda t: F.cross_entropy(t, lt, reduction="none"), x, device, dtype
        ),
    }


def softmax_family_reference(x, w, target):
    out = {}
    ls = [mp_log_softmax(r) for r in x]
    sm = [[mpmath.exp(v) for v in r] for r in ls]
    sw = [mpmath.fsum(p * wj for p, wj in zip(r, w, strict=True)) for r in sm]
    out["softmax"] = (
        [[float(p * wi) for p, wi in zip(r, w, strict=True)] for r in sm],
        [
            [float(p * (wi - s)) for p, wi in zip(r, w, strict=True)]
            for r, s in zip(sm, sw, strict=True)
        ],
    )
    out["log_softmax"] = (
        [[float(v * wi) for v, wi in zip(r, w, strict=True)] for r in ls],
        [[float(wi - sum(w) * p) for p, wi in zip(r, w, strict=True)] for r in sm],
    )
    out["cross_entropy"] = (
        [float(-r[k]) for r, k in zip(ls, target, strict=True)],
        [[float(p - (j == k)) for j, p in enumerate(r)] for r, k in zip(sm, target, strict=True)],
    )
    return out


@pytest.mark.parametrize("dname", DTYPES)
def test_logsumexp_at_extremes(dname, device):
    dtype, np_dtype, big = DTYPES[dname]
    x = np.asarray(rows(big), dtype=np_dtype)
    y, g = value_and_grad(lambda t: gg.logsumexp(t, dim=1), x, device, dtype)
    assert_close_to(y, [float(mp_logsumexp(r)) for r in x], np_dtype)
    assert_close_to(g, [[float(p) for p in mp_softmax(r)] for r in x], np_dtype)


@pytest.mark.parametrize("dname", ["float32", "float64"])
def test_softmax_log_softmax_cross_entropy_finite_at_extremes(dname, device):
    """Finite values and gradients at +-big, right to within a few ulps."""
    dtype, np_dtype, big = DTYPES[dname]
    x = np.asarray(rows(big) + [[-1e4, -1e4, -1e4 + 1]], dtype=np_dtype)
    w, target = [1.0, 2.0, 3.0], [1, 0, 2, 1, 0]
    got, want = softmax_family(x, w, target, device, dtype), softmax_family_reference(x, w, target)
    eps = np.finfo(np_dtype).eps
    for name in got:
        for g, r in zip(got[name], want[name], strict=True):
            assert np.all(np.isfinite(g)), (name, g)
            np.testing.assert_allclose(g, r, rtol=64 * eps, atol=8 * eps * 1e4, err_msg=name)


@pytest.mark.parametrize("dname", DTYPES)
def test_softmax_log_softmax_cross_entropy_accurate_at_large_offsets(dname, device):
    dtype, np_dtype, big = DTYPES[dname]
    c = 1e4 if np_dtype == np.float32 else 1e12
    x = np.asarray([[-c, -c, -c + 1], [c, c, c - 1]], dtype=np_dtype)
    w, target = [1.0, 2.0, 3.0], [0, 2]
    got, want = softmax_family(x, w, target, device, dtype), softmax_family_reference(x, w, target)
    eps = np.finfo(np_dtype).eps
    for name in got:
        for g, r in zip(got[name], want[name], strict=True):
            np.testing.assert_allclose(g, r, rtol=64 * eps, atol=8 * eps, err_msg=name)


def test_logsumexp_with_minus_inf_entries_and_all_minus_inf_rows(device):
    ninf = -np.inf
    x = gg.tensor(
        [[ninf, 0.0, 1.0], [ninf, ninf, ninf]], dtype=gg.float64, device=device, requires_grad=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = gg.logsumexp(x, dim=1)
        y.sum().backward()
    got = val(y)
    assert got[0] == pytest.approx(float(mpmath.log(1 + mpmath.e)), rel=1e-15)
    assert got[1] == -np.inf  # PyTorch: logsumexp of an all -inf row is -inf
    g = val(x.grad)
    np.testing.assert_allclose(g[0], [0.0, 1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-15)
    # PyTorch's gradient for the all -inf row is exp(-inf - -inf) = nan; the finite row is
    # untouched by it (compared with torch in test_edge_gradients_match_torch).


@pytest.mark.parametrize("dname", DTYPES)
def test_bce_with_logits_at_extremes(dname, device):
    dtype, np_dtype, big = DTYPES[dname]
    xs = extremes(big)
    r = [mpmath.mpf(float(np_dtype(v))) for v in xs]
    eps = np.finfo(np_dtype).eps
    for label in (0.0, 0.3, 1.0):
        tt = gg.full((len(xs),), label, dtype=dtype, device=device)
        y, g = value_and_grad(
            lambda t, tt=tt: F.binary_cross_entropy_with_logits(t, tt, reduction="none"),
            xs,
            device,
            dtype,
        )
        lab = mpmath.mpf(label)
        want = [float(mpmath.log1p(mpmath.exp(v)) - lab * v) for v in r]
        np.testing.assert_allclose(y, want, rtol=64 * eps, atol=4 * eps)
        np.testing.assert_allclose(
            g, [float(mp_sigmoid(v) - lab) for v in r], rtol=64 * eps, atol=4 * eps
        )
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))


# ----------------------------------------------------------------------------- subgradients


def grad_of(f, x, device):
    t = gg.tensor(x, dtype=gg.float64, device=device, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = f(t)
        y.sum().backward()
    return val(y), val(t.grad)


# name -> (function on a Tensor (gpugrad or torch), input, expected value, expected gradient)
EDGES = {
    "sqrt-at-0": (lambda t: t.sqrt(), [0.0, 4.0], [0.0, 2.0], [np.inf, 0.25]),
    "norm-at-0": (lambda t: t.norm(), [0.0, 0.0], 0.0, [0.0, 0.0]),
    "pow-0**2": (lambda t: t**2, [0.0], [0.0], [0.0]),
    "pow-0**0.5": (lambda t: t**0.5, [0.0], [0.0], [np.inf]),
    "pow-0**0": (lambda t: t**0, [0.0], [1.0], [0.0]),
    "pow-0**-1": (lambda t: t**-1, [0.0], [np.inf], [-np.inf]),
    "abs-at-0": (lambda t: t.abs(), [0.0, -2.0], [0.0, 2.0], [0.0, -1.0]),
    "relu-at-0": (lambda t: t.relu(), [0.0, -1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]),
    "amax-ties": (lambda t: t.amax(), [1.0, 3.0, 3.0, 3.0], 3.0, [0.0, 1 / 3, 1 / 3, 1 / 3]),
    "max-ties": (lambda t: t.max(), [1.0, 3.0, 3.0, 3.0], 3.0, [0.0, 1 / 3, 1 / 3, 1 / 3]),
    "amin-ties": (lambda t: t.amin(), [1.0, 1.0, 3.0], 1.0, [0.5, 0.5, 0.0]),
    "amax-dim-ties": (
        lambda t: t.reshape(2, 2).amax(1),
        [2.0, 2.0, 1.0, 5.0],
        [2.0, 5.0],
        [0.5, 0.5, 0.0, 1.0],
    ),
    "maximum-ties": (
        lambda t: t[:2].maximum(t[2:]),
        [0.0, 1.0, 0.0, 2.0],
        [0.0, 2.0],
        [0.5, 0.0, 0.5, 1.0],
    ),
    "minimum-ties": (
        lambda t: t[:2].minimum(t[2:]),
        [0.0, 1.0, 0.0, 2.0],
        [0.0, 1.0],
        [0.5, 1.0, 0.5, 0.0],
    ),
    "clamp-at-bounds": (
        lambda t: t.clamp(-1.0, 1.0),
        [-1.0, 1.0, 0.0, 2.0, -2.0],
        [-1.0, 1.0, 0.0, 1.0, -1.0],
        [1.0, 1.0, 1.0, 0.0, 0.0],
    ),
    "x/0": (
        lambda t: t[:3] / t[3:],
        [1.0, -1.0, 2.0, 0.0, 0.0, -0.0],
        [np.inf, -np.inf, -np.inf],
        [np.inf, np.inf, -np.inf, -np.inf, np.inf, -np.inf],
    ),
    "1/0": (lambda t: 1.0 / t, [0.0, -0.0], [np.inf, -np.inf], [-np.inf, -np.inf]),
    "0/0": (lambda t: t / t, [0.0], [np.nan], [np.nan]),
}


@pytest.mark.parametrize("name", EDGES)
def test_documented_subgradients(name, device):
    f, x, want_y, want_g = EDGES[name]
    y, g = grad_of(f, x, device)
    np.testing.assert_array_equal(y, np.asarray(want_y, dtype=np.float64))
    np.testing.assert_allclose(g, want_g, rtol=1e-15)
    if not name.startswith("0/0"):
        assert not np.any(np.isnan(g)), g


TORCH_ALSO = {
    **{k: v[:2] for k, v in EDGES.items()},
    "logsumexp-minus-inf": (
        lambda t: t.reshape(2, 3).logsumexp(1),
        [-np.inf, 0.0, 1.0, -np.inf, -np.inf, -np.inf],
    ),
    "log_softmax-minus-inf": (
        lambda t: t.reshape(2, 3).log_softmax(1)[:, 1:],
        [-np.inf, 0.0, 1.0, -np.inf, -np.inf, -np.inf],
    ),
    "softmax-minus-inf": (
        lambda t: t.reshape(2, 3).softmax(1)[:, 1:] * 2,
        [-np.inf, 0.0, 1.0, -np.inf, -np.inf, -np.inf],
    ),
    "sigmoid-extremes": (lambda t: t.sigmoid(), [-1e300, -800.0, 0.0, 800.0, 1e300]),
    "tanh-extremes": (lambda t: t.tanh(), [-1e300, -800.0, 0.0, 800.0, 1e300]),
    "logsumexp-inf": (lambda t: t.logsumexp(0), [np.inf, 0.0]),
}


@pytest.mark.parametrize("name", TORCH_ALSO)
def test_edge_gradients_match_torch(name, device):
    torch = pytest.importorskip("torch")
    f, x = TORCH_ALSO[name]
    y, g = grad_of(f, x, device)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = f(tx)
    ty.sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-15, atol=1e-15)
