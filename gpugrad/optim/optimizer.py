"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and state dicts."""

from __future__ import annotations

from ..autograd.grad_mode import enable_grad
from ..autograd.reverse import zero_grads
from ..core.factories import tensor as _tensor
from ..core.factories import zeros_like
from ..core.tensor import Tensor


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


def _check_nonnegative(what, value):
    """PyTorch's hyperparameter check ``if not 0.0 <= value``: negative values and NaN fail."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what}: {value}")


def _check_adam_args(lr, eps, betas, weight_decay):
    """The Adam family's checks, in PyTorch's order: lr and eps non-negative, each beta in
    [0, 1), weight_decay non-negative (NaN fails every one)."""
    _check_nonnegative("learning rate", lr)
    _check_nonnegative("epsilon value", eps)
    for i in (0, 1):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
    _check_nonnegative("weight_decay value", weight_decay)


def _direction(p, maximize, weight_decay):
    """The gradient of `p` as the update rules read it: negated when `maximize`, plus
    ``weight_decay * p`` (an L2 penalty) when `weight_decay` is not 0. It is ``p.grad`` itself
    when neither applies (the rules must not write into it), else one new tensor."""
    g = p.grad
    if weight_decay != 0:  # wd p + g == g + wd p, and wd p - g == -g + wd p: one temporary
        return (p * weight_decay).sub_(g) if maximize else (p * weight_decay).add_(g)
    return -g if maximize else g


class Optimizer:
    """Base class of optimizers, as ``torch.optim.Optimizer``.

    `params` is an iterable of tensors, or of dicts (parameter groups) each with a ``"params"``
    list and optional hyperparameters overriding `defaults`. Subclasses implement ``step()``,
    which updates the parameters in place under ``no_grad`` on their own device.

    Example::

        opt = gpugrad.optim.SGD([{"params": model[0].parameters(), "lr": 1e-3},
                                 {"params": model[2].parameters()}], lr=1e-2, momentum=0.9)
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of "
                f"Tensors or dicts, but got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``"params"`` and optional hyperparameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a list "
                "instead."
            )
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        offset = sum(len(g["params"]) for g in self.param_groups)
        known = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(group["params"]):
            where = f"parameter {offset + i}"
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but {where} is a {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"can't optimize a non-leaf Tensor ({where}, shape "
                    f"{tuple(p.shape)}, is the output of {p.grad_fn.name()}); "
                    "optimize the leaf it was computed from, or .detach() it and "
                    "call .requires_grad_()"
                )
            if not p.dtype.is_floating_point:
                raise ValueError(
                    f"can't optimize a Tensor of dtype {p.dtype} ({where}); "
                    "parameters must be floating point"
                )
            if id(p) in known:
                raise ValueError(
                    f"some parameters appear in more than one parameter group ({where})"
                )
            known.add(id(p))
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {k}"
                )
            group.setdefault(k, v)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters: to None (default) or to zeros in place."""
        zero_grads((p for g in self.param_groups for p in g["params"]), set_to_none)

    def step(self, closure=None):
        """Update the parameters once (implemented by each optimizer)."""
        raise NotImplementedError

    def _closure(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _state(self, p):
        s = self.state.get(p)
        if s is None:
            s = self.state[p] = {}
        return s

    def _params(self, group, *buffers, **scalars):
        """``(p, g, state)`` for each parameter of `group` that has a gradient, in order.

        ``g`` is the gradient, negated when ``maximize``, plus ``weight_decay * p`` (with
        ``decoupled_weight_decay``, ``p`` is scaled by ``1 - lr * weight_decay`` instead): see
        `_direction`; it may be ``p.grad`` itself, so rules never write into it. On
        first use ``state`` gets ``step = 0``, the `scalars` and zero tensors like ``p`` named by
        `buffers`; ``step`` is then counted.
        """
        wd = group.get("weight_decay", 0)
        decoupled = group.get("decoupled_weight_decay")
        maximize = group.get("maximize")
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state(p)
            if not state:
                state["step"] = 0
                state.update(scalars)
                for name in buffers:
                    state[name] = zeros_like(p)
            state["step"] += 1
            if wd != 0 and decoupled:
                p.mul_(1 - group["lr"] * wd)
            yield p, _direction(p, maximize, 0 if decoupled else wd), state

    # ------------------------------------------------------------------ state dicts

    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Parameters are numbered in group order; the state's tensors are references (save
        them with ``gpugrad.save``).
        """
        index, groups, n = {}, [], 0
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = list(range(n, n + len(g["params"])))
            for i, p in zip(packed["params"], g["params"]):
                index[id(p)] = i
            n += len(g["params"])
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state from ``state_dict()``'s output (copied onto each
        parameter's device; floating state cast to the parameter's dtype)."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups "
                f"({len(saved)}, the optimizer has {len(self.param_groups)})"
            )
        for i, (g, s) in enumerate(zip(self.param_groups, saved)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the "
                    f"size of optimizer's group (group {i}: {len(s['params'])} parameters "
                    f"saved, {len(g['params'])} in the optimizer)"
                )
        by_index = {}
        for g, s in zip(self.param_groups, saved):
            by_index.update(zip(s["params"], g["params"]))
        self.state = {}
        for key, st in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(
                    f"loaded state dict has state for parameter {key}, which the "
                    "optimizer does not have"
                )
            self.state[p] = {k: _like(p, k, v) for k, v in st.items()}
        for g, s in zip(self.param_groups, saved):
            g.update({k: v for k, v in s.items() if k != "params"})

    def __repr__(self):
        s = type(self).__name__ + " ("
        for i, g in enumerate(self.param_groups):
            s += f"\nParameter Group {i}"
            for k in sorted(g):
                if k != "params":
                    s += f"\n    {k}: {g[k]}"
        return s + "\n)"


# State entries that gpugrad keeps as Python numbers (so that a step never reads the device).
_SCALARS = ("step", "mu_product", "eta", "mu")


def _like(p, key, v):
    """A copy of state value `v` on `p`'s device (floating tensors in `p`'s dtype); lists,
    tuples and dicts (LBFGS's history) are copied item by item."""
    if isinstance(v, (list, tuple)):
        return type(v)(_like(p, key, x) for x in v)
    if isinstance(v, dict):
        return {k: _like(p, key, x) for k, x in v.items()}
    if not isinstance(v, Tensor):
        return v
    if key in _SCALARS and v.ndim == 0:  # PyTorch keeps these as 0-d tensors
        return int(v.item()) if key == "step" else float(v.item())
    dt = p.dtype if v.dtype.is_floating_point and key != "step" else v.dtype
    return _tensor(v.detach(), dtype=dt, device=p.device)
