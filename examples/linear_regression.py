"""Linear regression by full-batch gradient descent with autograd, on the CPU or a GPU.

Synthetic data y = X w_true + b_true + noise with standard-normal features (already
standardized, so a step size of 0.1 is safe: the Hessian of the MSE is about 2 I). The model's
w and b are leaf tensors; each step computes the loss, calls backward() and updates the
parameters with an optimizer from gpugrad.optim (plain SGD by default, which is exactly
p -= lr * p.grad under no_grad(), or Adam), as one would in PyTorch. With --optimizer lbfgs each
step is one L-BFGS iteration with a strong-Wolfe line search, driven by a closure that
re-evaluates the loss (the classic choice for regression: it reaches the least-squares
solution in a few dozen steps). At the end the learned parameters are compared with w_true
and with the closed-form least-squares solution, gpugrad.linalg.lstsq (as torch.linalg.lstsq)
in float64. With --chunk the loss and its gradient come from
gpugrad.nn.functional.linear_mse_loss, which reads X once per step in cache-sized row chunks
(gradient accumulation over chunks) instead of twice. With tqdm installed a progress bar shows
the live loss; --plot draws the loss curve with matplotlib (pip install 'gpugrad[plot]').

Data larger than one machine (--distributed, --data, --mmap): under
`mpiexec -n N python -m mpi4py examples/linear_regression.py --distributed`, each of the N
processes (ranks) holds only its own rows of X: it generates them (in fixed blocks of rows,
each from its own seed, so the data do not depend on N) or reads them from --data PATH.npy
(written by --write-data PATH.npy: a (n, d + 1) array, y in the last column, with the true
[w, b] beside it in PATH.truth.npy). Each step, every rank computes the gradient of
linear_mse_loss on its rows (weighted by its share of the rows), then one all_reduce of d + 2
numbers (the gradient of w and b, and the loss) gives every rank the full gradient, so the
ranks take identical steps. With --mmap, X is a memory-mapped file read in row chunks, one
pass per step, so it may be larger than RAM. Only rank 0 prints; the least-squares solution
is computed from the normal equations, summed over ranks.

    python examples/linear_regression.py [--device auto|cpu|cuda] [--n 200000 --d 64]
                                         [--optimizer sgd|adam|lbfgs] [--chunk ROWS]
                                         [--plot loss.png]
    python examples/linear_regression.py --write-data X.npy --n 2000000 --d 256
    mpiexec -n 2 python -m mpi4py examples/linear_regression.py --distributed \
                                         [--data X.npy [--mmap]]
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


def parse(argv=None):
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
    parser.add_argument("--distributed", action="store_true",
                        help="one shard of rows per process (launch with mpiexec -n N)")
    parser.add_argument("--data", metavar="PATH.npy", help="read X and y from this file")
    parser.add_argument("--mmap", action="store_true",
                        help="with --data: memory-map the file and stream it in row chunks")
    parser.add_argument("--write-data", metavar="PATH.npy",
                        help="write the synthetic data (n x (d + 1), y last) and exit")
    args = parser.parse_args(argv)
    if args.lr is None:
        args.lr = {"sgd": 0.1, "adam": 0.05, "lbfgs": 1.0}[args.optimizer]
    if args.mmap and not args.data:
        parser.error("--mmap needs --data PATH.npy")
    return args


def main(argv=None):
    args = parse(argv)
    if args.write_data:
        return write_data(args)
    if args.distributed or args.data:
        return main_sharded(args)

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

    bar = None
    if tqdm is not None and not args.no_progress:
        bar = tqdm(total=args.steps, desc=f"{args.optimizer} on {device}", unit="step")
    history, elapsed = train(args, opt, closure, device, bar, print if bar is None else bar.write)
    print(f"mean time per step: {1e3 * elapsed / args.steps:.3f} ms ({args.steps} steps)")

    final = ((X @ w + b - y) ** 2).mean().item()
    print(f"final loss {final:.6f} (noise variance {args.noise**2:.6f})")

    # Compare [w; b] with the truth and with the closed-form least-squares solution
    # (gpugrad.linalg.lstsq, as torch.linalg.lstsq), in float64 on the same device.
    A = gpugrad.cat([X.double(), gpugrad.ones(args.n, 1, dtype=gpugrad.float64, device=device)], 1)
    lstsq = gpugrad.linalg.lstsq(A, y.double()).solution.cpu().numpy().ravel()
    learned = np.concatenate([w.detach().cpu().numpy().ravel(), b.detach().cpu().numpy()])
    truth = np.concatenate([w_true.cpu().numpy().ravel(), b_true.cpu().numpy()])
    print(f"max |[w, b] - [w_true, b_true]| = {np.abs(learned - truth).max():.3e}")
    print(f"max |[w, b] - least squares|    = {np.abs(learned - lstsq).max():.3e}")
    if args.plot:
        plot_losses(gpugrad.stack(history).tolist(), args.plot, f"{args.optimizer}, lr {args.lr}")


# ----------------------------------------------------------------------------- sharded data

BLOCK = 65536  # rows per block of generated data, each block from its own seed


def train(args, opt, closure, device, bar, say):
    """`args.steps` optimizer steps, printing the loss ten times; returns the loss tensors (when
    plotting; read back once at the end, no per-step GPU sync) and the seconds taken."""
    history = []
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
    return history, elapsed


def truth(args, np_dtype):
    rng = np.random.default_rng([args.seed, 2**31])
    return rng.standard_normal(args.d + 1).astype(np_dtype)


def generate_rows(args, lo, hi, np_dtype):
    """Rows [lo, hi) of the synthetic (X | y), the same whichever process makes them."""
    wb = truth(args, np.float64)
    out = np.empty((hi - lo, args.d + 1), np_dtype)
    for k in range(lo // BLOCK, (hi + BLOCK - 1) // BLOCK):
        rng = np.random.default_rng([args.seed, k])
        start = k * BLOCK
        rows = min(BLOCK, args.n - start)
        X = rng.standard_normal((rows, args.d))
        y = X @ wb[:-1] + wb[-1] + args.noise * rng.standard_normal(rows)
        a, b = max(lo, start), min(hi, start + rows)
        out[a - lo:b - lo, :-1] = X[a - start:b - start]
        out[a - lo:b - lo, -1] = y[a - start:b - start]
    return out


def write_data(args):
    """Write the synthetic data block by block into a .npy file (never all in memory)."""
    np_dtype = np.dtype(args.dtype)
    M = np.lib.format.open_memmap(args.write_data, "w+", np_dtype, (args.n, args.d + 1))
    for lo in range(0, args.n, BLOCK):
        hi = min(args.n, lo + BLOCK)
        M[lo:hi] = generate_rows(args, lo, hi, np_dtype)
    M.flush()
    np.save(truth_path(args.write_data), truth(args, np_dtype))
    print(f"wrote {args.write_data}: {args.n} x {args.d + 1} {args.dtype} (y in the last "
          f"column), true [w, b] in {truth_path(args.write_data)}")


def truth_path(path):
    return path[:-4] + ".truth.npy" if path.endswith(".npy") else path + ".truth.npy"


class Shard:
    """This rank's rows [lo, hi) of (X | y): in memory, or memory-mapped and read in chunks."""

    def __init__(self, args, rank, size, kw):
        self.kw = kw
        np_dtype = np.dtype(args.dtype)
        self.true_wb = None
        if args.data:
            M = np.load(args.data, mmap_mode="r")
            if M.ndim != 2 or M.shape[1] < 2:
                raise SystemExit(f"{args.data}: expected an (n, d + 1) array, got {M.shape}")
            args.n, args.d = M.shape[0], M.shape[1] - 1
            if M.dtype != np_dtype:
                raise SystemExit(f"{args.data} holds {M.dtype}; pass --dtype {M.dtype}")
            try:
                self.true_wb = np.load(truth_path(args.data)).astype(np.float64)
            except FileNotFoundError:
                pass
        else:
            M = None
            self.true_wb = truth(args, np.float64)
        self.n, self.d = args.n, args.d
        self.lo, self.hi = rank * args.n // size, (rank + 1) * args.n // size
        self.mapped = M[self.lo:self.hi] if args.mmap else None
        itemsize = np_dtype.itemsize
        self.rows = args.chunk or max(1, (64 << 20) // ((args.d + 1) * itemsize))  # 64 MB
        if self.mapped is None:
            local = (np.ascontiguousarray(M[self.lo:self.hi]) if M is not None
                     else generate_rows(args, self.lo, self.hi, np_dtype))
            self.X = gpugrad.tensor(np.ascontiguousarray(local[:, :-1]), **kw)
            self.y = gpugrad.tensor(np.ascontiguousarray(local[:, -1:]), **kw)

    def chunks(self):
        """(X, y) tensors covering this rank's rows: all of them, or one chunk at a time."""
        if self.mapped is None:
            yield self.X, self.y
            return
        for a in range(0, self.hi - self.lo, self.rows):
            block = np.array(self.mapped[a:a + self.rows])  # reads this chunk from the file
            yield (gpugrad.tensor(np.ascontiguousarray(block[:, :-1]), **self.kw),
                   gpugrad.tensor(np.ascontiguousarray(block[:, -1:]), **self.kw))


def main_sharded(args):
    """Linear regression with the rows split over processes (or read from a file); returns
    the learned [w, b] (float64)."""
    import gpugrad.distributed as dist

    made = False
    if args.distributed:
        if not dist.is_initialized():
            dist.init_process_group("mpi")
            made = True
        rank, size = dist.get_rank(), dist.get_world_size()
    else:
        rank, size = 0, 1

    def all_reduce(t):
        if args.distributed and size > 1:
            dist.all_reduce(t)
        return t

    device = resolve_device(args.device)
    dtype = {"float32": gpugrad.float32, "float64": gpugrad.float64}[args.dtype]
    kw = {"dtype": dtype, "device": device}
    shard = Shard(args, rank, size, kw)
    say = print if rank == 0 else (lambda *a, **k: None)
    source = (f"{args.data}" + (" (memory-mapped, streamed in chunks of "
                                f"{shard.rows} rows)" if args.mmap else "")
              if args.data else "generated")
    say(f"device {device}, dtype {args.dtype}, n = {args.n}, d = {args.d}, data {source}")
    say(f"ranks {size}, rows per rank {args.n // size}"
        + ("" if args.n % size == 0 else f" to {args.n // size + 1}"))

    w = gpugrad.zeros(args.d, 1, **kw).requires_grad_()
    b = gpugrad.zeros(1, **kw).requires_grad_()
    if args.optimizer == "sgd":
        opt = gpugrad.optim.SGD([w, b], lr=args.lr)
    elif args.optimizer == "adam":
        opt = gpugrad.optim.Adam([w, b], lr=args.lr)
    else:  # the same on every rank: every rank evaluates the closure as often
        opt = gpugrad.optim.LBFGS(
            [w, b], lr=args.lr, max_iter=1, max_eval=20, history_size=20,
            tolerance_grad=1e-12, tolerance_change=1e-20, line_search_fn="strong_wolfe",
        )
    flat = gpugrad.zeros(args.d + 2, **kw)  # the one buffer reduced per step
    chunk = args.chunk or None
    bar = None
    if tqdm is not None and not args.no_progress and rank == 0:
        bar = tqdm(total=args.steps, desc=f"{args.optimizer} on {size} rank(s)", unit="step")
        say = bar.write

    def closure():
        """The loss over all rows, with w.grad and b.grad its gradient, on every rank."""
        opt.zero_grad()
        local = 0.0
        for Xc, yc in shard.chunks():
            # The chunk's share of the mean over all n rows: summed over chunks and ranks, the
            # loss and its gradient are those of the full data.
            loss = gpugrad.nn.functional.linear_mse_loss(Xc, w, yc, b, chunk=chunk) \
                * (len(Xc) / args.n)
            loss.backward()
            local = local + loss.detach()
        with gpugrad.no_grad():
            flat[:args.d] = w.grad.reshape(-1)
            flat[args.d] = b.grad[0]
            flat[args.d + 1] = local
            all_reduce(flat)
            w.grad.copy_(flat[:args.d].reshape(args.d, 1))
            b.grad.copy_(flat[args.d:args.d + 1])
        return flat[args.d + 1].clone()

    losses, elapsed = train(args, opt, closure, device, bar, say)
    say(f"mean time per step: {1e3 * elapsed / args.steps:.3f} ms ({args.steps} steps, "
        f"{size} rank(s))")

    # One more pass: the final loss, and the normal equations [X 1]^T [X 1] and [X 1]^T y.
    k = args.d + 1
    stats = np.zeros(k * k + k + 1)
    with gpugrad.no_grad():
        for Xc, yc in shard.chunks():
            final = ((Xc @ w + b - yc) ** 2).sum().item()
            A = np.hstack([Xc.cpu().numpy().astype(np.float64), np.ones((len(Xc), 1))])
            yh = yc.cpu().numpy().astype(np.float64)
            stats[:k * k] += (A.T @ A).ravel()
            stats[k * k:k * k + k] += (A.T @ yh).ravel()
            stats[-1] += final
    stats_t = all_reduce(gpugrad.tensor(stats))
    stats = stats_t.numpy()
    lstsq = np.linalg.solve(stats[:k * k].reshape(k, k), stats[k * k:k * k + k])
    learned = np.concatenate([w.detach().cpu().numpy().ravel(), b.detach().cpu().numpy()])
    say(f"final loss {stats[-1] / args.n:.6f} (noise variance {args.noise**2:.6f})")
    if shard.true_wb is not None:
        say(f"max |[w, b] - [w_true, b_true]| = {np.abs(learned - shard.true_wb).max():.3e}")
    say(f"max |[w, b] - least squares|    = {np.abs(learned - lstsq).max():.3e}")
    say("learned [w, b][:8] = " + np.array2string(learned[:8], precision=12, separator=", ",
                                                  floatmode="fixed", max_line_width=1000))
    if args.plot and rank == 0:
        plot_losses(gpugrad.stack(losses).tolist(), args.plot,
                    f"{args.optimizer}, lr {args.lr}, {size} rank(s)")
    if made:
        dist.destroy_process_group()
    return learned


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
