"""vmap: the op table's batching property (for every op, the batched result equals the
per-example results stacked, with the batch dim in front, at the end, and with per-example
index tensors), every primitive has a rule, compositions with every transform in every order,
pytrees, randomness, chunk_size, errors, functional_call and stack_module_state; against
torch.func where installed."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from op_table import CASES, OpCase

import gpugrad as gg
from gpugrad.func import (
    functional_call,
    grad,
    grad_and_value,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    stack_module_state,
    vjp,
    vmap,
)
from gpugrad.ops.batching import NOT_BATCHED
from gpugrad.ops.registry import OPS

NB = 3  # examples per batch

# ----------------------------------------------------------------------------- the op table


def _draw(case: OpCase, k: int) -> list:
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + 7919 * k)
    return [a.draw(rng, np.float64) for a in case.args]


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _np(t):
    return np.asarray(t.detach().numpy())


# Rows whose per-example function cannot be batched, with the error vmap gives (a value-
# dependent shape: a per-example boolean mask).
_EXPECTED_ERRORS = {("getitem-mask", "indices"): "boolean mask"}

VARIANTS = ["front", "last", "indices"]


def _randomness(case):
    """The random ops' rows draw deterministically (std 0, p in {0, 1}): per example."""
    return "different" if case.name == "sampled" else "error"


def _in_dims(case, variant):
    dims = []
    for a in case.args:
        if a.kind == "const" and not a.is_float:  # indices, masks: per example in "indices"
            dims.append(0 if variant == "indices" else None)
        else:
            dims.append(-1 if variant == "last" else 0)
    if all(d is None for d in dims):  # only fixed inputs (ints as data): batch them all
        dims = [0] * len(dims)
    return dims


def _batch(arrays, dims):
    """Per-example arrays stacked along each input's batch dim (None: the first example's)."""
    out = []
    for i, d in enumerate(dims):
        if d is None:
            out.append(gg.tensor(arrays[0][i]))
        else:
            out.append(gg.tensor(np.stack([a[i] for a in arrays], axis=d)))
    return out


def _variant_cases():
    out = []
    for c in CASES:
        for v in VARIANTS:
            if v == "indices" and not any(a.kind == "const" and not a.is_float for a in c.args):
                continue
            if v == "last" and all(a.shape == () for a in c.args):
                continue
            out.append(pytest.param(c, v, id=f"{c.id}-{v}"))
    return out


@pytest.mark.parametrize("case,variant", _variant_cases())
def test_vmap_matches_per_example_results(case, variant):
    dims = _in_dims(case, variant)
    arrays = [_draw(case, k) for k in range(NB)]
    inputs = _batch(arrays, dims)
    if case.name in NOT_BATCHED:
        with pytest.raises(RuntimeError, match=case.name):  # (refused, by vmap or its checks)
            vmap(case.fn, in_dims=tuple(dims))(*inputs)
        return
    expected = (case.id, variant) in _EXPECTED_ERRORS
    if expected:
        with pytest.raises(RuntimeError, match=_EXPECTED_ERRORS[(case.id, variant)]):
            vmap(case.fn, in_dims=tuple(dims))(*inputs)
        return
    got = _as_list(vmap(case.fn, in_dims=tuple(dims), randomness=_randomness(case))(*inputs))
    per = [_as_list(case.fn(*[gg.tensor(a) for a in arrays[k]])) for k in range(NB)]
    assert len(got) == len(per[0])
    for j, g in enumerate(got):
        want = np.stack([_np(p[j]) for p in per])
        assert tuple(g.shape) == want.shape, f"output {j}: shape {tuple(g.shape)} != {want.shape}"
        assert g.dtype == per[0][j].dtype
        np.testing.assert_allclose(_np(g), want, rtol=1e-7, atol=1e-9, err_msg=f"output {j}")


