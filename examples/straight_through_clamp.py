"""A clamp whose gradient passes straight through (the straight-through estimator).

``gpugrad.clamp`` has gradient 0 outside [lo, hi]: a parameter clamped there gets no signal
and never moves. `ClampSTE` (a ``gpugrad.autograd.Function``) clamps in the forward but hands
the gradient back unchanged, as used to train through quantisation or hard limits. The script
prints both gradients at a few points, then minimises (clamp(w) - 0.5)^2 from w = -3 with each:
the ordinary clamp stays stuck at -3, the straight-through one reaches 0.5.

    python examples/straight_through_clamp.py [--steps 100 --lr 0.1]
"""

import argparse

import gpugrad
from gpugrad.autograd import Function


class ClampSTE(Function):
    """clamp(x, lo, hi) forward; identity backward."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, g):
        return g, None, None  # no gradient for the bounds (numbers)


def fmt(t):
    return "[" + ", ".join(f"{v:g}" for v in t.tolist()) + "]"


def fit(clamp, steps, lr):
    w = gpugrad.tensor(-3.0, requires_grad=True)
    for _ in range(steps):
        loss = (clamp(w) - 0.5) ** 2
        loss.backward()
        with gpugrad.no_grad():
            w -= lr * w.grad
            w.grad = None
    return w.item(), clamp(w).item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="gradient descent steps")
    parser.add_argument("--lr", type=float, default=0.1, help="step size")
    args = parser.parse_args(argv)

    x = gpugrad.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
    print(f"x = {fmt(x)}")
    print(f"clamp(x, -1, 1) = {fmt(ClampSTE.apply(x, -1.0, 1.0).detach())}")
    gpugrad.clamp(x, -1.0, 1.0).sum().backward()
    print(f"gradient of gpugrad.clamp = {fmt(x.grad)}")
    x.grad = None
    ClampSTE.apply(x, -1.0, 1.0).sum().backward()
    print(f"gradient of ClampSTE = {fmt(x.grad)}")

    w, y = fit(lambda w: gpugrad.clamp(w, -1.0, 1.0), args.steps, args.lr)
    print(f"gpugrad.clamp: w = {w:.4f}, clamp(w) = {y:.4f}")
    w, y = fit(lambda w: ClampSTE.apply(w, -1.0, 1.0), args.steps, args.lr)
    print(f"ClampSTE: w = {w:.4f}, clamp(w) = {y:.4f}")


if __name__ == "__main__":
    main()
