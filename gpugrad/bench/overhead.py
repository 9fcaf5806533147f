"""overhead: the cost per op of recording and backpropagating a graph of tiny tensors.

    python -m gpugrad.bench overhead [--ops 1000] [--size 1 100] [--repeat 21] [--device cpu|cuda]

Forward and backward of an n-op chain, ``y = tanh(exp(sin(y * 1.0001 + 0.001)))`` n/5 times from
a float64 leaf x of `size` elements, then ``y.sum().backward()``, in microseconds per op. Rows:
the chain rule by hand in NumPy (the derivative carried along the chain: the gradient reference),
gpugrad, NumPy's forward pass alone (what the array library itself costs), PyTorch with one
thread (the ratio reference when installed, else NumPy's forward), and JAX's ``vjp`` without jit
(dropped when one call takes over 2 s).
"""

from __future__ import annotations

import gpugrad

from .harness import Bench, Row, fmt

SUITE = "overhead"


def chain(y, n):
    """The forward chain on any tensor type with PyTorch's method names."""
    for _ in range(n // 5):
        y = (((y * 1.0001) + 0.001).sin().exp()).tanh()
    return y


def chain_forward(xp, n, size):
    y = xp.full((size,), 0.5)
    for _ in range(n // 5):
        y = xp.tanh(xp.exp(xp.sin(y * 1.0001 + 0.001)))
    return y


def chain_hand(xp, n, size):
    """d sum(y) / dx by the chain rule: the product of each step's local derivative."""
    y = xp.full((size,), 0.5)
    dydx = xp.ones((size,))
    for _ in range(n // 5):
        b = y * 1.0001 + 0.001
        e = xp.exp(xp.sin(b))
        y = xp.tanh(e)
        dydx *= 1.0001 * xp.cos(b) * e * (1 - y * y)
    return dydx


def rows_for(bench: Bench, n: int, size: int, torch, jax) -> list[Row]:
    xp, dev = bench.xp, bench.device

    def gg():
        x = gpugrad.full((size,), 0.5, dtype=gpugrad.float64, device=dev, requires_grad=True)
        chain(x, n).sum().backward()
        return x.grad

    def gg_forward():
        x = gpugrad.full((size,), 0.5, dtype=gpugrad.float64, device=dev, requires_grad=True)
        return chain(x, n)

    def gg_no_grad():
        with gpugrad.no_grad():
            return gg_forward()

    rows = [Row(bench.hand, lambda: chain_hand(xp, n, size)), Row("gpugrad", gg),
            Row(f"{xp.__name__} forward", lambda: chain_forward(xp, n, size), grad=False),
            Row("gpugrad forward", gg_forward, grad=False),
            Row("gpugrad forward, no_grad", gg_no_grad, grad=False)]
    if torch is not None:

        def tt():
            x = torch.full((size,), 0.5, dtype=torch.float64, device=dev, requires_grad=True)
            chain(x, n).sum().backward()
            return x.grad

        rows.append(Row("torch", tt, timer="torch"))
    if jax is not None:
        jnp = jax.numpy
        x64 = jax.enable_x64 if hasattr(jax, "enable_x64") else jax.experimental.enable_x64

        def f(x):
            for _ in range(n // 5):
                x = jnp.tanh(jnp.exp(jnp.sin(x * 1.0001 + 0.001)))
            return x.sum()

        def jj():
            with x64(True):
                out, vjp = jax.vjp(f, jnp.full((size,), 0.5, dtype=jnp.float64))
                return vjp(jnp.ones_like(out))[0].block_until_ready()

        rows.append(Row("jax vjp", jj, timer="host", max_s=2.0))
    return rows


def run(bench: Bench, args) -> None:
    n = args.ops or (50 if bench.quick else 1000)
    sizes = args.size or ([1, 10] if bench.quick else [1, 100])
    torch = bench.optional(SUITE, "torch")
    jax = bench.optional(SUITE, "jax")
    threads = torch.get_num_threads() if torch is not None else None
    gpugrad_us = []
    try:
        if torch is not None:
            torch.set_num_threads(1)
        for size in sizes:
            ratio_ref = "torch" if torch is not None else f"{bench.xp.__name__} forward"
            res = bench.measure(SUITE, f"size {size}", rows_for(bench, n, size, torch, jax),
                                repeat=21, unit="us/op", scale=1e6 / n, ratio_ref=ratio_ref,
                                grad_ref=bench.hand)
            bench.table(f"overhead: forward + backward of a {n}-op chain (mul add sin exp tanh) "
                        f"on {size}-element float64 tensors, {bench.device}, us per op", res,
                        ratio_ref=ratio_ref)
            gpugrad_us.append((size, res["gpugrad"].stats()[:2]))
            breakdown(bench, res, size, f"{bench.xp.__name__} forward")
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
    bench.footer("torch runs with one thread in this suite")
    for size, (us, best) in gpugrad_us:
        bench.target(f"gpugrad <= 4 us/op at size {size}", us, 4.0)
        bench.footer(f"  (best round {fmt(best)} us/op)")


def breakdown(bench: Bench, res, size: int, array_row: str) -> None:
    """Where gpugrad's microseconds per op go, from the medians of the rows: the array
    library's own call, dispatch and the output Tensor (no_grad forward less the array call),
    recording the node (forward less no_grad forward), and backward (the rest), beside the
    chain rule by hand."""
    us = {name: r.stats()[0] for name, r in res.items()}  # medians, us per op
    a, ng, f, total = (us[array_row], us["gpugrad forward, no_grad"], us["gpugrad forward"],
                       us["gpugrad"])
    bench.footer(f"  where gpugrad's {total:.2f} us per op go at size {size}: array call "
                 f"{a:.2f}, dispatch + output Tensor {ng - a:.2f}, node recording {f - ng:.2f}, "
                 f"backward {total - f:.2f} (by hand the backward costs "
                 f"{us[bench.hand] - a:.2f})")
