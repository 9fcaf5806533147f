"""mlp: one SGD step (lr 0.01) of a 784-256-256-10 tanh MLP with softmax cross-entropy.

    python -m gpugrad.bench mlp [--batch 64] [--repeat 201] [--device cpu|cuda]

float32, parameters drawn once with seed 0 (scale 1/sqrt(fan_in)), inputs standard normal and
labels uniform in [0, 10). Rows: forward, backward and in-place update written by hand in NumPy
(the reference), gpugrad (``nn.Sequential``, ``nn.functional.cross_entropy``, ``optim.SGD``),
PyTorch (the same with ``torch.nn`` and ``torch.optim``) and JAX (one jitted update). Timed steps
keep updating their own parameters; the gradient check is one untimed step from the initial ones.
"""

from __future__ import annotations

from typing import Any

import gpugrad
from gpugrad import backend as B
from gpugrad import nn
from gpugrad.nn import functional as F

from .harness import Bench, Row

SUITE = "mlp"
SIZES = (784, 256, 256, 10)
LR = 0.01


def init(bench: Bench, batch: int, sizes=SIZES) -> tuple[list[Any], Any, Any]:
    """[W1, b1, W2, b2, W3, b3] with W (fan_in, fan_out) for layer widths `sizes`, inputs X
    (batch, sizes[0]) and labels, on the run's device; the same numbers on every device."""
    np = B.numpy  # host arrays first: the same numbers on every device
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        scale = np.float32(1 / np.sqrt(fan_in))
        params += [rng.standard_normal((fan_in, fan_out), dtype=np.float32) * scale,
                   rng.standard_normal(fan_out, dtype=np.float32) * scale]
    X = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    labels = rng.integers(0, sizes[-1], batch)
    xp = bench.xp
    return [xp.asarray(p) for p in params], xp.asarray(X), xp.asarray(labels)


# ----------------------------------------------------------------------------- by hand


def _forward(xp, p, X, out_in=False):
    """`out_in`: the weights are stored (fan_out, fan_in), as nn.Linear stores them."""
    W1, b1, W2, b2, W3, b3 = (w.T if out_in and w.ndim == 2 else w for w in p)
    h1 = xp.tanh(X @ W1 + b1)
    h2 = xp.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    z -= z.max(1, keepdims=True)
    logp = z - xp.log(xp.exp(z).sum(1, keepdims=True))  # stable log-softmax
    return h1, h2, logp


def hand_value(xp, p, X, labels):
    logp = _forward(xp, p, X)[2]
    return -logp[xp.arange(len(labels)), labels].mean()


def hand_value_and_grad(xp, p, X, labels, out_in=False):
    """The loss and [gW1, gb1, gW2, gb2, gW3, gb3] by the chain rule, layer by layer (each gW
    in its weight's layout)."""
    h1, h2, logp = _forward(xp, p, X, out_in)
    rows = xp.arange(len(labels))
    loss = -logp[rows, labels].mean()
    d = xp.exp(logp)  # d loss / d logits = (softmax - onehot) / batch
    d[rows, labels] -= 1
    d /= len(labels)

    def gW(h, d):
        return d.T @ h if out_in else h.T @ d

    def back(d, W):
        return d @ W if out_in else d @ W.T

    gW3, gb3 = gW(h2, d), d.sum(0)
    d = back(d, p[4]) * (1 - h2 * h2)
    gW2, gb2 = gW(h1, d), d.sum(0)
    d = back(d, p[2]) * (1 - h1 * h1)
    return loss, [gW(X, d), d.sum(0), gW2, gb2, gW3, gb3]


def hand_step(xp, p, X, labels, out_in=False):
    grads = hand_value_and_grad(xp, p, X, labels, out_in)[1]
    for w, g in zip(p, grads):
        w -= LR * g
    return grads


# ----------------------------------------------------------------------------- frameworks


def gpugrad_model(params, device):
    layers: list[nn.Module] = []
    with gpugrad.no_grad():
        for W, b in zip(params[::2], params[1::2]):
            lin = nn.Linear(*W.shape, device=device)
            lin.weight.copy_(gpugrad.as_tensor(W.T.copy()))
            lin.bias.copy_(gpugrad.as_tensor(b))
            layers += [lin, nn.Tanh()]
    return nn.Sequential(*layers[:-1])


def torch_model(torch, params, device):
    layers: list[Any] = []
    with torch.no_grad():
        for W, b in zip(params[::2], params[1::2]):
            lin = torch.nn.Linear(*W.shape, device=device)
            lin.weight.copy_(torch.from_dlpack(W.T.copy()))
            lin.bias.copy_(torch.from_dlpack(b))
            layers += [lin, torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1])


