"""gpugrad.func transforms and gpugrad.autograd.functional: known answers, finite differences,
SymPy, and composition (grad of grad, forward over reverse, jacfwd of jacrev)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from op_table import CASES
from test_ops import draw, float_outputs, random_like, to_np

import gpugrad as gg
from gpugrad import numerical
from gpugrad.autograd import functional as AF
from gpugrad.func import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, vjp

F64 = gg.float64


def T(values, device="cpu"):
    return gg.tensor(values, dtype=F64, device=device)


def close(a, b, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(
        to_np(a) if isinstance(a, gg.Tensor) else a,
        to_np(b) if isinstance(b, gg.Tensor) else b,
        rtol=rtol,
        atol=atol,
    )


def cubic_quad(x):
    """f = x1^3 + 2 x2^2: d2f/dx1^2 = 6 x1, d2f/dx1dx2 = 0, d2f/dx2^2 = 4."""
    return x[0] ** 3 + 2 * x[1] ** 2


def vector_fn(x):
    """R^3 -> R^2: (x0 x1, sin(x2) x0^2)."""
    return gg.stack([x[0] * x[1], gg.sin(x[2]) * x[0] ** 2])


def vector_fn_jacobian(x):
    x0, x1, x2 = x
    return np.array([[x1, x0, 0.0], [2 * x0 * math.sin(x2), 0.0, x0**2 * math.cos(x2)]])


# ----------------------------------------------------------------------------- grad


def test_grad_known_answers(device):
    x = T(2.0, device)
    close(grad(lambda x: x**3)(x), 12.0)
    close(grad(grad(lambda x: x**3))(x), 12.0)
    g = grad(lambda x: (x**2).sum())(T([1.0, -2.0, 3.0], device))
    assert g.device.type == device and g.dtype is F64 and g.shape == (3,)
    close(g, [2.0, -4.0, 6.0])


def test_third_derivative_of_sin_is_minus_cos(device):
    d3 = grad(grad(grad(gg.sin)))
    for a in (0.0, 0.7, 2.0):
        close(d3(T(a, device)), -math.cos(a))


def test_grad_argnums_aux_and_value():
    def f(x, y):
        return (x * y).sum(), x + y

    x, y = T([1.0, 2.0]), T([3.0, 5.0])
    close(grad(lambda x, y: (x * y).sum(), argnums=1)(x, y), x)
    gx, gy = grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(x, y)
    close(gx, y)
    close(gy, x)
    g, aux = grad(f, has_aux=True)(x, y)
    close(g, y)
    close(aux, [4.0, 7.0])
    g, value = grad_and_value(lambda x: (x**2).sum())(x)
    close(g, [2.0, 4.0])
    close(value, 5.0)
    (g, (value, aux)) = grad_and_value(f, argnums=-1, has_aux=True)(x, y)
    close(g, x)
    close(value, 13.0)


def test_grad_of_pytree_and_unused_input():
    params = {"w": T([1.0, 2.0]), "b": (T(0.5), T(3.0))}

    def loss(p):
        return (p["w"] ** 2).sum() * p["b"][0]

    g = grad(loss)(params)
    assert set(g) == {"w", "b"} and isinstance(g["b"], tuple)
    close(g["w"], [1.0, 2.0])
    close(g["b"][0], 5.0)
    close(g["b"][1], 0.0)  # unused: zeros, as torch.func


def test_grad_errors():
    with pytest.raises(RuntimeError, match="single element"):
        grad(lambda x: x * 2)(T([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="argnums"):
        grad(lambda x: x.sum(), argnums=1)(T([1.0]))
    with pytest.raises(TypeError, match="tensors"):
        grad(lambda x: x)(2.0)


def test_results_are_cut_from_the_transforms_graph():
    x = T([1.0, 2.0])
    for r in (
        grad(lambda x: (x**3).sum())(x),
        jacrev(gg.sin)(x),
        hessian(cubic_quad)(x),
        jvp(gg.sin, (x,), (x,))[1],
        jacfwd(gg.sin)(x),
        vjp(gg.sin, x)[1](x)[0],
    ):
        assert not r.requires_grad and r.grad_fn is None
    # gradient descent with func.grad builds no graph across steps
    for _ in range(3):
        x = x - 0.1 * grad(lambda x: (x**2).sum())(x)
    assert not x.requires_grad


def test_transforms_compose_with_backward():
    """Tensors the caller made with requires_grad=True stay connected (closed over or passed)."""
    w = T(3.0).requires_grad_()
    x = T([1.0, 2.0])
    g = grad(lambda x: (w * x**2).sum())(x)  # 2 w x
    g.sum().backward()
    close(w.grad, 2 * (1.0 + 2.0))
    xr = T([1.0, 2.0]).requires_grad_()
    g = grad(lambda x: (x**3).sum())(xr)  # 3 x^2
    g.sum().backward()
    close(xr.grad, [6.0, 12.0])


# ----------------------------------------------------------------------------- vjp, jvp


def test_vjp(device):
    x = T([1.0, 2.0, 0.5], device)
    out, vjp_fn = vjp(vector_fn, x)
    close(out, [2.0, math.sin(0.5)])
    u = T([1.0, -2.0], device)
    (g,) = vjp_fn(u)
    close(g, u.cpu().numpy() @ vector_fn_jacobian([1.0, 2.0, 0.5]))
    (g2,) = vjp_fn(u)  # the graph is kept for further calls
    close(g2, g)
    out, vjp_fn, aux = vjp(lambda x, y: (x * y, x + y), x, x, has_aux=True)
    close(aux, 2 * x)
    gx, gy = vjp_fn(T([1.0, 1.0, 1.0], device))
    close(gx, x)
    with pytest.raises(RuntimeError, match="shape"):
        vjp(gg.sin, x)[1](T([1.0], device))


def test_jvp_known_answers(device):
    def cubic(x):
        return 2 * x**3 - 1

    for a, slope in ((2.0, 24.0), (3.0, 54.0)):
        out, t = jvp(cubic, (T(a, device),), (T(1.0, device),))
        close(out, 2 * a**3 - 1)
        close(t, slope)
    close(jvp(lambda x: x**5, (T(2.0, device),), (T(1.0, device),))[1], 80.0)
    close(jvp(gg.sin, (T(0.3, device),), (T(1.0, device),))[1], math.cos(0.3))
    close(jvp(gg.exp, (T(0.3, device),), (T(1.0, device),))[1], math.exp(0.3))
    # independent output: zero tangent; aux comes back as a plain value
    out, t, aux = jvp(
        lambda x: (T(1.0, device), x), (T(2.0, device),), (T(1.0, device),), has_aux=True
    )
    close(t, 0.0)
    close(aux, 2.0)
    with pytest.raises(RuntimeError, match="tuples"):
        jvp(gg.sin, T(1.0), T(1.0))


def test_jvp_and_vjp_against_finite_differences(device):
    rng = np.random.default_rng(0)
    x = T(rng.uniform(0.5, 1.5, 3), device)
    v = T(rng.standard_normal(3), device)
    J = numerical.jacobian(vector_fn, x)
    close(jvp(vector_fn, (x,), (v,))[1], to_np(J) @ to_np(v), rtol=1e-8, atol=1e-9)
    u = T(rng.standard_normal(2), device)
    close(vjp(vector_fn, x)[1](u)[0], to_np(u) @ to_np(J), rtol=1e-8, atol=1e-9)


# ----------------------------------------------------------------------------- Jacobians, Hessians


def test_jacrev_jacfwd(device):
    x = T([1.0, 2.0, 0.5], device)
    expected = vector_fn_jacobian([1.0, 2.0, 0.5])
    for jac in (jacrev, jacfwd):
        J = jac(vector_fn)(x)
        assert J.shape == (2, 3) and J.device.type == device
        close(J, expected)
    close(jacrev(vector_fn)(x), numerical.jacobian(vector_fn, x), rtol=1e-8, atol=1e-9)
    # shapes: out.shape + in.shape
    X = T(np.arange(6.0).reshape(2, 3), device)
    for jac in (jacrev, jacfwd):
        J = jac(lambda X: (X**2)[:, :2])(X)
        assert J.shape == (2, 2, 2, 3)
        close(J, numerical.jacobian(lambda X: (X**2)[:, :2], X), rtol=1e-8, atol=1e-9)


def test_jacobian_structure():
    x, y = T([1.0, 2.0]), T(3.0)

    def f(x, y):
        return x * y, (x**2).sum()

    for jac in (jacrev, jacfwd):
        (jx_a, jy_a), (jx_b, jy_b) = jac(f, argnums=(0, 1))(x, y)
        close(jx_a, [[3.0, 0.0], [0.0, 3.0]])
        close(jy_a, [1.0, 2.0])
        close(jx_b, [2.0, 4.0])
        close(jy_b, 0.0)
        J, aux = jac(lambda x: (x * 2, x.sum()), has_aux=True)(x)
        close(J, 2 * np.eye(2))
        close(aux, 3.0)


def test_hessians_known(device):
    x = T([1.5, -2.0], device)
    expected = [[6 * 1.5, 0.0], [0.0, 4.0]]
    close(hessian(cubic_quad)(x), expected)
    close(jacfwd(jacrev(cubic_quad))(x), expected)
    close(AF.hessian(cubic_quad, x), expected)
    A = T([[1.0, 2.0, 0.0], [-1.0, 3.0, 4.0], [0.5, 0.0, 2.0]], device)
    v = T([0.3, -1.0, 2.0], device)

    def quad(x):
        return x @ A @ x

    H = to_np(A) + to_np(A).T
    close(hessian(quad)(v), H)
    close(jacfwd(jacrev(quad))(v), H)
    close(AF.hessian(quad, v), H)


def sympy_function():
    x1, x2, x3 = sp.symbols("x1 x2 x3")
    expr = x1**3 * x2 + sp.sin(x1 * x3) + 2 * x2**2 * x3 + x3**4 / 4

    def f(x):
        return x[0] ** 3 * x[1] + gg.sin(x[0] * x[2]) + 2 * x[1] ** 2 * x[2] + x[2] ** 4 / 4

    return (x1, x2, x3), expr, f


def test_against_sympy():
    syms, expr, f = sympy_function()
    point = [0.7, -1.3, 1.1]
    subs = dict(zip(syms, point))
    g_sym = np.array([float(sp.diff(expr, s).subs(subs)) for s in syms])
    H_sym = np.array(sp.hessian(expr, syms).subs(subs).evalf(), dtype=np.float64)
    x = T(point)
    close(grad(f)(x), g_sym)
    for H in (hessian(f)(x), jacfwd(jacrev(f))(x), jacrev(jacrev(f))(x), AF.hessian(f, x)):
        close(H, H_sym)
    # third derivatives: the Jacobian of the Hessian
    T3 = jacrev(hessian(f))(x)
    T3_sym = np.array(
        [[[float(sp.diff(expr, a, b, c).subs(subs)) for c in syms] for b in syms] for a in syms]
    )
    close(T3, T3_sym)
    # Hessian of the sympy test case for the brief: f = x1^3 + 2 x2^2
    a, b = sp.symbols("a b")
    H2 = np.array(sp.hessian(a**3 + 2 * b**2, (a, b)).subs({a: 2.5, b: 7.0}), dtype=np.float64)
    close(hessian(cubic_quad)(T([2.5, 7.0])), H2)


# ----------------------------------------------------------------------------- composition


def test_forward_over_reverse_is_a_hessian_vector_product(device):
    """jvp(grad(f), x, v) == H v, with H from SymPy and from jacrev(jacrev(f))."""
    syms, expr, f = sympy_function()
    point, v = [0.7, -1.3, 1.1], [1.0, 2.0, -0.5]
    H = np.array(sp.hessian(expr, syms).subs(dict(zip(syms, point))).evalf(), dtype=np.float64)
    g, hv = jvp(grad(f), (T(point, device),), (T(v, device),))
    close(hv, H @ np.array(v))
    close(g, grad(f)(T(point, device)))
    close(AF.hvp(f, T(point, device), T(v, device))[1], H @ np.array(v))
    close(AF.vhp(f, T(point, device), T(v, device))[1], np.array(v) @ H)


def test_reverse_over_forward():
    """grad of a jvp: d/dx <J(x) 1> for f = sum(x^3) is 6x."""

    def directional(x):
        return jvp(lambda x: (x**3).sum(), (x,), (gg.ones_like(x),))[1]

    close(grad(directional)(T([1.0, 2.0])), [6.0, 12.0])


def test_forward_over_forward():
    """jacfwd(jacfwd(f)): nested dual levels (tests/test_forward_nested.py has the rest)."""
    close(jacfwd(jacfwd(cubic_quad))(T([1.0, 2.0])), [[6.0, 0.0], [0.0, 4.0]])


_FOR_CASES = [c for c in CASES if c.grad_args]


@pytest.mark.parametrize("case", _FOR_CASES, ids=[c.id for c in _FOR_CASES])
def test_forward_over_reverse(case):
    """jvp of the vjp, for every op in the table, against central differences of the vjp."""
    arrays = draw(case, np.float64)
    idx = case.grad_args
    rng = np.random.default_rng(11)
    primals = tuple(gg.tensor(arrays[i]) for i in idx)
    tangents = tuple(gg.tensor(t) for t in random_like(rng, [arrays[i] for i in idx]))
    outs = _outputs(case, arrays, idx, primals)
    us = tuple(gg.tensor(rng.standard_normal(tuple(o.shape))) for o in outs)

    def pullback(*diff):
        """u^T J at diff, by func.vjp (recorded: forward mode runs through the vjp rules)."""
        return vjp(lambda *d: _outputs(case, arrays, idx, d), *diff)[1](us)

    _, got = jvp(pullback, primals, tangents)
    h = case.fd_eps
    plus = pullback(*[p + h * t for p, t in zip(primals, tangents)])
    minus = pullback(*[p - h * t for p, t in zip(primals, tangents)])
    for g, p, m in zip(got, plus, minus):
        np.testing.assert_allclose(
            to_np(g), (to_np(p) - to_np(m)) / (2 * h), rtol=10 * case.rtol, atol=10 * case.atol
        )


def _outputs(case, arrays, idx, diff):
    """The case's float outputs, with the inputs idx replaced by `diff`."""
    args = [gg.tensor(a) for a in arrays]
    for i, d in zip(idx, diff):
        args[i] = d
    out = case.fn(*args)
    return tuple(float_outputs(list(out) if isinstance(out, (tuple, list)) else [out]))


