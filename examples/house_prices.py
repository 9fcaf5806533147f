"""House prices: a linear model's predictions, its MSE gradient by autodiff, gradient descent.

Three houses, four features each: size (1000 sq ft), stories, age (decades), garage (0 or 1);
prices in $1000s. At the weights w = [500, 200, -100, 100] (no bias) the model predicts
X @ w = [1150, 2300, 1600] against prices y = [1550, 3100, 2200], and the gradient of the
mean squared error mean((X w - y)^2) is 2/N X^T (X w - y) = [-3866.67, -1733.33, -1600, -533.33].

Gradient descent then drives the loss to zero (three equations, four unknowns: an exact fit
exists). The Hessian 2/N X^T X has eigenvalues from about 0.04 to 27 on the fitted directions,
so a step size must stay below 2/27 and convergence takes a few thousand steps.

    python examples/house_prices.py [--lr 0.06 --steps 6000]
"""

import argparse
import time

import gpugrad

FEATURES = ["size (1000 sq ft)", "stories", "age (decades)", "garage"]
X_DATA = [
    [2.1, 1.0, 1.0, 0.0],
    [3.8, 2.0, 1.0, 1.0],
    [3.2, 1.0, 2.0, 0.0],
]
Y_DATA = [1550.0, 3100.0, 2200.0]
W_START = [500.0, 200.0, -100.0, 100.0]


def fmt(t, spec=".2f"):
    """A tensor's values as [a, b, ...]."""
    return "[" + ", ".join(f"{v:{spec}}" for v in t.reshape(-1).tolist()) + "]"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.06, help="step size (below 2/27)")
    parser.add_argument("--steps", type=int, default=6000, help="gradient descent steps")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args(argv)

    kw = {"dtype": gpugrad.float64, "device": args.device}
    X = gpugrad.tensor(X_DATA, **kw)
    y = gpugrad.tensor(Y_DATA, **kw)
    w = gpugrad.tensor(W_START, requires_grad=True, **kw)
    n = X.shape[0]

    print("features:", ", ".join(FEATURES))
    for i, (row, price) in enumerate(zip(X_DATA, Y_DATA)):
        print(f"  house {i + 1}: {row}  price {price:g}")
    print(f"weights w = {fmt(w, 'g')}")

    pred = X @ w
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    with gpugrad.no_grad():
        by_formula = 2 / n * (X.T @ (pred - y))
    print(f"predictions X @ w = {fmt(pred)}")
    print(f"MSE loss = {loss.item():.2f}")
    print(f"gradient by autodiff = {fmt(w.grad)}")
    print(f"gradient 2/N X^T (X w - y) = {fmt(by_formula)}")

    print(f"gradient descent, lr = {args.lr:g}, {args.steps} steps:")
    w.grad.zero_()
    every = max(1, args.steps // 10)
    start = time.perf_counter()
    for step in range(args.steps + 1):
        loss = ((X @ w - y) ** 2).mean()
        if step % every == 0 or step == args.steps:
            print(f"  step {step:>6}  loss {loss.item():.6e}")
        if step == args.steps:
            break
        loss.backward()
        with gpugrad.no_grad():
            w -= args.lr * w.grad
        w.grad.zero_()
    elapsed = time.perf_counter() - start

    print(f"final loss = {loss.item():.3e}  ({elapsed:.2f} s)")
    print(f"final weights = {fmt(w, '.4f')}")
    print(f"final predictions = {fmt(X @ w.detach())}  (prices {fmt(y, 'g')})")


if __name__ == "__main__":
    main()
