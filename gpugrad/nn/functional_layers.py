"""Functional forms of the layers and activations, as ``torch.nn.functional``: convolution,
pooling, embedding, normalisation, and the activations GELU, SiLU, LeakyReLU, ELU and friends.

Convolution and max pooling run the primitives of ``ops/layers.py``; everything else is a
composite of existing ops (average pooling is a convolution with a constant kernel), with no
derivative code of its own.
"""

from __future__ import annotations

import math

from .. import backend as B
from ..autograd.grad_mode import no_grad
from ..core.factories import ones, tensor
from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops.layers import CONV, MAX_POOL_INDICES, NDTR
from ..ops.registry import apply, named

# ----------------------------------------------------------------------------- arguments


def _tuple(name, value, n, what):
    """`value` as an n-tuple of ints (an int repeated, or a sequence of length 1 or n)."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"{name}: expected {what} to be a single integer value or a list of "
                           f"{n} values to match the convolution dimensions, but got "
                           f"{what}={list(value)}")
    return value


def _check_float(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{name}: expected a floating-point input, got {input.dtype}")


def _batched(name, input, nd):
    """`input` with a batch dim (it may come unbatched), and whether one was added."""
    if input.ndim == nd + 2:
        return input, False
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, "
                       f"but got input of size: {list(input.shape)}")


def _shape_str(shape):
    return "[" + ", ".join(map(str, shape)) + "]"


# ----------------------------------------------------------------------------- convolution


def _conv(name, nd, input, weight, bias, stride, padding, dilation, groups):
    _check_float(name, input)
    x, unbatched = _batched(name, input, nd)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}: expected weight to be {nd + 2}-D, but got {weight.ndim}-D "
                           f"weight of size {_shape_str(weight.shape)}")
    stride = _tuple(name, stride, nd, "stride")
    dilation = _tuple(name, dilation, nd, "dilation")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{name}: non-positive stride is not supported")
    if groups <= 0:
        raise RuntimeError(f"{name}: non-positive groups is not supported")
    if weight.dtype is not x.dtype:
        raise RuntimeError(f"expected scalar type {x.dtype.name} but found {weight.dtype.name} "
                           f"({name}: input and weight must have the same dtype)")
    if bias is not None and bias.dtype is not x.dtype:
        raise RuntimeError(f"Input type ({x.dtype.name}) and bias type ({bias.dtype.name}) should "
                           f"be the same ({name})")
    o, cg, kernel = weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
    if o % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {_shape_str(weight.shape)} "
                           "instead")
    if x.shape[1] != cg * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {_shape_str(weight.shape)}, "
                           f"expected input{_shape_str(x.shape)} to have {cg * groups} channels, "
                           f"but got {x.shape[1]} channels instead")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = tuple((t // 2, t - t // 2) for t in total)
        else:
            raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                             "{'valid', 'same'}")
    else:
        pads = tuple((p, p) for p in _tuple(name, padding, nd, "padding"))
    if any(lo < 0 for lo, _ in pads):
        raise RuntimeError(f"{name}: negative padding is not supported")
    padded = [s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads)]
    eff = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError("Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                           "actual input size")
    params = (tuple(x.shape), tuple(weight.shape), stride, pads, dilation, groups)
    out = apply(CONV, (x, weight), params)
    if bias is not None:
        if tuple(bias.shape) != (o,):
            raise RuntimeError(f"{name}: expected bias of shape ({o},), got "
                               f"{tuple(bias.shape)}")
        out = named(out + bias.reshape((o,) + (1,) * nd), "ConvolutionBackward0")
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation, as PyTorch) of input (N, C, L) or (C, L) with
    weight (out_channels, C / groups, kL). `padding`: an int, a 1-tuple, 'valid' or 'same'.

    Example::

        >>> F.conv1d(gpugrad.ones(1, 1, 5), gpugrad.ones(1, 1, 3))
        tensor([[[3., 3., 3.]]])
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) of input (N, C, H, W) or (C, H, W) with
    weight (out_channels, C / groups, kH, kW); stride, padding, dilation as ints or pairs,
    padding also 'valid' or 'same'.

    Example::

        >>> F.conv2d(gpugrad.ones(1, 1, 4, 4), gpugrad.ones(2, 1, 3, 3), padding=1).shape
        gpugrad.Size([1, 2, 4, 4])
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of input (N, C, D, H, W) with weight (out_channels, C / groups, kD, kH,
    kW). Example: ``F.conv3d(gpugrad.ones(1, 1, 3, 3, 3), gpugrad.ones(1, 1, 3, 3, 3))``."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


# ----------------------------------------------------------------------------- pooling


def _pool_pads(name, nd, x, kernel, stride, padding, dilation, ceil_mode):
    """Per-dim (low, high) padding for pooling: `padding` both sides, plus on the high side
    what ceil_mode's last partial window needs; and the output size."""
    kernel = _tuple(name, kernel, nd, "kernel_size")
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _tuple(name, stride, nd, "stride")
    padding = _tuple(name, padding, nd, "padding")
    dilation = _tuple(name, dilation, nd, "dilation")
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{name}: kernel_size must be greater than zero, but got "
                           f"{list(kernel)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"stride should not be zero ({name}: got stride={list(stride)})")
    for p, k, d in zip(padding, kernel, dilation):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"{name}: pad should be at most half of effective kernel size, "
                               f"but got pad={p}, kernel_size={k} and dilation={d}")
    pads, out = [], []
    for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        if o <= 0:
            raise RuntimeError(f"{name}: given input size {tuple(x.shape[1:])}, the calculated "
                               f"output size is too small ({o})")
        pads.append((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)))
        out.append(o)
    return kernel, stride, tuple(pads), dilation, tuple(out)


