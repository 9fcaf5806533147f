"""CUDA kernels against the portable rules they override (skipped without a GPU), and the
no-host-synchronisation guarantee of a training step on the GPU."""

from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.ops import fused

pytestmark = pytest.mark.cuda


def _cupy():
    return pytest.importorskip("cupy")


@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("n,d", [(10007, 37), (4096, 128), (3, 1), (1, 300)])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("keep_r", [False, True])
def test_linear_mse_kernel_matches_the_portable_sweep(cuda_device, dtype, rtol, n, d, with_bias,
                                                       keep_r):
    from gpugrad.kernels import linear_mse as kernel

    cp = _cupy()
    rng = np.random.default_rng(n * 1000 + d)  # fresh, non-zero data for each case
    X = cp.asarray(rng.standard_normal((n, d)), dtype)
    w = cp.asarray(rng.standard_normal(d), dtype)
    y = cp.asarray(rng.standard_normal(n), dtype)
    b = cp.asarray(rng.standard_normal(1), dtype) if with_bias else None
    assert kernel.supports(X, w, b, y)
    got = kernel.sweep(cp, X, w, b, y, n, True, True, keep_r, fallback=None)
    want = fused._sweep(cp, X, w, b, y, n, True, True, keep_r)
    for g, r in zip(got, want):
        if r is None:
            assert g is None
            continue
        g, r = cp.asnumpy(g), cp.asnumpy(r)
        assert g.shape == r.shape and np.isfinite(g).all()  # every output written
        scale = max(np.abs(r).max(), 1.0)
        np.testing.assert_allclose(g, r, rtol=rtol, atol=rtol * scale)


def test_linear_mse_on_cuda_uses_the_kernel_and_falls_back_where_it_must(cuda_device):
    cp = _cupy()
    rng = np.random.default_rng(7)
    X = gg.tensor(rng.standard_normal((500, 16)), device="cuda")
    # a column weight runs as a vector (the kernel); three outputs take the portable sweep
    for w_shape, y_shape in [((16,), (500,)), ((16, 1), (500, 1)), ((16, 3), (500, 3))]:
        w = gg.tensor(rng.standard_normal(w_shape), device="cuda", requires_grad=True)
        y = gg.tensor(rng.standard_normal(y_shape), device="cuda")
        F.linear_mse_loss(X, w, y).backward()
        (ref,) = gg.autograd.grad(F.mse_loss(X @ w, y), w)
        np.testing.assert_allclose(w.grad.cpu().numpy(), ref.cpu().numpy(), rtol=1e-10)
    assert fused.KERNELS[cp.ndarray].func.__module__ == "gpugrad.kernels.linear_mse"


def test_training_steps_on_cuda_do_not_synchronise_with_the_host(cuda_device):
    """Forward, backward and optimizer steps queue GPU work only: CuPy raises on any sync."""
    _cupy()
    cupyx = pytest.importorskip("cupyx")
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(20, 32), gg.nn.Tanh(), gg.nn.Linear(32, 4)).to("cuda")
    X = gg.randn(64, 20, device="cuda")
    labels = gg.randint(0, 4, (64,), device="cuda")
    Xr, yr = gg.randn(256, 8, device="cuda"), gg.randn(256, device="cuda")
    w = gg.zeros(8, device="cuda", requires_grad=True)
    b = gg.zeros(1, device="cuda", requires_grad=True)
    opts = [gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
            gg.optim.Adam([w, b], lr=0.01)]
    for _ in range(2):  # the second round runs with every buffer already made
        with cupyx.allow_synchronize(False):
            for opt in opts:
                opt.zero_grad()
            F.cross_entropy(model(X), labels).backward()
            ((Xr @ w + b - yr) ** 2).mean().backward()
            F.linear_mse_loss(Xr, w, yr, b).backward()
            for opt in opts:
                opt.step()
    assert np.isfinite(w.detach().cpu().numpy()).all()
