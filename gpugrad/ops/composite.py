"""Composites of the primitives: no derivative code of their own."""

from __future__ import annotations

from .. import backend as B
from ..core.dims import norm_dim
from ..core.tensor import Tensor
from .elementwise import add, div, mul, sub, where
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


def _number(name, what, v):
    """`v` as a Python number (a NumPy scalar or a 0-d tensor's value too): PyTorch's
    ``Number`` arguments (lerp's scalar weight, addcmul's and addcdiv's value)."""
    if isinstance(v, Tensor) and v._data.ndim == 0:
        v = v.item()
    v = B.py_scalar(v)
    if not isinstance(v, (bool, int, float)):
        raise TypeError(f"{name}(): argument '{what}' must be a number, not {type(v).__name__}")
    return v


def _reuse(t, other, op):
    """``op(t, other)`` for a temporary `t` of a composite, written into `t`'s storage when the
    result fits it (same shape and dtype, outside vmap), so that the composite allocates only
    the temporary its formula needs; else out of place. (`op`'s in-place variant records what
    autograd needs, so this is right under grad and forward mode too.)"""
    if type(t) is Tensor:
        if isinstance(other, Tensor):
            fits = B.promote_types(t.dtype, other.dtype) is t.dtype and t.shape == \
                broadcast_shapes(op.__name__, t.shape, other.shape)
        else:
            fits = t.dtype.is_floating_point or not isinstance(other, float)
        if fits:
            return op(t, other, out=t)
    return op(t, other)


@public("Arithmetic", inplace=True)
def lerp(input, end, weight, *, out=None):
    """Linear interpolation ``input + weight * (end - input)``; `weight` is a number or a
    tensor, and all three broadcast. A number weight of magnitude 0.5 or more is applied as
    ``end - (1 - weight) * (end - input)`` (PyTorch's formula: exact at weight 1).
    ``x.lerp_(end, weight)`` updates x in place, with one temporary (``end - x``).

    Example: ``gpugrad.lerp(gpugrad.zeros(2), gpugrad.ones(2), 0.25)`` -> tensor([0.25, 0.25])
    """
    broadcast_shapes("lerp", input.shape, end.shape)
    if isinstance(weight, Tensor):
        return named(add(input, _reuse(end - input, weight, mul), out=out), "LerpBackward1")
    w = _number("lerp", "weight", weight)
    diff = end - input  # the one temporary
    if abs(w) < 0.5:
        return named(add(input, _reuse(diff, w, mul), out=out), "LerpBackward0")
    return named(sub(end, _reuse(diff, 1 - w, mul), out=out), "LerpBackward0")


def _addc(name, input, tensor1, tensor2, value, out, op):
    """``input + value * tensor1 op tensor2`` (PyTorch's order: the value scales tensor1
    first), with one temporary for the term; written into `input` with ``out``."""
    for what, t in (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{what}' must be a Tensor, not "
                            f"{type(t).__name__}")
    value = _number(name, "value", value)
    kinds = [t.dtype for t in (input, tensor1, tensor2)]
    if all(k.np.kind == "b" for k in kinds):
        raise TypeError(f"{name}: not implemented for bool tensors")
    if isinstance(value, float) and not any(k.is_floating_point for k in kinds):
        # PyTorch truncates the value to the integer dtype: refused rather than a silent change
        raise TypeError(f"{name}: value {value!r} is a float but the tensors are of integer "
                        f"dtypes ({', '.join(k.name for k in kinds)}); pass an int value or "
                        "floating-point tensors")
    if value == 1:
        term = tensor1
    else:
        dt = B.promote_types(B.promote_types(kinds[0], kinds[1]), kinds[2])
        if dt.is_floating_point and not kinds[1].is_floating_point:
            tensor1 = tensor1.to(dt)  # scale in the result's dtype, not the default one
        term = mul(tensor1, value)
    term = op(term, tensor2) if term is tensor1 else _reuse(term, tensor2, op)
    return add(input, term, out=out)


@public("Arithmetic", inplace=True)
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 * tensor2``, elementwise with broadcasting; `value` is a
    number (an int for integer tensors). ``x.addcmul_(t1, t2, value=v)`` updates x in place
    (as an optimizer's ``v.mul_(beta2).addcmul_(g, g, value=1 - beta2)``), with one temporary.

    Example: ``gpugrad.addcmul(gpugrad.ones(2), gpugrad.tensor([1., 2.]),
    gpugrad.tensor([3., 4.]), value=0.5)`` -> tensor([2.5, 5.])
    """
    return named(_addc("addcmul", input, tensor1, tensor2, value, out, mul), "AddcmulBackward0")


@public("Arithmetic", inplace=True)
def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 / tensor2``, elementwise with broadcasting (true division;
    tensor1 and tensor2 both integer is an error, as in PyTorch). ``x.addcdiv_(t1, t2,
    value=v)`` updates x in place (as Adam's ``p.addcdiv_(m, denom, value=-step_size)``), with
    one temporary.

    Example: ``gpugrad.addcdiv(gpugrad.zeros(2), gpugrad.tensor([1., 2.]),
    gpugrad.tensor([4., 4.]), value=2)`` -> tensor([0.5, 1.])
    """
    for t in (tensor1, tensor2):
        if isinstance(t, Tensor) and t.dtype.is_floating_point:
            break
    else:
        if isinstance(tensor1, Tensor) and isinstance(tensor2, Tensor):
            raise RuntimeError(
                "addcdiv: integer division with addcdiv is not supported (tensor1 and tensor2 "
                f"are {tensor1.dtype} and {tensor2.dtype}); for the true quotient convert one to "
                "a floating dtype, for the historic rounded one use "
                "input + value * (tensor1 // tensor2)")
    return named(_addc("addcdiv", input, tensor1, tensor2, value, out, div), "AddcdivBackward0")


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
