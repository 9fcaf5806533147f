"""ASGD: averaged stochastic gradient descent (Polyak and Juditsky, 1992)."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _check_nonnegative


class ASGD(Optimizer):
    """Averaged SGD, with PyTorch's update rule. At step t, for parameter p with gradient g::

        g = -g if maximize;  g = g + weight_decay * p
        p = p (1 - lambd eta) - eta g
        ax = ax + mu (p - ax)            (ax = p while mu == 1)
        eta = lr / (1 + lambd lr t)^alpha;   mu = 1 / max(1, t - t0)

    The average ``state["ax"]`` is the estimate to evaluate; ``eta`` and ``mu`` are Python
    floats in the state (PyTorch: 0-d tensors).

    Example::

        opt = gpugrad.optim.ASGD(model.parameters(), lr=0.01, t0=100)
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, *,
                 maximize=False):
        _check_nonnegative("learning rate", lr)
        _check_nonnegative("weight_decay value", weight_decay)
        super().__init__(
            params,
            dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                 maximize=maximize),
        )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                lr, lambd, alpha = group["lr"], group["lambd"], group["alpha"]
                t0 = group["t0"]
                for p, g, state in self._params(group, "ax", eta=float(lr), mu=1.0):
                    t = state["step"]
                    eta = state["eta"]
                    p.mul_(1 - lambd * eta)
                    p.add_(g, alpha=-eta)
                    if state["mu"] != 1:
                        state["ax"].add_((p - state["ax"]).mul_(state["mu"]))
                    else:
                        state["ax"].copy_(p)
                    state["eta"] = lr / ((1 + lambd * lr * t) ** alpha)
                    state["mu"] = 1 / max(1, t - t0)
        return loss
