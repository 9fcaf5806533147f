"""Nested forward-mode levels: the level semantics of ``forward_ad`` (numbers, defaults, exit
drops its own tangents only, unpacking an outer level), perturbation confusion, and higher
derivatives by forward over forward (``jacfwd(jacfwd(f))``, ``jvp`` of ``jvp``, third order)
against hand-computed values, reverse mode, torch.func and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from op_table import CASES
from test_ops import draw, float_outputs, random_like, to_np

import gpugrad as gg
import gpugrad.autograd.forward_ad as fwAD
from gpugrad.autograd import functional as AF
from gpugrad.func import hessian, jacfwd, jacrev, jvp

F64 = gg.float64


def T(values):
    return gg.tensor(values, dtype=F64)


def close(a, b, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(
        to_np(a) if isinstance(a, gg.Tensor) else a,
        to_np(b) if isinstance(b, gg.Tensor) else b,
        rtol=rtol,
        atol=atol,
    )


def tangent(y, level=None):
    return fwAD.unpack_dual(y, level=level).tangent


# ----------------------------------------------------------------------------- level semantics


def test_levels_are_numbered_from_the_outermost():
    with fwAD.dual_level() as l0:
        with fwAD.dual_level() as l1:
            with fwAD.dual_level() as l2:
                assert (l0, l1, l2) == (0, 1, 2)
        with fwAD.dual_level() as again:
            assert again == 1
    assert fwAD.enter_dual_level() == 0
    fwAD.exit_dual_level(level=0)


def test_make_dual_and_unpack_dual_default_to_the_innermost_level():
    with fwAD.dual_level():
        x = fwAD.make_dual(T(2.0), T(1.0))  # level 0
        with fwAD.dual_level():
            assert tangent(x) is None  # no tangent on level 1
            close(tangent(x, level=0), 1.0)
            x2 = fwAD.make_dual(x, T(10.0))  # level 1, keeping level 0's
            close(tangent(x2), 10.0)
            close(tangent(x2, level=0), 1.0)
            y = x2 * x2
            close(tangent(y), 2 * 2.0 * 10.0)
            close(tangent(y, level=0), 2 * 2.0 * 1.0)


def test_make_dual_on_an_outer_level():
    with fwAD.dual_level():
        with fwAD.dual_level():
            x = fwAD.make_dual(T(3.0), T(1.0), level=0)
            assert tangent(x) is None
            y = x**2
            close(tangent(y, level=0), 6.0)
            assert tangent(y) is None
        close(tangent(y), 6.0)


def test_exit_drops_only_its_own_tangents():
    with fwAD.dual_level():
        x = fwAD.make_dual(T(2.0), T(1.0))
        with fwAD.dual_level():
            x2 = fwAD.make_dual(x, T(1.0))
            y = x2**3
            inner = fwAD.make_dual(T(5.0), T(1.0))  # a tangent on level 1 only
            z = inner * 2
        # level 1 is gone: the level-0 tangents stay, the level-1 ones are dropped
        close(tangent(y), 3 * 2.0**2)
        close(tangent(x2), 1.0)
        assert tangent(inner) is None and tangent(z) is None
        with fwAD.dual_level():  # a new level 1 does not see the old one's tangents
            assert tangent(z) is None and tangent(y) is None
            close(tangent(y, level=0), 12.0)
            close(tangent(z * x, level=0), 10.0)  # z is a constant: d/dx (10 x) on level 0
    assert tangent(y) is None and tangent(x2) is None
    assert not hasattr(y, "_fw") or not y._fw


def test_unpack_dual_at_an_outer_level_while_the_inner_one_is_open():
    """y = x^2 with x = p + a e0 + b e1: y = p^2 + 2pa e0 + 2pb e1 + 2ab e0 e1."""
    p, a, b = 3.0, 5.0, 7.0
    with fwAD.dual_level():
        with fwAD.dual_level():
            x = fwAD.make_dual(fwAD.make_dual(T(p), T(a), level=0), T(b), level=1)
            y = x * x
            primal, t0 = fwAD.unpack_dual(y, level=0)
            close(primal, p * p)
            close(t0, 2 * p * a)
            close(tangent(t0), 2 * a * b)  # d/de1 of the e0 coefficient
            close(tangent(primal), 2 * p * b)  # the e1 part stays ...
            assert tangent(tangent(primal), level=0) is None  # ... without its e0 part
            assert tangent(primal, level=0) is None
            # the innermost level, by default
            primal1, t1 = fwAD.unpack_dual(y)
            close(t1, 2 * p * b)
            close(tangent(t1, level=0), 2 * a * b)
            close(tangent(primal1, level=0), 2 * p * a)
            assert tangent(primal1) is None


def test_level_errors():
    with pytest.raises(RuntimeError, match="dual_level"):
        fwAD.make_dual(T(1.0), T(1.0))
    assert fwAD.unpack_dual(T(1.0)).tangent is None
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="level 1 is not open"):
            fwAD.make_dual(T(1.0), T(1.0), level=1)
        with fwAD.dual_level():
            with pytest.raises(RuntimeError, match="innermost"):
                fwAD.exit_dual_level(level=0)
    with pytest.raises(RuntimeError, match="innermost"):
        fwAD.exit_dual_level()


# ----------------------------------------------------------------------------- confusion


def test_perturbation_confusion_with_dual_levels():
    """d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1, not 2 (Siskind and Pearlmutter)."""
    with fwAD.dual_level():
        x = fwAD.make_dual(T(1.0), T(1.0))
        with fwAD.dual_level():
            y = fwAD.make_dual(T(2.0), T(1.0))
            dy = tangent(x + y)
        close(dy, 1.0)
        close(tangent(x * dy), 1.0)


def test_perturbation_confusion_with_func_jvp():
    one = T(1.0)

    def d(f):
        return lambda v: jvp(f, (v,), (one,))[1]

    # d/dx [x * d/dy (x + y)](y = 2) at x = 1: 1
    close(d(lambda x: x * d(lambda y: x + y)(T(2.0)))(T(1.0)), 1.0)
    # d/dx [x * d/dy (x y)](y = 2) = d/dx x^2 = 2x at x = 3: 6
    close(d(lambda x: x * d(lambda y: x * y)(T(2.0)))(T(3.0)), 6.0)
    # the same by jacfwd
    close(jacfwd(lambda x: x * jacfwd(lambda y: x + y)(T(2.0)))(T(1.0)), 1.0)


# ----------------------------------------------------------------------------- jacfwd of jacfwd


def poly(m, x):
    return x[0] ** 3 * x[1] - 2 * x[0] * x[1] ** 2 + 4 * x[1]


def poly_hessian(x):
    x0, x1 = x
    return [[6 * x0 * x1, 3 * x0**2 - 4 * x1], [3 * x0**2 - 4 * x1, -4 * x0]]


def exp_sin(m, x):
    return m.sin(m.exp(x) * x[..., :1]) * m.cos(x)


def matrix_fn(m, a):
    return m.tanh(a @ a) @ a.T


_W1 = np.random.default_rng(0).standard_normal((4, 3))
_B1 = np.random.default_rng(1).standard_normal(4)
_W2 = np.random.default_rng(2).standard_normal((2, 4))


def mlp(m, x):
    w1, b1, w2 = (m.tensor(a, dtype=x.dtype) for a in (_W1, _B1, _W2))
    return (w2 @ m.tanh(w1 @ x + b1)) ** 2


FUNCTIONS = {
    "polynomial": (poly, [0.7, -1.3]),
    "exp_sin": (exp_sin, [0.3, -0.4, 0.8]),
    "matrix": (matrix_fn, [[0.2, -0.5], [0.9, 0.3]]),
    "mlp": (mlp, [0.5, -1.0, 0.25]),
}


def test_jacfwd_jacfwd_polynomial_by_hand():
    x = [0.7, -1.3]
    close(jacfwd(jacfwd(lambda x: poly(gg, x)))(T(x)), poly_hessian(x))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_jacfwd_jacfwd_matches_reverse_and_finite_differences(name):
    fn, x0 = FUNCTIONS[name]
    x = T(x0)
    got = jacfwd(jacfwd(lambda x: fn(gg, x)))(x)
    close(got, jacrev(jacrev(lambda x: fn(gg, x)))(x))
    close(got, jacfwd(jacrev(lambda x: fn(gg, x)))(x))
    # central differences of the first derivative, element by element of x
    h = 1e-6
    a = np.asarray(x0, dtype=np.float64)
    jac = jacfwd(lambda x: fn(gg, x))
    fd = np.zeros(tuple(got.shape))
    for k in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[k] = h
        fd[(...,) + k] = (to_np(jac(T(a + e))) - to_np(jac(T(a - e)))) / (2 * h)
    close(got, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_jacfwd_jacfwd_matches_torch(name):
    torch = pytest.importorskip("torch")
    fn, x0 = FUNCTIONS[name]
    got = jacfwd(jacfwd(lambda x: fn(gg, x)))(T(x0))
    want = torch.func.jacfwd(torch.func.jacfwd(lambda x: fn(torch, x)))(
        torch.tensor(x0, dtype=torch.float64)
    )
    close(got, want.numpy())


def test_third_order_of_a_scalar_function():
    """f = x^4 sin x: f''' = 24 x sin x + 36 x^2 cos x - 12 x^3 sin x - x^4 cos x."""
    x = 0.8
    s, c = np.sin(x), np.cos(x)
    want = 24 * x * s + 36 * x**2 * c - 12 * x**3 * s - x**4 * c
    f = lambda x: x**4 * gg.sin(x)  # noqa: E731
    close(jacfwd(jacfwd(jacfwd(f)))(T(x)), want)
    one = T(1.0)
    d = lambda f: lambda v: jvp(f, (v,), (one,))[1]  # noqa: E731
    close(d(d(d(f)))(T(x)), want)
    # fourth order by forward over forward over forward over reverse
    close(
        jacfwd(jacfwd(jacfwd(jacrev(f))))(T(x)),
        24 * s + 96 * x * c - 72 * x**2 * s - 16 * x**3 * c + x**4 * s,
    )


def test_third_order_matches_torch():
    torch = pytest.importorskip("torch")
    x0 = [0.3, -0.7]
    f = lambda m, x: (m.exp(x[0] * x[1]) * m.sin(x)).sum()  # noqa: E731
    got = jacfwd(jacfwd(jacfwd(lambda x: f(gg, x))))(T(x0))
    tf = torch.func
    want = tf.jacfwd(tf.jacfwd(tf.jacfwd(lambda x: f(torch, x))))(
        torch.tensor(x0, dtype=torch.float64)
    )
    close(got, want.numpy())


# ----------------------------------------------------------------------------- jvp of jvp, hessians


def test_jvp_of_jvp_is_the_hessian_between_two_directions():
    fn, x0 = FUNCTIONS["mlp"]
    f = lambda x: fn(gg, x).sum()  # noqa: E731
    x, v, w = T(x0), T([1.0, 2.0, -0.5]), T([0.5, -1.0, 3.0])
    primal, got = jvp(lambda x: jvp(f, (x,), (v,))[1], (x,), (w,))
    H = to_np(hessian(f)(x))
    close(got, to_np(w) @ H @ to_np(v))
    close(primal, jvp(f, (x,), (v,))[1])


def test_jvp_of_jvp_matches_torch():
    torch = pytest.importorskip("torch")
    fn, x0 = FUNCTIONS["exp_sin"]
    v, w = [1.0, 2.0, -0.5], [0.5, -1.0, 3.0]
    got = jvp(lambda x: jvp(lambda x: fn(gg, x), (x,), (T(v),))[1], (T(x0),), (T(w),))
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    tf = torch.func
    want = tf.jvp(lambda x: tf.jvp(lambda x: fn(torch, x), (x,), (t(v),))[1], (t(x0),), (t(w),))
    close(got[0], want[0].numpy())
    close(got[1], want[1].numpy())


@pytest.mark.parametrize("name", ["polynomial", "exp_sin", "mlp"])
def test_hessian_forward_over_forward_and_over_reverse_and_reverse(name):
    fn, x0 = FUNCTIONS[name]
    f = lambda x: fn(gg, x).sum()  # noqa: E731
    x = T(x0)
    by_fwd_fwd = jacfwd(jacfwd(f))(x)
    close(by_fwd_fwd, hessian(f)(x))  # func.hessian: forward over reverse
    close(by_fwd_fwd, jacrev(jacrev(f))(x))
    close(by_fwd_fwd, AF.hessian(f, x))  # autograd.functional: reverse over reverse
    # forward-mode Jacobian of a forward-mode Jacobian, through autograd.functional too
    close(
        by_fwd_fwd,
        AF.jacobian(
            lambda x: AF.jacobian(f, x, create_graph=True, strategy="forward-mode"),
            x,
            strategy="forward-mode",
        ),
    )


def test_reverse_over_forward_over_forward():
    """grad of a jvp of a jvp: d/dx of f''(x)[v, w] for f = sum(x^4) is 24 x v w."""
    from gpugrad.func import grad

    v, w = T([1.0, 2.0]), T([3.0, -1.0])

    def second(x):
        f = lambda x: (x**4).sum()  # noqa: E731
        return jvp(lambda x: jvp(f, (x,), (v,))[1], (x,), (w,))[1]

    x = T([0.5, 2.0])
    close(grad(second)(x), 24 * to_np(x) * to_np(v) * to_np(w))


def test_requires_grad_input_gets_gradients_through_nested_levels():
    x = gg.tensor([0.5, 2.0], dtype=F64, requires_grad=True)
    h = jacfwd(jacfwd(lambda x: (x**3).sum()))(x)  # diag(6 x)
    (h[0, 0] + h[1, 1]).backward()
    close(x.grad, [6.0, 6.0])


# ----------------------------------------------------------------------------- in place


def test_in_place_on_duals_at_two_levels():
    """x.mul_(y) and a setitem on a tensor dual on two levels give the out-of-place tangents."""

    def f(x, inplace):
        y = x * 1.0
        if inplace:
            y.mul_(x)
            y[0] = y[1] * x[0]
            y.add_(gg.sin(x))
            return y
        z = y * x
        z = gg.stack([z[1] * x[0], z[1]]) + gg.sin(x)
        return z

    x = T([0.3, 1.7])
    want = jacrev(jacrev(lambda x: f(x, False)))(x)
    close(jacfwd(jacfwd(lambda x: f(x, False)))(x), want)
    close(jacfwd(jacfwd(lambda x: f(x, True)))(x), want)


# ----------------------------------------------------------------------------- every op


_FOR_CASES = [c for c in CASES if c.grad_args]


def _outputs(case, arrays, idx, diff):
    """The case's float outputs, with the inputs idx replaced by `diff`."""
    args = [gg.tensor(a) for a in arrays]
    for i, d in zip(idx, diff):
        args[i] = d
    out = case.fn(*args)
    return tuple(float_outputs(list(out) if isinstance(out, (tuple, list)) else [out]))


@pytest.mark.parametrize("case", _FOR_CASES, ids=[c.id for c in _FOR_CASES])
def test_forward_over_forward(case):
    """jvp of the jvp, for every op in the table, against central differences of the jvp: the
    jvp rules' own ops carry the outer level's tangents."""
    arrays = draw(case, np.float64)
    idx = case.grad_args
    rng = np.random.default_rng(13)
    primals = tuple(gg.tensor(arrays[i]) for i in idx)
    vs = tuple(gg.tensor(t) for t in random_like(rng, [arrays[i] for i in idx]))
    ws = tuple(gg.tensor(t) for t in random_like(rng, [arrays[i] for i in idx]))

    def push(*diff):
        return jvp(lambda *d: _outputs(case, arrays, idx, d), diff, vs)[1]

    _, got = jvp(push, primals, ws)
    h = case.fd_eps
    plus = push(*[p + h * w for p, w in zip(primals, ws)])
    minus = push(*[p - h * w for p, w in zip(primals, ws)])
    for g, p, m in zip(got, plus, minus):
        np.testing.assert_allclose(
            to_np(g), (to_np(p) - to_np(m)) / (2 * h), rtol=10 * case.rtol, atol=10 * case.atol
        )
