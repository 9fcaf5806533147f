"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with momentum decay."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _check_adam_args, _check_nonnegative


class NAdam(Optimizer):
    """NAdam, with PyTorch's update rule. At step t, for parameter p with gradient g::

        g = -g if maximize;  g = g + weight_decay * p   (or p = p (1 - lr weight_decay) when
                                                         decoupled_weight_decay)
        mu_t = beta1 (1 - 0.96^(t psi) / 2)     (psi = momentum_decay);  P_t = mu_1 ... mu_t
        m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr (1 - mu_t) / (1 - P_t) g / d - lr mu_{t+1} / (1 - P_t mu_{t+1}) m / d

    ``mu_product`` (P_t) is a Python float in the state, so the update never reads the GPU.

    Example::

        opt = gpugrad.optim.NAdam(model.parameters(), lr=2e-3)
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        *,
        maximize=False,
    ):
        _check_adam_args(lr, eps, betas, weight_decay)
        _check_nonnegative("momentum_decay value", momentum_decay)
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas),
                eps=eps,
                weight_decay=weight_decay,
                momentum_decay=momentum_decay,
                decoupled_weight_decay=decoupled_weight_decay,
                maximize=maximize,
            ),
        )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                lr, eps = group["lr"], group["eps"]
                beta1, beta2 = group["betas"]
                psi = group["momentum_decay"]
                for p, g, state in self._params(group, "exp_avg", "exp_avg_sq",
                                                mu_product=1.0):
                    t = state["step"]
                    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                    state["mu_product"] *= mu
                    prod = state["mu_product"]
                    m = state["exp_avg"].lerp_(g, 1 - beta1)
                    v = state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    denom = v.div(1 - beta2**t).sqrt_().add_(eps)
                    p.addcdiv_(g, denom, value=-lr * (1.0 - mu) / (1.0 - prod))
                    p.addcdiv_(m, denom, value=(-lr * mu_next) / (1.0 - prod * mu_next))
        return loss

