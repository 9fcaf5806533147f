"""What does a full gradient cost? Finite differences, forward mode and reverse mode.

For f: R^d -> R, f(x) = sum(sin(x) * x^2), the gradient has d entries:
- finite differences move one coordinate at a time: d + 1 evaluations of f (forward
  differences), each O(d): O(d^2) work in all;
- forward mode gets one directional derivative per pass (a jvp with a one-hot tangent):
  d passes, O(d^2) again, but exact;
- reverse mode gets all d entries from one forward pass and one backward pass: O(d), a small
  constant times the cost of f ("the cheap gradient principle").
The three gradients agree; finite differences only to a few digits, and fewer as d grows:
f sums d terms, so the rounding error eps |f| / h of each partial grows with d.

    python examples/cost_of_gradients.py [--dims 10 100 1000 10000] [--plot cost.png]
"""

import argparse
import time

import gpugrad
from gpugrad import numerical
from gpugrad.func import grad, jacfwd


def f(x):
    return (gpugrad.sin(x) * x**2).sum()


def exact_gradient(x):
    return gpugrad.cos(x) * x**2 + 2 * x * gpugrad.sin(x)


def timed(fn, x, budget=0.2):
    """(result, best seconds per call): repeats fast calls until about `budget` seconds pass."""
    best, spent, result = float("inf"), 0.0, None
    while spent < budget or result is None:
        gpugrad.cuda.synchronize() if x.is_cuda else None
        t0 = time.perf_counter()
        result = fn(x)
        if x.is_cuda:
            gpugrad.cuda.synchronize()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return result, best


METHODS = {
    "finite differences": lambda x: numerical.gradient(f, x, method="forward"),
    "forward mode": lambda x: jacfwd(f)(x),
    "reverse mode": lambda x: grad(f)(x),
}
PASSES = {
    "finite differences": "{d1} evaluations of f",
    "forward mode": "{d} jvp passes",
    "reverse mode": "1 forward + 1 backward",
}


def plot(path, dims, times):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path}")
        return
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, ts in times.items():
        ax.loglog(dims, ts, "o-", label=name)
    ax.set_xlabel("dimension d")
    ax.set_ylabel("seconds per gradient")
    ax.set_title("Cost of the gradient of f: R^d -> R")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot written to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--plot", metavar="PATH", help="write a log-log plot (PNG, matplotlib)")
    args = parser.parse_args(argv)
    print(f"f(x) = sum(sin(x) * x^2) on {args.device}, float64; best time of repeated calls")
    print(f"{'d':>6}  {'method':<18}  {'passes':<24}  {'seconds':>10}  {'max |g - exact|':>16}")
    times = {name: [] for name in METHODS}
    for d in args.dims:
        x = gpugrad.linspace(-2.0, 2.0, d, dtype=gpugrad.float64, device=args.device)
        exact = exact_gradient(x)
        for name, method in METHODS.items():
            g, sec = timed(method, x)
            err = (g - exact).abs().max().item()
            times[name].append(sec)
            passes = PASSES[name].format(d=d, d1=d + 1)
            print(f"{d:>6}  {name:<18}  {passes:<24}  {sec:>10.4g}  {err:>16.2e}")
    print("\nseconds per gradient")
    print(f"{'d':>6}" + "".join(f"  {name:>18}" for name in METHODS) + "  reverse speed-up vs fd")
    for k, d in enumerate(args.dims):
        row = [times[name][k] for name in METHODS]
        print(f"{d:>6}" + "".join(f"  {t:>18.4g}" for t in row) + f"  {row[0] / row[2]:>21.1f}x")
    if args.plot:
        plot(args.plot, args.dims, times)


if __name__ == "__main__":
    main()
