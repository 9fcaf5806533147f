"""Layers, containers and losses: thin ``Module`` wrappers over ``nn.functional``."""

from __future__ import annotations

import math
from collections import OrderedDict

from ..core.factories import empty
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

# ----------------------------------------------------------------------------- layers


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features).

    Initialised as in PyTorch: weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features)).

    Example::

        >>> fc = nn.Linear(2, 3)
        >>> fc(gpugrad.randn(4, 2)).shape
        gpugrad.Size([4, 3])
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Flatten dims `start_dim`..`end_dim` (by default all but the batch dim).

    Example: ``nn.Flatten()(gpugrad.zeros(2, 3, 4)).shape`` -> ``gpugrad.Size([2, 12])``
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability `p` in training mode (scaling the rest by 1/(1-p));
    the identity in eval mode.

    Example::

        drop = nn.Dropout(0.1)
        drop.eval()          # now drop(x) is x
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


def _activation(name, fn, doc):
    def forward(self, input):
        return fn(input)

    return type(name, (Module,), {"forward": forward, "__doc__": doc, "__module__": __name__})


Tanh = _activation("Tanh", F.tanh, "tanh(x), elementwise.")
Sigmoid = _activation("Sigmoid", F.sigmoid, "1 / (1 + exp(-x)), elementwise.")


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, elementwise (x itself where beta x > threshold)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


# ----------------------------------------------------------------------------- containers


class _Container(Module):
    """What Sequential and ModuleList share: length, iteration in order, append."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add `module` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self


class Sequential(_Container):
    """Modules applied one after another; indexable like a list.

    Example::

        >>> nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        Sequential(
          (0): Linear(in_features=2, out_features=3, bias=True)
          (1): ReLU()
        )
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for k, m in args[0].items():
                self.add_module(k, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input

    def __getitem__(self, idx):
        mods = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(mods[idx]))
        return mods[_index(idx, len(mods))][1]


def _index(idx, n):
    idx = int(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for a container of {n} modules")
    return idx % n


class ModuleList(_Container):
    """A list of modules whose parameters the parent module sees.

    Example::

        self.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(3))
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[_index(idx, len(mods))]

    def __setitem__(self, idx, module):
        self.add_module(str(_index(idx, len(self))), module)

    def extend(self, modules):
        """Add each of `modules` at the end; returns self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Insert `module` before position `index`."""
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)


__all__ = [
    "Linear",
    "Identity",
    "Flatten",
    "Dropout",
    "Tanh",
    "Sigmoid",
    "Softplus",
    "Sequential",
    "ModuleList",
]
