"""RMSprop (Hinton's lecture 6e), centered variant (Graves, 2013), with momentum."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _check_nonnegative


class RMSprop(Optimizer):
    """RMSprop, with PyTorch's update rule. For each parameter p with gradient g::

        g = -g if maximize;  g = g + weight_decay * p
        v = alpha v + (1 - alpha) g^2
        avg = sqrt(v - gavg^2) with gavg = alpha gavg + (1 - alpha) g if centered, else sqrt(v)
        b = momentum b + g / (avg + eps);  p = p - lr b        (momentum > 0)
        p = p - lr g / (avg + eps)                                (otherwise)

    Example::

        opt = gpugrad.optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.9, centered=True)
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
        *,
        maximize=False,
    ):
        _check_nonnegative("learning rate", lr)
        _check_nonnegative("epsilon value", eps)
        _check_nonnegative("momentum value", momentum)
        _check_nonnegative("weight_decay value", weight_decay)
        _check_nonnegative("alpha value", alpha)
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                alpha=alpha,
                eps=eps,
                centered=centered,
                weight_decay=weight_decay,
                maximize=maximize,
            ),
        )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
                momentum = group["momentum"]
                bufs = (("square_avg",) + ("momentum_buffer",) * (momentum > 0)
                        + ("grad_avg",) * bool(group["centered"]))
                for p, g, state in self._params(group, *bufs):
                    v = state["square_avg"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
                    if group["centered"]:
                        gavg = state["grad_avg"].lerp_(g, 1 - alpha)
                        avg = v.addcmul(gavg, gavg, value=-1).sqrt_()
                    else:
                        avg = v.sqrt()
                    avg.add_(eps)
                    if momentum > 0:
                        state["momentum_buffer"].mul_(momentum).addcdiv_(g, avg)
                        p.add_(state["momentum_buffer"], alpha=-lr)
                    else:
                        p.addcdiv_(g, avg, value=-lr)
        return loss
