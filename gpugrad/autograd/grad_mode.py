"""Grad mode: whether ops record a graph. Thread-local, as in PyTorch."""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    grad_enabled = True


state = _State()

# Open forward-AD levels (process-wide, as in PyTorch); tangents are looked at only when > 0.
fw_levels = [0]


def is_grad_enabled() -> bool:
    """True when ops record a graph for tensors that require grad."""
    return state.grad_enabled


class _GradMode:
    """Base for the grad-mode switches: usable as a context manager and as a decorator."""

    mode = True

    def __init__(self):
        self.prev = []

    def __enter__(self):
        self.prev.append(state.grad_enabled)
        state.grad_enabled = self.mode

    def __exit__(self, *exc):
        state.grad_enabled = self.prev.pop()
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.grad_enabled
            state.grad_enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.grad_enabled = prev

        return wrapper


class no_grad(_GradMode):
    """Disable graph recording.

    Example::

        with gpugrad.no_grad():
            w -= lr * w.grad      # an update that is not part of the graph
    """

    mode = False


class enable_grad(_GradMode):
    """Enable graph recording inside a ``no_grad`` region."""

    mode = True


class inference_mode(no_grad):
    """Same as ``no_grad`` here (PyTorch's faster variant has no extra meaning for gpugrad)."""

    def __init__(self, mode=True):
        super().__init__()
        self.mode = not mode


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
        self.prev.append(state.grad_enabled)
        state.grad_enabled = self.mode

    def __enter__(self):
        pass  # already switched in __init__, as torch does

    def __call__(self, fn):
        # Used as a decorator: construction switched the mode, so switch it back now.
        state.grad_enabled = self.prev.pop()
        return super().__call__(fn)