# ----------------------------------------------------------------------------- functional


def test_functional_signatures():
    x, y = T([1.0, 2.0]), T([3.0, 4.0])
    out, g = AF.vjp(lambda x: x**2, x, T([1.0, 1.0]))
    close(out, [1.0, 4.0])
    close(g, [2.0, 4.0])
    out, t = AF.jvp(lambda x: x**2, x, T([1.0, 0.0]))
    close(t, [2.0, 0.0])
    jx, jy = AF.jacobian(lambda x, y: x * y, (x, y))
    close(jx, np.diag([3.0, 4.0]))
    close(jy, np.diag([1.0, 2.0]))
    (j_ax, j_ay), (j_bx, j_by) = AF.jacobian(
        lambda x, y: (x * y, x + y), (x, y), strategy="forward-mode"
    )
    close(j_ax, np.diag([3.0, 4.0]))
    close(j_by, np.eye(2))
    ((hxx, hxy), (hyx, hyy)) = AF.hessian(lambda x, y: (x**2 * y).sum(), (x, y))
    close(hxx, np.diag(2 * to_np(y)))
    close(hxy, np.diag(2 * to_np(x)))
    close(hyy, np.zeros((2, 2)))
    out, hv = AF.hvp(lambda x: (x**3).sum(), x, T([1.0, 0.0]))
    close(out, 9.0)
    close(hv, [6.0, 0.0])
    out, vh = AF.vhp(lambda x: (x**3).sum(), x, T([1.0, 1.0]))
    close(vh, [6.0, 12.0])
    with pytest.raises(ValueError, match="strategy"):
        AF.jacobian(gg.sin, x, strategy="sideways")


def test_functional_create_graph_and_strict():
    x = T([1.0, 2.0]).requires_grad_()
    _, g = AF.vjp(lambda x: (x**3).sum(), x)
    assert not g.requires_grad
    _, hv = AF.hvp(lambda x: (x**3).sum(), x, T([1.0, 1.0]), create_graph=True)
    hv.sum().backward()  # d/dx sum(6 x * 1) = 6
    close(x.grad, [6.0, 6.0])
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.vjp(lambda x, y: x * 2, (T(1.0), T(2.0)), T(1.0), strict=True)
    _, (gx, gy) = AF.vjp(lambda x, y: x * 2, (T(1.0), T(2.0)), T(1.0))
    close(gy, 0.0)
    with pytest.raises(RuntimeError, match="strict"):
        AF.jacobian(lambda x, y: x * 2, (T([1.0]), T([2.0])), strict=True)
    J = AF.jacobian(lambda x: x * 2, T([1.0, 2.0]), create_graph=True)
    assert not J.requires_grad  # the input did not require grad
