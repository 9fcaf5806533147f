"""Weight initialisation, as ``torch.nn.init``: each function fills a tensor in place under
``no_grad`` (so it works on parameters) and returns it.

Example::

    w = nn.Parameter(gpugrad.empty(64, 32))
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))   # what nn.Linear does
"""

from __future__ import annotations

import math
import warnings

from ..autograd.grad_mode import no_grad
from ..core.factories import empty
from ..ops import cat


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for an activation: 1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu)..."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(tensor):
    if tensor.ndim < 2:
        raise ValueError(
            "fan in and fan out can not be computed for a tensor with fewer than 2 "
            f"dimensions (got shape {tuple(tensor.shape)})"
        )
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with values drawn from U(a, b) (on the tensor's device; from `generator` if given)."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with values drawn from N(mean, std**2) (from `generator` if given)."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def _normal_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with values drawn from N(mean, std**2) truncated to [a, b] (exactly: by
    rejection, with normal proposals, or uniform ones on [a, b] when the interval holds
    little of the normal's mass). Warns, as PyTorch does, when `mean` is more than 2 std
    from [a, b]; raises where no sampler here draws efficiently (an interval far in a tail).

    Example: ``nn.init.trunc_normal_(w, std=0.02)`` (ViT-style weights)
    """
    mean, std, a, b = float(mean), float(std), float(a), float(b)
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    if not (std > 0 and a < b):
        raise ValueError(f"trunc_normal_: expected std > 0 and a < b, got std={std}, a={a}, "
                         f"b={b}")
    n = tensor.numel()
    if n == 0:
        return tensor
    # acceptance rates of the two proposals
    mass = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
    peak = min(max(mean, a), b)  # where the density is highest on [a, b]
    dens = math.exp(-0.5 * ((peak - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    by_uniform = mass / ((b - a) * dens)
    if max(mass, by_uniform) < 1e-3:
        raise ValueError(f"trunc_normal_: [{a}, {b}] holds too little of N({mean}, {std}**2) "
                         "to sample by rejection; move the interval closer to the mean")
    kept = []
    need = n
    with no_grad():
        while need > 0:
            m = int(need / max(mass, by_uniform) * 1.2) + 16
            x = empty(m, dtype=tensor.dtype, device=tensor.device)
            if mass >= by_uniform:
                x.normal_(mean, std, generator=generator)
                x = x[(x >= a) & (x <= b)]
            else:  # uniform on [a, b], accepted with density(x) / density(peak)
                x.uniform_(a, b, generator=generator)
                u = empty(m, dtype=tensor.dtype, device=tensor.device).uniform_(
                    generator=generator)
                x = x[u * dens * std * math.sqrt(2 * math.pi) <= (-0.5 * ((x - mean) / std)
                                                                  ** 2).exp()]
            kept.append(x[:need])
            need -= int(kept[-1].numel())
        return tensor.copy_(cat(kept).reshape(tuple(tensor.shape)))


def constant_(tensor, val):
    """Fill with `val`."""
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor):
    """Fill with zeros."""
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fill with ones."""
    return constant_(tensor, 1.0)


def _empty(tensor):
    """A zero-element tensor: nothing to initialise (PyTorch warns and returns it)."""
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode {mode!r} not supported; use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _fans(tensor)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He initialisation: U(-bound, bound) with bound = gain * sqrt(3 / fan).

    With ``a=sqrt(5)`` (``nn.Linear``'s default) the bound is ``1 / sqrt(fan_in)``.
    """
    if _empty(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He initialisation: N(0, std**2) with std = gain / sqrt(fan)."""
    if _empty(tensor):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot initialisation: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot initialisation: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "zeros_",
    "ones_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
    "xavier_normal_",
]
