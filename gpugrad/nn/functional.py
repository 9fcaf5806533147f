"""Functional forms of activations and losses, as ``torch.nn.functional``."""

from __future__ import annotations

import math

from .. import backend as B
from ..core.factories import rand
from ..ops import composite
from ..ops import elementwise as E
from ..ops import fused as _fused
from ..ops import linalg as L
from ..ops.fused import linear_mse_loss
from ..ops.registry import named
from . import functional_layers as _layers
from .functional_layers import *  # noqa: F403 - convolution, pooling, normalisation, activations

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
    return named(_reduce("mse_loss", d * d, reduction), "MseLossBackward0")


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error: mean(|input - target|)."""
    _check_same_shape("l1_loss", input, target)
    return _reduce("l1_loss", (input - target).abs(), reduction)


def linear(input, weight, bias=None):
    """input @ weight.T + bias."""
    si, sw = input._data.shape, weight._data.shape
    if not si or not sw or si[-1] != sw[-1]:
        inner = f" (in_features {sw[-1]})" if sw else ""
        raise RuntimeError(f"linear: input of shape {tuple(si)} does not match weight of "
                           f"shape {tuple(sw)}{inner}")
    return L.linear(input, weight, bias)


def cross_entropy(input, target, reduction="mean"):
    """Cross-entropy between logits `input` and integer class indices (or class probabilities).

    ``input`` has shape (N, C), (C,) or (N, C, d1, ...); ``target`` holds class indices of
    shape (N,), () or (N, d1, ...), or probabilities of the input's shape. The loss is
    ``-log_softmax(input, 1)`` at the target class, finite even for logits of +-1e4.

    Example::

        >>> logits = gpugrad.tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True)
        >>> F.cross_entropy(logits, gpugrad.tensor([0, 1]))
        tensor(0.1269, grad_fn=<NllLossBackward0>)
    """
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a 0-d tensor")
    if input.ndim == 1:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    if (input.ndim == 2 and input.dtype.is_floating_point and target.ndim == 1
            and target._data.dtype.kind in "iu" and target.shape[0] == input.shape[0]
            and input.shape[1] and reduction in ("mean", "sum", "none")
            and B.same_device(input._data, target._data)):
        return _fused.cross_entropy(input, target, reduction)
    logp = composite.log_softmax(input, 1)
    if target.dtype.is_floating_point:
        _check_same_shape("cross_entropy", input, target)
        return _reduce("cross_entropy", -(logp * target).sum(1), reduction)
    return _class_nll("cross_entropy", logp, target, reduction)


def _class_nll(name, logp, target, reduction):
    """-logp at the class indices `target`, with errors that name the loss and the target."""
    if target.dtype.is_floating_point or target.dtype is B.bool_:
        raise TypeError(f"{name}: target must hold integer class indices, got {target.dtype}")
    want = (logp.shape[0],) + tuple(logp.shape[2:])
    if tuple(target.shape) != want:
        raise RuntimeError(f"{name}: target of shape {tuple(target.shape)} does not match input "
                           f"of shape {tuple(logp.shape)}; expected class indices of shape {want}")
    try:
        nll = -logp.gather(1, target.unsqueeze(1)).squeeze(1)
    except IndexError as exc:
        raise IndexError(f"{name}: a target class index is out of range for "
                         f"{logp.shape[1]} classes ({exc})") from None
    # PyTorch's nll_loss of more than 2 dims runs its 2-D kernel (NllLoss2DBackward0).
    return named(_reduce(name, nll, reduction),
                 "NllLoss2DBackward0" if logp.ndim > 2 else "NllLossBackward0")


def nll_loss(input, target, reduction="mean"):
    """Negative log-likelihood of log-probabilities `input` (N, C) at class indices `target`."""
    if input.ndim == 1:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    return _class_nll("nll_loss", input, target, reduction)


def binary_cross_entropy_with_logits(input, target, reduction="mean", pos_weight=None):
    """Binary cross-entropy of logits, stable for any logit (no sigmoid is formed).

    The loss is ``max(x, 0) - x y + log1p(exp(-|x|))``; with ``pos_weight`` it is
    ``(1 - y) x + (1 + (pos_weight - 1) y) (max(-x, 0) + log1p(exp(-|x|)))``. The kinks of
    max and |x| at 0 are taken on the same side, so the gradient is ``sigmoid(x) - y`` exactly,
    also at x = 0.

    Example::

        >>> x = gpugrad.tensor([1e4, -1e4, 0.0])
        >>> F.binary_cross_entropy_with_logits(x, gpugrad.tensor([1.0, 0.0, 1.0]), reduction="none")
        tensor([0.0000, 0.0000, 0.6931])
    """
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    pos = input >= 0
    # log1p(exp(-|x|)) is softplus(-|x|): its derivative sigmoid(-|x|) is finite everywhere.
    tail = E.softplus(E.where(pos, -input, input), threshold=math.inf)
    if pos_weight is None:
        loss = E.where(pos, input, 0.0) - input * target + tail
    else:
        w = 1 + (pos_weight - 1) * target
        loss = (1 - target) * input + w * (E.where(pos, 0.0, -input) + tail)
    return named(_reduce("binary_cross_entropy_with_logits", loss, reduction),
                 "BinaryCrossEntropyWithLogitsBackward0")


def dropout(input, p=0.5, training=True):
    """Zero each element with probability `p` and scale the rest by ``1 / (1 - p)`` (training only).

    The mask comes from gpugrad's generator on the input's device (``gpugrad.manual_seed``).

    Example::

        >>> y = F.dropout(gpugrad.ones(4), p=0.5)   # e.g. tensor([2., 0., 2., 2.])
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    dt = input.dtype if input.dtype in (B.float32, B.float64) else B.float32
    keep = rand(*input.shape, dtype=dt, device=input.device) >= p
    return input * keep.to(input.dtype) * (1.0 / (1.0 - p))


__all__ = ["relu", "sigmoid", "tanh", "softplus", "softmax", "log_softmax", "mse_loss",
           "l1_loss", "linear", "linear_mse_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy_with_logits", "dropout", *_layers.__all__]
