"""Linear regression by full-batch gradient descent with autograd, on the CPU or a GPU.

Synthetic data y = X w_true + b_true + noise with standard-normal features (already
standardized, so a step size of 0.1 is safe: the Hessian of the MSE is about 2 I). The model's
w and b are leaf tensors; each step computes the loss, calls backward() and updates the
parameters with an optimizer from gpugrad.optim (plain SGD by default, which is exactly
p -= lr * p.grad under no_grad(), or Adam), as one would in PyTorch. With --optimizer lbfgs each
step is one L-BFGS iteration with a strong-Wolfe line search, driven by a closure that
re-evaluates the loss (the classic choice for regression: it reaches the least-squares
solution in a few dozen steps). At the end the learned
parameters are compared with w_true and with the least-squares solution computed by NumPy on
host copies. With --chunk the loss and its gradient come from
gpugrad.nn.functional.linear_mse_loss, which reads X once per step in cache-sized row chunks
(gradient accumulation over chunks) instead of twice. With tqdm installed a progress bar shows
the live loss; --plot draws the loss curve with matplotlib (pip install 'gpugrad[plot]').

    python examples/linear_regression.py [--device auto|cpu|cuda] [--n 200000 --d 64]
                                         [--optimizer sgd|adam|lbfgs] [--chunk ROWS]
                                         [--plot loss.png]
"""

import argparse
import time

import numpy as np

import gpugrad

try:
    from tqdm.auto import tqdm
except ImportError:  # optional: plain prints without it
    tqdm = None


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
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam", "lbfgs"])
    parser.add_argument(
        "--lr", type=float, default=None,
        help="step size (default 0.1 for sgd, 0.05 for adam, 1 for lbfgs)",
    )
    parser.add_argument("--noise", type=float, default=0.1, help="noise standard deviation")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--chunk", type=int, nargs="?", const=0, default=None, metavar="ROWS",
        help="one pass over X per step, ROWS rows at a time (no value or 0: cache-sized chunks)",
    )
    parser.add_argument("--plot", metavar="PNG", help="save the loss curve to this file")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    args = parser.parse_args(argv)
    if args.lr is None:
        args.lr = {"sgd": 0.1, "adam": 0.05, "lbfgs": 1.0}[args.optimizer]

    device = resolve_device(args.device)
    dtype = {"float32": gpugrad.float32, "float64": gpugrad.float64}[args.dtype]
    kw = {"dtype": dtype, "device": device}
    chunked = "" if args.chunk is None else f", one pass per step ({args.chunk or 'auto'} rows)"
    print(f"device {device}, dtype {args.dtype}, n = {args.n}, d = {args.d}{chunked}")

    # Data, generated where it will be used.
    gpugrad.manual_seed(args.seed)
    X = gpugrad.randn(args.n, args.d, **kw)
    w_true = gpugrad.randn(args.d, 1, **kw)
    b_true = gpugrad.randn(1, **kw)
    y = X @ w_true + b_true + args.noise * gpugrad.randn(args.n, 1, **kw)

    # Parameters: leaf tensors that require grad.
    w = gpugrad.zeros(args.d, 1, **kw).requires_grad_()
    b = gpugrad.zeros(1, **kw).requires_grad_()

    if args.optimizer == "sgd":
        opt = gpugrad.optim.SGD([w, b], lr=args.lr)
    elif args.optimizer == "adam":
        opt = gpugrad.optim.Adam([w, b], lr=args.lr)
    else:
        # One L-BFGS iteration per step (its history persists between steps); max_eval
        # bounds the line search's evaluations of the closure; the tolerances are tight so
        # that float64 runs reach the least-squares solution to about 1e-11.
        opt = gpugrad.optim.LBFGS(
            [w, b], lr=args.lr, max_iter=1, max_eval=20, history_size=20,
            tolerance_grad=1e-12, tolerance_change=1e-20, line_search_fn="strong_wolfe",
        )

    def compute_loss():
        if args.chunk is None:
            return ((X @ w + b - y) ** 2).mean()
        return gpugrad.nn.functional.linear_mse_loss(X, w, y, b, chunk=args.chunk or None)

    def closure():  # for LBFGS, which evaluates the loss several times per step
        opt.zero_grad()
        loss = compute_loss()
        loss.backward()
        return loss

    history = []  # loss tensors, read back once at the end (no per-step GPU sync)
    bar = None
    if tqdm is not None and not args.no_progress:
        bar = tqdm(total=args.steps, desc=f"{args.optimizer} on {device}", unit="step")
    say = print if bar is None else bar.write

    every = max(1, args.steps // 10)
    synchronize(device)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        if args.optimizer == "lbfgs":
            loss = opt.step(closure)  # the loss before this step, as for the others
        else:
            loss = closure()
            opt.step()
        if args.plot:
            history.append(loss.detach())
        if step % every == 0 or step == 1:
            value = loss.item()  # item() waits for the GPU
            say(f"step {step:>6}  loss {value:.6f}")
            if bar is not None:
                bar.set_postfix(loss=f"{value:.6f}", refresh=False)
        if bar is not None:
            bar.update()
    synchronize(device)
    elapsed = time.perf_counter() - start
    if bar is not None:
        bar.close()
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
    if args.plot:
        plot_losses(gpugrad.stack(history).tolist(), args.plot, f"{args.optimizer}, lr {args.lr}")


def plot_losses(losses, path, title):
    """Save the loss curve (log scale) to `path` with matplotlib, if it is installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot needs matplotlib: pip install matplotlib (or 'gpugrad[plot]')")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(range(1, len(losses) + 1), losses)
    ax.set_xlabel("step")
    ax.set_ylabel("MSE loss")
    ax.set_title(f"linear regression: {title}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"loss curve saved to {path}")


if __name__ == "__main__":
    main()
