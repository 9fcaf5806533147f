"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _direction


class SGD(Optimizer):
    """SGD, with PyTorch's update rule. For each parameter p with gradient g::

        g = -g if maximize;  g = g + weight_decay * p
        b = g (first step), else b = momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b          (when momentum != 0)
        p = p - lr * g

    The default ``lr`` is PyTorch 2.x's 1e-3. The update runs in place on the parameter's
    device, without reading values to the host: the momentum buffer and the parameter are
    updated with ``mul_`` and ``add_(alpha=)``, and at most one temporary the size of the
    parameter is alive at a time (``alpha * d``; two with weight decay, maximize or Nesterov).

    Example::

        opt = gpugrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0.0,
        dampening=0.0,
        weight_decay=0.0,
        nesterov=False,
        *,
        maximize=False,
    ):
        # PyTorch's SGD checks with ``<`` (so NaN passes), unlike its other optimizers.
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
            ),
        )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    d = _direction(p, group["maximize"], wd)
                    if momentum != 0:
                        state = self._state(p)
                        buf = state.get("momentum_buffer")
                        if buf is None:
                            buf = state["momentum_buffer"] = d.detach().clone()
                        else:
                            buf.mul_(momentum).add_(d, alpha=1 - group["dampening"])
                        # d + momentum * buf, without writing into d (it may be p.grad)
                        d = (buf * momentum).add_(d) if group["nesterov"] else buf
                    p.add_(d, alpha=-lr)
        return loss
