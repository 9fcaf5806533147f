"""The loss functions of ``nn.functional``, with PyTorch's signatures, reductions, weights,
broadcasting rules and errors.

All are composites of gpugrad's ops (no derivative code), except two primitives:
``binary_cross_entropy`` (its clamped log changes the gradient, ``gpugrad/ops/losses.py``) and
the common case of ``cross_entropy`` (logits (N, C), class indices, no weight: one fused node,
``gpugrad/ops/fused.py``).
"""

from __future__ import annotations

import math
import warnings

from .. import backend as B
from ..core.batched import physical
from ..core.factories import arange
from ..core.tensor import Tensor
from ..ops import composite
from ..ops import elementwise as E
from ..ops import fused as _fused
from ..ops.losses import BINARY_CROSS_ENTROPY
from ..ops.reduction import norm
from ..ops.registry import apply, named
from ..ops.shape import broadcast_shapes

_REDUCTIONS = ("mean", "sum", "none")

# ----------------------------------------------------------------------------- arguments


def _reduction(name, size_average, reduce, reduction, allowed=_REDUCTIONS):
    """The reduction from PyTorch's arguments: the legacy ``size_average`` and ``reduce`` (bools,
    with PyTorch's deprecation warning) override ``reduction`` when either is given. A string
    passed where ``size_average`` goes (``nn.MSELoss('sum')``) is a TypeError: PyTorch would
    read it as True and silently take the mean."""
    for what, v in (("size_average", size_average), ("reduce", reduce)):
        if v is not None and not isinstance(v, (bool, int)):
            hint = f"; to choose the reduction, pass reduction={v!r}" if isinstance(v, str) else ""
            raise TypeError(f"{name}: {what} must be a bool or None, got {v!r}{hint}")
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
        return reduction
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(f"{name}: {reduction!r} is not a valid value for reduction; expected "
                         + ", ".join(repr(r) for r in allowed))
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


_FLOATING = ("input", "input1", "input2", "anchor", "positive", "negative")


def _tensors(name, **args):
    """Each of `args` must be a tensor, and the inputs (not targets) of a floating dtype
    (NotImplementedError, as PyTorch's kernels for integer inputs; a RuntimeError)."""
    for what, t in args.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{what}' must be a Tensor, not "
                            f"{type(t).__name__}")
        if what in _FLOATING and not t.dtype.is_floating_point:
            raise NotImplementedError(f"{name}: not implemented for {what} of dtype {t.dtype}; "
                                      "expected a floating-point tensor")


def _broadcast_pair(name, input, target):
    """PyTorch's rule for the regression losses: a target of another shape is broadcast with
    the input, with a warning (it is likely a mistake), or an error when it cannot be."""
    si, st = tuple(input.shape), tuple(target.shape)
    if si == st:
        return input, target
    shape = broadcast_shapes(name, si, st)
    warnings.warn(f"{name}: Using a target size ({st}) that is different to the input size "
                  f"({si}). This will likely lead to incorrect results due to broadcasting. "
                  "Please ensure they have the same size.", UserWarning, stacklevel=3)
    return input.expand(*shape), target.expand(*shape)


def _same_size_weight(name, weight, input):
    _tensors(name, weight=weight)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{name}: Weights and input must have the same size (weight "
                         f"{tuple(weight.shape)}, input {tuple(input.shape)}).")


