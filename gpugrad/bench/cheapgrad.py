"""cheapgrad: what a gradient costs beside the value, time(value and gradient) / time(value).

    python -m gpugrad.bench cheapgrad [--n 1000000] [--d 256] [--batch 64] [--device cpu|cuda]

Reverse mode promises a gradient for a small constant multiple of the value's cost. Two losses:
linreg's mean((X w - y)^2) (same X, w, y) and the mlp suite's cross-entropy. For each of NumPy
by hand, gpugrad (value under ``no_grad``, then forward and backward; for linreg also the fused
``nn.functional.linear_mse_loss``), PyTorch (value under
``torch.no_grad``) and JAX (``jit(loss)`` against ``jit(value_and_grad(loss))``), the value row
and the value-and-gradient row are timed interleaved; the ``grad/value`` column is their ratio.
"""

from __future__ import annotations

from typing import Any

import gpugrad
from gpugrad.nn import functional as F

from . import linreg, mlp
from .harness import Bench, Row, backward_row

SUITE = "cheapgrad"


def linreg_fns(bench: Bench, args) -> tuple[str, dict[str, Any]]:
    """{framework: (value, value and grad)} for linreg's loss."""
    n, d = args.n or (4096 if bench.quick else 1_000_000), args.d or (32 if bench.quick else 256)
    X, w, y = linreg.data(bench, n, d)
    fns: dict[str, Any] = {bench.hand: (lambda: linreg.hand_value(X, w, y),
                                        lambda: linreg.hand_value_and_grad(X, w, y)[1])}
    gX, gw, gy = linreg.gpugrad_tensors(X, w, y)

    fns["gpugrad"] = _pair(gpugrad.no_grad, lambda: ((gX @ gw - gy) ** 2).mean(), [gw])
    fns["gpugrad fused"] = _pair(gpugrad.no_grad, lambda: F.linear_mse_loss(gX, gw, gy), [gw])
    torch = bench.optional(SUITE, "torch")
    if torch is not None:
        tX, tw, ty = linreg.torch_tensors(torch, X, w, y)
        fns["torch"] = _pair(torch.no_grad, lambda: ((tX @ tw - ty) ** 2).mean(), [tw])
    jax = bench.optional(SUITE, "jax")
    if jax is not None:
        jX, jw, jy = linreg.jax_arrays(jax, bench, X, w, y)
        loss = linreg.jax_loss(jax.numpy)
        value, vg = jax.jit(loss), jax.jit(jax.value_and_grad(loss))
        fns["jax jit"] = (lambda: value(jw, jX, jy).block_until_ready(),
                          lambda: jax.block_until_ready(vg(jw, jX, jy))[1])
    return f"linreg loss, X float32 ({n}, {d})", fns


def _pair(no_grad, loss, leaves, grads=None):
    """(the value under `no_grad`, the value then backward) of `loss()` (gpugrad or PyTorch),
    whose gradients are `leaves`' (or `grads()`)."""
    def value():
        with no_grad():
            return loss()

    return value, backward_row(loss, leaves, grads)


def mlp_fns(bench: Bench, args) -> tuple[str, dict[str, Any]]:
    """{framework: (value, value and grad)} for the mlp suite's loss."""
    batch = args.batch or (8 if bench.quick else 64)
    xp, dev = bench.xp, bench.device
    params, X, labels = mlp.init(bench, batch)
    fns: dict[str, Any] = {bench.hand: (lambda: mlp.hand_value(xp, params, X, labels),
                                        lambda: mlp.hand_value_and_grad(xp, params, X, labels)[1])}
    model, gX, gt = mlp.gpugrad_model(params, dev), gpugrad.as_tensor(X), gpugrad.as_tensor(labels)

    fns["gpugrad"] = _pair(gpugrad.no_grad, lambda: F.cross_entropy(model(gX), gt),
                           list(model.parameters()), lambda: mlp.grads_of(model))
    torch = bench.optional(SUITE, "torch")
    if torch is not None:
        tmodel = mlp.torch_model(torch, params, dev)
        tX, tt = torch.from_dlpack(X), torch.from_dlpack(labels)
        fns["torch"] = _pair(torch.no_grad,
                             lambda: torch.nn.functional.cross_entropy(tmodel(tX), tt),
                             list(tmodel.parameters()), lambda: mlp.grads_of(tmodel))
    jax = bench.optional(SUITE, "jax")
    if jax is not None:
        jp, jX, jt = mlp.jax_inputs(jax, bench, params, X, labels)
        loss = mlp.jax_loss(jax)
        value, vg = jax.jit(loss), jax.jit(jax.value_and_grad(loss))
        fns["jax jit"] = (lambda: value(jp, jX, jt).block_until_ready(),
                          lambda: jax.block_until_ready(vg(jp, jX, jt))[1])
    return f"mlp loss (784-256-256-10 tanh, cross-entropy), batch {batch}", fns


def run(bench: Bench, args) -> None:
    gpugrad_ratio = {}
    for table, make, repeat, limit in (("linreg", linreg_fns, 7, 2.2), ("mlp", mlp_fns, 201, 2.7)):
        title, fns = make(bench, args)
        rows = []
        for name, (value, vg) in fns.items():
            rows += [Row(f"{name} value", value, timer=_timer(name), grad=False),
                     Row(f"{name} value+grad", vg, timer=_timer(name))]
        ref = f"{bench.hand} value"
        res = bench.measure(SUITE, table, rows, repeat=repeat, ratio_ref=ref,
                            grad_ref=f"{bench.hand} value+grad")
        for name in fns:
            vg_row = res.get(f"{name} value+grad")
            if vg_row is not None and f"{name} value" in res:
                vg_row.extra["grad/value"] = vg_row.median_s / res[f"{name} value"].median_s
        bench.table(f"cheapgrad: {title}, {bench.device}, times in ms", res, ["grad/value"], ref)
        gpugrad_ratio[table] = (res["gpugrad value+grad"].extra.get("grad/value"), limit)
        if "gpugrad fused value+grad" in res:
            gpugrad_ratio[table + ", fused"] = (
                res["gpugrad fused value+grad"].extra.get("grad/value"), limit)
    for table, (now, limit) in gpugrad_ratio.items():
        bench.target(f"gpugrad grad/value <= {limit} on {table}", now, limit)


def _timer(name: str) -> str:
    return {"torch": "torch", "jax jit": "host"}.get(name, "device")
