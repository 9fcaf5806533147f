"""One parametrised test per property, over the op table (`op_table.CASES`) and the device.

Forward vs NumPy (float64 and float32); reverse mode (vjp) and forward mode (jvp) vs central
finite differences in float64 along random directions; second order (the gradient of
<grad, v>); vjp/jvp consistency; and float32 gradients stay float32, with the rules on raw
arrays and on tensors alike. Plus: every registry entry has a row. (The import rules, e.g.
that nothing outside the backend imports numpy or cupy, are in tests/test_layers.py.)
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from op_table import CASES, OpCase

import gpugrad as gg

GRAD_CASES = [c for c in CASES if c.grad_args]


def _params(cases):
    return pytest.mark.parametrize("case", cases, ids=[c.id for c in cases])


# ----------------------------------------------------------------------------- helpers


def to_np(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy())


def as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def draw(case: OpCase, dtype, salt: int = 0) -> list:
    """The case's inputs as NumPy arrays, reproducibly."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + salt)
    return [a.draw(rng, dtype) for a in case.args]


def to_tensors(arrays, device, grad_args=()):
    return [
        gg.tensor(np.asarray(a), device=device, requires_grad=i in grad_args)
        for i, a in enumerate(arrays)
    ]


def call(case, tensors) -> list:
    return as_list(case.fn(*tensors))


def float_outputs(outs) -> list:
    return [o for o in outs if to_np(o).dtype.kind == "f"]


def primal(case, device, arrays) -> list:
    """The case's float outputs at `arrays`, as NumPy arrays (no graph)."""
    with gg.no_grad():
        return [
            to_np(o).astype(np.float64)
            for o in float_outputs(call(case, to_tensors(arrays, device)))
        ]


def moved(arrays, idx, dirs, h) -> list:
    """`arrays` with input idx[k] moved by h * dirs[k]."""
    out = list(arrays)
    for i, d in zip(idx, dirs):
        out[i] = arrays[i] + h * d
    return out


def vdot(xs, ys) -> float:
    return float(
        sum(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64)) for x, y in zip(xs, ys))
    )


def random_like(rng, arrays) -> list:
    return [
        np.asarray(rng.standard_normal(np.shape(a))).astype(np.asarray(a).dtype) for a in arrays
    ]


def grads_or_zeros(grads, inputs) -> list:
    """NumPy gradients, zeros for None (an input the output does not depend on)."""
    out = []
    for g, x in zip(grads, inputs):
        if g is None:
            out.append(np.zeros(tuple(x.shape)))
            continue
        assert tuple(g.shape) == tuple(x.shape), "gradient shape differs from its input's"
        assert g.dtype == x.dtype, "gradient dtype differs from its input's"
        assert g.device == x.device, "gradient device differs from its input's"
        out.append(to_np(g))
    return out


def vjp_setup(case, device, salt=0):
    """Inputs (float64), cotangents u for the float outputs, and input directions v."""
    arrays = draw(case, np.float64, salt)
    rng = np.random.default_rng(1000 + salt)
    idx = case.grad_args
    xs = to_tensors(arrays, device, idx)
    outs = float_outputs(call(case, xs))
    us = [np.asarray(rng.standard_normal(tuple(o.shape))).astype(to_np(o).dtype) for o in outs]
    vs = random_like(rng, [arrays[i] for i in idx])
    return arrays, idx, xs, outs, us, vs


def reverse(outs, inputs, us, device, create_graph=False):
    return gg.autograd.grad(
        outs,
        inputs,
        grad_outputs=[gg.tensor(u, device=device) for u in us],
        create_graph=create_graph,
        allow_unused=True,
    )


def objective(case, device, arrays, us) -> float:
    """L(x) = sum_k <u_k, f_k(x)>."""
    return vdot(us, primal(case, device, arrays))


# ----------------------------------------------------------------------------- properties


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@_params(CASES)
def test_forward(case, dtype, device):
    arrays = draw(case, dtype)
    outs = call(case, to_tensors(arrays, device))
    expected_dtype = [np.asarray(r).dtype for r in as_list(case.ref(*arrays))]
    # values from the reference in float64 on the same (possibly float32-rounded) inputs
    wide = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    refs = [np.asarray(r) for r in as_list(case.ref(*wide))]
    assert len(outs) == len(refs)
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    for o, r, dt in zip(outs, refs, expected_dtype):
        assert isinstance(o, gg.Tensor)
        assert o.device.type == device
        got = to_np(o)
        assert got.shape == r.shape
        assert got.dtype == dt, f"dtype {got.dtype}, expected {dt}"
        if r.dtype.kind == "f":
            np.testing.assert_allclose(got, r, equal_nan=True, **tol)
        else:
            np.testing.assert_array_equal(got, r)


