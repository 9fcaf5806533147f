"""The op library: primitives in the registry, composites, and the Tensor methods that call them.

Every public op is declared where it is defined (``@public`` in the op modules); the
functions of this namespace, their ``__all__``, the Tensor methods and in-place variants, the
type stubs and the README's API table all come from those declarations (``ops/stubs.py``).
"""

from __future__ import annotations

import functools

from ..core.tensor import Tensor
from . import (
    batching,
    compare,
    composite,
    elementwise,
    fused,
    layers,
    linalg,
    losses,
    methods,
    reduction,
    sampling,
    scan,
    shape,
    sorting,
)
from .registry import OPS, PUBLIC


def _checked(fn, name):
    """`fn` as a module-level function: its first argument must be a tensor (``gpugrad.log("a")``
    says so); Tensor methods and operators skip the check (self is a tensor)."""
    @functools.wraps(fn)
    def checked(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be a Tensor, not "
                            f"{type(input).__name__}")
        return fn(input, *args, **kwargs)
    return checked


methods.attach_all()
batching.register()  # vmap's rules, on every entry registered by now
for _name, _p in PUBLIC.items():
    if _p.function:
        globals()[_name] = _checked(_p.fn, _name) if _p.first_tensor else _p.fn

__all__ = sorted(n for n, p in PUBLIC.items() if p.function)
