"""Per-sample gradient norms of an MLP, for DP-SGD-style clipping, with one vmap call.

DP-SGD clips each example's gradient to norm C before averaging, so it needs every example's
gradient, not just their sum. ``vmap(grad(loss), in_dims=(None, 0, 0))`` computes them all at
once, as batched array ops; the script checks them against a Python loop of ``grad`` calls,
then takes one clipped, averaged step.

    python examples/per_sample_grads.py [--batch 32 --clip 1.0]
"""

import argparse

import gpugrad
import gpugrad.nn.functional as F
from gpugrad import nn
from gpugrad.func import functional_call, grad, vmap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="examples in the batch")
    parser.add_argument("--clip", type=float, default=1.0, help="per-example gradient norm bound")
    args = parser.parse_args(argv)

    gpugrad.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 3))
    X = gpugrad.randn(args.batch, 10)
    Y = gpugrad.randint(0, 3, (args.batch,))
    params = {k: v.detach() for k, v in net.named_parameters()}

    def loss(p, x, y):  # one example: x (10,), y ()
        return F.cross_entropy(functional_call(net, p, (x[None],)), y[None])

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, X, Y)
    looped = [grad(loss)(params, X[i], Y[i]) for i in range(args.batch)]
    diff = max(float((per_sample[k][i] - looped[i][k]).abs().max())
               for i in range(args.batch) for k in params)
    print(f"per-sample gradients: {args.batch} examples, "
          f"shapes {[tuple(g.shape) for g in per_sample.values()]}")
    print(f"max |vmap - loop| = {diff:.3e}")

    norms = sum((g.reshape(args.batch, -1) ** 2).sum(1) for g in per_sample.values()) ** 0.5
    print(f"per-sample gradient norms: min {float(norms.min()):.4f} "
          f"max {float(norms.max()):.4f}")
    scale = (args.clip / norms).clamp(max=1.0)
    clipped = {k: (g * scale.reshape(-1, *[1] * (g.ndim - 1))).mean(0)
               for k, g in per_sample.items()}
    clipped_norms = sum((g.reshape(args.batch, -1) ** 2).sum(1) for g in
                        (per_sample[k] * scale.reshape(-1, *[1] * (per_sample[k].ndim - 1))
                         for k in per_sample)) ** 0.5
    print(f"after clipping to {args.clip}: max norm {float(clipped_norms.max()):.4f}")
    # the mean of the unclipped per-sample gradients is the ordinary batch gradient
    batch_grad = grad(lambda p: F.cross_entropy(functional_call(net, p, (X,)), Y))(params)
    mean_diff = max(float((per_sample[k].mean(0) - batch_grad[k]).abs().max()) for k in params)
    print(f"max |mean of per-sample - batch gradient| = {mean_diff:.3e}")
    with gpugrad.no_grad():
        for name, p in net.named_parameters():
            p.sub_(0.1 * clipped[name])
    print("took one DP-SGD-style step (clipped, averaged; noise omitted)")


if __name__ == "__main__":
    main()
