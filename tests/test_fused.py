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


# ----------------------------------------------------------------------------- compiled CPU loop

needs_numba = pytest.mark.skipif(
    __import__("gpugrad.ops.kernels.linear_mse_cpu", fromlist=["x"]).unavailable() is not None,
    reason="Numba is not installed (the 'fast' extra): the NumPy sweep runs instead")


@needs_numba
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("n,d", [(1, 1), (3, 1), (1, 300), (257, 5), (800_000, 3), (5000, 64)])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("keep_r", [False, True])
def test_compiled_loop_matches_the_numpy_sweep(dtype, rtol, n, d, bias, keep_r, monkeypatch):
    from gpugrad.ops.kernels import linear_mse_cpu as kernel
    monkeypatch.setattr(fused, "IN_CACHE_BYTES", 0)  # the loop even where X is small
    monkeypatch.setattr(kernel, "MIN_D", 1)  # and where rows are short
    rng = np.random.default_rng(n * 1000 + d)
    X = rng.standard_normal((n, d)).astype(dtype)
    w = rng.standard_normal(d).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    b = rng.standard_normal(1).astype(dtype) if bias else None
    assert kernel.supports(X, w, b, y)
    chunk = fused.row_chunk(X)
    got = kernel.sweep(np, X, w, b, y, chunk, True, bias, keep_r, fused._sweep, fused.map_rows)
    want = fused._sweep(np, X, w, b, y, chunk, True, bias, keep_r)
    again = kernel.sweep(np, X, w, b, y, chunk, True, bias, keep_r, fused._sweep, fused.map_rows)
    for g, h, a in zip(got, want, again):
        assert (g is None) == (h is None)
        if g is None:
            continue
        g, h = np.asarray(g), np.asarray(h)
        assert g.shape == h.shape
        np.testing.assert_allclose(g, h, rtol=rtol, atol=rtol * max(1.0, float(np.abs(h).max())))
        assert np.array_equal(g, np.asarray(a))  # the same bits run after run
    # and through the public function, value and gradients against the composite
    Xt, wt, yt = gg.tensor(X), gg.tensor(w, requires_grad=True), gg.tensor(y)
    bt = None if b is None else gg.tensor(b, requires_grad=True)
    F.linear_mse_loss(Xt, wt, yt, bt).backward()
    w2 = wt.detach().requires_grad_()
    b2 = None if bt is None else bt.detach().requires_grad_()
    _composite(Xt, w2, yt, b2).backward()
    np.testing.assert_allclose(wt.grad.numpy(), w2.grad.numpy(), rtol=50 * rtol,
                               atol=50 * rtol * float(np.abs(w2.grad.numpy()).max()))


@needs_numba
@needs_numba
def test_short_rows_take_the_numpy_sweep():
    from gpugrad.ops.kernels import linear_mse_cpu as kernel
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200_000, kernel.MIN_D - 1))
    w, y = rng.standard_normal(X.shape[1]), rng.standard_normal(len(X))
    assert X.nbytes > fused.IN_CACHE_BYTES
    got = kernel.sweep(np, X, w, None, y, 4096, True, False, False, fused._sweep, fused.map_rows,
                       fused.IN_CACHE_BYTES)
    want = fused._sweep(np, X, w, None, y, 4096, True, False, False)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_an_x_that_fits_in_cache_takes_the_two_blas_passes():
    from gpugrad.ops.kernels import linear_mse_cpu as kernel
    rng = np.random.default_rng(3)
    X = rng.standard_normal((1000, 16))
    w, y = rng.standard_normal(16), rng.standard_normal(1000)
    assert X.nbytes <= fused.IN_CACHE_BYTES
    got = kernel.sweep(np, X, w, None, y, 7, True, False, False, fused._sweep, fused.map_rows,
                       fused.IN_CACHE_BYTES)
    want = fused._sweep(np, X, w, None, y, 1000, True, False, False)  # one chunk: all rows
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


@needs_numba
@pytest.mark.parametrize("where", ["X", "w", "y", "b"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_compiled_loop_propagates_nan_and_inf_as_the_composite(where, bad, monkeypatch):
    rng = np.random.default_rng(1)
    arrays = {"X": rng.standard_normal((500, 7)), "w": rng.standard_normal(7),
              "y": rng.standard_normal(500), "b": rng.standard_normal(1)}
    arrays[where].reshape(-1)[min(3, arrays[where].size - 1)] = bad
    X, w, y, b = (gg.tensor(arrays[k], requires_grad=k != "X") for k in "Xwyb")
    monkeypatch.setattr(fused, "IN_CACHE_BYTES", 0)
    monkeypatch.setattr(fused._cpu_linear_mse, "MIN_D", 1)
    with np.errstate(all="ignore"):
        fl = F.linear_mse_loss(X, w, y, b)
        fl.backward()
        w2, b2 = w.detach().requires_grad_(), b.detach().requires_grad_()
        cl = _composite(X, w2, y, b2)
        cl.backward()
    np.testing.assert_array_equal(np.isnan(fl.item()), np.isnan(cl.item()))
    assert fl.item() == cl.item() or np.isnan(cl.item())
    np.testing.assert_array_equal(np.isnan(w.grad.numpy()), np.isnan(w2.grad.numpy()))
    np.testing.assert_array_equal(np.isinf(w.grad.numpy()), np.isinf(w2.grad.numpy()))


def test_without_numba_the_numpy_sweep_runs(monkeypatch):
    from gpugrad.ops.kernels import linear_mse_cpu as kernel
    monkeypatch.setattr(kernel, "_loops", {})
    monkeypatch.setattr(kernel, "_missing", ["ModuleNotFoundError: No module named 'numba'"])
    assert kernel.unavailable().startswith("ModuleNotFoundError")
    X, w, y, b = _inputs("cpu", n=50, d=3)
    w.requires_grad_()
    F.linear_mse_loss(X, w, y, b).backward()
    w2 = w.detach().requires_grad_()
    _composite(X, w2, y, b).backward()
    np.testing.assert_allclose(w.grad.numpy(), w2.grad.numpy(), rtol=1e-12)


def test_the_compiled_loop_takes_only_what_it_supports():
    from gpugrad.ops.kernels import linear_mse_cpu as kernel
    X, w, y = np.zeros((4, 3)), np.zeros(3), np.zeros(4)
    assert kernel.supports(X, w, None, y)
    assert not kernel.supports(np.asfortranarray(X), w, None, y)  # rows not contiguous
    assert not kernel.supports(X, np.zeros((3, 2)), None, np.zeros((4, 2)))  # two outputs
    assert not kernel.supports(X.astype(np.float16), w, None, y)
    assert not kernel.supports(X, w, np.zeros(2), y)
