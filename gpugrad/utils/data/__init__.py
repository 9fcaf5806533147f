"""Datasets and batch loading, as ``torch.utils.data``.

Example::

    from gpugrad.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True, generator=0)
    for xb, yb in loader:
        ...
"""

from ...core.factories import Generator
from .dataloader import DataLoader, default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler

__all__ = [
    "Dataset",
    "TensorDataset",
    "Subset",
    "random_split",
    "DataLoader",
    "Generator",
    "default_collate",
    "DistributedSampler",
]
