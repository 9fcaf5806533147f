"""The op table's in-place dimension: every in-place variant ``x.<op>_(...)`` (every public op
declared ``inplace=True``) on a non-leaf, on a view of a non-leaf, and on a view of a buffer
that does not require grad, against the out-of-place op: values, gradients (reverse mode),
tangents (forward mode) and second derivatives, in float64."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from op_table import BINARY, UNARY, F

import gpugrad as gg
from gpugrad.autograd import forward_ad as fwAD
from gpugrad.ops.registry import PUBLIC

# The extra inputs of each in-place op: (self's domain, [other inputs' domains], kwargs).
SPECS: dict = {}
for _name, _ref, _dom, _diff in UNARY:
    SPECS[_name] = (_dom, [], {}, _diff)
for _name, _ref, _da, _db in BINARY:
    SPECS[_name] = (_da, [_db], {}, True)
SPECS["floor_divide"] = (F(lo=-3.0, hi=3.0), [F(away=0.5)], {}, False)
SPECS["clamp"] = (F(), [], {"min": -0.5, "max": 0.7}, True)
SPECS["index_put"] = (F(), [], {}, True)  # built by hand below
SPECS["lerp"] = (F(), [F()], {"weight": 0.7}, True)
SPECS["addcmul"] = (F(), [F(), F()], {"value": 0.5}, True)
SPECS["addcdiv"] = (F(), [F(), F(away=0.5)], {"value": -0.5}, True)
INPLACE = sorted(n for n, p in PUBLIC.items() if p.inplace)
for _name in INPLACE:  # an alias (arcsin, clip, ...) draws as the function it names
    if _name not in SPECS and PUBLIC[_name].fn.__name__ in SPECS:
        SPECS[_name] = SPECS[PUBLIC[_name].fn.__name__]


def test_every_inplace_variant_has_a_spec():
    assert not [n for n in INPLACE if n not in SPECS]


SHAPE = (3, 4)
VIEW = (slice(1, 3),)  # rows 1..2: a view of shape (2, 4)


def _draw(arg, shape, rng):
    return dataclasses.replace(arg, shape=shape).draw(rng, np.float64)


def _inputs(name, rng, device):
    dom, others, kw, diff = SPECS[name]
    x = gg.tensor(_draw(dom, SHAPE, rng), device=device, requires_grad=diff)
    ys = [gg.tensor(_draw(d, (4,), rng), device=device, requires_grad=diff) for d in others]
    if name == "index_put":
        rows = gg.tensor([1, 0], device=device)
        ys = [gg.tensor(rng.uniform(-1, 1, (2, 4)), device=device, requires_grad=True)]
        return (x, ys, lambda t, *a: t.index_put((rows,), *a),
                lambda t, *a: t.index_put_((rows,), *a))
    fn = getattr(gg, name)
    return x, ys, lambda t, *a: fn(t, *a, **kw), lambda t, *a: getattr(t, name + "_")(*a, **kw)


def _where(kind, x, ys, op, write):
    """The result of `kind` with the in-place `write`, and with the out-of-place `op`."""
    c = gg.arange(12, dtype=gg.float64, device=x.device).reshape(SHAPE) / 7 + 0.5
    if kind == "nonleaf":
        y = x * 1
        write(y, *ys)
        return (y * c).sum(), y
    base = x * 1 if kind == "view" else x.detach().clone()
    other = base[2:]  # a view made before the write: it must see the new graph
    write(base[VIEW], *ys)
    return (base * c).sum() + (other ** 2).sum(), base


def _reference(kind, x, ys, op):
    c = gg.arange(12, dtype=gg.float64, device=x.device).reshape(SHAPE) / 7 + 0.5
    if kind == "nonleaf":
        y = op(x * 1, *ys)
        return (y * c).sum(), y
    base = x * 1 if kind == "view" else x.detach().clone()
    new = gg.cat([base[:1], op(base[VIEW], *ys), base[3:]])
    return (new * c).sum() + (new[2:] ** 2).sum(), new


def _leaves(kind, x, ys):
    return [t for t in ([x] if kind != "buffer" else []) + ys if t.requires_grad]


@pytest.mark.parametrize("kind", ["nonleaf", "view", "buffer"])
@pytest.mark.parametrize("name", INPLACE)
def test_inplace_matches_out_of_place(name, kind, device):
    rng = np.random.default_rng(sum(map(ord, name + kind)))
    x, ys, op, write = _inputs(name, rng, device)
    if kind == "buffer" and not ys:
        x = x.detach()  # a unary op on a view of a plain buffer: values only
    loss, out = _where(kind, x, ys, op, write)
    rloss, rout = _reference(kind, x, ys, op)
    np.testing.assert_allclose(out.detach().cpu().numpy(), rout.detach().cpu().numpy(), rtol=1e-12)
    leaves = _leaves(kind, x, ys)
    if not leaves or not loss.requires_grad:
        return
    # reverse mode, to second order
    g = gg.autograd.grad(loss, leaves, create_graph=True)
    rg = gg.autograd.grad(rloss, leaves, create_graph=True)
    for a, b in zip(g, rg):
        np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(),
                                   rtol=1e-10, atol=1e-12)
    s = sum((t * t).sum() for t in g if t.requires_grad)
    rs = sum((t * t).sum() for t in rg if t.requires_grad)
    if isinstance(s, gg.Tensor) and s.requires_grad:
        g2 = gg.autograd.grad(s, leaves, allow_unused=True)
        rg2 = gg.autograd.grad(rs, leaves, allow_unused=True)
        for a, b in zip(g2, rg2):
            if a is None or b is None:
                assert a is None and b is None or float(abs(a if a is not None else b).sum()) == 0
                continue
            np.testing.assert_allclose(a.cpu().numpy(), b.cpu().numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", ["nonleaf", "view", "buffer"])
@pytest.mark.parametrize("name", INPLACE)
def test_inplace_forward_mode(name, kind, device):
    rng = np.random.default_rng(sum(map(ord, name + kind)) + 1)
    x, ys, op, write = _inputs(name, rng, device)
    if not SPECS[name][3] or (kind == "buffer" and not ys):
        pytest.skip("no derivative to carry, or nothing that carries a tangent")
    tx = gg.tensor(rng.uniform(-1, 1, SHAPE), device=device)
    tys = [gg.tensor(rng.uniform(-1, 1, tuple(y.shape)), device=device) for y in ys]
    with fwAD.dual_level():
        dx = fwAD.make_dual(x.detach(), tx)
        dys = [fwAD.make_dual(y.detach(), t) for y, t in zip(ys, tys)]
        loss, _ = _where(kind, dx, dys, op, write)
        rloss, _ = _reference(kind, dx, dys, op)
        t = fwAD.unpack_dual(loss).tangent
        rt = fwAD.unpack_dual(rloss).tangent
    assert t is not None and rt is not None
    np.testing.assert_allclose(float(t), float(rt), rtol=1e-10, atol=1e-12)
