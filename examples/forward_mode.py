"""Forward-mode differentiation: dual numbers by hand, then `gpugrad.func.jvp`.

A dual number a + b*eps with eps^2 = 0 carries a value and a derivative together: for any
polynomial (and, by their Taylor series, sin, exp, ...), f(a + b*eps) = f(a) + f'(a) b*eps.
So evaluating f on x + 1*eps gives f(x) and f'(x) in one pass, with no graph to store. That
is forward mode; `gpugrad.func.jvp` does the same with a tangent tensor beside each value.

    python examples/forward_mode.py
"""

import math

import gpugrad
from gpugrad.func import jacfwd, jvp


class Dual:
    """a + b*eps with eps^2 = 0: `val` is the value, `der` the derivative it carries."""

    def __init__(self, val, der=0.0):
        self.val, self.der = val, der

    @staticmethod
    def lift(x):
        return x if isinstance(x, Dual) else Dual(x)

    def __add__(self, other):
        o = Dual.lift(other)
        return Dual(self.val + o.val, self.der + o.der)

    __radd__ = __add__

    def __neg__(self):
        return Dual(-self.val, -self.der)

    def __sub__(self, other):
        return self + (-Dual.lift(other))

    def __rsub__(self, other):
        return Dual.lift(other) - self

    def __mul__(self, other):  # (a + b eps)(c + d eps) = ac + (ad + bc) eps
        o = Dual.lift(other)
        return Dual(self.val * o.val, self.val * o.der + self.der * o.val)

    __rmul__ = __mul__

    def __pow__(self, n):  # integer n: repeated multiplication
        out = Dual(1.0)
        for _ in range(n):
            out = out * self
        return out


def sin(x):  # sin(a + b eps) = sin a + b cos(a) eps
    return Dual(math.sin(x.val), x.der * math.cos(x.val))


def exp(x):  # exp(a + b eps) = exp a + b exp(a) eps
    return Dual(math.exp(x.val), x.der * math.exp(x.val))


def derivative(f, x):
    """f'(x) by one evaluation of f on the dual number x + 1*eps."""
    return f(Dual(x, 1.0)).der


def main():
    def cubic(x):
        return 2 * x**3 - 1

    def quintic(x):
        return x**5

    print("1. Dual numbers by hand: f(x + eps) = f(x) + f'(x) eps")
    print(
        f"   f(x) = 2x^3 - 1: f'(2) = {derivative(cubic, 2.0):g}, f'(3) = "
        f"{derivative(cubic, 3.0):g}   (6x^2: 24 and 54)"
    )
    print(f"   f(x) = x^5: f'(2) = {derivative(quintic, 2.0):g}   (5x^4 = 80)")
    x = 0.5
    print(f"   sin'({x:g}) = {derivative(sin, x):.12f}   cos({x:g}) = {math.cos(x):.12f}")
    print(f"   exp'({x:g}) = {derivative(exp, x):.12f}   exp({x:g}) = {math.exp(x):.12f}")

    print("\n2. The same with gpugrad.func.jvp (a tangent tensor rides beside each value)")
    f64 = gpugrad.float64

    def jvp_at(f, a):
        x = gpugrad.tensor(a, dtype=f64)
        value, slope = jvp(f, (x,), (gpugrad.ones_like(x),))
        return slope.item()

    print(f"   f(x) = 2x^3 - 1: f'(2) = {jvp_at(cubic, 2.0):g}, f'(3) = {jvp_at(cubic, 3.0):g}")
    print(f"   f(x) = x^5: f'(2) = {jvp_at(quintic, 2.0):g}")
    print(f"   sin'({x:g}) = {jvp_at(gpugrad.sin, x):.12f}   cos({x:g}) = {math.cos(x):.12f}")
    print(f"   exp'({x:g}) = {jvp_at(gpugrad.exp, x):.12f}   exp({x:g}) = {math.exp(x):.12f}")

    # One jvp gives the derivative along one direction; a tangent of ones on an elementwise
    # function gives every derivative at once, and jacfwd builds a full Jacobian column by column.
    xs = gpugrad.tensor([0.0, 1.0, 2.0], dtype=f64)
    _, slopes = jvp(cubic, (xs,), (gpugrad.ones_like(xs),))
    print(f"\n   f'(x) at x = [0, 1, 2] in one pass: {[round(v, 12) for v in slopes.tolist()]}")
    jac = jacfwd(lambda v: gpugrad.stack([v[0] * v[1], v[0] + v[1] ** 2]))(
        gpugrad.tensor([3.0, 4.0], dtype=f64)
    )
    print(f"   jacfwd of (x0 x1, x0 + x1^2) at (3, 4): {jac.tolist()}   ([[4, 3], [1, 8]])")


if __name__ == "__main__":
    main()
