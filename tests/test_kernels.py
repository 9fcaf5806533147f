"""Device kernels against the portable forwards they override, and the no-host-synchronisation
guarantee of a training step on the GPU.

Kernels are declared on registry entries (``defop(..., kernels={"cuda": fn})``) and switched
off with ``gpugrad.ops.registry.use_kernels(False)``: every op-table row of every op with a
kernel runs both ways on the GPU (skipped without one). The declarations and the switch are
also checked on the CPU.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from op_table import CASES

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.ops import fused
from gpugrad.ops.registry import OPS, use_kernels

cuda = pytest.mark.cuda

# The registry entries that declare a device kernel, and their op-table rows.
KERNEL_OPS = sorted(name for name, op in OPS.items() if op.kernels)
KERNEL_ROWS = [c for c in CASES if c.name in KERNEL_OPS]
DTYPES = [pytest.param(np.float64, id="float64"), pytest.param(np.float32, id="float32")]


def _cupy():
    return pytest.importorskip("cupy")


def _to_np(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy())


def _run(case, device, dtype, kernels: bool):
    """The row's float outputs and the reverse-mode gradients of its grad inputs (for fixed
    random cotangents), as NumPy arrays, with the device kernels on or off."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    arrays = [a.draw(rng, dtype) for a in case.args]
    idx = case.grad_args
    use_kernels(kernels)
    try:
        xs = [gg.tensor(np.asarray(a), device=device, requires_grad=i in idx)
              for i, a in enumerate(arrays)]
        outs = case.fn(*xs)
        outs = [o for o in (outs if isinstance(outs, (tuple, list)) else [outs])
                if o.dtype.is_floating_point]
        values = [_to_np(o) for o in outs]
        grads = []
        if idx:
            us = [gg.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, device=device)
                  for o in outs]
            gs = gg.autograd.grad(outs, [xs[i] for i in idx], grad_outputs=us, allow_unused=True)
            grads = [None if g is None else _to_np(g) for g in gs]
    finally:
        use_kernels(True)
    return values, grads


def _compare(case, device, dtype):
    (v_on, g_on), (v_off, g_off) = (_run(case, device, dtype, k) for k in (True, False))
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-4, 1e-5)
    assert len(v_on) == len(v_off) and len(g_on) == len(g_off)
    for what, on, off in [("output", v_on, v_off), ("gradient", g_on, g_off)]:
        for i, (a, b) in enumerate(zip(on, off)):
            if a is None or b is None:
                assert a is None and b is None, f"{what} {i}: None with kernels on xor off"
                continue
            assert a.dtype == b.dtype == np.dtype(dtype), f"{what} {i}: {a.dtype} vs {b.dtype}"
            scale = max(float(np.max(np.abs(b), initial=0.0)), 1.0)
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale, equal_nan=True,
                                       err_msg=f"{what} {i}: kernels on vs off")


@cuda
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", KERNEL_ROWS, ids=[c.id for c in KERNEL_ROWS])
def test_kernels_match_the_portable_forwards_on_every_row(cuda_device, case, dtype):
    """Every op-table row of every op with a kernel: values and gradients with the kernels on
    equal those with them off (the portable forwards)."""
    _compare(case, cuda_device, dtype)


def test_kernel_declarations_and_the_switch_on_the_cpu():
    bad = [f"{name}: kernel key {key!r} (expected 'cpu' or 'cuda')"
           for name, op in OPS.items() for key in op.kernels if key not in ("cpu", "cuda")]
    bad += [f"{name}: kernels[{key!r}] = {fn!r} is not callable"
            for name, op in OPS.items() for key, fn in op.kernels.items() if not callable(fn)]
    assert not bad, "bad kernel declarations:\n" + "\n".join(bad)
    assert "linear_mse" in KERNEL_OPS and callable(OPS["linear_mse"].kernels["cuda"])
    rows = [c for c in CASES if c.name == "linear_mse"]
    assert rows, "no linear_mse rows in tests/op_table.py"
    for case in rows:
        for dtype in (np.float64, np.float32):
            _compare(case, "cpu", dtype)
    op = OPS["linear_mse"]
    assert op.np_impl is op.impl(np.ndarray), "use_kernels(True) left a stale CPU forward"


