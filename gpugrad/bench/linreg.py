"""linreg: one full-batch gradient of mean((X w - y)^2) with X float32 (N, D), the main job's step.

    python -m gpugrad.bench linreg [--n 1000000] [--d 256] [--repeat 7] [--device cpu|cuda]

Rows: the hand-written NumPy (CuPy) gradient ``2/N X^T (X w - y)`` (the reference), gpugrad's
autograd, gpugrad's fused ``nn.functional.linear_mse_loss``, PyTorch, JAX (eager
and jitted), and a copy of X, which computes no gradient but measures the memory bandwidth: the
"one-pass floor" is the time to read X once at that bandwidth, and every row is also shown as a
multiple of it. On CPU, tracemalloc gives the peak memory one call allocates beyond X and y.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import gpugrad
from gpugrad.nn import functional as F
from gpugrad.ops.kernels import linear_mse_cpu
from gpugrad.ops.registry import use_kernels

from .harness import Bench, Row, backward_row, fmt

SUITE = "linreg"
SPIN_S = 0.15  # seconds of untimed calls of a row before each timed one


def data(bench: Bench, n: int, d: int) -> tuple[Any, Any, Any]:
    """X (n, d), w (d,), y (n,) float32, drawn once per run with seed 0 on the run's device."""
    key = ("linreg", n, d)
    if key not in bench.cache:
        rng = bench.xp.random.default_rng(0)
        f32 = bench.xp.float32
        X = rng.standard_normal((n, d), dtype=f32)
        w = rng.standard_normal(d, dtype=f32)
        y = rng.standard_normal(n, dtype=f32)
        bench.cache.clear()  # one data set at a time: X is a gigabyte at the default size
        bench.cache[key] = (X, w, y)
    return bench.cache[key]


def _residual(X, w, y):
    r = X @ w
    r -= y
    return r


def hand_grad(X, w, y):
    """2/N X^T (X w - y), two passes over X."""
    return (2 / X.shape[0]) * (X.T @ _residual(X, w, y))


def hand_value(X, w, y):
    r = _residual(X, w, y)
    return (r @ r) / X.shape[0]


def hand_value_and_grad(X, w, y):
    """The loss and its gradient from one residual."""
    r = _residual(X, w, y)
    return (r @ r) / X.shape[0], (2 / X.shape[0]) * (X.T @ r)


def gpugrad_tensors(X, w, y):
    """X, y wrapped without a copy; w a leaf that requires grad."""
    return gpugrad.as_tensor(X), gpugrad.as_tensor(w.copy()).requires_grad_(), gpugrad.as_tensor(y)


def torch_tensors(torch, X, w, y):
    tw = torch.from_dlpack(w.copy()).requires_grad_()
    return torch.from_dlpack(X), tw, torch.from_dlpack(y)


def jax_loss(jnp):
    return lambda w, X, y: jnp.mean((X @ w - y) ** 2)


def jax_arrays(jax, bench: Bench, *arrays):
    """`arrays` as JAX arrays, made outside any timed region (copies; DLPack views on cuda)."""
    jnp = jax.numpy
    if bench.device == "cuda":
        return [jnp.from_dlpack(a) for a in arrays]
    return [jnp.asarray(a) for a in arrays]


