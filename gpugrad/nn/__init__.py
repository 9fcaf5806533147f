"""Neural-network building blocks, as ``torch.nn``: ``Module``, ``Parameter``, layers, losses,
``nn.functional`` and ``nn.init``.

Example::

    from gpugrad import nn

    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    loss = nn.CrossEntropyLoss()(model(x), labels)
    loss.backward()
"""

from . import functional, init
from .module import Module
from .modules import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    L1Loss,
    Linear,
    ModuleList,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    Softplus,
    Tanh,
)
from .parameter import Parameter

__all__ = [
    "functional",
    "init",
    "Module",
    "Parameter",
    "Linear",
    "Identity",
    "Flatten",
    "Dropout",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "Softplus",
    "Sequential",
    "ModuleList",
    "MSELoss",
    "L1Loss",
    "CrossEntropyLoss",
    "BCEWithLogitsLoss",
]
