"""Reverse mode as PyTorch's ``torch.autograd`` offers it: ``backward`` (accumulate into
``.grad``) and ``grad`` (return the gradients), with their checks of outputs and seeds."""

from __future__ import annotations

from .. import backend as B
from ..core.factories import tensor as _tensor
from ..core.factories import zeros_like as _zeros_like
from ..core.tensor import Tensor, wrap
from .engine import run_backward, store_grad


def _tensors(name, x):
    if isinstance(x, Tensor):
        return [x]
    x = list(x)
    for i, t in enumerate(x):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected tensors, but item {i} is {type(t).__name__}")
    return x


def _seeds(name, outputs, grad_outputs):
    """One cotangent per output: ones for scalars, else the given one (checked)."""
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    else:
        grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"{name}: got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out._rg:
            raise RuntimeError(
                f"{name}: element {i} of the outputs does not require grad and has no grad_fn: "
                "nothing was recorded (did an input have requires_grad=True, and was grad mode "
                "on?)")
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"{name}: grad can be implicitly created only for scalar outputs, but output "
                    f"{i} has shape {tuple(out.shape)}; pass gradient= (a tensor of that shape)")
            d = out._data
            with B.on_device_of(d):  # (CuPy allocates on the current device, maybe another)
                g = wrap(B.xp_of(d).ones_like(d))
        else:
            if not isinstance(g, Tensor):
                g = _tensor(g, dtype=out.dtype, device=out.device)
            if g._data.shape != out._data.shape:
                raise RuntimeError(f"{name}: gradient has shape {tuple(g.shape)}, but output {i} "
                                   f"has shape {tuple(out.shape)}")
            if g.device != out.device:
                raise RuntimeError(f"{name}: gradient is on {g.device} but output {i} is on "
                                   f"{out.device}")
            if g.dtype is not out.dtype:
                g = g.to(out.dtype)
        seeds.append(g)
    return seeds


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None) -> None:
    """Accumulate gradients of `tensors` into ``.grad`` of the leaves of their graphs.

    Example::

        gpugrad.autograd.backward(loss)      # same as loss.backward()
    """
    outputs = _tensors("backward", tensors)
    seeds = _seeds("backward", outputs, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        run_backward(outputs, seeds, retain_graph, create_graph)
        return
    inputs = _tensors("backward", inputs)
    grads = run_backward(outputs, seeds, retain_graph, create_graph, inputs=inputs)
    handed: set[int] = set()
    for t, g in zip(inputs, grads):
        if g is not None:
            store_grad(t, g, create_graph, handed)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` with respect to `inputs`, returned (not accumulated).

    Example::

        >>> x = gpugrad.tensor(2.0, requires_grad=True)
        >>> (dy,) = gpugrad.autograd.grad(x ** 3, x, create_graph=True)
        >>> gpugrad.autograd.grad(dy, x)      # d2/dx2 x^3 = 6x
        (tensor(12.),)
    """
    outputs = _tensors("grad", outputs)
    inputs_list = _tensors("grad", inputs)
    for i, t in enumerate(inputs_list):
        if not t._rg:
            raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) does not require grad; "
                               "set requires_grad=True on it before computing the outputs")
    seeds = _seeds("grad", outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    grads = run_backward(outputs, seeds, retain_graph, create_graph, inputs=inputs_list)
    for i, g in enumerate(grads):
        if g is None:
            if materialize_grads:
                grads[i] = _zeros_like(inputs_list[i])
            elif not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(inputs_list[i].shape)}) was not used in the "
                    "graph of the outputs; pass allow_unused=True to get None for it")
    return tuple(grads)


def zero_grads(params, set_to_none):
    """Reset the ``.grad`` of each of `params` (``Optimizer`` and ``nn.Module`` ``zero_grad``)."""
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            g = p.grad
            if g.grad_fn is not None:
                g = p.grad = g.detach()
            g.zero_()