def _weighted_mean(loss, weight, reduction):
    """PyTorch's reduction of an elementwise-weighted mse/l1 loss: 'mean' divides by the
    weights' sum."""
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- regression


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target) ** 2``, reduced; optionally weighted per element
    (``'mean'`` then divides by the weights' sum). A target of another shape is broadcast with
    a warning, as in PyTorch.

    Example::

        >>> F.mse_loss(gpugrad.tensor([1., 2.]), gpugrad.tensor([1., 4.]))
        tensor(2.)
    """
    _tensors("mse_loss", input=input, target=target)
    reduction = _reduction("mse_loss", size_average, reduce, reduction)
    input, target = _broadcast_pair("mse_loss", input, target)
    d = input - target
    if weight is not None:
        _same_size_weight("mse_loss", weight, input)
        return _weighted_mean(d * d, weight, reduction)
    return named(_reduce(d * d, reduction), "MseLossBackward0")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|``, reduced; optionally weighted per element.

    Example::

        >>> F.l1_loss(gpugrad.tensor([1., 2.]), gpugrad.tensor([1., 4.]), reduction="sum")
        tensor(2.)
    """
    _tensors("l1_loss", input=input, target=target)
    reduction = _reduction("l1_loss", size_average, reduce, reduction)
    input, target = _broadcast_pair("l1_loss", input, target)
    if weight is not None:
        _same_size_weight("l1_loss", weight, input)
        return _weighted_mean((input - target).abs(), weight, reduction)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (d = input - target);
    ``beta = 0`` is the L1 loss.

    Example::

        >>> F.smooth_l1_loss(gpugrad.tensor([0.5, 3.]), gpugrad.tensor([0., 0.]), reduction="none")
        tensor([0.1250, 2.5000])
    """
    _tensors("smooth_l1_loss", input=input, target=target)
    reduction = _reduction("smooth_l1_loss", size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta (got "
                           f"{beta}).")
    input, target = _broadcast_pair("smooth_l1_loss", input, target)
    d = input - target
    if beta == 0:
        return _reduce(d.abs(), reduction)
    a = d.abs()
    loss = E.where(a < beta, (0.5 / beta) * (d * d), a - 0.5 * beta)
    return named(_reduce(loss, reduction), "SmoothL1LossBackward0")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 d**2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)`` (d = input - target):
    ``delta`` times ``smooth_l1_loss`` with ``beta = delta``. With ``weight`` (the input's shape),
    each element's loss is weighted and ``'mean'`` is the plain mean.

    Example::

        >>> F.huber_loss(gpugrad.tensor([0.5, 3.]), gpugrad.tensor([0., 0.]), delta=2.0)
        tensor(1.0625)
    """
    _tensors("huber_loss", input=input, target=target)
    reduction = _reduction("huber_loss", None, None, reduction)
    if not delta > 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta (got "
                           f"{delta}).")
    input, target = _broadcast_pair("huber_loss", input, target)
    d = input - target
    a = d.abs()
    loss = E.where(a < delta, 0.5 * (d * d), delta * (a - 0.5 * delta))
    if weight is not None:
        _same_size_weight("huber_loss", weight, input)
        return _reduce(loss * weight, reduction)
    return named(_reduce(loss, reduction), "HuberLossBackward0")


# ----------------------------------------------------------------------------- binary


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """``-w (y log x + (1 - y) log(1 - x))`` for probabilities ``x`` (input) and ``y`` (target),
    of the same shape; each log is clamped at -100 as in PyTorch, so that x = 0 or 1 gives a
    finite loss, and the gradient in x is ``w (x - y) / max(x (1 - x), 1e-12)``. ``weight``
    broadcasts to the target's shape. Input or target outside [0, 1] is an error.

    Example::

        >>> F.binary_cross_entropy(gpugrad.tensor([0.8, 0.0]), gpugrad.tensor([1., 1.]),
        ...                        reduction="none")
        tensor([  0.2231, 100.0000])
    """
    name = "binary_cross_entropy"
    _tensors(name, input=input, target=target)
    reduction = _reduction(name, size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{name}: Using a target size ({tuple(target.shape)}) that is different "
                         f"to the input size ({tuple(input.shape)}) is deprecated. Please ensure "
                         "they have the same size.")
    if not target.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Found dtype {target.dtype} but expected a floating dtype for "
                           "the target")
    loss = apply(BINARY_CROSS_ENTROPY, (input, target))
    if weight is not None:
        _tensors(name, weight=weight)
        shape = broadcast_shapes(name, tuple(target.shape), tuple(weight.shape))
        if shape != tuple(target.shape):
            raise RuntimeError(f"{name}: weight of shape {tuple(weight.shape)} does not broadcast "
                               f"to the target's shape {tuple(target.shape)}")
        loss = loss * weight
    return named(_reduce(loss, reduction), "BinaryCrossEntropyBackward0")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross-entropy of logits, stable for any logit (no sigmoid is formed).

    The loss is ``max(x, 0) - x y + log1p(exp(-|x|))``; with ``pos_weight`` (broadcast along the
    last dim, the classes) it is ``(1 - y) x + (1 + (pos_weight - 1) y) (max(-x, 0) +
    log1p(exp(-|x|)))``; ``weight`` multiplies each element's loss. The kinks of max and |x| at
    0 are taken on the same side, so the gradient is ``sigmoid(x) - y`` exactly, also at x = 0.

    Example::

        >>> x = gpugrad.tensor([1e4, -1e4, 0.0])
        >>> F.binary_cross_entropy_with_logits(x, gpugrad.tensor([1.0, 0.0, 1.0]), reduction="none")
        tensor([0.0000, 0.0000, 0.6931])
    """
    name = "binary_cross_entropy_with_logits"
    _tensors(name, input=input, target=target)
    reduction = _reduction(name, size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{name}: Target size ({tuple(target.shape)}) must be the same as "
                         f"input size ({tuple(input.shape)})")
    pos = input >= 0
    # log1p(exp(-|x|)) is softplus(-|x|): its derivative sigmoid(-|x|) is finite everywhere.
    tail = E.softplus(E.where(pos, -input, input), threshold=math.inf)
    if pos_weight is None:
        loss = E.where(pos, input, 0.0) - input * target + tail
    else:
        w = 1 + (pos_weight - 1) * target
        loss = (1 - target) * input + w * (E.where(pos, 0.0, -input) + tail)
    if weight is not None:
        loss = loss * weight
    return named(_reduce(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0")


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``log(1 + exp(-y x))`` for targets ``y`` of +-1, computed without overflow.

    Example::

        >>> F.soft_margin_loss(gpugrad.tensor([2., -1.]), gpugrad.tensor([1., 1.]))
        tensor(0.7201)
    """
    _tensors("soft_margin_loss", input=input, target=target)
    reduction = _reduction("soft_margin_loss", size_average, reduce, reduction)
    shape = broadcast_shapes("soft_margin_loss", tuple(input.shape), tuple(target.shape))
    if shape != tuple(input.shape):
        raise RuntimeError(f"soft_margin_loss: output with shape {tuple(input.shape)} doesn't "
                           f"match the broadcast shape {shape} (target {tuple(target.shape)})")
    loss = E.softplus(-(input * target), threshold=math.inf)
    return named(_reduce(loss, reduction), "SoftMarginLossBackward0")


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Per sample, the mean over classes (the last dim) of the binary cross-entropy of logits
    ``input`` and 0/1 ``target``; ``weight`` weights the classes.

    Example::

        >>> F.multilabel_soft_margin_loss(gpugrad.zeros(2, 3), gpugrad.ones(2, 3))
        tensor(0.6931)
    """
    _tensors("multilabel_soft_margin_loss", input=input, target=target)
    reduction = _reduction("multilabel_soft_margin_loss", size_average, reduce, reduction)
    # -log sigmoid(x) = softplus(-x), exact and finite for any x.
    loss = (target * E.softplus(-input, threshold=math.inf)
            + (1 - target) * E.softplus(input, threshold=math.inf))
    if weight is not None:
        loss = loss * weight
    c = input.ndim - 1
    if c < 0:
        raise IndexError("multilabel_soft_margin_loss: input must have a class dimension (the "
                         "last), got a 0-d tensor")
    return _reduce(loss.sum(c) / input.shape[c], reduction)


# ----------------------------------------------------------------------------- classes


def _class_check(name, input, target, weight):
    """PyTorch's checks of class-index targets for `input` (N, C, d1, ...) (1-D: no batch)."""
    if input.ndim < 1:
        raise ValueError(f"{name}: Expected 1 or more dimensions (got {input.ndim})")
    if target.dtype.is_floating_point or target.dtype is B.bool_:
        raise RuntimeError(f"{name}: expected target dtype to be an integer type (class indices), "
                           f"but got {target.dtype}")
    si, st = tuple(input.shape), tuple(target.shape)
    if input.ndim == 1:
        if target.ndim > 1 or (target.ndim == 1 and st != (1,)):
            raise ValueError(f"{name}: For 1D input, 1D target must have size 1, but got target "
                             f"size: {target.shape[0] if target.ndim else st} (a 1-D input is one "
                             f"sample of {si[0]} classes; its target is 0-D or of size 1)")
    else:
        if input.ndim == 2 and target.ndim != 1:
            raise RuntimeError(f"{name}: 0D or 1D target tensor expected, multi-target not "
                               f"supported (target of shape {st} for input of shape {si})")
        if target.ndim >= 1 and si[0] != st[0]:
            raise ValueError(f"{name}: Expected input batch_size ({si[0]}) to match target "
                             f"batch_size ({st[0]}) (input of shape {si}, target of shape {st}).")
        if st != si[:1] + si[2:]:
            raise RuntimeError(f"{name}: Expected target size {list(si[:1] + si[2:])}, got "
                               f"{list(st)} (target of shape {st} for input of shape {si})")
    c = si[1] if input.ndim > 1 else si[0]
    _class_weight(name, weight, c)
    return c


