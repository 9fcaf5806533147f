"""Per-op overhead: forward + backward of a chain of mul, add, sin, exp, tanh on small tensors.

    python benchmarks/overhead.py [--size 1 100] [--ops 1000] [--repeat 21]

Prints microseconds per op for gpugrad, for plain NumPy (forward only, no gradient: the floor
that the array library itself costs) and for PyTorch when it is installed. CPU time
(time.process_time) is used so that other processes on a shared machine disturb it less.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gpugrad


def chain_gpugrad(n, size):
    x = gpugrad.full((size,), 0.5, dtype=gpugrad.float64, requires_grad=True)
    y = x
    for _ in range(n // 5):
        y = (((y * 1.0001) + 0.001).sin().exp()).tanh()
    y.sum().backward()
    return x.grad


def chain_numpy(n, size):
    y = np.full((size,), 0.5)
    for _ in range(n // 5):
        y = np.tanh(np.exp(np.sin(y * 1.0001 + 0.001)))
    return y


def chain_torch(torch):
    def run(n, size):
        x = torch.full((size,), 0.5, dtype=torch.float64, requires_grad=True)
        y = x
        for _ in range(n // 5):
            y = (((y * 1.0001) + 0.001).sin().exp()).tanh()
        y.sum().backward()
        return x.grad
    return run


def best(fns, n, size, repeat):
    """Best time per op of each function; rounds interleave the functions, so that a slow
    spell of a shared machine hits all of them alike."""
    for fn in fns:
        fn(n, size)
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            t0 = time.process_time()
            fn(n, size)
            ts.append(time.process_time() - t0)
    return [min(ts) / n * 1e6 for ts in times]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, nargs="+", default=[1, 100])
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=21)
    args = p.parse_args(argv)
    rows = [("gpugrad (forward + backward)", chain_gpugrad),
            ("numpy (forward only)", chain_numpy)]
    try:
        import torch

        torch.set_num_threads(1)
        rows.append((f"torch {torch.__version__} (forward + backward)", chain_torch(torch)))
    except ImportError:
        pass
    for size in args.size:
        print(f"{args.ops}-op chain on {size}-element float64 tensors, best of {args.repeat}:")
        for (name, _), us in zip(rows, best([fn for _, fn in rows], args.ops, size, args.repeat)):
            print(f"  {name:36s} {us:6.2f} us/op")


if __name__ == "__main__":
    main()