@cuda
@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("n,d", [(10007, 37), (4096, 128), (3, 1), (1, 300)])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("keep_r", [False, True])
def test_linear_mse_kernel_matches_the_portable_sweep(cuda_device, dtype, rtol, n, d, with_bias,
                                                       keep_r):
    from gpugrad.ops.kernels import linear_mse as kernel

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


@cuda
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_mse_kernel_gives_the_same_bits_run_after_run(cuda_device, dtype):
    """No float atomics: per-block sums added in a fixed order (many blocks here)."""
    from gpugrad.ops.kernels import linear_mse as kernel

    cp = _cupy()
    n, d = 200_003, 37
    rng = np.random.default_rng(3)
    X = cp.asarray(rng.standard_normal((n, d)), dtype)
    w, y, b = (cp.asarray(rng.standard_normal(k), dtype) for k in (d, n, 1))
    assert kernel.grid(n, kernel.sm_count(cp, X.device.id)) > 1
    runs = [[cp.asnumpy(a) for a in kernel.sweep(cp, X, w, b, y, n, True, True, True, None)]
            for _ in range(3)]
    for run in runs[1:]:
        for a, ref in zip(run, runs[0]):
            assert np.array_equal(a, ref), "the kernel's results changed from run to run"


def test_linear_mse_grid_depends_on_rows_and_sms_only_and_the_sm_count_is_cached():
    from gpugrad.ops.kernels import linear_mse as kernel

    warps = kernel._THREADS // 32
    for sms in (1, 108, 132):
        for n in (1, warps - 1, warps, warps + 1, 10_000, 10**8):
            blocks = kernel.grid(n, sms)
            assert 1 <= blocks <= sms * kernel._BLOCKS_PER_SM
            assert (blocks - 1) * warps < n, f"n={n}, sms={sms}: a block without a row"
    assert kernel.grid(10**8, 132) == 132 * kernel._BLOCKS_PER_SM

    calls = []

    class Runtime:
        cudaDevAttrMultiProcessorCount = 16

        @staticmethod
        def deviceGetAttribute(attr, device):  # noqa: N802 - CUDA's name
            calls.append((attr, device))
            return 100 + device

    class FakeCupy:
        class cuda:  # noqa: N801 - CuPy's name
            runtime = Runtime

    kernel._sm_counts.pop(7, None)
    kernel._sm_counts.pop(8, None)
    try:
        assert [kernel.sm_count(FakeCupy, i) for i in (7, 7, 8, 7, 8)] == [107, 107, 108, 107, 108]
    finally:
        kernel._sm_counts.pop(7, None)
        kernel._sm_counts.pop(8, None)
    assert calls == [(16, 7), (16, 8)], "the SM count is asked once per device"


def _functions(f) -> list:
    """`f` and the functions in its closure cells, recursively (what a forward wraps)."""
    seen, todo = [], [f]
    while todo:
        g = todo.pop()
        if callable(g) and not any(g is s for s in seen):
            seen.append(g)
            for cell in getattr(g, "__closure__", None) or ():
                try:
                    todo.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    pass
    return seen


