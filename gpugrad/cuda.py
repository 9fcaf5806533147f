"""``gpugrad.cuda``: is a GPU usable, how many, and waiting for queued work; the legacy CUDA
tensor types (``gpugrad.cuda.FloatTensor``, ...)."""

from __future__ import annotations

from . import backend as B
from .core.factories import legacy_type

FloatTensor = legacy_type(B.float32, "cuda")
DoubleTensor = legacy_type(B.float64, "cuda")
HalfTensor = legacy_type(B.float16, "cuda")
LongTensor = legacy_type(B.int64, "cuda")
IntTensor = legacy_type(B.int32, "cuda")
ShortTensor = legacy_type(B.int16, "cuda")
CharTensor = legacy_type(B.int8, "cuda")
ByteTensor = legacy_type(B.uint8, "cuda")
BoolTensor = legacy_type(B.bool_, "cuda")


def is_available() -> bool:
    """True when CuPy imports and sees at least one CUDA GPU."""
    return B.cuda_is_available()


def device_count() -> int:
    """The number of CUDA GPUs CuPy sees (0 without CuPy)."""
    return B.cuda_device_count()


def synchronize(device=None) -> None:
    """Wait until all queued work on a GPU has finished: on `device` (an index, ``"cuda:1"``,
    a ``gpugrad.device``), or on the current device when None, as ``torch.cuda.synchronize``
    (no-op without a GPU). Like every copy to the host, it reports a failed deferred index
    check.

    Example::

        gpugrad.cuda.synchronize()      # the current GPU
        gpugrad.cuda.synchronize(1)     # cuda:1
    """
    B.synchronize(device)


def manual_seed(seed) -> None:
    """Seed the generators (shared with ``gpugrad.manual_seed``: the CPU's and every GPU's,
    each GPU's when it next draws, so a seed set before the first CUDA use applies too)."""
    B.manual_seed(seed)


manual_seed_all = manual_seed


def current_device() -> int:
    """The index of the current CUDA device: where ``"cuda"`` (no index) tensors go."""
    if not is_available():
        raise RuntimeError("cuda.current_device: no CUDA GPU is available")
    cp = B._cupy
    assert cp is not None  # is_available() implies CuPy imported
    return cp.cuda.runtime.getDevice()


__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "manual_seed_all",
           "current_device", "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor",
           "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]
