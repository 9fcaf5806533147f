"""Derivatives by autodiff, checked against finite differences.

f(x) = 3x^2 - 4x has f'(x) = 6x - 4, so f'(1) = 2. The script prints the autodiff value beside
forward and central differences for shrinking steps h, then shows the autograd habits that carry
over from PyTorch: gradients of vector functions, accumulation across backward calls and
`grad.zero_()`, `detach()` and `no_grad()`.

    python examples/derivatives.py [--x 1.0]
"""

import argparse

import gpugrad


def f(x):
    """3x^2 - 4x, for a Python float or a tensor alike."""
    return 3 * x**2 - 4 * x


def fmt(t):
    """A tensor's values as [a, b, ...] with short floats."""
    return "[" + ", ".join(f"{v:g}" for v in t.reshape(-1).tolist()) + "]"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--x", type=float, default=1.0, help="point at which to differentiate f")
    args = parser.parse_args(argv)
    a = args.x

    # 1. f'(a) by reverse mode, beside finite differences in plain Python floats.
    x = gpugrad.tensor(a, dtype=gpugrad.float64, requires_grad=True)
    y = f(x)
    y.backward()
    exact = 6 * a - 4
    print(f"f(x) = 3x^2 - 4x; f({a:g}) = {y.item():g}")
    print(f"f'({a:g}) by autodiff = {x.grad.item():g}   (exact 6x - 4 = {exact:g})")
    header = ("h", "forward", "central", "|fwd - exact|", "|ctr - exact|")
    print(f"{header[0]:>8}" + "".join(f"  {name:>14}" for name in header[1:]))
    for k in range(1, 7):
        h = 10.0**-k
        forward = (f(a + h) - f(a)) / h
        central = (f(a + h) - f(a - h)) / (2 * h)
        print(
            f"{h:>8.0e}  {forward:>14.10f}  {central:>14.10f}  "
            f"{abs(forward - exact):>14.3e}  {abs(central - exact):>14.3e}"
        )
    print("forward differences err by 3h (the f'' term); central ones are exact up to rounding")

    # 2. A scalar function of a vector: d(2 x.x)/dx = 4x.
    x = gpugrad.arange(4.0, dtype=gpugrad.float64).requires_grad_()
    y = 2 * gpugrad.dot(x, x)
    y.backward()
    print(f"\nx = {fmt(x)}; y = 2 x.x = {y.item():g}")
    print(f"dy/dx = {fmt(x.grad)}   (4x = {fmt(4 * x.detach())})")

    # 3. Gradients accumulate in .grad until zeroed, as in PyTorch.
    x.grad.zero_()
    x.sum().backward()
    x.sum().backward()
    print(f"\nd(sum x)/dx after two backward calls = {fmt(x.grad)}")
    x.grad.zero_()
    print(f"after x.grad.zero_() = {fmt(x.grad)}")

    # 4. detach(): u is y's value cut off from the graph, so z = u * x has dz/dx = u.
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    print(f"\nu = (x * x).detach() = {fmt(u)}; u.requires_grad = {u.requires_grad}")
    print(f"d(sum u * x)/dx = {fmt(x.grad)}   (equals u)")
    x.grad.zero_()
    y.sum().backward()
    print(f"d(sum x * x)/dx = {fmt(x.grad)}   (2x: y itself is still in the graph)")

    # 5. no_grad(): nothing is recorded, as for parameter updates.
    with gpugrad.no_grad():
        v = x * 2
    rg, fn = v.requires_grad, v.grad_fn
    print(f"\nunder no_grad: v = x * 2 has requires_grad = {rg}, grad_fn = {fn}")
    w = x * 2
    rg, fn = w.requires_grad, w.grad_fn.name()
    print(f"outside it: w = x * 2 has requires_grad = {rg}, grad_fn = {fn}")


if __name__ == "__main__":
    main()
