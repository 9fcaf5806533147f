"""gpugrad.numerical: finite differences on floats, NumPy arrays and tensors (any device)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_ops import to_np

import gpugrad as gg
from gpugrad import numerical

F64 = gg.float64
METHODS = ["central", "forward", "backward"]


def T(values, device="cpu", dtype=F64):
    return gg.tensor(values, dtype=dtype, device=device)


def test_python_and_numpy_functions():
    for method in METHODS:
        d = numerical.derivative(math.sin, 0.5, method)
        assert isinstance(d, float)
        assert d == pytest.approx(math.cos(0.5), rel=1e-6)
    assert numerical.derivative(lambda x: 2 * x**3 - 1, 2.0) == pytest.approx(24.0, rel=1e-9)
    assert numerical.derivative(lambda x: x**2, 3) == pytest.approx(6.0, rel=1e-9)  # an int
    xs = np.array([0.0, 1.0, 2.0])
    d = numerical.derivative(np.exp, xs)
    assert isinstance(d, np.ndarray) and d.dtype == np.float64
    np.testing.assert_allclose(d, np.exp(xs), rtol=1e-9)
    np.testing.assert_allclose(
        numerical.derivative(np.sin, [0.0, 1.0]), np.cos([0.0, 1.0]), rtol=1e-9
    )
    g = numerical.gradient(lambda v: v[0] ** 3 + 2 * v[1] ** 2, np.array([1.0, 5.0]))
    assert isinstance(g, np.ndarray)
    np.testing.assert_allclose(g, [3.0, 20.0], rtol=1e-8)
    J = numerical.jacobian(lambda v: np.array([v[0] * v[1], np.sin(v[1])]), [2.0, 0.5])
    np.testing.assert_allclose(J, [[0.5, 2.0], [0.0, math.cos(0.5)]], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_tensor_functions(device, method):
    x = T([0.5, -1.0, 2.0], device)
    d = numerical.derivative(gg.exp, x, method)
    assert d.device.type == device and d.dtype is F64 and d.shape == (3,)
    np.testing.assert_allclose(to_np(d), np.exp(to_np(x)), rtol=1e-7)
    g = numerical.gradient(lambda v: v[0] ** 3 + 2 * v[1] ** 2, T([1.0, 5.0], device), method)
    assert g.device.type == device
    np.testing.assert_allclose(to_np(g), [3.0, 20.0], rtol=1e-6)
    X = T([[1.0, 2.0], [3.0, 4.0]], device)
    J = numerical.jacobian(lambda X: (X**2).sum(1), X, method)
    assert J.shape == (2, 2, 2)
    expected = np.zeros((2, 2, 2))
    expected[0, 0] = [2.0, 4.0]
    expected[1, 1] = [6.0, 8.0]
    np.testing.assert_allclose(to_np(J), expected, rtol=1e-6, atol=1e-8)


def test_error_orders():
    """Halving h halves the forward/backward error (O(h)) and quarters the central one (O(h^2))."""
    a, exact = 1.0, math.exp(1.0)
    ratios = {}
    for method in METHODS:
        e1, e2 = (numerical.derivative(math.exp, a, method, h=h) - exact for h in (1e-2, 5e-3))
        ratios[method] = e1 / e2
    assert ratios["forward"] == pytest.approx(2.0, rel=0.02)
    assert ratios["backward"] == pytest.approx(2.0, rel=0.02)
    assert ratios["central"] == pytest.approx(4.0, rel=0.02)
    # leading terms: +h f''/2 forward, -h f''/2 backward, h^2 f'''/6 central
    h = 1e-3
    fwd = numerical.derivative(math.exp, a, "forward", h=h) - exact
    bwd = numerical.derivative(math.exp, a, "backward", h=h) - exact
    ctr = numerical.derivative(math.exp, a, "central", h=h) - exact
    assert fwd == pytest.approx(h * exact / 2, rel=1e-2)
    assert bwd == pytest.approx(-h * exact / 2, rel=1e-2)
    assert ctr == pytest.approx(h**2 * exact / 6, rel=1e-2)


def test_default_steps():
    eps64, eps32 = 2.0**-52, 2.0**-23
    x = T([0.5, -100.0])
    np.testing.assert_allclose(
        to_np(numerical.default_step(x)), [eps64 ** (1 / 3), 100 * eps64 ** (1 / 3)], rtol=1e-12
    )
    np.testing.assert_allclose(
        to_np(numerical.default_step(x, "forward")), [eps64**0.5, 100 * eps64**0.5], rtol=1e-12
    )
    x32 = T([2.0], dtype=gg.float32)
    np.testing.assert_allclose(
        to_np(numerical.default_step(x32, "backward")), [2 * eps32**0.5], rtol=1e-6
    )
    # the defaults reach the accuracy they are chosen for (float64 for Python floats)
    exact = math.exp(1.0)
    assert abs(numerical.derivative(math.exp, 1.0) - exact) < 1e-9 * exact
    assert abs(numerical.derivative(math.exp, 1.0, "forward") - exact) < 1e-7 * exact
    d32 = numerical.derivative(gg.exp, T(1.0, dtype=gg.float32))
    assert d32.dtype is gg.float32 and abs(d32.item() - exact) < 1e-4 * exact


def test_step_argument():
    d = numerical.derivative(lambda x: x**2, T([1.0, 2.0]), "forward", h=T([0.5, 0.25]))
    np.testing.assert_allclose(to_np(d), [2.5, 4.25])  # 2x + h
    # a step that rounds away gives nan, not a silent 0
    assert math.isnan(numerical.derivative(math.exp, 1.0, h=1e-20))


def test_unknown_method_and_bad_inputs():
    for fn in (numerical.derivative, numerical.gradient, numerical.jacobian):
        with pytest.raises(ValueError, match=r"'centered'.*'central', 'forward', 'backward'"):
            fn(math.sin, 1.0, method="centered")
    with pytest.raises(ValueError, match="single number"):
        numerical.gradient(lambda v: v * 2, T([1.0, 2.0]))
    with pytest.raises(TypeError):
        numerical.derivative(math.sin, "1.0")


def test_stays_on_device(device, monkeypatch):
    """Tensors are perturbed in place on their device: nothing is read back to the host."""

    def no_host(*args, **kwargs):
        raise AssertionError("a tensor was copied to the host")

    x = T([0.3, -1.2, 2.0], device)
    for name in ("item", "numpy", "tolist", "__float__", "__array__", "cpu"):
        monkeypatch.setattr(gg.Tensor, name, no_host)
    g = numerical.gradient(lambda v: (gg.sin(v) * v).sum(), x)
    J = numerical.jacobian(lambda v: v * v[0], x, "forward")
    d = numerical.derivative(gg.tanh, x, "backward")
    monkeypatch.undo()
    v = to_np(x)
    np.testing.assert_allclose(to_np(g), np.cos(v) * v + np.sin(v), rtol=1e-8)
    expected = np.diag(np.full(3, v[0]))
    expected[:, 0] += v
    np.testing.assert_allclose(to_np(J), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(to_np(d), 1 - np.tanh(v) ** 2, rtol=1e-6)
    assert g.device.type == J.device.type == d.device.type == device


def test_matches_autodiff():
    x = T([0.4, -0.7, 1.3])

    def f(v):
        return (gg.exp(v) * gg.sin(v[::-1])).sum()

    from gpugrad.func import grad, jacrev

    np.testing.assert_allclose(to_np(numerical.gradient(f, x)), to_np(grad(f)(x)), rtol=1e-8)
    np.testing.assert_allclose(
        to_np(numerical.jacobian(lambda v: gg.softmax(v, 0), x)),
        to_np(jacrev(lambda v: gg.softmax(v, 0))(x)),
        rtol=1e-7,
        atol=1e-9,
    )


def test_empty_input():
    J = numerical.jacobian(lambda v: v * 2, T(np.zeros((0, 2))))
    assert J.shape == (0, 2, 0, 2)
