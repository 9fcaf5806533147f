"""Neural-network building blocks, as ``torch.nn``: ``Module``, ``Parameter``, layers, losses,
``nn.functional`` and ``nn.init``.

Example::

    from gpugrad import nn

    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    loss = nn.CrossEntropyLoss()(model(x), labels)
    loss.backward()
"""

from . import functional, init, layers, modules
from .layers import *  # noqa: F403 - convolution, pooling, normalisation, activations
from .module import Module
from .modules import *  # noqa: F403 - the layers, containers and losses of modules.__all__
from .parameter import Parameter

__all__ = ["functional", "init", "Module", "Parameter", *modules.__all__, *layers.__all__]
