"""Jacobians and Hessians of a small network for a batch of inputs, by vmap(jacrev) and
vmap(hessian), checked against jacrev and hessian per example.

    python examples/batched_jacobians.py [--batch 8]
"""

import argparse

import gpugrad
from gpugrad import nn
from gpugrad.func import functional_call, hessian, jacfwd, jacrev, vmap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="inputs in the batch")
    args = parser.parse_args(argv)

    gpugrad.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    params = {k: v.detach() for k, v in net.named_parameters()}
    X = gpugrad.randn(args.batch, 4, dtype=gpugrad.float64)

    def f(x):  # one input (4,) -> outputs (3,)
        return functional_call(net, params, (x,))

    def energy(x):  # one input -> a scalar
        return (f(x) ** 2).sum()

    J = vmap(jacrev(f))(X)
    J_loop = gpugrad.stack([jacrev(f)(x) for x in X])
    print(f"vmap(jacrev(f)): shape {tuple(J.shape)}, max |vmap - loop| = "
          f"{float((J - J_loop).abs().max()):.3e}")
    J_fwd = vmap(jacfwd(f))(X)
    print(f"vmap(jacfwd(f)) vs vmap(jacrev(f)): max diff = {float((J_fwd - J).abs().max()):.3e}")
    H = vmap(hessian(energy))(X)
    H_loop = gpugrad.stack([hessian(energy)(x) for x in X])
    print(f"vmap(hessian(energy)): shape {tuple(H.shape)}, max |vmap - loop| = "
          f"{float((H - H_loop).abs().max()):.3e}")
    sym = float((H - H.transpose(1, 2)).abs().max())
    print(f"Hessians symmetric: max |H - H^T| = {sym:.3e}")


if __name__ == "__main__":
    main()
