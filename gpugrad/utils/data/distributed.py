"""``DistributedSampler``: each process of a data-parallel job takes its own share of a
dataset, as ``torch.utils.data.distributed``."""

from __future__ import annotations

import math

from ...core.factories import Generator
from ...distributed.group import default_group, is_initialized


class DistributedSampler:
    """The indices of `dataset` that rank `rank` of `num_replicas` processes reads.

    The ranks' shares partition the (shuffled) indices: rank r takes every `num_replicas`-th
    index starting at r. Unless ``drop_last``, the indices are padded by repeating the first
    ones so that every rank gets the same number (``ceil(len / num_replicas)``); with it, the
    tail is dropped instead. ``shuffle`` draws the order from ``seed + epoch``, the same on
    every rank: call ``set_epoch(epoch)`` before each epoch for a new order. `num_replicas`
    and `rank` default to the default process group's.

    Example::

        sampler = DistributedSampler(dataset)
        loader = DataLoader(dataset, batch_size=32, sampler=sampler)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            for xb, yb in loader:
                ...
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            if not is_initialized():
                raise RuntimeError("DistributedSampler: Requires distributed package to be "
                                   "available: call gpugrad.distributed.init_process_group() "
                                   "or pass num_replicas and rank")
            g = default_group()
            num_replicas = g.size if num_replicas is None else num_replicas
            rank = g.rank if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, "
                             f"got {num_replicas!r}")
        if not isinstance(rank, int) or rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = g.randperm(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            elif indices:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use `epoch` in the seed of the order, so that each epoch shuffles differently (the
        same way on every rank)."""
        self.epoch = epoch