GRAD_CASES = [c for c in CASES if c.grad_args and c.differentiable and c.name not in NOT_BATCHED]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_vmap_of_vjp_matches_per_example(case):
    """Per-example cotangents through every op's vjp rule, batched (the rules run on batched
    tensors), against a loop."""
    arrays = [_draw(case, k) for k in range(NB)]
    idx = case.grad_args
    dims = tuple(None if a.kind == "const" and not a.is_float else 0 for a in case.args)

    def f(*xs):
        def g(*ys):
            full = list(xs)
            for i, y in zip(idx, ys):
                full[i] = y
            outs = [o for o in _as_list(case.fn(*full)) if o.dtype.is_floating_point]
            return sum((o * (o.detach() + 1.0)).sum() for o in outs)
        return grad(g, argnums=tuple(range(len(idx))))(*[xs[i] for i in idx])

    got = vmap(f, in_dims=dims, randomness=_randomness(case))(*_batch(arrays, dims))
    for k in range(NB):
        want = f(*[gg.tensor(a) for a in arrays[k]])
        for g, w in zip(got, want):
            np.testing.assert_allclose(_np(g)[k], _np(w), rtol=1e-7, atol=1e-9)


def test_every_primitive_has_a_batching_rule():
    """Every registry entry declares how it runs on a batch (or a rule that raises, for ops
    where per-example semantics are impossible: listed in _NO_PER_EXAMPLE)."""
    missing = sorted(name for name, op in OPS.items() if op.batch is None)
    assert not missing, f"ops with no batching rule (add one in gpugrad/ops/batching.py): {missing}"
    # the ops that refuse, explicitly: their output's shape depends on the values
    assert set(NOT_BATCHED) == {"unique", "bincount", "histc"}
    for name in NOT_BATCHED:
        with pytest.raises(RuntimeError, match=f"{name} is not supported inside vmap"):
            OPS[name].batch(OPS[name], (), (), (), None)


# ----------------------------------------------------------------------------- transforms


def _t(a):
    return gg.tensor(np.asarray(a, dtype=np.float64))


def _close(a, b, rtol=1e-9, atol=1e-10):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y, rtol, atol)
        return
    if isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            _close(a[k], b[k], rtol, atol)
        return
    assert tuple(a.shape) == tuple(b.shape), f"{tuple(a.shape)} != {tuple(b.shape)}"
    np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)


def _stack(parts):
    if isinstance(parts[0], (tuple, list)):
        return type(parts[0])(_stack([p[i] for p in parts]) for i in range(len(parts[0])))
    if isinstance(parts[0], dict):
        return {k: _stack([p[k] for p in parts]) for k in parts[0]}
    return gg.stack(parts)


def _loop(f, *xs, in_dims=None):
    dims = in_dims or (0,) * len(xs)
    n = next(x.shape[d] for x, d in zip(xs, dims) if d is not None)
    return _stack([f(*[x if d is None else x.select(d, i) for x, d in zip(xs, dims)])
                   for i in range(n)])


RNG = np.random.default_rng(0)
W1 = _t(RNG.standard_normal((4, 3)))
X = _t(RNG.standard_normal((5, 3)))
T = _t(RNG.standard_normal((5, 3)))


def f_vec(x):
    """R^3 -> R^4, nonlinear."""
    return gg.tanh(W1 @ x) * x.sum() + (x ** 2)[:1]


def f_scalar(x):
    return (gg.sin(W1 @ x) ** 2).sum() + (x ** 3).prod()


@pytest.mark.parametrize("transform", [grad, jacrev, jacfwd, hessian])
def test_vmap_of_transform(transform):
    fn = f_scalar if transform in (grad, hessian) else f_vec
    _close(vmap(transform(fn))(X), _loop(transform(fn), X))


@pytest.mark.parametrize("transform", [jacrev, jacfwd])
def test_transform_of_vmap(transform):
    got = transform(vmap(f_vec))(X)
    want = transform(lambda X: _stack([f_vec(X[i]) for i in range(5)]))(X)
    _close(got, want)


def test_grad_of_vmap_and_back():
    """grad(lambda p: vmap(f)(p).sum()) and per-sample gradients vmap(grad) both ways."""
    w = _t(RNG.standard_normal(3))

    def loss(w, x, t):
        return ((x * w).sum().tanh() - t.sum()) ** 2

    per = vmap(grad(loss), in_dims=(None, 0, 0))(w, X, T)
    _close(per, _stack([grad(loss)(w, X[i], T[i]) for i in range(5)]))
    total = grad(lambda w: vmap(loss, in_dims=(None, 0, 0))(w, X, T).sum())(w)
    _close(total, per.sum(0))
    # grad of vmap of grad: the sum of the per-sample gradients' squared norms
    g2 = grad(lambda w: (vmap(grad(loss), in_dims=(None, 0, 0))(w, X, T) ** 2).sum())(w)
    want = grad(lambda w: sum((grad(loss)(w, X[i], T[i]) ** 2).sum() for i in range(5)))(w)
    _close(g2, want)


