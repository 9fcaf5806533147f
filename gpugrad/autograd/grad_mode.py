"""The grad-mode and anomaly switches, as PyTorch's: context managers, decorators and functions
over the state in ``gpugrad.core.state``."""

from __future__ import annotations

import functools

from ..core.state import anomaly, state


def is_grad_enabled() -> bool:
    """True when ops record a graph for tensors that require grad."""
    return state.grad_enabled


class _GradMode:
    """Base for the grad-mode switches: usable as a context manager and as a decorator, with
    or without parentheses (``@no_grad()`` and ``@no_grad``, as PyTorch 2)."""

    mode = True
    inference: bool | None = None  # None: leave the inference flag as it is

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], bool):
            return cls()(args[0])  # used as a decorator without parentheses
        return super().__new__(cls)

    def __init__(self):
        self.prev = []

    def _switch(self):
        prev = state.grad_enabled, _inference[0]
        state.grad_enabled = self.mode
        if self.inference is not None:
            _inference[0] = self.inference
        return prev

    def __enter__(self):
        self.prev.append(self._switch())

    def __exit__(self, *exc):
        state.grad_enabled, _inference[0] = self.prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = self._switch()
            try:
                return fn(*args, **kwargs)
            finally:
                state.grad_enabled, _inference[0] = prev

        return wrapper


# Whether an inference_mode region is active (what is_inference_mode_enabled reports).
_inference = [False]


class no_grad(_GradMode):
    """Disable graph recording: a context manager or a decorator (``@no_grad`` or
    ``@no_grad()``).

    Example::

        with gpugrad.no_grad():
            w -= lr * w.grad      # an update that is not part of the graph

        @gpugrad.no_grad
        def evaluate(model, x): ...
    """

    mode = False


class enable_grad(_GradMode):
    """Enable graph recording inside a ``no_grad`` region: a context manager or a decorator
    (``@enable_grad`` or ``@enable_grad()``)."""

    mode = True


class inference_mode(_GradMode):
    """No graph recording, as ``no_grad`` (PyTorch's faster variant has no extra meaning
    here); ``inference_mode(False)`` (``mode=False``) turns grad mode on instead, as in
    PyTorch. A context manager or a decorator (``@inference_mode``, ``@inference_mode()``).

    Example::

        @gpugrad.inference_mode
        def predict(model, x):
            return model(x)
    """

    def __init__(self, mode=True):
        super().__init__()
        self.mode = not mode
        self.inference = bool(mode)


def is_inference_mode_enabled() -> bool:
    """True inside an ``inference_mode()`` region."""
    return _inference[0]


class set_grad_enabled(_GradMode):
    """Set grad mode on or off: as a function, a context manager or a decorator.

    Example::

        gpugrad.set_grad_enabled(False)   # off until switched back
        with gpugrad.set_grad_enabled(True):
            ...
    """

    def __init__(self, mode: bool):
        super().__init__()
        self.mode = bool(mode)
        self.prev.append(self._switch())

    def __enter__(self):
        pass  # already switched in __init__, as torch does

    def __call__(self, fn):
        # Used as a decorator: construction switched the mode, so switch it back now.
        state.grad_enabled, _inference[0] = self.prev.pop()
        return super().__call__(fn)


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return anomaly[0]


class set_detect_anomaly:
    """Turn anomaly detection on or off: as a function, a context manager or a decorator.

    With it on, every recorded op remembers the line of user code that created it, and a
    backward that produces NaN raises an error naming the op and that line (slower: use it
    to debug).
    """

    def __init__(self, mode: bool, check_nan: bool = True):
        self._mode = bool(mode)
        self.prev = anomaly[0]
        anomaly[0] = self._mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        anomaly[0] = self.prev
        return False

    def __call__(self, fn):
        anomaly[0] = self.prev  # used as a decorator: construction switched it; switch back

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = anomaly[0]
            anomaly[0] = self._mode
            try:
                return fn(*args, **kwargs)
            finally:
                anomaly[0] = prev

        return wrapper


class detect_anomaly(set_detect_anomaly):
    """Context manager (and decorator) that turns anomaly detection on.

    Example::

        with gpugrad.autograd.detect_anomaly():
            loss.backward()      # a NaN gradient names the op and the forward line
    """

    def __init__(self, check_nan: bool = True):
        super().__init__(True, check_nan)
