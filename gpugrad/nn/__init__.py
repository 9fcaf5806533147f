"""Neural-network building blocks (``gpugrad.nn.functional`` for now)."""

from . import functional

__all__ = ["functional"]
