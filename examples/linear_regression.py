"""Linear regression by full-batch gradient descent with autograd, on the CPU or a GPU.

Synthetic data y = X w_true + b_true + noise with standard-normal features (already
standardized, so a step size of 0.1 is safe: the Hessian of the MSE is about 2 I). The model's
w and b are leaf tensors; each step computes the loss, calls backward() and updates the
parameters under no_grad(), as one would in PyTorch. At the end the learned parameters are
compared with w_true and with the least-squares solution computed by NumPy on host copies.

    python examples/linear_regression.py [--device auto|cpu|cuda] [--n 200000 --d 64]
"""

import argparse
import time

import numpy as np

import gpugrad


def resolve_device(name):
    if name == "auto":
        return "cuda" if gpugrad.cuda.is_available() else "cpu"
    return name


def synchronize(device):
    """Wait for queued GPU work, so that wall-clock readings mean something."""
    if device == "cuda":
        gpugrad.cuda.synchronize()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--n", type=int, default=200_000, help="number of samples")
    parser.add_argument("--d", type=int, default=64, help="number of features")
    parser.add_argument("--steps", type=int, default=200, help="gradient descent steps")
    parser.add_argument("--lr", type=float, default=0.1, help="step size")
    parser.add_argument("--noise", type=float, default=0.1, help="noise standard deviation")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    dtype = {"float32": gpugrad.float32, "float64": gpugrad.float64}[args.dtype]
    kw = {"dtype": dtype, "device": device}
    print(f"device {device}, dtype {args.dtype}, n = {args.n}, d = {args.d}")

    # Data, generated where it will be used.
    gpugrad.manual_seed(args.seed)
    X = gpugrad.randn(args.n, args.d, **kw)
    w_true = gpugrad.randn(args.d, 1, **kw)
    b_true = gpugrad.randn(1, **kw)
    y = X @ w_true + b_true + args.noise * gpugrad.randn(args.n, 1, **kw)

    # Parameters: leaf tensors that require grad.
    w = gpugrad.zeros(args.d, 1, **kw).requires_grad_()
    b = gpugrad.zeros(1, **kw).requires_grad_()

    every = max(1, args.steps // 10)
    synchronize(device)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        with gpugrad.no_grad():
            w -= args.lr * w.grad
            b -= args.lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
        if step % every == 0 or step == 1:
            print(f"step {step:>6}  loss {loss.item():.6f}")  # item() waits for the GPU
    synchronize(device)
    elapsed = time.perf_counter() - start
    print(f"mean time per step: {1e3 * elapsed / args.steps:.3f} ms ({args.steps} steps)")

    final = ((X @ w + b - y) ** 2).mean().item()
    print(f"final loss {final:.6f} (noise variance {args.noise**2:.6f})")

    # Compare [w; b] with the truth and with NumPy's least-squares solution, in float64.
    Xh = X.cpu().numpy().astype(np.float64)
    yh = y.cpu().numpy().astype(np.float64)
    A = np.hstack([Xh, np.ones((args.n, 1))])
    lstsq = np.linalg.lstsq(A, yh, rcond=None)[0].ravel()
    learned = np.concatenate([w.detach().cpu().numpy().ravel(), b.detach().cpu().numpy()])
    truth = np.concatenate([w_true.cpu().numpy().ravel(), b_true.cpu().numpy()])
    print(f"max |[w, b] - [w_true, b_true]| = {np.abs(learned - truth).max():.3e}")
    print(f"max |[w, b] - least squares|    = {np.abs(learned - lstsq).max():.3e}")


if __name__ == "__main__":
    main()
