"""The reverse-mode engine: when a graph is recorded, leaves, accumulation, hooks, retain_graph,
autograd.grad, higher order, grad modes, and in-place ops with their version checks."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import gpugrad as gg


def val(t):
    return np.asarray(t.detach().cpu().numpy())


def leaf(values, device="cpu", dtype=None):
    return gg.tensor(values, dtype=dtype or gg.float64, device=device, requires_grad=True)


# ----------------------------------------------------------------------------- recording


def test_no_graph_without_an_input_that_requires_grad(device):
    x = gg.tensor([1.0, 2.0], device=device)
    y = x * 2 + 1
    assert y.grad_fn is None
    assert not y.requires_grad
    assert y.is_leaf


def test_graph_recorded_when_an_input_requires_grad(device):
    x = leaf([1.0, 2.0], device)
    c = gg.tensor([3.0, 4.0], dtype=gg.float64, device=device)
    y = x * c
    assert y.grad_fn is not None
    assert y.requires_grad
    assert not y.is_leaf
    assert x.is_leaf and x.grad_fn is None
    assert c.is_leaf and not c.requires_grad


def test_no_graph_under_no_grad(device):
    x = leaf([1.0, 2.0], device)
    with gg.no_grad():
        y = x * 2
    assert y.grad_fn is None
    assert not y.requires_grad
    assert y.is_leaf


def test_grad_fn_names_the_op():
    x = leaf([1.0])
    assert (x * 2).grad_fn.name() == "MulBackward0"
    assert (x + x).grad_fn.name() == "AddBackward0"


# ----------------------------------------------------------------------------- backward basics


def test_backward_of_a_scalar(device):
    x = leaf([1.0, 2.0, 3.0], device)
    (x * x).sum().backward()
    np.testing.assert_allclose(val(x.grad), [2.0, 4.0, 6.0])
    assert x.grad.device == x.device


def test_grads_accumulate_across_backwards(device):
    x = leaf([1.0, 2.0], device)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(val(x.grad), [3 + 2.0, 3 + 4.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(val(x.grad), [3.0, 3.0])
    x.grad.zero_()
    np.testing.assert_allclose(val(x.grad), [0.0, 0.0])


def test_non_scalar_backward_needs_gradient(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2
    with pytest.raises(RuntimeError, match="gradient"):
        y.backward()
    y.backward(gg.tensor([1.0, 10.0], dtype=gg.float64, device=device))
    np.testing.assert_allclose(val(x.grad), [2.0, 20.0])


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="require"):
        gg.tensor(1.0).backward()


def test_non_leaf_grad_is_none_unless_retained():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * y
    y.retain_grad()
    assert y.retains_grad
    w = x * 3
    (z.sum() + w.sum()).backward()
    np.testing.assert_allclose(val(y.grad), 2 * val(y))
    assert w.grad is None
    np.testing.assert_allclose(val(x.grad), 2 * 2 * val(y) + 3)


def test_second_backward_through_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = val(x.grad).copy()
    y.backward()
    np.testing.assert_allclose(val(x.grad), 2 * first)


def test_diamond_graph_is_not_double_counted():
    # z = y + y with y = x * x: dz/dx = 4x, once per backward.
    x = leaf([1.0, 3.0])
    y = x * x
    z = (y + y).sum()
    z.backward(retain_graph=True)
    np.testing.assert_allclose(val(x.grad), [4.0, 12.0])
    z.backward()
    np.testing.assert_allclose(val(x.grad), [8.0, 24.0])


def test_shared_subgraph_used_by_several_consumers():
    x = leaf(2.0)
    a = x * 3  # used three times
    out = a * a + a.sin() + a
    out.backward()
    a0 = 6.0
    expected = 3 * (2 * a0 + np.cos(a0) + 1)
    np.testing.assert_allclose(val(x.grad), expected)


def test_long_chain_backward_is_iterative_and_quick():
    n = 100_000
    x = leaf(1.0)
    start = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * 1.00001
    y.backward()
    del y  # tearing the chain down must not recurse either
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(val(x.grad), 1.00001**n, rtol=1e-9)
    assert elapsed < 60, f"100k-op chain took {elapsed:.1f}s"


# ----------------------------------------------------------------------------- hooks


def test_leaf_hook_replaces_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(val(g)))  # returns None: grad unchanged
    x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(val(x.grad), [6.0, 6.0])


def test_non_leaf_hook_replaces_the_gradient_flowing_on():
    x = leaf([1.0, 2.0])
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(val(g)))
    y.register_hook(lambda g: g * 10)
    (y * 2).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 2.0])
    np.testing.assert_allclose(val(x.grad), [60.0, 60.0])


def test_hook_handle_remove():
    x = leaf([1.0])
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    (x * 2).sum().backward()
    np.testing.assert_allclose(val(x.grad), [2.0])


def test_hook_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="register_hook"):
        gg.tensor([1.0]).register_hook(lambda g: g)


# ----------------------------------------------------------------------------- autograd.grad


def test_grad_with_grad_outputs_does_not_touch_dot_grad(device):
    x = leaf([1.0, 2.0, 3.0], device)
    y = x * x
    (g,) = gg.autograd.grad(
        y, x, grad_outputs=gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64, device=device)
    )
    np.testing.assert_allclose(val(g), [2.0, 8.0, 18.0])
    assert x.grad is None


def test_grad_of_several_inputs_returns_a_tuple():
    x, w = leaf(2.0), leaf(5.0)
    gx, gw = gg.autograd.grad(x * w, [x, w])
    assert float(gx) == 5.0 and float(gw) == 2.0


def test_grad_allow_unused():
    x, unused = leaf([1.0, 2.0]), leaf([3.0])
    y = (x * 2).sum()
    gx, gu = gg.autograd.grad(y, [x, unused], allow_unused=True, retain_graph=True)
    np.testing.assert_allclose(val(gx), [2.0, 2.0])
    assert gu is None
    with pytest.raises(RuntimeError, match="allow_unused"):
        gg.autograd.grad(y, [x, unused])


def test_grad_create_graph_second_derivative_of_cube():
    x = leaf(2.0)
    (g1,) = gg.autograd.grad(x**3, x, create_graph=True)
    assert float(g1) == pytest.approx(12.0)  # 3x^2
    (g2,) = gg.autograd.grad(g1, x)
    assert float(g2) == pytest.approx(12.0)  # 6x


def test_grad_create_graph_third_derivative_of_sin():
    x = leaf(0.7)
    (g1,) = gg.autograd.grad(x.sin(), x, create_graph=True)
    (g2,) = gg.autograd.grad(g1, x, create_graph=True)
    (g3,) = gg.autograd.grad(g2, x)
    assert float(g1) == pytest.approx(np.cos(0.7))
    assert float(g2) == pytest.approx(-np.sin(0.7))
    assert float(g3) == pytest.approx(-np.cos(0.7))


def test_grad_without_create_graph_is_not_differentiable():
    x = leaf(2.0)
    (g,) = gg.autograd.grad(x**3, x)
    assert not g.requires_grad
    assert g.grad_fn is None


def test_backward_create_graph_makes_grad_differentiable():
    x = leaf(3.0)
    (x**3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    assert float(g) == pytest.approx(27.0)
    x.grad = None
    g.backward()
    assert float(x.grad) == pytest.approx(18.0)


# ----------------------------------------------------------------- detach, requires_grad


def test_detach_leaves_the_graph_and_shares_storage():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    with gg.no_grad():
        d.add_(1)
    np.testing.assert_allclose(val(y), [3.0, 5.0])


def test_detach_in_place_makes_a_leaf():
    x = leaf([1.0, 2.0])
    y = x * 2
    assert y.detach_() is y
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf


def test_requires_grad_():
    x = gg.tensor([1.0, 2.0])
    assert not x.requires_grad
    assert x.requires_grad_() is x
    assert x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="int64"):
        gg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="int64"):
        gg.tensor([1, 2], requires_grad=True)


# ----------------------------------------------------------------------------- grad modes


def test_no_grad_context_manager_restores_mode():
    assert gg.is_grad_enabled()
    with gg.no_grad():
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ValueError):
        with gg.no_grad():
            raise ValueError
    assert gg.is_grad_enabled()


def test_no_grad_as_decorator():
    x = leaf([1.0])

    @gg.no_grad()
    def f(t):
        return t * 2

    y = f(x)
    assert y.grad_fn is None and not y.requires_grad
    assert gg.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])

    @gg.enable_grad()
    def f(t):
        return t * 2

    with gg.no_grad():
        with gg.enable_grad():
            y = x * 2
        z = f(x)
        assert not gg.is_grad_enabled()
    assert y.grad_fn is not None
    assert z.grad_fn is not None


def test_set_grad_enabled_function_context_and_decorator():
    x = leaf([1.0])
    gg.set_grad_enabled(False)
    assert not gg.is_grad_enabled()
    assert (x * 2).grad_fn is None
    gg.set_grad_enabled(True)
    assert gg.is_grad_enabled()
    with gg.set_grad_enabled(False):
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()

    @gg.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert gg.is_grad_enabled()
    assert f(x).grad_fn is None
    assert gg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = {}

    def worker():
        seen["enabled"] = gg.is_grad_enabled()
        x = leaf([1.0])
        seen["recorded"] = (x * 2).grad_fn is not None

    with gg.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not gg.is_grad_enabled()
    assert seen == {"enabled": True, "recorded": True}


def test_no_grad_in_a_thread_does_not_leak_to_main():
    entered, release = threading.Event(), threading.Event()

    def worker():
        with gg.no_grad():
            entered.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    entered.wait(5)
    try:
        assert gg.is_grad_enabled()
    finally:
        release.set()
        t.join()


# ----------------------------------------------------------------------------- in-place ops

IN_PLACE = [
    ("add_", lambda t: t.add_(1.0), [2.0, 3.0]),
    ("sub_", lambda t: t.sub_(1.0), [0.0, 1.0]),
    ("mul_", lambda t: t.mul_(3.0), [3.0, 6.0]),
    ("div_", lambda t: t.div_(2.0), [0.5, 1.0]),
    ("zero_", lambda t: t.zero_(), [0.0, 0.0]),
    ("fill_", lambda t: t.fill_(7.0), [7.0, 7.0]),
    ("copy_", lambda t: t.copy_(gg.tensor([5.0, 6.0])), [5.0, 6.0]),
    ("clamp_", lambda t: t.clamp_(1.5, 1.8), [1.5, 1.8]),
]


def _iadd(t):
    t += 1.0
    return t


def _isub(t):
    t -= 1.0
    return t


def _imul(t):
    t *= 3.0
    return t


def _idiv(t):
    t /= 2.0
    return t


def _setitem(t):
    t[0] = 9.0
    return t


IN_PLACE += [
    ("+=", _iadd, [2.0, 3.0]),
    ("-=", _isub, [0.0, 1.0]),
    ("*=", _imul, [3.0, 6.0]),
    ("/=", _idiv, [0.5, 1.0]),
    ("setitem", _setitem, [9.0, 2.0]),
]


@pytest.mark.parametrize("name, op, expected", IN_PLACE, ids=[n for n, _, _ in IN_PLACE])
def test_in_place_op_bumps_version_and_keeps_identity(name, op, expected):
    t = gg.tensor([1.0, 2.0])
    v = t._version
    r = op(t)
    assert r is t
    assert t._version > v
    np.testing.assert_allclose(val(t), expected)


def test_views_share_the_version_counter():
    t = gg.tensor([1.0, 2.0])
    d = t.detach()
    d.add_(1.0)
    assert t._version == d._version == 1


def test_modifying_a_saved_non_leaf_then_backward_raises():
    x = leaf([1.0, 2.0])
    b = x * 2
    c = b * b  # MulBackward0 saves b
    b.add_(1.0)
    with pytest.raises(RuntimeError) as info:
        c.sum().backward()
    msg = str(info.value)
    assert "MulBackward0" in msg and "version" in msg


def test_modifying_a_saved_constant_then_backward_raises():
    x = leaf([1.0, 2.0])
    w = gg.tensor([3.0, 4.0], dtype=gg.float64)
    y = x * w  # MulBackward0 saves w for x's gradient
    w.add_(1.0)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    msg = str(info.value)
    assert "MulBackward0" in msg and "version" in msg


def test_modifying_a_saved_output_then_backward_raises():
    x = leaf([1.0, 2.0])
    y = x.exp()  # ExpBackward0 saves its output
    y.mul_(2.0)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    msg = str(info.value)
    assert "ExpBackward0" in msg and "version" in msg


def test_in_place_on_a_leaf_that_requires_grad_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 5.0
    with gg.no_grad():  # the optimiser-step pattern is fine
        x.sub_(0.5)
    np.testing.assert_allclose(val(x), [0.5, 1.5])
    assert x.is_leaf and x.requires_grad


def test_in_place_on_a_non_leaf_is_differentiated():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.add_(1.0)
    y.sum().backward()
    np.testing.assert_allclose(val(x.grad), [2.0, 2.0])

    x.grad = None
    y = x * 2
    y.mul_(3.0)
    y.sum().backward()
    np.testing.assert_allclose(val(x.grad), [6.0, 6.0])


def test_setitem_on_a_non_leaf_is_differentiated():
    x = leaf([1.0, 2.0, 3.0])
    v = leaf(10.0)
    y = x * 1.0
    y[1] = v * 2
    (y * gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64)).sum().backward()
    np.testing.assert_allclose(val(y), [1.0, 20.0, 3.0])
    np.testing.assert_allclose(val(x.grad), [1.0, 0.0, 3.0])
    assert float(v.grad) == pytest.approx(4.0)


def test_in_place_ops_under_no_grad_record_nothing():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with gg.no_grad():
        y = x * 1
        y.add_(1)
    assert y.grad_fn is None


# ----------------------------------------------------------------------------- anomaly mode


def test_anomaly_mode_names_the_op_and_the_forward_line():
    x = gg.tensor([0.0, 1.0], requires_grad=True)
    with gg.autograd.detect_anomaly():
        assert gg.autograd.is_anomaly_enabled()
        y = x.sqrt()  # the line the error must show
        z = (y * 0).sum()  # 0 * inf = nan inside sqrt's vjp
        with pytest.raises(RuntimeError, match=r"SqrtBackward0.*NaN") as info:
            z.backward()
    assert not gg.autograd.is_anomaly_enabled()
    msg = str(info.value)
    assert "test_engine.py" in msg and "y = x.sqrt()" in msg


def test_without_anomaly_mode_nan_gradients_are_values():
    x = gg.tensor([0.0, 1.0], requires_grad=True)
    (x.sqrt() * 0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])


def test_set_detect_anomaly_as_function_and_decorator():
    gg.autograd.set_detect_anomaly(True)
    try:
        assert gg.autograd.is_anomaly_enabled()
    finally:
        gg.autograd.set_detect_anomaly(False)
    assert not gg.autograd.is_anomaly_enabled()

    @gg.autograd.set_detect_anomaly(True)
    def f():
        return gg.autograd.is_anomaly_enabled()

    assert not gg.autograd.is_anomaly_enabled()
    assert f() is True
    assert not gg.autograd.is_anomaly_enabled()