def test_grad_and_value_with_aux_inside_vmap():
    def f(x):
        y = (x ** 2).sum()
        return y, {"double": 2 * y}

    (g, (v, aux)) = vmap(grad_and_value(f, has_aux=True))(X)
    _close(g, 2 * X)
    _close(v, (X ** 2).sum(1))
    _close(aux["double"], 2 * (X ** 2).sum(1))


def test_vjp_and_jvp_with_vmap_both_ways():
    x = X[0]
    # vmap over cotangents / tangents (batched Jacobian rows / columns)
    _, vjp_fn = vjp(f_vec, x)
    cts = _t(RNG.standard_normal((6, 4)))
    _close(vmap(lambda c: vjp_fn(c)[0])(cts), _loop(lambda c: vjp_fn(c)[0], cts))
    tangents = _t(RNG.standard_normal((6, 3)))
    _close(vmap(lambda t: jvp(f_vec, (x,), (t,))[1])(tangents),
           _loop(lambda t: jvp(f_vec, (x,), (t,))[1], tangents))
    # vmap of vjp / jvp over the primals and tangents
    _close(vmap(lambda x, t: jvp(f_vec, (x,), (t,)))(X, T),
           _loop(lambda x, t: jvp(f_vec, (x,), (t,)), X, T))
    cts5 = _t(RNG.standard_normal((5, 4)))
    _close(vmap(lambda x, c: vjp(f_vec, x)[1](c)[0])(X, cts5),
           _loop(lambda x, c: vjp(f_vec, x)[1](c)[0], X, cts5))
    # jvp / vjp of vmap
    out, tan = jvp(vmap(f_vec), (X,), (T,))
    _close(tan, _loop(lambda x, t: jvp(f_vec, (x,), (t,))[1], X, T))
    _close(out, _loop(f_vec, X))
    out, fn = vjp(vmap(f_vec), X)
    _close(fn(cts5)[0], _loop(lambda x, c: vjp(f_vec, x)[1](c)[0], X, cts5))


def test_nested_vmap_and_in_dims():
    XX = _t(RNG.standard_normal((2, 5, 3)))
    _close(vmap(vmap(f_vec))(XX), _stack([_loop(f_vec, XX[i]) for i in range(2)]))
    # the outer level over dim 1, the inner over dim 0 of what is left
    got = vmap(vmap(f_vec), in_dims=1)(XX)
    _close(got, _stack([_loop(f_vec, XX[:, j]) for j in range(5)]))
    # an outer-batched input used unbatched by the inner level
    got = vmap(lambda a, B: vmap(lambda b: (a * b).sum())(B), in_dims=(0, None))(X, T)
    _close(got, X @ T.mT)
    # per-sample Hessians of a batch of batches
    got = vmap(vmap(hessian(f_scalar)))(XX)
    _close(got, _stack([_loop(hessian(f_scalar), XX[i]) for i in range(2)]))
    # vmap inside grad inside vmap
    got = vmap(grad(lambda x: vmap(f_scalar)(x * X).sum()))(X)
    want = _loop(grad(lambda x: sum(f_scalar(x * X[i]) for i in range(5))), X)
    _close(got, want)


def test_second_order_inside_vmap():
    g = vmap(grad(grad(lambda x: x.sin() * x ** 2)))
    xs = _t([0.1, 0.5, -1.3, 2.0])
    _close(g(xs), -xs.sin() * xs ** 2 + 4 * xs * xs.cos() + 2 * xs.sin())
    _close(vmap(jacfwd(jacrev(f_scalar)))(X), _loop(hessian(f_scalar), X))
    _close(vmap(jacrev(jacrev(f_scalar)))(X), _loop(hessian(f_scalar), X))