@cuda
def test_linear_mse_on_cuda_uses_the_kernel_and_falls_back_where_it_must(cuda_device,
                                                                         monkeypatch):
    from gpugrad.ops.kernels import linear_mse as kernel

    cp = _cupy()
    op = OPS["linear_mse"]
    # with kernels on, the forward for CuPy arrays is the declared kernel, not the portable one
    on = op.impl(cp.ndarray)
    try:
        use_kernels(False)
        off = op.impl(cp.ndarray)
    finally:
        use_kernels(True)
    assert on is not off
    assert any(f is op.kernels["cuda"] for f in _functions(on)), "kernel not in the forward"
    assert not any(f is op.kernels["cuda"] for f in _functions(off)), "kernel used while off"
    assert any(f is op.fwd for f in _functions(off)), "kernels off: not the portable forward"
    assert op.impl(cp.ndarray) is not off, "use_kernels(True) did not switch the kernel back"

    launches = []  # one per kernel sweep (`_kernels` fetches the compiled kernels to launch)
    real = kernel._kernels
    monkeypatch.setattr(kernel, "_kernels", lambda *a: launches.append(1) or real(*a))
    rng = np.random.default_rng(7)
    X = gg.tensor(rng.standard_normal((500, 16)), device="cuda")
    # a column weight runs as a vector (the kernel); three outputs take the portable sweep
    for w_shape, y_shape, kernel_launches in [((16,), (500,), 1), ((16, 1), (500, 1), 1),
                                              ((16, 3), (500, 3), 0)]:
        launches.clear()
        w = gg.tensor(rng.standard_normal(w_shape), device="cuda", requires_grad=True)
        y = gg.tensor(rng.standard_normal(y_shape), device="cuda")
        F.linear_mse_loss(X, w, y).backward()
        assert len(launches) == kernel_launches, f"weight {w_shape}: {len(launches)} launches"
        (ref,) = gg.autograd.grad(F.mse_loss(X @ w, y), w)
        np.testing.assert_allclose(w.grad.cpu().numpy(), ref.cpu().numpy(), rtol=1e-10)
    # with kernels off, the kernel is not launched
    launches.clear()
    try:
        use_kernels(False)
        w = gg.tensor(rng.standard_normal(16), device="cuda", requires_grad=True)
        F.linear_mse_loss(X, w, gg.tensor(rng.standard_normal(500), device="cuda")).backward()
    finally:
        use_kernels(True)
    assert not launches, "use_kernels(False): the CUDA kernel still ran"


def _refuse_explicit_syncs(monkeypatch, cp):
    """Make every explicit wait for the GPU raise: gpugrad's own `synchronize` (backend and
    gpugrad.cuda) and CuPy's device and stream synchronisation, which
    ``cupyx.allow_synchronize(False)`` does not catch (it sees only implicit ones)."""
    import gpugrad.backend as B

    def refuse(what):
        def f(*_a, **_k):
            raise AssertionError(f"{what} was called inside a training step")
        return f

    monkeypatch.setattr(B, "synchronize", refuse("gpugrad.backend.synchronize"))
    monkeypatch.setattr(gg.cuda, "synchronize", refuse("gpugrad.cuda.synchronize"))
    for name in ("deviceSynchronize", "streamSynchronize"):
        monkeypatch.setattr(cp.cuda.runtime, name, refuse(f"cupy.cuda.runtime.{name}"))
    monkeypatch.setattr(cp.cuda.stream._BaseStream, "synchronize",
                        refuse("cupy.cuda.Stream.synchronize"))


def test_the_sync_guard_refuses_gpugrad_and_cupy_syncs(monkeypatch):
    """The guard of the no-sync test below, checked on the CPU (CuPy needs no GPU to import)."""
    cp = _cupy()
    with monkeypatch.context() as m:
        _refuse_explicit_syncs(m, cp)
        for sync in (gg.cuda.synchronize, gg.backend.synchronize, cp.cuda.runtime.deviceSynchronize,
                     lambda: cp.cuda.runtime.streamSynchronize(0),
                     lambda: cp.cuda.Stream.null.synchronize()):
            with pytest.raises(AssertionError, match="inside a training step"):
                sync()
    gg.cuda.synchronize()  # restored: a no-op without a GPU


@cuda
def test_training_steps_on_cuda_do_not_synchronise_with_the_host(cuda_device, monkeypatch):
    """Forward, backward and optimizer steps queue GPU work only: CuPy raises on any implicit
    sync, and gpugrad's and CuPy's explicit ones raise too."""
    cp = _cupy()
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
        with cupyx.allow_synchronize(False), monkeypatch.context() as m:
            _refuse_explicit_syncs(m, cp)
            for opt in opts:
                opt.zero_grad()
            F.cross_entropy(model(X), labels).backward()
            ((Xr @ w + b - yr) ** 2).mean().backward()
            F.linear_mse_loss(Xr, w, yr, b).backward()
            for opt in opts:
                opt.step()
    assert np.isfinite(w.detach().cpu().numpy()).all()
