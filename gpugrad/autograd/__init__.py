"""Automatic differentiation: backward, grad, grad modes, forward mode (``forward_ad``), custom
differentiable functions (``Function``)."""

from __future__ import annotations

from ..core.node import AccumulateGrad, Node
from ..core.tensor import attach
from . import forward_ad, function, functional
from .engine import run_backward
from .function import Function
from .grad_mode import (
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_enabled,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .reverse import backward, grad


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False,
                     inputs=None) -> None:
    """Accumulate the gradient of this tensor into ``.grad`` of the leaves of its graph.

    A non-scalar tensor needs ``gradient`` (the cotangent, same shape). Saved values are
    freed afterwards unless ``retain_graph=True``; ``create_graph=True`` records the
    backward pass itself, for higher-order derivatives.

    Example::

        >>> x = gpugrad.tensor(3.0, requires_grad=True)
        >>> (x ** 2).backward()
        >>> x.grad
        tensor(6.)
    """
    backward(self, gradient, retain_graph, create_graph, inputs=inputs)


_tensor_backward.__name__ = _tensor_backward.__qualname__ = "backward"
attach("backward", _tensor_backward)

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "is_inference_mode_enabled", "forward_ad", "functional", "Node",
           "AccumulateGrad",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "run_backward",
           "gradcheck", "gradgradcheck", "GradcheckError", "Function", "function"]
