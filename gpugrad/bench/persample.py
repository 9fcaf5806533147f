"""vmap: per-sample gradients of a tanh MLP with softmax cross-entropy, all examples at once.

    python -m gpugrad.bench vmap [--batch-sizes 64 512] [--repeat 7] [--device cpu|cuda]

A 256-128-128-10 MLP (float32, weights (fan_in, fan_out), seed 0) and a batch of inputs and
labels; each row returns the gradient of every example's own loss w.r.t. every parameter
(batch x parameter shape: what DP-SGD clips). Rows: the chain rule written by hand in NumPy
for the whole batch at once (the reference: per-example outer products), gpugrad
``vmap(grad(loss), in_dims=(None, 0, 0))``, gpugrad's Python loop of one ``grad`` call per
example, ``torch.func.vmap(torch.func.grad(loss))`` and JAX's ``jit(vmap(grad(loss)))`` where
they are installed.
"""

from __future__ import annotations

import gpugrad
from gpugrad.func import grad, vmap
from gpugrad.nn import functional as F

from . import mlp
from .harness import Bench, Row

SUITE = "vmap"
SIZES = (256, 128, 128, 10)


def hand_per_sample(xp, p, X, labels):
    """Every example's gradients, by the chain rule on the whole batch: gW[n] = h[n] d[n]^T."""
    W1, b1, W2, b2, W3, b3 = p
    h1 = xp.tanh(X @ W1 + b1)
    h2 = xp.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    z -= z.max(1, keepdims=True)
    d = xp.exp(z)
    d /= d.sum(1, keepdims=True)
    d[xp.arange(len(labels)), labels] -= 1  # d loss_n / d z_n = softmax - onehot
    gW3, gb3 = h2[:, :, None] * d[:, None, :], d
    d = (d @ W3.T) * (1 - h2 * h2)
    gW2, gb2 = h1[:, :, None] * d[:, None, :], d
    d = (d @ W2.T) * (1 - h1 * h1)
    return [X[:, :, None] * d[:, None, :], d, gW2, gb2, gW3, gb3]


def loss(p, x, y):
    """One example's loss: x (256,), y a 0-d label."""
    W1, b1, W2, b2, W3, b3 = p
    h = gpugrad.tanh(x @ W1 + b1)
    h = gpugrad.tanh(h @ W2 + b2)
    return F.cross_entropy((h @ W3 + b3)[None], y[None])


def table(bench: Bench, batch: int) -> tuple[float, float | None]:
    """Time one batch size; returns gpugrad vmap's time over the loop's and over torch's."""
    xp = bench.xp
    params, X, labels = mlp.init(bench, batch, SIZES)
    ref = bench.hand
    rows = [Row(ref, lambda: hand_per_sample(xp, params, X, labels))]
    gp = [gpugrad.as_tensor(w) for w in params]
    gX, gy = gpugrad.as_tensor(X), gpugrad.as_tensor(labels)
    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))
    one = grad(loss)
    rows.append(Row("gpugrad vmap", lambda: per_sample(gp, gX, gy)))

    def loop():
        gs = [one(gp, gX[i], gy[i]) for i in range(batch)]
        return [gpugrad.stack([g[k] for g in gs]) for k in range(len(gp))]

    rows.append(Row("gpugrad loop of grad", loop))
    torch = bench.optional(SUITE, "torch")
    if torch is not None:
        tp = [torch.from_dlpack(w) for w in params]
        tX, ty = torch.from_dlpack(X), torch.from_dlpack(labels)

        def tloss(p, x, y):
            W1, b1, W2, b2, W3, b3 = p
            h = torch.tanh(torch.tanh(x @ W1 + b1) @ W2 + b2)
            return torch.nn.functional.cross_entropy((h @ W3 + b3)[None], y[None])

        tper = torch.func.vmap(torch.func.grad(tloss), in_dims=(None, 0, 0))
        rows.append(Row("torch.func vmap", lambda: tper(tp, tX, ty), timer="torch"))
    jax = bench.optional(SUITE, "jax")
    if jax is not None:
        jnp = jax.numpy
        conv = jnp.from_dlpack if bench.device == "cuda" else jnp.asarray
        jp, jX, jy = [conv(w) for w in params], conv(X), conv(labels)

        def jloss(p, x, y):
            W1, b1, W2, b2, W3, b3 = p
            z = jnp.tanh(jnp.tanh(x @ W1 + b1) @ W2 + b2) @ W3 + b3
            return -jax.nn.log_softmax(z)[y]

        jper = jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0)))
        rows.append(Row("jax jit vmap", lambda: jax.block_until_ready(jper(jp, jX, jy)),
                        timer="host"))
    res = bench.measure(SUITE, f"batch {batch}", rows, repeat=7 if batch > 64 else 21,
                        ratio_ref=ref, grad_ref=ref)
    bench.table(f"vmap: per-sample gradients of a 256-128-128-10 tanh MLP, batch {batch}, "
                f"float32, {bench.device}, times in ms", res, ratio_ref=ref)
    v = res["gpugrad vmap"].median_s
    return (v / res["gpugrad loop of grad"].median_s,
            v / res["torch.func vmap"].median_s if "torch.func vmap" in res else None)


def run(bench: Bench, args) -> None:
    sizes = args.batch_sizes or ([4, 16] if bench.quick else [64, 512])
    ratios = {batch: table(bench, batch) for batch in sizes}
    big = max(sizes)
    bench.footer("grad err: every example's gradients, against the hand-written batch")
    bench.target(f"gpugrad vmap / loop of grad <= 0.1 at batch {big}", ratios[big][0], 0.1)
    bench.target(f"gpugrad vmap / torch.func vmap <= 1 at batch {big}", ratios[big][1], 1.0)
