"""Adadelta (Zeiler, 2012)."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _check_nonnegative


class Adadelta(Optimizer):
    """Adadelta, with PyTorch's update rule. For each parameter p with gradient g::

        g = -g if maximize;  g = g + weight_decay * p
        v = rho v + (1 - rho) g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g;   u = rho u + (1 - rho) delta^2
        p = p - lr delta

    Example::

        opt = gpugrad.optim.Adadelta(model.parameters(), lr=1.0, rho=0.9)
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        _check_nonnegative("learning rate", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonnegative("epsilon value", eps)
        _check_nonnegative("weight_decay value", weight_decay)
        super().__init__(
            params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                lr, rho, eps = group["lr"], group["rho"], group["eps"]
                for p, g, state in self._params(group, "square_avg", "acc_delta"):
                    v = state["square_avg"].mul_(rho).addcmul_(g, g, value=1 - rho)
                    u = state["acc_delta"]
                    delta = (u + eps).sqrt_().div_((v + eps).sqrt_()).mul_(g)
                    u.mul_(rho).addcmul_(delta, delta, value=1 - rho)
                    p.add_(delta, alpha=-lr)
        return loss