def peak_bytes(fn) -> int:
    """Peak bytes traced (NumPy reports its allocations to tracemalloc) during one call."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(bench: Bench, args) -> None:
    n, d = args.n or (4096 if bench.quick else 1_000_000), args.d or (32 if bench.quick else 256)
    X, w, y = data(bench, n, d)
    xp = bench.xp
    ref = bench.hand
    rows = [Row(ref, lambda: hand_grad(X, w, y))]

    gX, gw, gy = gpugrad_tensors(X, w, y)
    autograd = backward_row(lambda: ((gX @ gw - gy) ** 2).mean(), [gw])
    fused = backward_row(lambda: F.linear_mse_loss(gX, gw, gy), [gw])
    rows += [Row("gpugrad autograd", autograd), Row("gpugrad fused", fused)]
    if bench.device == "cpu" and linear_mse_cpu.unavailable() is None:
        # The portable NumPy sweep that runs where Numba is not installed.
        rows.append(Row("gpugrad fused, NumPy", _kernels_off(fused)))

    torch = bench.optional(SUITE, "torch")
    if torch is not None:
        tX, tw, ty = torch_tensors(torch, X, w, y)
        rows.append(Row("torch", backward_row(lambda: ((tX @ tw - ty) ** 2).mean(), [tw]),
                        timer="torch"))
    jax = bench.optional(SUITE, "jax")
    if jax is not None:
        jX, jw, jy = jax_arrays(jax, bench, X, w, y)
        grad = jax.grad(jax_loss(jax.numpy))
        jit = jax.jit(grad)
        rows.append(Row("jax", lambda: grad(jw, jX, jy).block_until_ready(), timer="host"))
        rows.append(Row("jax jit", lambda: jit(jw, jX, jy).block_until_ready(), timer="host"))
    buf = xp.empty_like(X)
    rows.append(Row("copy X", lambda: xp.copyto(buf, X), grad=False))
    rows.append(Row("X @ w", lambda: X @ w, grad=False))

    # Untimed calls for at least SPIN_S before each timed one: OpenBLAS's workers spin for
    # about 0.1 s after the previous row's products, and one call of 30-50 ms does not outlast
    # them.
    res = bench.measure(SUITE, "", rows, repeat=7, ratio_ref=ref, grad_ref=ref, settle_s=SPIN_S)
    copy = res["copy X"].median_s
    bandwidth = 2 * X.nbytes / copy  # bytes read + bytes written, per second
    # The one-pass floor: the time of a plain read of X (X @ w reads it once, and computes no
    # more per byte than a gradient does), or X's bytes at the copy's bandwidth if that is less.
    floor = min(res["X @ w"].median_s, X.nbytes / bandwidth)
    for r in res.values():
        r.extra["GB/s X"] = X.nbytes / r.median_s / 1e9
        r.extra["x floor"] = r.median_s / floor
    columns = ["GB/s X", "x floor"]
    if bench.device == "cpu":
        calls = {ref: rows[0].fn, "gpugrad autograd": autograd, "gpugrad fused": fused}
        peak = {name: peak_bytes(fn) / 1e6 for name, fn in calls.items()}
        for name, mb in peak.items():
            res[name].extra.update({"peak MB": mb, "mem/hand": mb / peak[ref]})
        columns += ["peak MB", "mem/hand"]
    bench.table(f"linreg: one gradient of mean((X w - y)^2), X float32 ({n}, {d}) = "
                f"{fmt(X.nbytes / 1e6)} MB, {bench.device}, times in ms", res, columns, ref)
    bench.footer(f"copy X: {bandwidth / 1e9:.1f} GB/s read + written, X.nbytes at that "
                 f"bandwidth {X.nbytes / bandwidth * 1e3:.2f} ms; X @ w (one read of X) "
                 f"{res['X @ w'].median_s * 1e3:.2f} ms; one-pass floor: the smaller, "
                 f"{floor * 1e3:.2f} ms")
    if bench.device == "cpu":
        bench.footer("peak MB: tracemalloc's peak during one call, X and y allocated before")
    else:
        bench.footer("peak memory is measured on cpu only")
    bench.target("gpugrad autograd <= 1.05x hand", res["gpugrad autograd"].ratio, 1.05,
                 res["gpugrad autograd"].min_ratio)
    bench.target("gpugrad fused <= 1.3x floor", res["gpugrad fused"].extra["x floor"], 1.3)
    for name in ("gpugrad fused", "gpugrad fused, NumPy"):
        if name in res:
            ratio = res[name].median_s / res["gpugrad autograd"].median_s
            bench.target(f"{name} <= 1.0x gpugrad autograd (the two-pass composite)", ratio,
                         1.0)
    if bench.device == "cpu" and linear_mse_cpu.unavailable() is not None:
        bench.footer(f"gpugrad fused runs the NumPy sweep: Numba is not usable "
                     f"({linear_mse_cpu.unavailable()}); pip install 'gpugrad[fast]'")


def _kernels_off(fn):
    """`fn` run with the declared kernels switched off (the portable forwards)."""
    def call():
        use_kernels(False)
        try:
            return fn()
        finally:
            use_kernels(True)
    return call
