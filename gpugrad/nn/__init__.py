"""Neural-network building blocks, as ``torch.nn``: ``Module``, ``Parameter``, layers, losses,
``nn.functional`` and ``nn.init``.

Example::

    from gpugrad import nn

    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    loss = nn.CrossEntropyLoss()(model(x), labels)
    loss.backward()
"""

from . import functional, init, layers, loss, modules, parallel
from .layers import *  # noqa: F403 - convolution, pooling, normalisation, activations
from .loss import *  # noqa: F403 - the loss modules of loss.__all__
from .module import Module
from .modules import *  # noqa: F403 - the layers and containers of modules.__all__
from .parameter import Parameter

__all__ = ["functional", "init", "parallel", "Module", "Parameter", *modules.__all__,
           *loss.__all__, *layers.__all__]