def _max_pool(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    x, unbatched = _batched(name, input, nd)
    kernel, stride, pads, dilation, out = _pool_pads(name, nd, x, kernel_size, stride, padding,
                                                     dilation, ceil_mode)
    idx = apply(MAX_POOL_INDICES, (x,), (kernel, stride, pads, dilation))
    flat = idx.flatten(2)
    values = x.flatten(2).gather(2, flat).reshape(tuple(idx.shape))
    values = named(values, f"MaxPool{nd}DWithIndicesBackward0")
    if unbatched:
        values, idx = values.squeeze(0), idx.squeeze(0)
    return (values, idx) if return_indices else values


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L). Example: ``F.max_pool1d(x, 2)``."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over (N, C, H, W) or (C, H, W): each window's maximum (stride defaults
    to the kernel size; padding counts as -inf). With `return_indices`, also the flat index
    of each maximum in its input plane, as PyTorch returns it.

    Example::

        >>> F.max_pool2d(gpugrad.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    _check_float(name, input)
    x, unbatched = _batched(name, input, nd)
    kernel, stride, pads, dilation, out = _pool_pads(name, nd, x, kernel_size, stride, padding,
                                                     1, ceil_mode)
    n, c, size = x.shape[0], x.shape[1], tuple(x.shape[2:])
    k = ones((1, 1) + kernel, dtype=x.dtype, device=x.device)
    flat = x.reshape((n * c, 1) + size)
    sums = apply(CONV, (flat, k), ((n * c, 1) + size, (1, 1) + kernel, stride, pads, dilation, 1))
    sums = sums.reshape((n, c) + out)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{name}: divisor must be not zero")
        res = sums / divisor_override
    else:
        # The divisor: the window's cells inside the input (and, with count_include_pad,
        # inside the padding; never the extra cells ceil_mode's last window reaches).
        if count_include_pad:
            inner = tuple(s + 2 * lo for s, (lo, _) in zip(size, pads))
            cover = tuple((0, hi - lo) for lo, hi in pads)
        else:
            inner, cover = size, pads
        one = ones((1, 1) + inner, dtype=x.dtype, device=x.device)
        with no_grad():
            div = apply(CONV, (one, k), ((1, 1) + inner, (1, 1) + kernel, stride, cover,
                                         dilation, 1))
        res = sums / div
    res = named(res, f"AvgPool{nd}DBackward0")
    return res.squeeze(0) if unbatched else res


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling over (N, C, L) or (C, L). Example: ``F.avg_pool1d(x, 2)``."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling over (N, C, H, W) or (C, H, W): each window's mean (stride defaults
    to the kernel size; zero padding counted in the mean unless ``count_include_pad=False``).

    Example::

        >>> F.avg_pool2d(gpugrad.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive_matrix(n, m, like):
    """The (m, n) matrix whose row i averages PyTorch's window i of n inputs:
    [floor(i n / m), ceil((i + 1) n / m))."""
    rows = []
    for i in range(m):
        lo, hi = (i * n) // m, -(-((i + 1) * n) // m)
        rows.append([1.0 / (hi - lo) if lo <= j < hi else 0.0 for j in range(n)])
    return tensor(rows, dtype=like.dtype, device=like.device)


def _adaptive_avg_pool(name, nd, input, output_size):
    _check_float(name, input)
    x, unbatched = _batched(name, input, nd)
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise ValueError(f"{name}: output_size must be {nd} integers, got {output_size}")
    size = tuple(x.shape[2:])
    out = tuple(s if o is None else int(o) for s, o in zip(size, output_size))
    if any(o <= 0 for o in out) or any(s <= 0 for s in size):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to "
                           f"1 and the input's spatial dims non-empty, got {out} for input of "
                           f"size {list(input.shape)}")
    res = x
    for i, (n, m) in enumerate(zip(size, out)):
        if n == m:
            continue
        # average along spatial dim i: move it last, multiply by the (m, n) matrix's transpose
        d = 2 + i
        res = (res.transpose(d, -1) @ _adaptive_matrix(n, m, x).mT).transpose(d, -1)
    if res is x:
        res = x * 1.0
    res = named(res, f"AdaptiveAvgPool{nd}DBackward0")
    return res.squeeze(0) if unbatched else res


