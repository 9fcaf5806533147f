"""RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2020)."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _check_adam_args


class RAdam(Optimizer):
    """RAdam, with PyTorch's update rule. At step t, for parameter p with gradient g::

        g = -g if maximize;  g = g + weight_decay * p   (or p = p (1 - lr weight_decay) when
                                                         decoupled_weight_decay)
        m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        p = p - lr m / (1 - beta1^t) * r_t sqrt(1 - beta2^t) / (sqrt(v) + eps)  if rho_t > 5
        p = p - lr m / (1 - beta1^t)                                              otherwise
        with r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))

    Example::

        opt = gpugrad.optim.RAdam(model.parameters(), lr=1e-3)
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        decoupled_weight_decay=False,
        *,
        maximize=False,
    ):
        _check_adam_args(lr, eps, betas, weight_decay)
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas),
                eps=eps,
                weight_decay=weight_decay,
                maximize=maximize,
                decoupled_weight_decay=decoupled_weight_decay,
            ),
        )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                lr, eps = group["lr"], group["eps"]
                beta1, beta2 = group["betas"]
                for p, g, state in self._params(group, "exp_avg", "exp_avg_sq"):
                    t = state["step"]
                    m = state["exp_avg"].lerp_(g, 1 - beta1)
                    v = state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    bc1, bc2 = 1 - beta1**t, 1 - beta2**t
                    m_hat = m / bc1
                    rho_inf = 2 / (1 - beta2) - 1
                    rho_t = rho_inf - 2 * t * (beta2**t) / bc2
                    if rho_t > 5.0:  # the variance of the adaptive rate is tractable
                        rect = (
                            (rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                        ) ** 0.5
                        adaptive = (bc2**0.5) / v.sqrt().add_(eps)
                        p.add_(m_hat * lr * adaptive * rect, alpha=-1.0)
                    else:
                        p.add_(m_hat * lr, alpha=-1.0)
        return loss
