"""Functional forms of activations and losses, as ``torch.nn.functional``."""

from __future__ import annotations

from ..ops import composite
from ..ops import elementwise as E

relu = E.relu
sigmoid = E.sigmoid
tanh = E.tanh
softplus = E.softplus
softmax = composite.softmax
log_softmax = composite.log_softmax


def _reduce(name, loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: unknown reduction {reduction!r}; expected 'mean', 'sum' or 'none'")


def _check_same_shape(name, input, target):
    if input._data.shape != target._data.shape:
        raise RuntimeError(f"{name}: input has shape {tuple(input.shape)} but target has shape "
                           f"{tuple(target.shape)}; they must match")


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: mean((input - target)**2)."""
    _check_same_shape("mse_loss", input, target)
    d = input - target
    return _reduce("mse_loss", d * d, reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error: mean(|input - target|)."""
    _check_same_shape("l1_loss", input, target)
    return _reduce("l1_loss", (input - target).abs(), reduction)


def linear(input, weight, bias=None):
    """input @ weight.T + bias."""
    out = input @ weight.mT if weight.ndim >= 2 else input @ weight
    return out if bias is None else out + bias


__all__ = ["relu", "sigmoid", "tanh", "softplus", "softmax", "log_softmax", "mse_loss",
           "l1_loss", "linear"]