def test_negative_dims_none_scalars_and_unbatched_outputs():
    xt = X.mT.contiguous()  # batch along the last dim
    _close(vmap(lambda x, s: x * s + 1.0, in_dims=(-1, None))(xt, 2.0), X * 2.0 + 1.0)
    # an output the same for every example is repeated along the batch
    got = vmap(lambda x: (x * 2, W1), out_dims=(0, 1))(X)
    _close(got[0], 2 * X)
    assert tuple(got[1].shape) == (4, 5, 3)
    _close(got[1], W1[:, None, :].expand(4, 5, 3))
    _close(vmap(f_vec, out_dims=-1)(X), _loop(f_vec, X).mT)
    assert vmap(lambda x: W1, out_dims=None)(X) is W1


def test_pytrees_in_and_out():
    params = {"w": X, "b": _t(RNG.standard_normal(5))}

    def f(p, x):
        return {"y": (p["w"] * x).sum() + p["b"], "pair": (x, p["b"] * 2)}

    x = _t([1.0, 2.0, 3.0])
    out = vmap(f, in_dims=({"w": 0, "b": 0}, None), out_dims={"y": 0, "pair": (1, 0)})(params, x)
    _close(out["y"], X @ x + params["b"])
    assert tuple(out["pair"][0].shape) == (3, 5)
    _close(out["pair"][1], params["b"] * 2)
    # a list, and in_dims as a nest inside a tuple
    got = vmap(lambda xs: xs[0] + xs[1], in_dims=([0, 1],))([X, T.mT])
    _close(got, X + T)


def test_chunk_size_gives_the_same_result():
    ref = vmap(grad(f_scalar))(X)
    for c in (1, 2, 3, 5, 8):
        _close(vmap(grad(f_scalar), chunk_size=c)(X), ref)
    _close(vmap(f_vec, out_dims=1, chunk_size=2)(X), vmap(f_vec, out_dims=1)(X))


def test_randomness():
    x = gg.zeros(4, 3)
    with pytest.raises(RuntimeError, match="randomness"):
        vmap(lambda x: x + gg.randn(3))(x)
    with pytest.raises(RuntimeError, match="randomness"):
        vmap(lambda x: gg.nn.functional.dropout(x + 1.0, 0.5, True))(x)
    same = vmap(lambda x: x + gg.randn(3), randomness="same")(x)
    assert np.all(_np(same) == _np(same)[0])
    diff = vmap(lambda x: x + gg.rand_like(x), randomness="different")(x)
    assert tuple(diff.shape) == (4, 3)
    assert len({tuple(r) for r in _np(diff).round(12).tolist()}) == 4
    drop = vmap(lambda x: gg.nn.functional.dropout(x + 1.0, 0.5, True),
                randomness="different")(gg.zeros(64, 16))
    masks = _np(drop) != 0
    assert len({m.tobytes() for m in masks}) > 1
    assert set(np.unique(_np(drop))) <= {0.0, 2.0}
    perms = vmap(lambda x: gg.randperm(5) + x, randomness="different")(gg.zeros(6, dtype=gg.int64))
    assert all(sorted(r) == list(range(5)) for r in _np(perms).tolist())
    with pytest.raises(RuntimeError, match="randomness must be"):
        vmap(f_vec, randomness="sometimes")


@pytest.mark.parametrize("draw", [
    lambda x: x + gg.normal(0.0, 1.0, size=(3,)),
    lambda x: gg.bernoulli(x + 0.5),
    lambda x: x.clone().normal_(),
    lambda x: gg.normal(x, 1.0),
    lambda x: gg.multinomial(x + 1.0, 2).to(x.dtype),
], ids=["normal_float", "bernoulli", "normal_", "normal_tensor", "multinomial"])
def test_randomness_of_the_sampling_ops(draw):
    x = gg.zeros(6, 3)
    with pytest.raises(RuntimeError, match="randomness"):
        vmap(draw)(x)
    rows = _np(vmap(draw, randomness="different")(x))
    assert len({r.tobytes() for r in rows}) > 1
    one = _np(draw(x[0]))
    assert rows.shape == (6,) + one.shape
    try:
        same = _np(vmap(draw, randomness="same")(x))
    except RuntimeError as exc:  # per-example parameters: 'same' is refused, not faked
        assert "randomness='different'" in str(exc)
    else:
        assert all((r == same[0]).all() for r in same)
    with pytest.raises(RuntimeError, match="same for every example"):
        vmap(lambda x: gg.zeros(3).normal_() + x, randomness="different")(x)