def _class_weight(name, weight, c):
    """PyTorch's check of a per-class `weight` (None, or C values)."""
    if weight is not None:
        _tensors(name, weight=weight)
        if weight.ndim != 1 or weight.shape[0] != c:
            raise RuntimeError(f"{name}: weight tensor should be defined either for all {c} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")


def _targets_need_care(target, c, ignore_index):
    """Whether some target is out of [0, c) or equals ignore_index (then the general path
    raises or leaves it out); read off the raw array, as this runs on every training step
    (inside vmap: every example's). On a GPU, reading them would make the training step wait
    for the device: there the general path runs, which checks the targets on the device."""
    d = physical(target)
    if d.size == 0:
        return False
    if not B.index_checked(d):
        return True
    lo, hi = int(d.min()), int(d.max())
    return lo < 0 or hi >= c or (lo <= ignore_index <= hi and bool((d == ignore_index).any()))


def _nll(name, logp, target, weight, ignore_index, reduction):
    """``-w[t] logp[t]`` at class indices `target` (batched: logp (N, C, ...)), entries equal to
    ignore_index left out; 'mean' divides by the sum of the weights taken."""
    c = logp.shape[1]
    valid = target != ignore_index
    safe = E.where(valid, target, 0)
    # The targets kept (ignored ones as 0) checked: on a GPU on the device, raised at the
    # next sync point, as PyTorch's device-side assert (B.check_index).
    B.check_index(f"{name}: Target {{value}} is out of bounds (expected class indices in "
                  f"[0, {c}) or ignore_index={ignore_index}).", physical(safe), 0, c)
    picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1)
    w = valid.to(logp.dtype) if weight is None else E.where(valid, weight.to(logp.dtype)[safe], 0.0)
    loss = E.where(valid, -picked * w, 0.0) if weight is not None else E.where(valid, -picked, 0.0)
    if reduction == "mean":
        return loss.sum() / w.sum(), w
    return _reduce(loss, reduction), w