@_params(GRAD_CASES)
def test_vjp_matches_finite_differences(case, device):
    """<vjp(u), v> == d/dh <u, f(x + h v)> at h = 0, by central differences."""
    arrays, idx, xs, outs, us, vs = vjp_setup(case, device)
    grads = grads_or_zeros(reverse(outs, [xs[i] for i in idx], us, device), [xs[i] for i in idx])
    got = vdot(grads, vs)
    h = case.fd_eps
    fd = (
        objective(case, device, moved(arrays, idx, vs, h), us)
        - objective(case, device, moved(arrays, idx, vs, -h), us)
    ) / (2 * h)
    np.testing.assert_allclose(got, fd, rtol=case.rtol, atol=case.atol)


def _grad_dot(case, device, arrays, idx, us, vs) -> float:
    """<grad_x <u, f(x)>, v> with the graph freed (first order only)."""
    xs = to_tensors(arrays, device, idx)
    outs = float_outputs(call(case, xs))
    grads = reverse(outs, [xs[i] for i in idx], us, device)
    return vdot(grads_or_zeros(grads, [xs[i] for i in idx]), vs)


@_params(GRAD_CASES)
def test_second_order_matches_finite_differences(case, device):
    """grad_x <grad_x L, v> along w == d/dh <grad L(x + h w), v> (create_graph=True)."""
    arrays, idx, xs, outs, us, vs = vjp_setup(case, device)
    inputs = [xs[i] for i in idx]
    grads = reverse(outs, inputs, us, device, create_graph=True)
    terms = [
        (g * gg.tensor(v, device=device)).sum()
        for g, v in zip(grads, vs)
        if g is not None and g.requires_grad
    ]
    ws = random_like(np.random.default_rng(7), vs)
    if terms:
        s = terms[0]
        for t in terms[1:]:
            s = s + t
        hv = grads_or_zeros(gg.autograd.grad(s, inputs, allow_unused=True), inputs)
    else:  # the gradient does not depend on x (a linear op): the second derivative is zero
        hv = [np.zeros_like(w) for w in ws]
    got = vdot(hv, ws)
    h = case.fd_eps
    fd = (
        _grad_dot(case, device, moved(arrays, idx, ws, h), idx, us, vs)
        - _grad_dot(case, device, moved(arrays, idx, ws, -h), idx, us, vs)
    ) / (2 * h)
    np.testing.assert_allclose(got, fd, rtol=10 * case.rtol, atol=10 * case.atol)


def jvp(case, device, arrays, idx, ts) -> list:
    """Forward-mode tangents of the float outputs (zeros where the tangent is None)."""
    from gpugrad.autograd import forward_ad as fwAD

    tensors = to_tensors(arrays, device)
    with fwAD.dual_level():
        for i, t in zip(idx, ts):
            tensors[i] = fwAD.make_dual(tensors[i], gg.tensor(t, device=device))
        outs = float_outputs(call(case, tensors))
        pairs = [fwAD.unpack_dual(o) for o in outs]
        result = []
        for o, p in zip(outs, pairs):
            np.testing.assert_array_equal(to_np(p.primal), to_np(o))
            if p.tangent is None:
                result.append(np.zeros(tuple(o.shape)))
            else:
                assert tuple(p.tangent.shape) == tuple(o.shape), (
                    "tangent shape differs from output's"
                )
                assert p.tangent.dtype == o.dtype, "tangent dtype differs from output's"
                result.append(to_np(p.tangent))
    return result


@_params(GRAD_CASES)
def test_jvp_matches_finite_differences(case, device):
    """jvp(t) == (f(x + h t) - f(x - h t)) / 2h, output by output."""
    arrays = draw(case, np.float64)
    idx = case.grad_args
    ts = random_like(np.random.default_rng(3), [arrays[i] for i in idx])
    got = jvp(case, device, arrays, idx, ts)
    h = case.fd_eps
    plus = primal(case, device, moved(arrays, idx, ts, h))
    minus = primal(case, device, moved(arrays, idx, ts, -h))
    assert len(got) == len(plus)
    for g, p, m in zip(got, plus, minus):
        np.testing.assert_allclose(g, (p - m) / (2 * h), rtol=case.rtol, atol=case.atol)


@_params(GRAD_CASES)
def test_vjp_and_jvp_agree(case, device):
    """<u, J v> is the same by forward mode (jvp) and by reverse mode (vjp)."""
    arrays, idx, xs, outs, us, vs = vjp_setup(case, device)
    grads = grads_or_zeros(reverse(outs, [xs[i] for i in idx], us, device), [xs[i] for i in idx])
    by_reverse = vdot(grads, vs)
    by_forward = vdot(us, jvp(case, device, arrays, idx, vs))
    np.testing.assert_allclose(by_forward, by_reverse, rtol=max(1e-9, case.rtol / 10), atol=1e-10)


