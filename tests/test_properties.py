"""Property-based tests (hypothesis) over shapes, broadcasting, dtypes and op compositions.

1. Broadcasting binary ops: forward vs NumPy (float32/float64); reverse-mode gradients of both
   inputs vs central finite differences along a random direction; gradient shapes equal the
   (unbroadcast) input shapes.
2. Random chains of unary / reduction / shape ops: reverse mode vs finite differences, and
   forward mode (``gpugrad.func.jvp``) vs reverse mode (u . Jv both ways).
3. dtype promotion of ``a + b`` (tensor/tensor, tensor/scalar, scalar/tensor) vs PyTorch, or a
   table without torch.
4. CPU vs CUDA on the same random chains and binary ops (skipped without a GPU).

Array data comes from a drawn seed fed to NumPy's generator (cheap, and shrinks well); every
test is ``derandomize=True`` so CI runs the same examples each time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import gpugrad as gg
from gpugrad.func import jvp

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)
pair_shapes = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def to_np(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy())


def close_scalar(a: float, b: float, scale: float, rtol: float = 1e-6) -> bool:
    """|a - b| small relative to `scale` (the size of the terms summed into a and b)."""
    return abs(a - b) <= rtol * (1.0 + scale)


# ----------------------------------------------------------------------------- 1. binary ops


@dataclass(frozen=True)
class Binary:
    name: str
    fn: object  # on gpugrad tensors
    ref: object  # on NumPy arrays

    def draw(self, rng, sa, sb):
        if self.name == "div":  # denominator bounded away from 0
            a = rng.uniform(-2, 2, sa)
            b = rng.uniform(0.5, 2, sb) * rng.choice([-1.0, 1.0], sb)
        elif self.name == "maximum":  # no ties, even after broadcasting: a, b on disjoint grids
            a = rng.integers(-2, 3, sa) + 0.25 + rng.uniform(-0.1, 0.1, sa)
            b = rng.integers(-2, 3, sb) + 0.75 + rng.uniform(-0.1, 0.1, sb)
        elif self.name == "pow":  # positive base
            a = rng.uniform(0.5, 2, sa)
            b = rng.uniform(-2, 2, sb)
        else:
            a = rng.uniform(-2, 2, sa)
            b = rng.uniform(-2, 2, sb)
        return np.asarray(a, np.float64), np.asarray(b, np.float64)


BINARY = [
    Binary("add", lambda a, b: a + b, np.add),
    Binary("sub", lambda a, b: a - b, np.subtract),
    Binary("mul", lambda a, b: a * b, np.multiply),
    Binary("div", lambda a, b: a / b, np.divide),
    Binary("maximum", gg.maximum, np.maximum),
    Binary("pow", lambda a, b: a**b, np.power),
]
binaries = st.sampled_from(BINARY)


@settings(max_examples=60, **SETTINGS)
@given(op=binaries, shapes=pair_shapes, seed=seeds, dtype=st.sampled_from(["float32", "float64"]))
def test_binary_forward_matches_numpy(op, shapes, seed, dtype):
    sa, sb = shapes.input_shapes
    a, b = op.draw(np.random.default_rng(seed), sa, sb)
    a, b = a.astype(dtype), b.astype(dtype)
    out = op.fn(gg.tensor(a), gg.tensor(b))
    expected = op.ref(a, b)
    assert tuple(out.shape) == shapes.result_shape == expected.shape
    assert to_np(out).dtype == np.dtype(dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(to_np(out), expected, rtol=rtol, atol=rtol)


def binary_grads(op, a, b, u, device="cpu"):
    ta = gg.tensor(a, device=device, requires_grad=True)
    tb = gg.tensor(b, device=device, requires_grad=True)
    out = op.fn(ta, tb)
    ga, gb = gg.autograd.grad(out, [ta, tb], grad_outputs=gg.tensor(u, device=device))
    return to_np(out), ga, gb


@settings(max_examples=60, **SETTINGS)
@given(op=binaries, shapes=pair_shapes, seed=seeds)
def test_binary_grad_matches_finite_differences(op, shapes, seed):
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a, b = op.draw(rng, sa, sb)
    u = rng.standard_normal(shapes.result_shape)
    va, vb = rng.standard_normal(sa), rng.standard_normal(sb)

    out, ga, gb = binary_grads(op, a, b, u)
    # The gradients are unbroadcast back to the input shapes and keep their dtype.
    assert tuple(ga.shape) == sa and tuple(gb.shape) == sb
    assert ga.dtype == gg.float64 and gb.dtype == gg.float64

    h = 1e-6

    def f(s):
        with gg.no_grad():
            return to_np(op.fn(gg.tensor(a + s * va), gg.tensor(b + s * vb)))

    fd = float(np.sum(u * (f(h) - f(-h)))) / (2 * h)
    an = float(np.sum(to_np(ga) * va) + np.sum(to_np(gb) * vb))
    scale = float(np.sum(np.abs(u) * (np.abs(out) + 1.0)))
    assert close_scalar(fd, an, scale, 1e-6), (fd, an)


# ----------------------------------------------------------------------------- 2. compositions


def _factorize(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


UNARY = {
    "exp_scaled": lambda x: (0.3 * x).exp(),
    "tanh": lambda x: x.tanh(),
    "sin": lambda x: x.sin(),
    "sigmoid": gg.sigmoid,
    "softplus": gg.nn.functional.softplus,
    "log1p_abs": lambda x: (x.abs() + 0.1).log1p(),
    "square": lambda x: x.square(),
}


@st.composite
def chains(draw):
    """(input shape, steps): 2-5 steps; each step is (name, param), valid for the running shape."""
    shape = draw(array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    cur, steps = tuple(shape), []
    for _ in range(draw(st.integers(2, 5))):
        kinds = list(UNARY) + ["reshape"]
        if len(cur) >= 1:
            kinds += ["sum", "mean", "slice"]
        if len(cur) >= 2:
            kinds.append("transpose")
        kind = draw(st.sampled_from(kinds))
        param = None
        if kind in ("sum", "mean"):
            param = draw(st.integers(0, len(cur) - 1))
            cur = cur[:param] + (1,) + cur[param + 1 :]
        elif kind == "reshape":
            ndim = draw(st.integers(1, 3)) if math.prod(cur) > 1 else draw(st.integers(0, 3))
            dims = [1] * ndim
            for p in _factorize(math.prod(cur)):
                dims[draw(st.integers(0, ndim - 1))] *= p
            if ndim and draw(st.booleans()):
                dims[draw(st.integers(0, ndim - 1))] = -1
            param = tuple(dims)
            cur = tuple(np.empty(cur).reshape(param).shape)
        elif kind == "transpose":
            cur = cur[:-2] + (cur[-1], cur[-2])
        elif kind == "slice":
            dim = draw(st.integers(0, len(cur) - 1))
            sl = draw(st.slices(cur[dim]).filter(lambda s, n=cur[dim]: len(range(n)[s]) > 0))
            param = (dim, sl)
            cur = cur[:dim] + (len(range(cur[dim])[sl]),) + cur[dim + 1 :]
        steps.append((kind, param))
    return tuple(shape), tuple(steps), cur


def apply_step(x, kind, param):
    if kind in UNARY:
        return UNARY[kind](x)
    if kind == "sum":
        return x.sum(dim=param, keepdim=True)
    if kind == "mean":
        return x.mean(dim=param, keepdim=True)
    if kind == "reshape":
        return x.reshape(param)
    if kind == "transpose":
        return x.transpose(-2, -1)
    if kind == "slice":
        dim, sl = param
        return x[(slice(None),) * dim + (sl,)]
    raise AssertionError(kind)


def run_chain(steps, x):
    for kind, param in steps:
        x = apply_step(x, kind, param)
    return x


def chain_data(chain, seed):
    shape, steps, out_shape = chain
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, shape)
    return x, rng.standard_normal(out_shape), rng.standard_normal(shape)


def chain_eval(steps, x, u, v, device="cpu"):
    """(output, reverse-mode u.J, forward-mode J v) of the chain at x, as NumPy arrays."""
    tx = gg.tensor(x, device=device, requires_grad=True)
    out = run_chain(steps, tx)
    (g,) = gg.autograd.grad((out * gg.tensor(u, device=device)).sum(), [tx])
    p, t = jvp(
        lambda y: run_chain(steps, y),
        (gg.tensor(x, device=device),),
        (gg.tensor(v, device=device),),
    )
    np.testing.assert_allclose(to_np(p), to_np(out), rtol=1e-14, atol=0)
    return to_np(out), g, to_np(t)


@settings(max_examples=80, **SETTINGS)
@given(chain=chains(), seed=seeds)
def test_chain_reverse_forward_and_finite_differences(chain, seed):
    shape, steps, out_shape = chain
    x, u, v = chain_data(chain, seed)
    out, g, jv = chain_eval(steps, x, u, v)
    assert out.shape == out_shape
    assert tuple(g.shape) == shape and g.dtype == gg.float64
    assert jv.shape == out_shape

    h = 1e-6

    def f(s):
        with gg.no_grad():
            return to_np(run_chain(steps, gg.tensor(x + s * v)))

    fd = float(np.sum(u * (f(h) - f(-h)))) / (2 * h)
    rev = float(np.sum(to_np(g) * v))
    fwd = float(np.sum(u * jv))
    scale = float(np.sum(np.abs(u) * (np.abs(out) + 1.0)))
    assert close_scalar(rev, fwd, scale, 1e-10), (rev, fwd)
    assert close_scalar(fd, rev, scale, 1e-6), (fd, rev)


# ----------------------------------------------------------------------------- 3. dtype promotion

DTYPES = ["float16", "float32", "float64", "int32", "int64", "bool"]
scalars = st.one_of(st.booleans(), st.integers(-3, 3), st.floats(-3, 3, width=32))
operands = st.one_of(
    st.tuples(st.just("tensor"), st.sampled_from(DTYPES), st.sampled_from([(), (2,)])),
    st.tuples(st.just("scalar"), scalars, st.none()),
)


def make_gg(kind, what, shape):
    if kind == "scalar":
        return what
    return gg.ones(shape, dtype=getattr(gg, what))


def gg_result(a, b) -> str:
    if isinstance(a, (bool, int, float)) and isinstance(b, (bool, int, float)):
        return ""
    return str(np.dtype(to_np(a + b).dtype))


@settings(max_examples=300, **SETTINGS)
@given(a=operands, b=operands)
def test_add_dtype_promotion_matches_torch(a, b):
    torch = pytest.importorskip("torch")
    assume(not (a[0] == "scalar" and b[0] == "scalar"))
    got = gg_result(make_gg(*a), make_gg(*b))

    def make_torch(kind, what, shape):
        if kind == "scalar":
            return what
        return torch.ones(shape, dtype=getattr(torch, what))

    want = str((make_torch(*a) + make_torch(*b)).dtype).removeprefix("torch.")
    assert got == want, f"{a} + {b}: gpugrad {got}, torch {want}"


def test_zero_dim_int_plus_bool_tensor():
    """Found by the property above: bool, integer and float are three categories."""
    out = gg.tensor(5) + gg.tensor([True, False])  # int64 0-d + bool 1-d
    assert out.dtype == gg.int64
    assert out.tolist() == [6, 5]


# Without torch: the n-d tensor/tensor table (PyTorch's promote_types) and scalar rules.
_ORDER = ["bool", "int32", "int64", "float16", "float32", "float64"]


def _table(x: str, y: str) -> str:
    fx, fy = x.startswith("float"), y.startswith("float")
    if fx != fy:
        return x if fx else y
    return max(x, y, key=_ORDER.index)


def _scalar_table(t: str, s) -> str:
    if isinstance(s, bool):
        return t
    if isinstance(s, int):
        return "int64" if t == "bool" else t
    return t if t.startswith("float") else "float32"


@settings(max_examples=100, **SETTINGS)
@given(x=st.sampled_from(DTYPES), y=st.sampled_from(DTYPES), s=scalars)
def test_add_dtype_promotion_table(x, y, s):
    tx, ty = gg.ones((2,), dtype=getattr(gg, x)), gg.ones((2,), dtype=getattr(gg, y))
    assert gg_result(tx, ty) == _table(x, y)
    assert gg_result(tx, s) == gg_result(s, tx) == _scalar_table(x, s)


# ----------------------------------------------------------------------------- 4. CPU vs CUDA


def _cuda_or_skip():
    if not gg.cuda.is_available():
        pytest.skip("no usable CUDA device")


@pytest.mark.cuda
@settings(max_examples=40, **SETTINGS)
@given(chain=chains(), seed=seeds)
def test_chain_cpu_matches_cuda(chain, seed):
    _cuda_or_skip()
    shape, steps, _ = chain
    x, u, v = chain_data(chain, seed)
    cpu = chain_eval(steps, x, u, v, "cpu")
    gpu = chain_eval(steps, x, u, v, "cuda")
    assert gpu[1].device.type == "cuda"
    for c, g in zip(cpu, gpu):
        c, g = (t if isinstance(t, np.ndarray) else to_np(t) for t in (c, g))
        np.testing.assert_allclose(g, c, rtol=1e-6, atol=1e-12)


@pytest.mark.cuda
@settings(max_examples=40, **SETTINGS)
@given(op=binaries, shapes=pair_shapes, seed=seeds)
def test_binary_cpu_matches_cuda(op, shapes, seed):
    _cuda_or_skip()
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a, b = op.draw(rng, sa, sb)
    u = rng.standard_normal(shapes.result_shape)
    cpu = binary_grads(op, a, b, u, "cpu")
    gpu = binary_grads(op, a, b, u, "cuda")
    np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-6, atol=1e-12)
    for c, g in zip(cpu[1:], gpu[1:]):
        assert tuple(g.shape) == tuple(c.shape)
        np.testing.assert_allclose(to_np(g), to_np(c), rtol=1e-6, atol=1e-12)
