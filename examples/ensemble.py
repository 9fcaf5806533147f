"""An ensemble of 5 MLPs trained at once: stack_module_state + vmap(functional_call).

Each model sees the same data but starts from its own weights. Their parameters are stacked
along a new first dim, and one vmapped call computes all 5 losses and, through ``grad``, all
5 gradients as batched array ops; the script checks the first step against the models
trained one by one, then trains the ensemble.

    python examples/ensemble.py [--steps 200 --lr 0.1]
"""

import argparse

import gpugrad
import gpugrad.nn.functional as F
from gpugrad import nn
from gpugrad.func import functional_call, grad, stack_module_state, vmap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="gradient descent steps")
    parser.add_argument("--lr", type=float, default=0.1, help="step size")
    parser.add_argument("--models", type=int, default=5, help="models in the ensemble")
    args = parser.parse_args(argv)

    gpugrad.manual_seed(0)
    X = gpugrad.randn(128, 2)
    y = ((X[:, 0] * X[:, 1]) > 0).long()  # XOR-like quadrants
    models = [nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
              for _ in range(args.models)]
    params, buffers = stack_module_state(models)
    params = {k: v.detach() for k, v in params.items()}
    base = models[0]

    def loss(p, b, x, y):
        return F.cross_entropy(functional_call(base, (p, b), (x,)), y)

    ensemble_grad = vmap(grad(loss), in_dims=(0, 0, None, None))
    g = ensemble_grad(params, buffers, X, y)
    one_by_one = [grad(lambda p, m=m: F.cross_entropy(functional_call(m, p, (X,)), y))(
        {k: v.detach() for k, v in m.named_parameters()}) for m in models]
    diff = max(float((g[k][i] - one_by_one[i][k]).abs().max())
               for i in range(args.models) for k in params)
    print(f"ensemble of {args.models}: stacked weight shapes "
          f"{[tuple(v.shape) for v in params.values()]}")
    print(f"first step: max |vmap - one model at a time| = {diff:.3e}")

    losses = vmap(loss, in_dims=(0, 0, None, None))
    first = losses(params, buffers, X, y)
    for _ in range(args.steps):
        g = ensemble_grad(params, buffers, X, y)
        params = {k: v - args.lr * g[k] for k, v in params.items()}
    last = losses(params, buffers, X, y)
    logits = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)),
                  in_dims=(0, 0, None))(params, buffers, X)
    acc = (logits.argmax(-1) == y).double().mean(1)
    print("losses before: " + " ".join(f"{float(v):.4f}" for v in first))
    print("losses after:  " + " ".join(f"{float(v):.4f}" for v in last))
    print("accuracy:      " + " ".join(f"{float(v):.3f}" for v in acc))
    print(f"ensemble accuracy (mean of probabilities): "
          f"{float((F.softmax(logits, -1).mean(0).argmax(-1) == y).double().mean()):.3f}")


if __name__ == "__main__":
    main()
