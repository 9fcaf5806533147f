"""Composites of the primitives: no derivative code of their own."""

from __future__ import annotations

from .. import backend as B
from ..core.dims import norm_dim
from ..core.tensor import Tensor
from .elementwise import where
from .reduction import amax
from .registry import named, public
from .shape import broadcast_shapes


def _log_softmax(name, input, dim, dtype):
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        input = input.to(B.get_default_dtype())
    d = norm_dim(name, dim, input._data.ndim)
    if input._data.size == 0:  # nothing to normalise: an empty result, as in PyTorch
        return input * 1.0
    # Shift by the (detached) max first, then take the log-sum of the shifted values: the
    # rounding of a large max never reaches the result, as it would in x - logsumexp(x).
    m = amax(input.detach(), d, keepdim=True)
    shifted = input - where(m.isfinite(), m, 0.0)
    return shifted - shifted.exp().sum(d, keepdim=True).log()


@public("Activations")
def log_softmax(input, dim, dtype=None):
    """log(softmax(x)) along `dim`, computed stably as x - logsumexp(x)."""
    return named(_log_softmax("log_softmax", input, dim, dtype), "LogSoftmaxBackward0")


@public("Activations")
def softmax(input, dim, dtype=None):
    """exp(x) / sum(exp(x)) along `dim`, computed without overflow."""
    return named(_log_softmax("softmax", input, dim, dtype).exp(), "SoftmaxBackward0")


@public("Arithmetic")
def lerp(input, end, weight):
    """input + weight * (end - input)."""
    broadcast_shapes("lerp", input.shape, end.shape)
    return named(input + weight * (end - input),
                 "LerpBackward1" if isinstance(weight, Tensor) else "LerpBackward0")


@public("Arithmetic")
def square(input):
    """x * x (a bool tensor squares to int64, as in PyTorch)."""
    if input._data.dtype.kind == "b":
        input = input.to(B.int64)
    return named(input * input, "PowBackward0")  # PyTorch's square is pow(x, 2)


@public("Linear algebra", method=False)
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2)."""
    return named(beta * input + alpha * (mat1 @ mat2), "AddmmBackward0")