def adaptive_avg_pool1d(input, output_size):
    """1-D adaptive average pooling to `output_size` positions (PyTorch's windows)."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """2-D adaptive average pooling to `output_size` (an int, or (H, W) with None keeping
    that dim): window i of n inputs spans [floor(i n / m), ceil((i + 1) n / m)).

    Example: ``F.adaptive_avg_pool2d(gpugrad.randn(2, 8, 5, 7), 1).shape`` is (2, 8, 1, 1).
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


# ----------------------------------------------------------------------------- embedding


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of `weight` (num_embeddings, dim) at the integer indices `input` (any shape).

    `padding_idx`: its row gets no gradient. `max_norm`: the rows looked up are first renormed
    in place (under no_grad) to norm at most max_norm, as PyTorch does.

    Example::

        >>> F.embedding(gpugrad.tensor([[0, 2]]), gpugrad.eye(3)).shape
        gpugrad.Size([1, 2, 3])
    """
    if not isinstance(input, Tensor) or input.dtype not in (B.int64, B.int32):
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {got} instead "
                           "(while checking arguments for embedding)")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got {weight.ndim}-D")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse are not supported")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= num
    if max_norm is not None:
        _embedding_renorm(input, weight, max_norm, norm_type)
    try:
        out = weight[input]
    except IndexError:
        raise IndexError("index out of range in self (embedding: an index is outside "
                         f"[0, {num}))") from None
    if padding_idx is not None and weight.requires_grad:
        out = E.where((input == padding_idx).unsqueeze(-1), out.detach(), out)
    return named(out, "EmbeddingBackward0")


def _embedding_renorm(input, weight, max_norm, norm_type):
    with no_grad():
        idx = input.reshape(-1)  # (a row looked up twice is written twice, the same)
        sel = weight[idx]
        norms = sel.abs().pow(norm_type).sum(1, keepdim=True).pow(1.0 / norm_type)
        scale = E.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[idx] = sel * scale


# ----------------------------------------------------------------------------- normalisation


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dims: (x - mean) / sqrt(var + eps),
    the variance biased, then ``* weight + bias``.

    Example: ``F.layer_norm(x, (x.shape[-1],))`` has mean 0 and variance ~1 along the last dim.
    """
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != normalized_shape or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input "
                           f"with shape [*, {', '.join(map(str, normalized_shape))}], but got "
                           f"input of size{list(input.shape)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    mean = input.mean(dims, keepdim=True)
    d = input - mean
    var = (d * d).mean(dims, keepdim=True)
    out = d * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return named(out, "NativeLayerNormBackward0")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over the batch and spatial dims. In training, by the
    batch's statistics, updating `running_mean` / `running_var` in place (the variance
    unbiased) with `momentum`; else by the running statistics.

    Example::

        rm, rv = gpugrad.zeros(3), gpugrad.ones(3)
        y = F.batch_norm(x, rm, rv, training=True)   # x of shape (N, 3) or (N, 3, H, W)
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected at least 2-D input (N, C, ...), got "
                         f"{input.ndim}-D")
    c = input.shape[1]
    shape = (1, c) + (1,) * (input.ndim - 2)
    for what, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"batch_norm: {what} should contain {c} elements not "
                               f"{t.numel()}")
    dims = (0,) + tuple(range(2, input.ndim))
    if training or running_mean is None or running_var is None:
        count = input.numel() // c if c else 0
        if training and count <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
        mean = input.mean(dims, keepdim=True)
        d = input - mean
        var = (d * d).mean(dims, keepdim=True)
        if training and running_mean is not None and running_var is not None:
            with no_grad():
                m = momentum
                running_mean.mul_(1 - m).add_(mean.detach().reshape(c) * m)
                running_var.mul_(1 - m).add_(var.detach().reshape(c) * (m * count / (count - 1)))
        out = d * (var + eps).rsqrt()
    else:
        out = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return named(out, "NativeBatchNormBackward0")