def test_inplace_inside_vmap():
    def f(x):
        y = x.clone()
        y.mul_(2.0)
        y.add_(x.sin())
        y[0] = 0.0
        return y

    _close(vmap(f)(X), _loop(f, X))
    _close(vmap(grad(lambda x: f(x).sum()))(X), _loop(grad(lambda x: f(x).sum()), X))
    with pytest.raises(RuntimeError, match="same for every example"):
        vmap(lambda x: W1[0].clone().add_(x))(X)


# ----------------------------------------------------------------------------- errors


def test_errors():
    with pytest.raises(ValueError, match="same size"):
        vmap(lambda a, b: a + b)(X, gg.zeros(4, 3))
    with pytest.raises(ValueError, match="at least one input must be batched"):
        vmap(f_vec, in_dims=None)(X)
    with pytest.raises(ValueError, match="only tensors can be batched"):
        vmap(lambda x, n: x * n, in_dims=(0, 0))(X, 3)
    with pytest.raises(ValueError, match="out of range"):
        vmap(f_vec, in_dims=2)(X)
    with pytest.raises(ValueError, match="in_dims has 2 entries"):
        vmap(f_vec, in_dims=(0, 0))(X)
    with pytest.raises(ValueError, match="must only return tensors"):
        vmap(lambda x: 3)(X)
    with pytest.raises(ValueError, match="out_dims is None"):
        vmap(f_vec, out_dims=None)(X)
    with pytest.raises(ValueError, match="not compatible"):
        vmap(f_vec, in_dims=({"a": 0},))(X)
    with pytest.raises(RuntimeError, match="item.*differs from example to example"):
        vmap(lambda x: x.sum().item())(X)
    with pytest.raises(RuntimeError, match="bool"):
        vmap(lambda x: x if x.sum() > 0 else -x)(X)
    with pytest.raises(RuntimeError, match="tolist"):
        vmap(lambda x: x.tolist())(X)
    # control flow that every example takes the same way is fine (checks that raise)
    _close(vmap(lambda x: x * 2 if (x.abs() < 100).all() else x)(X), 2 * X)
    assert vmap(lambda x: x * 0 + int((x.sum() * 0 + 3).item()))(X).sum().item() == 45
    with pytest.raises(RuntimeError, match="backward"):
        vmap(lambda x: (x * W1[0].clone().requires_grad_()).sum().backward())(X)
    with pytest.raises(ValueError, match="chunk_size"):
        vmap(f_vec, chunk_size=0)


def test_an_op_without_a_rule_names_the_op(monkeypatch):
    monkeypatch.setattr(OPS["sin"], "batch", None)
    with pytest.raises(RuntimeError, match="'sin' has no batching rule"):
        vmap(gg.sin)(X)


