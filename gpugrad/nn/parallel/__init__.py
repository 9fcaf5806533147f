"""Data-parallel training over processes, as ``torch.nn.parallel``.

Example::

    from gpugrad.nn.parallel import DistributedDataParallel as DDP

    model = DDP(Net())
"""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