# ----------------------------------------------------------------------------- activations


def gelu(input, approximate="none"):
    """GELU: x * Phi(x) with Phi the normal CDF (``approximate='none'``), or
    0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x**3))) (``approximate='tanh'``).

    Example::

        >>> F.gelu(gpugrad.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.1587,  0.0000,  0.8413])
    """
    if approximate == "none":
        out = input * apply(NDTR, (input,))
    elif approximate == "tanh":
        inner = (input + 0.044715 * input * input * input) * math.sqrt(2 / math.pi)
        out = 0.5 * input * (1.0 + E.tanh(inner))
    else:
        raise RuntimeError("approximate argument must be either none or tanh.")
    return named(out, "GeluBackward0")


def silu(input, inplace=False):
    """x * sigmoid(x), elementwise (also called swish). Example: ``F.silu(x)``."""
    return _activation(input, inplace, "SiluBackward0", lambda x: x * E.sigmoid(x))


def mish(input, inplace=False):
    """x * tanh(softplus(x)), elementwise. Example: ``F.mish(x)``."""
    return _activation(input, inplace, "MishBackward0", lambda x: x * E.tanh(E.softplus(x)))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x. Example: ``F.leaky_relu(x, 0.2)``."""
    return _activation(input, inplace, "LeakyReluBackward0",
                       lambda x: E.where(x > 0, x, x * negative_slope))


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (exp(x) - 1). Example: ``F.elu(x)``."""
    return _activation(input, inplace, "EluBackward0",
                       lambda x: E.where(x > 0, x, E.expm1(x.clamp(max=0.0)) * alpha))


def relu6(input, inplace=False):
    """min(max(x, 0), 6), elementwise. Example: ``F.relu6(x)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]; as in PyTorch, the gradient is 0 at the two ends.
    Example: ``F.hardtanh(x)``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _activation(input, inplace, "HardtanhBackward0",
                       lambda x: E.where(x <= min_val, min_val, E.where(x >= max_val, max_val, x)))


def softsign(input):
    """x / (1 + |x|), elementwise. Example: ``F.softsign(x)``."""
    return input / (input.abs() + 1.0)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), finite for any x. Example: ``F.logsigmoid(x)``."""
    return named(-E.softplus(-input, threshold=math.inf), "LogSigmoidBackward0")


def _activation(input, inplace, node_name, f):
    """f(input), labelled `node_name`; with `inplace`, written into `input` (computed on a
    copy, so that the backward's saved tensors are not the ones overwritten)."""
    if not inplace:
        return named(f(input), node_name)
    return input.copy_(f(input.clone()))


__all__ = ["conv1d", "conv2d", "conv3d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "embedding", "layer_norm", "batch_norm",
           "gelu", "silu", "mish", "leaky_relu", "elu", "relu6", "hardtanh", "softsign",
           "logsigmoid"]