def _batched(input, target):
    """A 1-D input (one sample) as a batch of one, and whether it was."""
    if input.ndim == 1:
        return input.unsqueeze(0), target.reshape(1), True
    return input, target, False


def _unbatch(loss, reduction, one):
    return loss.squeeze(0) if one and reduction == "none" else loss


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities `input` (N, C), (C,) or (N, C, d1, ...) at
    the class indices `target` ((N,), () or (N, d1, ...)): ``-weight[t] input[t]``. Targets
    equal to ``ignore_index`` count for nothing; ``'mean'`` divides by the sum of the weights
    of the targets counted. A class index outside [0, C) is an IndexError, as in PyTorch.

    Example::

        >>> logp = F.log_softmax(gpugrad.tensor([[2.0, 0.0], [0.0, 2.0]]), 1)
        >>> F.nll_loss(logp, gpugrad.tensor([0, -100]))   # the second row is ignored
        tensor(0.1269)
    """
    _tensors("nll_loss", input=input, target=target)
    reduction = _reduction("nll_loss", size_average, reduce, reduction)
    _class_check("nll_loss", input, target, weight)
    input, target, one = _batched(input, target)
    loss, _ = _nll("nll_loss", input, target, weight, ignore_index, reduction)
    return named(_unbatch(loss, reduction, one),
                 "NllLoss2DBackward0" if input.ndim > 2 else "NllLossBackward0")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy between logits `input` and class indices or class probabilities `target`.

    ``input`` has shape (N, C), (C,) or (N, C, d1, ...). A ``target`` of the input's shape holds
    probabilities (floating); otherwise it holds class indices of shape (N,), () or
    (N, d1, ...), and the loss is ``nll_loss(log_softmax(input, 1), target, weight,
    ignore_index=ignore_index)``. ``label_smoothing`` mixes the target with the uniform
    distribution over the C classes. Finite even for logits of +-1e4.

    Example::

        >>> logits = gpugrad.tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True)
        >>> F.cross_entropy(logits, gpugrad.tensor([0, 1]))
        tensor(0.1269, grad_fn=<NllLossBackward0>)
    """
    name = "cross_entropy"
    _tensors(name, input=input, target=target)
    reduction = _reduction(name, size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"{name}: label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    if tuple(input.shape) == tuple(target.shape):
        return _prob_cross_entropy(input, target, weight, ignore_index, reduction,
                                   label_smoothing)
    c = _class_check(name, input, target, weight)
    input, target, one = _batched(input, target)
    if (weight is None and label_smoothing == 0 and input.ndim == 2
            and input.dtype.is_floating_point and c and B.same_device(input._data, target._data)
            and not _targets_need_care(target, c, ignore_index)):
        return _unbatch(_fused.cross_entropy(input, target, reduction), reduction, one)
    logp = composite.log_softmax(input, 1)
    loss, w = _nll(name, logp, target, weight, ignore_index, reduction)
    if label_smoothing > 0:
        valid = target != ignore_index
        lw = logp if weight is None else logp * weight.to(logp.dtype).reshape(
            (1, c) + (1,) * (logp.ndim - 2))
        smooth = E.where(valid, -lw.sum(1), 0.0)
        smooth = smooth.sum() / w.sum() if reduction == "mean" else _reduce(smooth, reduction)
        loss = (1 - label_smoothing) * loss + (label_smoothing / c) * smooth
    else:
        loss = named(loss, "NllLoss2DBackward0" if input.ndim > 2 else "NllLossBackward0")
    return _unbatch(loss, reduction, one)


def _prob_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing):
    name = "cross_entropy"
    if not target.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected floating point type for target with class "
                           f"probabilities, got {target.dtype}")
    if ignore_index >= 0:
        raise RuntimeError(f"{name}: ignore_index is not supported for floating point target "
                           f"(got ignore_index={ignore_index})")
    cd = 1 if input.ndim > 1 else 0
    c = input.shape[cd]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    logp = composite.log_softmax(input, cd)
    prod = logp * target
    _class_weight(name, weight, c)
    if weight is not None:
        prod = prod * weight.reshape((c,) + (1,) * (input.ndim - 1 - cd))
    per_sample = -prod.sum(cd)
    if reduction == "mean" and input.ndim == 1:
        return per_sample  # one sample: its mean is itself
    return _reduce(per_sample, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence ``target (log target - input)`` of log-probabilities `input`
    from `target` (probabilities, or log-probabilities with ``log_target=True``); ``0 log 0`` is
    0. ``reduction='batchmean'`` divides the sum by the batch size (the divergence per sample);
    ``'mean'`` divides by the number of elements, and warns as PyTorch does.

    Example::

        >>> p = gpugrad.tensor([[0.5, 0.5]])
        >>> F.kl_div(gpugrad.tensor([[0.25, 0.75]]).log(), p, reduction="batchmean")
        tensor(0.1438)
    """
    _tensors("kl_div", input=input, target=target)
    legacy = size_average is not None or reduce is not None
    reduction = _reduction("kl_div", size_average, reduce, reduction,
                           _REDUCTIONS + ("batchmean",))
    if reduction == "mean" and not legacy:
        warnings.warn("kl_div: reduction: 'mean' divides the total loss by both the batch size and "
                      "the support size.'batchmean' divides only by the batch size, and aligns "
                      "with the KL div math definition.'mean' will be changed to behave the same "
                      "as 'batchmean' in the next major release.", UserWarning, stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = E.xlogy(target, target) - target * input
    if reduction == "batchmean":
        s = loss.sum()
        return s / input.shape[0] if input.ndim else s
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of `target` under normal distributions of mean `input` and
    variance `var`: ``0.5 (log max(var, eps) + (input - target)**2 / max(var, eps))`` (+ 0.5
    log(2 pi) when `full`). `var` has the input's shape, or one dim of size 1 (or the last dim
    left out) for a variance shared along it, or is a number. The clamp at eps passes the
    gradient through unchanged, as in PyTorch.

    Example::

        >>> F.gaussian_nll_loss(gpugrad.tensor([0.]), gpugrad.tensor([1.]), gpugrad.tensor([1.]))
        tensor(0.5000)
    """
    name = "gaussian_nll_loss"
    _tensors(name, input=input, target=target)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{name}: var has negative entry/entries (var={var})")
        var = input.new_full(tuple(input.shape), float(var))
    else:
        _tensors(name, var=var)
        if bool((var < 0).any().item()):
            raise ValueError(f"{name}: var has negative entry/entries")
    si, sv = tuple(input.shape), tuple(var.shape)
    if sv != si:
        if si[:-1] == sv:
            var = var.unsqueeze(-1)
        elif not (len(si) == len(sv) and sum(y for x, y in zip(si, sv) if x != y) == 1):
            raise ValueError(f"{name}: var is of incorrect size: {sv} for input of shape {si}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: {reduction!r} is not valid; expected 'mean', 'sum' or 'none'")
    # var clamped at eps, the gradient passing through as if unclamped (PyTorch clamps in no_grad)
    v = var.detach()
    var = var + (v.clamp(min=eps) - v)
    d = input - target
    loss = 0.5 * (var.log() + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """Negative log-likelihood of counts `target` under Poisson distributions of rate
    ``exp(input)`` (``log_input``) or `input`: ``exp(input) - target input`` or ``input - target
    log(input + eps)``; `full` adds Stirling's approximation of ``log(target!)`` where
    target > 1.

    Example::

        >>> F.poisson_nll_loss(gpugrad.tensor([0.]), gpugrad.tensor([2.]))
        tensor(1.)
    """
    name = "poisson_nll_loss"
    _tensors(name, input=input, target=target)
    reduction = _reduction(name, size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = target > 1
        t = E.where(big, target, 1.0)  # log reads 1 where the term is masked: no inf or NaN
        stirling = t * t.log() - t + 0.5 * (2 * math.pi * t).log()
        loss = loss + E.where(big, stirling, 0.0)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- margins


def _target_pm1(target, pos, neg, zero):
    """`pos` where target == 1, `neg` where target == -1, else `zero`."""
    return E.where(target == 1, pos, zero) + E.where(target == -1, neg, zero)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos(x1, x2) - margin)`` where it is -1;
    inputs (N, D) with target (N,), or (D,) with a 0-d target.

    Example::

        >>> x = gpugrad.tensor([[1., 0.], [0., 1.]])
        >>> F.cosine_embedding_loss(x, x.flip(0), gpugrad.tensor([1., -1.]))
        tensor(0.5000)
    """
    name = "cosine_embedding_loss"
    _tensors(name, input1=input1, input2=input2, target=target)
    reduction = _reduction(name, size_average, reduce, reduction)
    if target.ndim > 1:
        raise RuntimeError(f"{name}: 0D or 1D target tensor expected, multi-target not supported "
                           f"(target of shape {tuple(target.shape)})")
    want = target.ndim + 1
    if input1.ndim != want or input2.ndim != want:
        raise RuntimeError(f"{name}: {target.ndim}D target tensor expects {want}D input tensors, "
                           f"but found inputs with sizes {list(input1.shape)} and "
                           f"{list(input2.shape)}.")
    broadcast_shapes(name, tuple(input1.shape), tuple(input2.shape))
    d = target.ndim
    eps = 1e-12  # PyTorch's floor on the squared norms
    prod = (input1 * input2).sum(d)
    denom = (((input1 * input1).sum(d) + eps) * ((input2 * input2).sum(d) + eps)).sqrt()
    cos = prod / denom
    zero = cos * 0.0
    loss = _target_pm1(target, 1 - cos, (cos - margin).clamp(min=0), zero)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """``max(0, -y (x1 - x2) + margin)``: y = 1 wants x1 ranked above x2, y = -1 below. The
    three tensors must have the same number of dims (then they broadcast).

    Example::

        >>> F.margin_ranking_loss(gpugrad.tensor([1., 1.]), gpugrad.tensor([0., 2.]),
        ...                       gpugrad.tensor([1., 1.]))
        tensor(0.5000)
    """
    name = "margin_ranking_loss"
    _tensors(name, input1=input1, input2=input2, target=target)
    reduction = _reduction(name, size_average, reduce, reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"{name}: All input tensors should have same dimension but got sizes: "
                           f"input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, target: "
                           f"{tuple(target.shape)}")
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """``x`` where target is 1, ``max(0, margin - x)`` where it is -1 (x usually a distance).

    Example::

        >>> F.hinge_embedding_loss(gpugrad.tensor([0.3, 0.3]), gpugrad.tensor([1., -1.]))
        tensor(0.5000)
    """
    name = "hinge_embedding_loss"
    _tensors(name, input=input, target=target)
    reduction = _reduction(name, size_average, reduce, reduction)
    zero = input * 0.0
    loss = (E.where(target != 1, (margin - input).clamp(min=0), zero)
            + E.where(target != -1, input, zero))
    return _reduce(loss, reduction)


def _pairwise_distance(x1, x2, p, eps):
    return norm(x1 - x2 + eps, p, -1)


def _triplet_check(name, anchor, positive, negative, margin):
    """PyTorch's checks shared by the two triplet losses."""
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"{name}: The anchor, positive, and negative tensors are expected to "
                           f"have the same number of dimensions, but got: anchor {anchor.ndim}D, "
                           f"positive {positive.ndim}D, and negative {negative.ndim}D inputs")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """``max(0, d(a, p) - d(a, n) + margin)`` with ``d`` the p-norm distance over the last dim
    (``||x1 - x2 + eps||_p``); `swap` uses ``min(d(a, n), d(p, n))`` for the negative.

    Example::

        >>> a = gpugrad.tensor([[0., 0.]])
        >>> F.triplet_margin_loss(a, a + 1, a - 3, eps=0.0)
        tensor(0.)
    """
    name = "triplet_margin_loss"
    _tensors(name, anchor=anchor, positive=positive, negative=negative)
    reduction = _reduction(name, size_average, reduce, reduction)
    _triplet_check(name, anchor, positive, negative, margin)
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = E.minimum(d_neg, _pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multi-class hinge loss of scores `input` (N, C) or (C,) at class indices `target`: per
    sample, ``sum over j != y of w[y] max(0, margin - x[y] + x[j])**p / C`` (p is 1 or 2).

    Example::

        >>> F.multi_margin_loss(gpugrad.tensor([[0.1, 0.2, 0.4, 0.8]]), gpugrad.tensor([3]))
        tensor(0.3250)
    """
    name = "multi_margin_loss"
    _tensors(name, input=input, target=target)
    reduction = _reduction(name, size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"{name}: only p == 1 and p == 2 supported (got p={p})")
    if target.dtype.is_floating_point or target.dtype is B.bool_:
        raise RuntimeError(f"{name}: expected target dtype to be an integer type (class indices), "
                           f"but got {target.dtype}")
    one = input.ndim <= 1
    if input.ndim > 2:
        raise RuntimeError(f"{name}: Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    x = input.reshape(1, -1) if one else input
    n, c = x.shape
    if target.numel() != n or (not one and target.ndim != 1):
        raise RuntimeError(f"{name}: target tensor should be 1-D with size equal to the number of "
                           f"input samples (batch size). Expected target size [{n}], but got "
                           f"{list(target.shape)}. Input has shape {list(input.shape)}.")
    t = target.reshape(n)
    if n and bool(((t < 0) | (t >= c)).any().item()):
        raise RuntimeError(f"{name}: target out of range (class indices must be in [0, {c}))")
    if weight is not None:
        _tensors(name, weight=weight)
        if weight.ndim != 1:
            raise ValueError(f"{name}: weight must be one-dimensional")
        if weight.shape[0] != c:
            raise RuntimeError(f"{name}: inconsistent weight size, expected {c} but got "
                               f"{list(weight.shape)}")
    xy = x.gather(1, t.unsqueeze(1))
    z = (margin - xy + x).clamp(min=0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight.to(x.dtype)[t].unsqueeze(1)
    classes = _arange_like(c, t)
    z = E.where(classes == t.unsqueeze(1), 0.0, z)  # j == y is left out
    loss = z.sum(1) / c
    return named(_reduce(loss.reshape(()) if one else loss, reduction), "MultiMarginLossBackward0")


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss of scores `input` (N, C) or (C,): each row of `target` (the input's
    shape) lists the sample's classes, ended by the first -1; per sample the loss is ``sum over
    listed y and unlisted i of max(0, 1 - (x[y] - x[i])) / C``.

    Example::

        >>> F.multilabel_margin_loss(gpugrad.tensor([[0.1, 0.2, 0.4, 0.8]]),
        ...                          gpugrad.tensor([[3, 0, -1, 1]]))
        tensor(0.8500)
    """
    name = "multilabel_margin_loss"
    _tensors(name, input=input, target=target)
    reduction = _reduction(name, size_average, reduce, reduction)
    if target.dtype.is_floating_point or target.dtype is B.bool_:
        raise RuntimeError(f"{name}: expected target dtype to be an integer type (class indices), "
                           f"but got {target.dtype}")
    if input.ndim > 2:
        raise RuntimeError(f"{name}: Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"{name}: inconsistent target size: {list(target.shape)} for input of "
                           f"size: {list(input.shape)}")
    one = input.ndim <= 1
    x, t = (input.reshape(1, -1), target.reshape(1, -1)) if one else (input, target)
    c = x.shape[1]
    if t.numel() and bool(((t < -1) | (t >= c)).any().item()):
        raise RuntimeError(f"{name}: argument #2 'target' is out of range (class indices in "
                           f"[0, {c}), -1 ending a row's list)")
    classes = _arange_like(c, t)
    end = E.where(t == -1, classes, c).amin(1, keepdim=True)  # where each row's list ends
    listed = classes < end  # (N, K): position k holds a class of the sample
    safe = E.where(listed, t, 0)
    is_target = ((safe.unsqueeze(2) == classes) & listed.unsqueeze(2)).any(1)  # (N, C)
    z = (1 - x.gather(1, safe).unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)  # (N, K, C)
    z = E.where(listed.unsqueeze(2) & ~is_target.unsqueeze(1), z, 0.0)
    loss = z.sum((1, 2)) / c
    return named(_reduce(loss.reshape(()) if one else loss, reduction),
                 "MultilabelMarginLossBackward0")


def _arange_like(n, like):
    return arange(n, dtype=like.dtype, device=like.device)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """``triplet_margin_loss`` with any distance: ``distance_function(x1, x2)`` (default: the
    2-norm distance ``||x1 - x2 + 1e-6||`` over the last dim).

    Example::

        >>> a = gpugrad.tensor([[0., 0.]])
        >>> cos = lambda u, v: 1 - (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))
        >>> F.triplet_margin_with_distance_loss(a + 1, a + 2, a - 1, distance_function=cos)
        tensor(0.)
    """
    name = "triplet_margin_with_distance_loss"
    _tensors(name, anchor=anchor, positive=positive, negative=negative)
    reduction = _reduction(name, None, None, reduction)
    _triplet_check(name, anchor, positive, negative, margin)
    if distance_function is None:
        def distance_function(x1, x2):
            return _pairwise_distance(x1, x2, 2, 1e-6)
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = E.minimum(d_neg, distance_function(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "soft_margin_loss", "multilabel_soft_margin_loss",
           "nll_loss", "cross_entropy", "kl_div", "gaussian_nll_loss", "poisson_nll_loss",
           "cosine_embedding_loss", "margin_ranking_loss", "hinge_embedding_loss",
           "triplet_margin_loss", "multi_margin_loss", "triplet_margin_with_distance_loss",
           "multilabel_margin_loss"]
