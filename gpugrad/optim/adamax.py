"""Adamax: Adam with the infinity norm (Kingma and Ba, 2015, section 7.1)."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..ops.elementwise import maximum
from .optimizer import Optimizer, _check_adam_args


class Adamax(Optimizer):
    """Adamax, with PyTorch's update rule. At step t, for parameter p with gradient g::

        g = -g if maximize;  g = g + weight_decay * p
        m = beta1 m + (1 - beta1) g;   u = max(beta2 u, |g| + eps)
        p = p - lr / (1 - beta1^t) * m / u

    Example::

        opt = gpugrad.optim.Adamax(model.parameters(), lr=2e-3)
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        *,
        maximize=False,
    ):
        _check_adam_args(lr, eps, betas, weight_decay)
        super().__init__(
            params,
            dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize),
        )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                lr, eps = group["lr"], group["eps"]
                beta1, beta2 = group["betas"]
                for p, g, state in self._params(group, "exp_avg", "exp_inf"):
                    m = state["exp_avg"].lerp_(g, 1 - beta1)
                    u = state["exp_inf"]
                    maximum(u.mul_(beta2), g.abs().add_(eps), out=u)
                    p.addcdiv_(m, u, value=-(lr / (1 - beta1 ** state["step"])))
        return loss