def test_autograd_function_vmap_staticmethod():
    class Cube(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

        @staticmethod
        def vmap(info, in_dims, x):
            assert info.batch_size == 5
            return Cube.apply(x), in_dims[0]

    x = X.clone().requires_grad_()
    y = vmap(Cube.apply, in_dims=1)(x.mT)
    _close(y.detach(), X ** 3)
    y.sum().backward()
    _close(x.grad, 3 * X ** 2)

    class NoRule(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with pytest.raises(RuntimeError, match="NoRule has no vmap rule"):
        vmap(NoRule.apply)(X)

    class Generated(NoRule):
        generate_vmap_rule = True

    with pytest.raises(NotImplementedError, match="generate_vmap_rule"):
        vmap(Generated.apply)(X)
    with pytest.raises(RuntimeError, match="differentiates"):
        vmap(grad(lambda x: Cube.apply(x).sum()))(X)


# ----------------------------------------------------------------------------- modules


def test_functional_call():
    gg.manual_seed(0)
    net = gg.nn.Sequential(gg.nn.Linear(3, 4), gg.nn.Tanh(), gg.nn.Linear(4, 2))
    x = gg.randn(5, 3)
    params = {k: v.detach() * 2 for k, v in net.named_parameters()}
    got = functional_call(net, params, (x,))
    with gg.no_grad():
        for p in net.parameters():
            p.mul_(2)
        want = net(x)
        for p in net.parameters():
            p.div_(2)
    _close(got, want)
    # the module is restored; a partial dict keeps the module's own for the rest
    assert net[0].weight is dict(net.named_parameters())["0.weight"]
    _close(functional_call(net, {}, x), net(x).detach())
    with pytest.raises(RuntimeError, match="missing key"):
        functional_call(net, {"0.weight": params["0.weight"]}, (x,), strict=True)
    with pytest.raises(RuntimeError, match="unexpected key"):
        functional_call(net, {"nope": x}, (x,))
    g = grad(lambda p: functional_call(net, p, (x,)).pow(2).sum())(params)
    assert set(g) == set(params)
    assert all(tuple(g[k].shape) == tuple(params[k].shape) for k in g)


def test_functional_call_tied_weights():
    class Tied(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = gg.nn.Linear(3, 3, bias=False)
            self.b = gg.nn.Linear(3, 3, bias=False)
            self.b.weight = self.a.weight  # one parameter under two names

        def forward(self, x):
            return self.b(self.a(x))

    m = Tied()
    w = gg.eye(3) * 2
    x = gg.ones(1, 3)
    _close(functional_call(m, {"a.weight": w}, x), x * 4)
    _close(functional_call(m, {"a.weight": w}, x, tie_weights=False),
           (x @ w.mT @ m.a.weight.mT).detach())
    with pytest.raises(ValueError, match="tied"):
        functional_call(m, {"a.weight": w, "b.weight": w * 2}, x)


def test_stack_module_state_ensemble():
    gg.manual_seed(1)
    models = [gg.nn.Linear(3, 2) for _ in range(4)]
    params, buffers = stack_module_state(models)
    assert tuple(params["weight"].shape) == (4, 2, 3) and params["weight"].requires_grad
    assert params["weight"].is_leaf and buffers == {}
    base = models[0]
    x = gg.randn(6, 3)
    out = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), in_dims=(0, 0, None))(
        params, buffers, x)
    _close(out.detach(), gg.stack([m(x) for m in models]).detach())
    with pytest.raises(RuntimeError, match="same class"):
        stack_module_state([gg.nn.Linear(3, 2), gg.nn.Tanh()])


# ----------------------------------------------------------------------------- torch


def test_per_sample_gradients_match_torch_func():
    torch = pytest.importorskip("torch")
    from torch.func import grad as tgrad
    from torch.func import vmap as tvmap

    rng = np.random.default_rng(3)
    W = rng.standard_normal((4, 3))
    b = rng.standard_normal(4)
    V = rng.standard_normal((1, 4))
    xs = rng.standard_normal((8, 3))
    ys = rng.standard_normal((8, 1))

    def loss(W, b, V, x, y, lib):
        h = lib.tanh(x @ W.mT + b)
        return ((h @ V.mT - y) ** 2).sum()

    g = vmap(grad(lambda *a: loss(*a, gg), argnums=(0, 1, 2)), in_dims=(None, None, None, 0, 0))(
        *map(_t, (W, b, V, xs, ys)))
    tt = [torch.tensor(a) for a in (W, b, V, xs, ys)]
    want = tvmap(tgrad(lambda *a: loss(*a, torch), argnums=(0, 1, 2)),
                 in_dims=(None, None, None, 0, 0))(*tt)
    for a, w in zip(g, want):
        np.testing.assert_allclose(_np(a), w.numpy(), rtol=1e-10, atol=1e-12)
    # batched Jacobians and Hessians too
    h = vmap(hessian(lambda x: gg.sin(x @ _t(W).mT).sum()))(_t(xs))
    th = tvmap(torch.func.hessian(lambda x: torch.sin(x @ torch.tensor(W).mT).sum()))(
        torch.tensor(xs))
    np.testing.assert_allclose(_np(h), th.numpy(), rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- gradcheck


def test_gradcheck_check_batched_grad(monkeypatch):
    from gpugrad.autograd import GradcheckError, gradcheck, gradgradcheck

    x = gg.randn(3, 4, dtype=gg.float64, requires_grad=True)
    w = gg.randn(4, 2, dtype=gg.float64, requires_grad=True)

    def f(x, w):
        return (x @ w).tanh().sum(0), x[[0, 2]] * 2

    assert gradcheck(f, (x, w), check_batched_grad=True, check_batched_forward_grad=True)
    assert gradgradcheck(lambda x, w: f(x, w)[0], (x, w), check_batched_grad=True)
    right = OPS["mul"].batch

    def wrong(op, vals, dims, params, level):  # a rule that mixes up the examples
        r, d = right(op, vals, dims, params, level)
        return r.flip((d,)), d

    monkeypatch.setattr(OPS["mul"], "batch", wrong)
    assert gradcheck(f, (x, w))  # the plain check does not batch
    with pytest.raises(GradcheckError, match="check_batched_grad"):
        gradcheck(f, (x, w), check_batched_grad=True)
    with pytest.raises(GradcheckError, match="check_batched_forward_grad"):
        gradcheck(f, (x, w), check_batched_forward_grad=True)


def test_per_sample_gradients_of_a_cnn():
    """DP-SGD on a CNN: convolutions, pooling, a linear layer; per-example weight gradients
    (the batch becomes channel groups), against a loop and torch.func."""
    gg.manual_seed(0)
    net = gg.nn.Sequential(gg.nn.Conv2d(2, 4, 3, padding=1), gg.nn.ReLU(), gg.nn.MaxPool2d(2),
                           gg.nn.Conv2d(4, 3, 2, stride=2, groups=1), gg.nn.Flatten(),
                           gg.nn.Linear(12, 5)).double()
    params = {k: v.detach() for k, v in net.named_parameters()}
    x = gg.randn(6, 2, 8, 8, dtype=gg.float64)
    y = gg.randint(0, 5, (6,))

    def loss(p, x, y):
        return gg.nn.functional.cross_entropy(functional_call(net, p, (x[None],)), y[None])

    per = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for i in range(6):
        one = grad(loss)(params, x[i], y[i])
        for k in params:
            _close(per[k][i], one[k], rtol=1e-9, atol=1e-11)
    torch = pytest.importorskip("torch")
    tnet = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 3, 2, stride=2),
                               torch.nn.Flatten(), torch.nn.Linear(12, 5)).double()
    tparams = {k: torch.tensor(_np(v)) for k, v in params.items()}

    def tloss(p, x, y):
        out = torch.func.functional_call(tnet, p, (x[None],))
        return torch.nn.functional.cross_entropy(out, y[None])

    want = torch.func.vmap(torch.func.grad(tloss), in_dims=(None, 0, 0))(
        tparams, torch.tensor(_np(x)), torch.tensor(_np(y)))
    for k in params:
        np.testing.assert_allclose(_np(per[k]), want[k].numpy(), rtol=1e-9, atol=1e-11)


