"""Functional forms of activations and losses, as ``torch.nn.functional``."""

from __future__ import annotations

from .. import backend as B
from ..core.factories import rand
from ..ops import composite
from ..ops import elementwise as E
from ..ops import linalg as L
from ..ops.fused import linear_mse_loss
from . import functional_layers as _layers
from ._losses import *  # noqa: F403 - the loss functions of _losses.__all__
from ._losses import __all__ as _loss_names
from .functional_layers import *  # noqa: F403 - convolution, pooling, normalisation, activations

relu = E.relu
sigmoid = E.sigmoid
tanh = E.tanh
softplus = E.softplus
softmax = composite.softmax
log_softmax = composite.log_softmax


def linear(input, weight, bias=None):
    """input @ weight.T + bias."""
    si, sw = input._data.shape, weight._data.shape
    if not si or not sw or si[-1] != sw[-1]:
        inner = f" (in_features {sw[-1]})" if sw else ""
        raise RuntimeError(f"linear: input of shape {tuple(si)} does not match weight of "
                           f"shape {tuple(sw)}{inner}")
    return L.linear(input, weight, bias)


def dropout(input, p=0.5, training=True):
    """Zero each element with probability `p` and scale the rest by ``1 / (1 - p)`` (training only).

    The mask comes from gpugrad's generator on the input's device (``gpugrad.manual_seed``).

    Example::

        >>> y = F.dropout(gpugrad.ones(4), p=0.5)   # e.g. tensor([2., 0., 2., 2.])
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training:
        return input
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"dropout: result type Float can't be cast to the desired output "
                           f"type {input.dtype}; dropout in training needs a floating-point "
                           "tensor (e.g. x.float())")
    if p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    dt = input.dtype if input.dtype in (B.float32, B.float64) else B.float32
    keep = rand(*input.shape, dtype=dt, device=input.device) >= p
    return input * keep.to(input.dtype) * (1.0 / (1.0 - p))


__all__ = ["relu", "sigmoid", "tanh", "softplus", "softmax", "log_softmax", "linear",
           "linear_mse_loss", "dropout", *_loss_names, *_layers.__all__]
