"""The fused linear-regression loss against its composite, mse_loss(X @ w + b, y).

The op table (tests/op_table.py) checks it against NumPy and finite differences in both modes
at order 2; these tests cover what the table does not: every pattern of inputs that require
grad, chunkings, row ranges on several threads, value-only calls, and bad input.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.ops import fused


def _inputs(device, n=23, d=4, k=None, bias=(1,), dtype=gg.float64, seed=0):
    rng = np.random.default_rng(seed)
    kw = {"dtype": dtype, "device": device}
    X = gg.tensor(rng.standard_normal((n, d)), **kw)
    w = gg.tensor(rng.standard_normal((d,) if k is None else (d, k)), **kw)
    y = gg.tensor(rng.standard_normal((n,) if k is None else (n, k)), **kw)
    b = None if bias is None else gg.tensor(rng.standard_normal(bias), **kw)
    return X, w, y, b


def _composite(X, w, y, b):
    z = X @ w
    return F.mse_loss(z if b is None else z + b, y)


@pytest.mark.parametrize("k,bias", [(None, (1,)), (None, ()), (None, None), (3, (3,)),
                                    (3, (1, 3)), (3, (1,))])
@pytest.mark.parametrize("chunk", [1, 5, 23, 100, None])
def test_value_and_every_gradient_pattern_match_the_composite(device, k, bias, chunk):
    X, w, y, b = _inputs(device, k=k, bias=bias)
    ts = [t for t in (X, w, y, b) if t is not None]
    for mask in itertools.product([False, True], repeat=len(ts)):
        if not any(mask):
            continue
        for t, m in zip(ts, mask):
            t.requires_grad_(m)
        wanted = [t for t, m in zip(ts, mask) if m]
        fused = F.linear_mse_loss(X, w, y, b, chunk=chunk)
        ref = _composite(X, w, y, b)
        np.testing.assert_allclose(fused.item(), ref.item(), rtol=1e-13)
        for a, r in zip(gg.autograd.grad(fused, wanted), gg.autograd.grad(ref, wanted)):
            assert a.shape == r.shape
            np.testing.assert_allclose(a.cpu().numpy(), r.cpu().numpy(), rtol=1e-12, atol=1e-13)


def test_float32_matches_float64_reference(device):
    X, w, y, b = _inputs(device, n=3000, d=16, dtype=gg.float32)
    w.requires_grad_()
    b.requires_grad_()
    loss = F.linear_mse_loss(X, w, y, b, chunk=256)
    loss.backward()
    Xh, wh, yh, bh = (t.detach().cpu().numpy().astype(np.float64) for t in (X, w, y, b))
    r = Xh @ wh + bh - yh
    np.testing.assert_allclose(loss.item(), np.mean(r * r), rtol=1e-5)
    np.testing.assert_allclose(w.grad.cpu().numpy(), 2 / len(r) * Xh.T @ r, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.grad.cpu().numpy(), [2 * r.mean()], rtol=1e-4, atol=1e-5)
    assert loss.dtype == gg.float32 and w.grad.dtype == gg.float32


def test_second_order_and_forward_mode_match_the_composite(device):
    X, w, y, b = _inputs(device, k=2, bias=(2,))
    for t in (X, w, b):
        t.requires_grad_()

    def hess_w_x(loss_fn):
        (gw,) = gg.autograd.grad(loss_fn(X, w, y, b), w, create_graph=True)
        return gg.autograd.grad((gw * gw).sum(), [X, b])

    for h, r in zip(hess_w_x(lambda *a: F.linear_mse_loss(*a, chunk=4)), hess_w_x(_composite)):
        np.testing.assert_allclose(h.cpu().numpy(), r.cpu().numpy(), rtol=1e-12, atol=1e-13)
    tangent = gg.ones_like(w)
    _, jf = gg.func.jvp(lambda w_: F.linear_mse_loss(X.detach(), w_, y, b.detach(), chunk=3),
                        (w.detach(),), (tangent,))
    _, jc = gg.func.jvp(lambda w_: _composite(X.detach(), w_, y, b.detach()), (w.detach(),),
                        (tangent,))
    np.testing.assert_allclose(jf.item(), jc.item(), rtol=1e-12)


def test_results_do_not_depend_on_chunking_or_threads(device):
    X, w, y, b = _inputs(device, n=1001, d=8, bias=(1,))
    w.requires_grad_()
    grads = []
    for chunk in (7, 64, 1001):
        for _ in range(2):
            w.grad = None
            F.linear_mse_loss(X, w, y, b, chunk=chunk).backward()
            grads.append(w.grad.cpu().numpy())
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=1e-12)
    # the same chunking gives the same bits, run after run
    assert all(np.array_equal(grads[2 * i], grads[2 * i + 1]) for i in range(3))


def test_value_only_saves_nothing_and_accumulates_into_grad(device):
    X, w, y, b = _inputs(device)
    w.requires_grad_()
    with gg.no_grad():
        v = F.linear_mse_loss(X, w, y, b)
    assert v.grad_fn is None and not v.requires_grad
    np.testing.assert_allclose(v.item(), _composite(X, w, y, b).item(), rtol=1e-13)
    # gradient accumulation: two backward calls add up, as for any op
    F.linear_mse_loss(X, w, y, b).backward()
    once = w.grad.clone()
    F.linear_mse_loss(X, w, y, b).backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), 2 * once.cpu().numpy(), rtol=1e-13)
    assert F.linear_mse_loss(X, w, y, b).grad_fn.name() == "LinearMseBackward0"


def test_retain_graph_and_in_place_change_of_a_saved_input(device):
    X, w, y, b = _inputs(device)
    w.requires_grad_()
    loss = F.linear_mse_loss(X, w, y, b)
    loss.backward(retain_graph=True)
    first = w.grad.clone()
    loss.backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), 2 * first.cpu().numpy(), rtol=1e-13)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    loss = F.linear_mse_loss(X, w, y, b)
    with gg.no_grad():
        X.mul_(2)
    with pytest.raises(RuntimeError, match="LinearMseBackward0.*modified by an in-place"):
        loss.backward()


@pytest.mark.parametrize("make,match", [
    (lambda X, w, y, b: (X[0], w, y, b), r"expected input \(N, D\)"),
    (lambda X, w, y, b: (X, w[:3], y, b), r"expected input \(N, D\) and weight"),
    (lambda X, w, y, b: (X, w, y[:5], b), r"target has shape \(5,\)"),
    (lambda X, w, y, b: (X, w, y, gg.zeros(2, dtype=X.dtype, device=X.device)),
     r"bias of shape \(2,\)"),
    (lambda X, w, y, b: (X, w, y, gg.zeros(23, dtype=X.dtype, device=X.device)),
     r"same bias for every row"),
    (lambda X, w, y, b: (X.float(), w, y, b), "one floating dtype, got gpugrad.float32"),
    (lambda X, w, y, b: (X.long(), w.long(), y.long(), None), "one floating dtype"),
])
def test_bad_input_names_the_op(device, make, match):
    args = make(*_inputs(device))
    with pytest.raises(RuntimeError, match=match) as e:
        F.linear_mse_loss(*args)
    assert str(e.value).startswith("linear_mse_loss:")


def test_bad_arguments(device):
    X, w, y, b = _inputs(device)
    with pytest.raises(TypeError, match="linear_mse_loss: target must be a tensor"):
        F.linear_mse_loss(X, w, y.tolist())
    with pytest.raises(ValueError, match="positive number of rows"):
        F.linear_mse_loss(X, w, y, chunk=0)


def test_empty_input_gives_nan_like_mse_loss(device):
    X, w, y, _ = _inputs(device, n=0)
    with np.errstate(all="ignore"):
        assert np.isnan(F.linear_mse_loss(X, w, y).item())


def test_cpu_chunk_fills_half_the_l2_cache():
    a = np.zeros((100_000, 256), np.float32)
    rows = fused.row_chunk(a)
    assert rows * 256 * 4 <= fused.CACHE_BYTES < (rows + 1) * 256 * 4
    assert fused.row_chunk(a, 10) == 10
    assert fused.row_chunk(np.zeros((3, 4))) == 3
    # map_rows: whole chunks per range, in order, covering every row once
    spans = fused.map_rows(a, 1000, lambda lo, hi: (lo, hi))
    assert spans[0][0] == 0 and spans[-1][1] == len(a)
    assert all(p[1] == q[0] and p[0] % 1000 == 0 for p, q in zip(spans, spans[1:]))
