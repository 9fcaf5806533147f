"""Fit sin(x) on [-pi, pi] with y = a + b P3(c + d x), P3 a custom autograd Function.

P3(z) = (5 z^3 - 3 z) / 2 is the Legendre polynomial of degree 3. `LegendreP3` gives its
forward and its derivative P3'(z) = 3 (5 z^2 - 1) / 2 by hand (``gpugrad.autograd.Function``,
as in PyTorch's "custom autograd function" tutorial); the script first checks that derivative
against autodiff of the polynomial written with ordinary ops, then fits a, b, c, d by gradient
descent on the sum of squared errors, starting from a = 0, b = -1, c = 0, d = 0.3.

    python examples/legendre_fit.py [--steps 2000 --lr 5e-6]
"""

import argparse
import math

import gpugrad
from gpugrad.autograd import Function


class LegendreP3(Function):
    """P3(z) = (5 z^3 - 3 z) / 2, with its derivative given by hand."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return 0.5 * (5 * z ** 3 - 3 * z)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * 1.5 * (5 * z ** 2 - 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="gradient descent steps")
    parser.add_argument("--lr", type=float, default=5e-6, help="step size")
    args = parser.parse_args(argv)

    x = gpugrad.linspace(-math.pi, math.pi, 2000, dtype=gpugrad.float64)
    y = gpugrad.sin(x)

    # The hand-written derivative against autodiff of the same polynomial.
    z = gpugrad.linspace(-1.5, 1.5, 7, dtype=gpugrad.float64, requires_grad=True)
    (by_hand,) = gpugrad.autograd.grad(LegendreP3.apply(z).sum(), z)
    (by_autodiff,) = gpugrad.autograd.grad((0.5 * (5 * z ** 3 - 3 * z)).sum(), z)
    diff = float((by_hand - by_autodiff).abs().max())
    print(f"max |P3' by hand - P3' by autodiff| = {diff:.3g}")

    a, b, c, d = (gpugrad.tensor(v, dtype=gpugrad.float64, requires_grad=True)
                  for v in (0.0, -1.0, 0.0, 0.3))
    first = None
    for step in range(args.steps):
        y_pred = a + b * LegendreP3.apply(c + d * x)
        loss = ((y_pred - y) ** 2).sum()
        if first is None:
            first = loss.item()
        if step % (max(args.steps // 10, 1)) == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}")
        loss.backward()
        with gpugrad.no_grad():
            for p in (a, b, c, d):
                p -= args.lr * p.grad
                p.grad = None
    final = ((a + b * LegendreP3.apply(c + d * x) - y) ** 2).sum().item()
    print(f"initial loss = {first:.4f}")
    print(f"final loss = {final:.4f}")
    print(f"result: y = {a.item():.4g} + {b.item():.4g} * P3({c.item():.4g} + {d.item():.4g} x)")


if __name__ == "__main__":
    main()
