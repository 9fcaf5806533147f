"""How accurate are finite differences? Forward and central differences against autodiff.

f(x) = softplus(x) = log(1 + e^x) has f'(x) = sigmoid(x). For steps h from 1e-1 down to
1e-12, in float32 and float64, the script prints the error of forward differences
(f(x+h) - f(x)) / h and of central differences (f(x+h) - f(x-h)) / 2h. Two errors compete:
truncation (about h f''/2 forward, h^2 f'''/6 central) shrinks with h, rounding (about
eps |f| / h) grows as h shrinks. The best h is near sqrt(eps) forward and cbrt(eps) central;
below that the error rises again, and once x + h rounds to x the difference is 0/0 (nan).
Autodiff has no step: its error is a rounding error of one or two ulp.

    python examples/finite_differences.py [--x 1.0] [--plot errors.png]
"""

import argparse
import math

import gpugrad
from gpugrad import numerical
from gpugrad.func import grad
from gpugrad.nn.functional import softplus

DTYPES = {"float32": gpugrad.float32, "float64": gpugrad.float64}
EPS = {"float32": 2.0**-23, "float64": 2.0**-52}
STEPS = [10.0**-k for k in range(1, 13)]


def ulp(value, dtype):
    """The spacing of floats of `dtype` at `value`."""
    return EPS[dtype] * 2.0 ** math.floor(math.log2(abs(value)))


def errors(x, exact):
    """{dtype: {"forward": [...], "central": [...], "autodiff": err}}."""
    out = {}
    for name, dt in DTYPES.items():
        xt = gpugrad.tensor(x, dtype=dt)
        row = {"forward": [], "central": []}
        for h in STEPS:
            for method in ("forward", "central"):
                d = numerical.derivative(softplus, xt, method, h=h).item()
                row[method].append(abs(d - exact))
        row["autodiff"] = abs(grad(softplus)(xt).item() - exact)
        out[name] = row
    return out


def plot(path, errs, x):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path}")
        return
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, style in (("float32", "--"), ("float64", "-")):
        for method, color in (("forward", "tab:blue"), ("central", "tab:orange")):
            ys = [e if e > 0 and math.isfinite(e) else float("nan") for e in errs[name][method]]
            ax.loglog(STEPS, ys, style, marker="o", color=color, label=f"{method} ({name})")
        ax.axhline(
            max(errs[name]["autodiff"], 1e-18),
            ls=style,
            color="k",
            lw=0.8,
            label=f"autodiff ({name})",
        )
    ax.set_xlabel("step h")
    ax.set_ylabel("|error| of f'(x)")
    ax.set_title(f"softplus'({x:g}): finite differences vs autodiff")
    ax.invert_xaxis()
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot written to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x", type=float, default=1.0, help="point at which to differentiate")
    parser.add_argument("--plot", metavar="PATH", help="write a log-log plot (PNG, matplotlib)")
    args = parser.parse_args(argv)
    x = args.x
    exact = 1 / (1 + math.exp(-x))
    print(f"f(x) = softplus(x) = log(1 + e^x); f'({x:g}) = sigmoid({x:g}) = {exact:.17g}")
    errs = errors(x, exact)

    print("\n|error| of finite differences (nan: x + h rounds to x)")
    cols = [f"{m} {d}" for d in DTYPES for m in ("forward", "central")]
    print(f"{'h':>7}" + "".join(f"  {c:>16}" for c in cols))
    for k, h in enumerate(STEPS):
        vals = [errs[d][m][k] for d in DTYPES for m in ("forward", "central")]
        print(f"{h:>7.0e}" + "".join(f"  {v:>16.3e}" for v in vals))

    print()
    for d in DTYPES:
        fwd, ctr = errs[d]["forward"], errs[d]["central"]
        kf = min(range(len(STEPS)), key=lambda k: fwd[k] if math.isfinite(fwd[k]) else math.inf)
        kc = min(range(len(STEPS)), key=lambda k: ctr[k] if math.isfinite(ctr[k]) else math.inf)
        a = errs[d]["autodiff"]
        print(
            f"{d}: best forward h = {STEPS[kf]:.0e} (error {fwd[kf]:.2e}; sqrt(eps) = "
            f"{math.sqrt(EPS[d]):.1e}), best central h = {STEPS[kc]:.0e} (error "
            f"{ctr[kc]:.2e}; cbrt(eps) = {EPS[d] ** (1 / 3):.1e})"
        )
        print(f"{d}: autodiff error = {a:.3e} = {a / ulp(exact, d):.2f} ulp")
    if args.plot:
        plot(args.plot, errs, x)


if __name__ == "__main__":
    main()