def grads_of(model) -> list[Any]:
    """The gradients of a gpugrad or torch Sequential in the hand layout (W as fan_in x fan_out)."""
    return [p.grad.T if p.grad.ndim == 2 else p.grad for p in model.parameters()]


def jax_loss(jax):
    jnp = jax.numpy

    def loss(p, X, labels):
        W1, b1, W2, b2, W3, b3 = p
        h = jnp.tanh(jnp.tanh(X @ W1 + b1) @ W2 + b2)
        logp = jax.nn.log_softmax(h @ W3 + b3)
        return -jnp.take_along_axis(logp, labels[:, None], 1).mean()

    return loss


def jax_inputs(jax, bench, params, X, labels):
    jnp = jax.numpy
    conv = jnp.from_dlpack if bench.device == "cuda" else jnp.asarray
    return [conv(p) for p in params], conv(X), conv(labels)


def framework_rows(bench: Bench, params, X, labels, torch) -> list[Row]:
    """The gpugrad row (``nn.Sequential``, ``F.cross_entropy``, ``optim.SGD``) and, when `torch`
    is given, the PyTorch row of the SGD step: each keeps updating its own model, and its check
    is one step of a fresh model from `params`."""
    dev = bench.device
    gX, gt = gpugrad.as_tensor(X), gpugrad.as_tensor(labels)

    def gpugrad_step(model, opt):
        opt.zero_grad()
        F.cross_entropy(model(gX), gt).backward()
        opt.step()
        return grads_of(model)

    def gpugrad_fresh():
        model = gpugrad_model(params, dev)
        return model, gpugrad.optim.SGD(model.parameters(), lr=LR)

    g_state = gpugrad_fresh()
    rows = [Row("gpugrad", lambda: gpugrad_step(*g_state),
                check=lambda: gpugrad_step(*gpugrad_fresh()))]
    if torch is not None:
        tX, tt = torch.from_dlpack(X), torch.from_dlpack(labels)

        def torch_step(model, opt):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(tX), tt).backward()
            opt.step()
            return grads_of(model)

        def torch_fresh():
            model = torch_model(torch, params, dev)
            return model, torch.optim.SGD(model.parameters(), lr=LR)

        t_state = torch_fresh()
        rows.append(Row("torch", lambda: torch_step(*t_state), timer="torch",
                        check=lambda: torch_step(*torch_fresh())))
    return rows


def run(bench: Bench, args) -> None:
    batch = args.batch or (8 if bench.quick else 64)
    xp, dev = bench.xp, bench.device
    params, X, labels = init(bench, batch)
    ref = bench.hand
    mine = [p.copy() for p in params]
    rows = [Row(ref, lambda: hand_step(xp, mine, X, labels),
                check=lambda: hand_value_and_grad(xp, params, X, labels)[1])]

    # The same by hand with the weights stored (fan_out, fan_in), as nn.Linear and torch store
    # them: BLAS speed depends on the layout, so this row separates layout from overhead.
    mine_t = [p.T.copy() if p.ndim == 2 else p.copy() for p in params]
    rows.append(Row(f"{ref}, W (out, in)", lambda: hand_step(xp, mine_t, X, labels, True),
                    check=lambda: [g.T if g.ndim == 2 else g for g in hand_value_and_grad(
                        xp, [p.T.copy() if p.ndim == 2 else p for p in params], X, labels,
                        True)[1]]))

    torch = bench.optional(SUITE, "torch")
    rows += framework_rows(bench, params, X, labels, torch)

    jax = bench.optional(SUITE, "jax")
    if jax is not None:
        jp, jX, jt = jax_inputs(jax, bench, params, X, labels)
        grad = jax.grad(jax_loss(jax))

        @jax.jit
        def jstep(p, X, labels):
            g = grad(p, X, labels)
            return [w - LR * gw for w, gw in zip(p, g)], g

        j_state = [jp]

        def jax_step():
            j_state[0], g = jstep(j_state[0], jX, jt)
            return jax.block_until_ready(g)

        rows.append(Row("jax jit", jax_step, timer="host",
                        check=lambda: jax.block_until_ready(jstep(jp, jX, jt)[1])))

    # A step takes about a millisecond: many rounds, so that the machine's slow spells (seconds
    # long) move the medians less.
    res = bench.measure(SUITE, "", rows, repeat=201, ratio_ref=ref, grad_ref=ref)
    bench.table(f"mlp: one SGD step of a 784-256-256-10 tanh MLP, batch {batch}, float32, "
                f"{dev}, times in ms", res, ratio_ref=ref)
    bench.footer("grad err: gradients of one step from the initial parameters, against the hand")
    bench.target("gpugrad <= 1.1x hand", res["gpugrad"].ratio, 1.1, res["gpugrad"].min_ratio)
