"""Rprop: resilient backpropagation (Riedmiller and Braun, 1993)."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..core.factories import full_like, ones_like, zeros_like
from ..ops.elementwise import where
from .optimizer import Optimizer, _check_nonnegative


class Rprop(Optimizer):
    """Rprop, with PyTorch's update rule (the variant without weight backtracking). Each
    coordinate has its own step size (starting at `lr`): multiplied by ``etas[1]`` when the
    gradient keeps its sign, by ``etas[0]`` when it flips (and the gradient is then taken as
    0 for this step), clamped to `step_sizes`; ``p = p - sign(g) * step_size``.

    Example::

        opt = gpugrad.optim.Rprop(model.parameters(), lr=0.01)
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 maximize=False):
        _check_nonnegative("learning rate", lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(
            params,
            dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize),
        )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                etaminus, etaplus = group["etas"]
                lo, hi = group["step_sizes"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = -p.grad if group["maximize"] else p.grad
                    state = self._state(p)
                    if not state:
                        state["step"] = 0
                        state["prev"] = zeros_like(p)
                        state["step_size"] = full_like(p, group["lr"])
                    state["step"] += 1
                    s = (g * state["prev"]).sign()
                    factor = where(s > 0, etaplus, where(s < 0, etaminus, ones_like(s)))
                    step_size = state["step_size"].mul_(factor).clamp_(lo, hi)
                    g = where(factor == etaminus, 0.0, g)
                    p.add_(g.sign() * step_size, alpha=-1)
                    state["prev"].copy_(g)
        return loss
