"""Adam and AdamW (decoupled weight decay), with AMSGrad."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..core.tensor import Tensor
from ..ops.elementwise import maximum
from .optimizer import Optimizer, _check_adam_args


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with PyTorch's update rule. At step t, for parameter p::

        g = -grad if maximize else grad;  g = g + weight_decay * p   (L2 penalty)
        m = m + (1 - beta1) (g - m);   v = beta2 v + (1 - beta2) g^2
        v_max = max(v_max, v) if amsgrad (and v_max replaces v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    With ``decoupled_weight_decay=True`` (AdamW) the decay is ``p = p * (1 - lr * weight_decay)``
    before the update instead of the L2 term. The step count t is a Python int, so the update
    never reads the GPU. As PyTorch's single-tensor Adam, each step updates the state and the
    parameter in place (``m.lerp_(g, 1 - beta1)``, ``v.mul_(beta2).addcmul_(g, g, value=1 -
    beta2)``, ``p.addcdiv_(m, denom, value=-step_size)``); its temporaries are ``denom`` and
    the scaled numerator of ``addcdiv_`` (NumPy has no fused multiply-divide-add).

    Example::

        opt = gpugrad.optim.Adam(model.parameters(), lr=1e-3)
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        *,
        maximize=False,
        decoupled_weight_decay=False,
    ):
        _check_adam_args(lr, eps, betas, weight_decay)
        if not (
            all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas)
        ):
            raise ValueError("betas must be either both floats or both Tensors")
        betas = tuple(b.item() if isinstance(b, Tensor) else b for b in betas)
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas),
                eps=eps,
                weight_decay=weight_decay,
                amsgrad=amsgrad,
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
                bufs = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) * group["amsgrad"])
                for p, g, state in self._params(group, *bufs):
                    t = state["step"]
                    m, v = state["exp_avg"], state["exp_avg_sq"]
                    m.lerp_(g, 1 - beta1)
                    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    step_size = lr / (1 - beta1**t)
                    if group["amsgrad"]:
                        v = maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                    # PyTorch's order of operations; denom is the step's one temporary
                    denom = v.sqrt().div_((1 - beta2**t) ** 0.5).add_(eps)
                    p.addcdiv_(m, denom, value=-step_size)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019): before the Adam step,
    ``p = p * (1 - lr * weight_decay)``; the gradient itself is not changed.

    Example::

        opt = gpugrad.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=1e-2,
        amsgrad=False,
        *,
        maximize=False,
    ):
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # as PyTorch's AdamW: always decoupled
            group["decoupled_weight_decay"] = True