def test_randomness_of_nested_levels():
    x = gg.zeros(3, 4)

    def draw(x):
        return x + gg.randn(())

    both = _np(vmap(vmap(draw, randomness="different"), randomness="different")(x))
    assert len(set(both.ravel().tolist())) == 12
    inner_same = _np(vmap(vmap(draw, randomness="same"), randomness="different")(x))
    assert (inner_same == inner_same[:, :1]).all() and len(set(inner_same[:, 0])) == 3
    outer_same = _np(vmap(vmap(draw, randomness="different"), randomness="same")(x))
    assert (outer_same == outer_same[:1]).all() and len(set(outer_same[0])) == 4


def test_a_batched_tensors_raw_array_refuses_to_give_values():
    """Inside vmap, `_data` of a batched tensor has one example's shape and dtype but no
    values: code that computes on it raises instead of computing on a stand-in."""
    seen = {}

    def f(x):
        d = x._data
        seen["shape"], seen["dtype"] = d.shape, d.dtype
        for read in (lambda: d.sum(), lambda: d < 0, lambda: float(d[0]), lambda: d.tolist(),
                     lambda: bool(d[0]), lambda: np.concatenate([d, d]), lambda: np.exp(d)):
            with pytest.raises(RuntimeError, match="raw array"):
                read()
        return x * 2

    out = vmap(f)(gg.ones(4, 3, dtype=gg.float64))
    assert seen == {"shape": (3,), "dtype": np.float64}
    assert out.shape == (4, 3)
