"""Composites of the primitives: no derivative code of their own."""

from __future__ import annotations

from .. import backend as B
from .reduction import logsumexp
from .shape import norm_dim


def log_softmax(input, dim, dtype=None, *, _name="log_softmax"):
    """log(softmax(x)) along `dim`, computed stably as x - logsumexp(x)."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        input = input.to(B.get_default_dtype())
    d = norm_dim(_name, dim, input._data.ndim)
    return input - logsumexp(input, d, keepdim=True)


def softmax(input, dim, dtype=None):
    """exp(x) / sum(exp(x)) along `dim`, computed without overflow."""
    return log_softmax(input, dim, dtype, _name="softmax").exp()


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return input + weight * (end - input)


def square(input):
    """x * x."""
    return input * input


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2)."""
    return beta * input + alpha * (mat1 @ mat2)


__all__ = ["log_softmax", "softmax", "lerp", "square", "addmm"]