@_params(GRAD_CASES)
def test_vjp_keeps_float32(case, device):
    """Float32 inputs get float32 gradients, the same whether backward runs the rules on raw
    arrays (create_graph=False) or on tensors (create_graph=True)."""
    arrays = draw(case, np.float32)
    idx = case.grad_args
    rng = np.random.default_rng(1000)
    us = None
    by_mode = {}
    for create_graph in (False, True):
        xs = to_tensors(arrays, device, idx)
        inputs = [xs[i] for i in idx]
        for i, x in zip(idx, inputs):
            assert x.dtype == gg.float32, f"input {i} was drawn as {x.dtype}, not float32"
        outs = float_outputs(call(case, xs))
        if us is None:  # the same cotangents for both modes, in each output's dtype
            us = [
                np.asarray(rng.standard_normal(tuple(o.shape))).astype(to_np(o).dtype)
                for o in outs
            ]
        grads = reverse(outs, inputs, us, device, create_graph=create_graph)
        for i, x, g in zip(idx, inputs, grads):
            if g is not None:
                assert g.dtype == x.dtype, (
                    f"create_graph={create_graph}: the gradient of input {i} is {g.dtype}, "
                    f"its input is {x.dtype}"
                )
        by_mode[create_graph] = grads_or_zeros(grads, inputs)
    for i, a, b in zip(idx, by_mode[False], by_mode[True]):
        scale = max(float(np.max(np.abs(a), initial=0.0)), 1.0)
        np.testing.assert_allclose(
            a, b, rtol=2e-4, atol=2e-5 * scale, equal_nan=True,
            err_msg=f"input {i}: gradients on raw arrays vs on tensors (create_graph=True)",
        )


# ----------------------------------------------------------------------------- errors name the op

ERRORS = [
    # (op named in the message, call, exception type(s) as in PyTorch)
    ("add", lambda: gg.ones(2, 3) + gg.ones(4), RuntimeError),
    ("mul", lambda: gg.mul(gg.ones(2), gg.ones(3)), RuntimeError),
    ("matmul", lambda: gg.ones(2, 3) @ gg.ones(4, 2), RuntimeError),
    ("mm", lambda: gg.mm(gg.ones(3), gg.ones(3, 2)), RuntimeError),
    ("reshape", lambda: gg.ones(2, 3).reshape(4, 2), RuntimeError),
    ("cat", lambda: gg.cat([gg.ones(2, 3), gg.ones(2, 4)]), RuntimeError),
    ("stack", lambda: gg.stack([gg.ones(2), gg.ones(3)]), RuntimeError),
    ("expand", lambda: gg.ones(2, 3).expand(3, 3), RuntimeError),
    ("permute", lambda: gg.ones(2, 3).permute(0, 0), RuntimeError),
    ("split", lambda: gg.ones(3).split([1, 1]), RuntimeError),
    ("sum", lambda: gg.ones(2, 3).sum(dim=2), IndexError),
    ("softmax", lambda: gg.softmax(gg.ones(2), dim=4), IndexError),
    ("flip", lambda: gg.flip(gg.ones(2), (3,)), IndexError),
    ("getitem", lambda: gg.ones(2, 3)[5], IndexError),
    ("gather", lambda: gg.gather(gg.ones(2, 3), 1, gg.tensor([[5]])), (RuntimeError, IndexError)),
    (
        "index_put",
        lambda: gg.ones(3).index_put((gg.tensor([7]),), gg.tensor(1.0)),
        (RuntimeError, IndexError),
    ),
    ("where", lambda: gg.where(gg.ones(2), gg.ones(2), gg.ones(2)), (RuntimeError, TypeError)),
    ("log", lambda: gg.log("a"), TypeError),
    ("matmul", lambda: gg.matmul(gg.ones(2), 3.0), TypeError),
]


@pytest.mark.parametrize(
    "name, call, exc", ERRORS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(ERRORS)]
)
def test_errors_name_the_op(name, call, exc):
    with pytest.raises(exc, match=rf"\b{name}\b"):
        call()


# ----------------------------------------------------------------------------- the table


def test_every_registry_entry_has_a_row():
    from gpugrad.ops.registry import OPS

    rows = {c.name for c in CASES if not c.composite}
    missing = sorted(set(OPS) - rows)
    assert not missing, f"registry ops without a row in tests/op_table.py: {missing}"
    unknown = sorted(rows - set(OPS))
    assert not unknown, f"op_table rows name primitives that are not in OPS: {unknown}"


def test_composites_are_not_registered_twice():
    """A composite row names no registry entry (else it is a primitive and belongs as one)."""
    from gpugrad.ops.registry import OPS

    both = sorted({c.name for c in CASES if c.composite} & set(OPS))
    assert not both, f"rows marked composite but registered as primitives: {both}"
