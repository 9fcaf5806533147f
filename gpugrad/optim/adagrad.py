"""Adagrad (Duchi, Hazan and Singer, 2011)."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..core.factories import full_like
from .optimizer import Optimizer, _check_nonnegative, _direction


class Adagrad(Optimizer):
    """Adagrad, with PyTorch's update rule. At step t, for parameter p with gradient g::

        g = -g if maximize;  g = g + weight_decay * p
        clr = lr / (1 + (t - 1) lr_decay)
        s = s + g^2          (s starts at initial_accumulator_value)
        p = p - clr g / (sqrt(s) + eps)

    As in PyTorch, the state (``step`` and ``sum``) is created for every parameter when the
    optimizer is built (with its group's ``initial_accumulator_value``); a group added later
    gets it at its first step, from the defaults' value.

    Example::

        opt = gpugrad.optim.Adagrad(model.parameters(), lr=0.1, lr_decay=1e-3)
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
        *,
        maximize=False,
    ):
        _check_nonnegative("learning rate", lr)
        _check_nonnegative("lr_decay value", lr_decay)
        _check_nonnegative("weight_decay value", weight_decay)
        _check_nonnegative("initial_accumulator_value value", initial_accumulator_value)
        _check_nonnegative("epsilon value", eps)
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                eps=eps,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                maximize=maximize,
            ),
        )
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group["initial_accumulator_value"])

    def _init_state(self, p, value):
        state = self._state(p)
        if not state:
            state["step"] = 0
            with no_grad():
                state["sum"] = full_like(p, value)
        return state

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = _direction(p, group["maximize"], wd)
                    state = self._init_state(p, self.defaults["initial_accumulator_value"])
                    state["step"] += 1
                    clr = lr / (1 + (state["step"] - 1) * group["lr_decay"])
                    s = state["sum"].addcmul_(g, g, value=1)
                    p.addcdiv_(g, s.sqrt().add_(eps), value=-clr)
        return loss
