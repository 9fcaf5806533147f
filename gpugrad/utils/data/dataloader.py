"""``DataLoader``: batches of a dataset as tensors, optionally shuffled and placed on a device."""

from __future__ import annotations

import math

from ... import backend as B
from ...core.factories import arange, as_tensor, tensor
from ...core.tensor import Tensor
from ...ops.shape import stack
from .dataset import TensorDataset, _generator, _permutation


def default_collate(batch):
    """Combine a list of samples into a batch: tensors are stacked, numbers become a tensor,
    tuples, lists and dicts are collated field by field, strings stay a list.

    Example::

        >>> default_collate([(gpugrad.zeros(2), 1), (gpugrad.ones(2), 0)])
        (tensor([[0., 0.],
                [1., 1.]]), tensor([1, 0]))
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack([b.detach() for b in batch])
    if B.is_array(elem) and B.xp_of(elem) is not B.numpy:
        return as_tensor(_stack_cuda(batch))  # CuPy arrays: on their device
    if isinstance(elem, B.ndarray):
        return as_tensor(B.numpy.stack(batch))
    if isinstance(elem, (bool, int, float, B.numpy.generic)):
        return tensor(list(batch))
    if isinstance(elem, str):
        return list(batch)
    if isinstance(elem, dict):
        return {k: default_collate([b[k] for b in batch]) for k in elem}
    if isinstance(elem, (tuple, list)):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("default_collate: each element in the batch should be of equal size")
        fields = [default_collate(list(f)) for f in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(
        f"default_collate: don't know how to batch samples of type {type(elem).__name__}"
    )


def _stack_cuda(batch):
    """CuPy arrays on one device, stacked there."""
    elem = batch[0]
    kind, where = type(elem), B.device_of(elem)
    for b in batch:
        if type(b) is not kind or B.device_of(b) != where:
            got = f"{type(b).__name__} on {B.device_of(b)}" if type(b) is kind else \
                type(b).__name__
            raise TypeError(f"default_collate: expected every sample to be a {kind.__name__} "
                            f"on {where} like the first, got a {got}")
    with B.on_device_of(elem):
        return B.xp_of(elem).stack(batch)


def _to(batch, device):
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, tuple):
        return tuple(_to(b, device) for b in batch)
    if isinstance(batch, list):
        return [_to(b, device) for b in batch]
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


class DataLoader:
    """Iterate over `dataset` in batches of `batch_size`.

    Every sample appears exactly once per epoch (``drop_last`` drops a short last batch).
    ``shuffle=True`` draws a new order each epoch, from `generator` (a ``Generator`` or an int
    seed) or else from gpugrad's global generator (``gpugrad.manual_seed``). Batches are moved
    to `device` when given. A `sampler` (e.g. ``DistributedSampler``) gives the order of the
    indices instead (it excludes ``shuffle``). A ``TensorDataset`` is batched by indexing each
    tensor once with an integer index tensor (one gather per batch, on the tensor's own
    device); other datasets go sample by sample through `collate_fn` (``default_collate``).

    Example::

        >>> loader = DataLoader(TensorDataset(gpugrad.arange(5)), batch_size=2)
        >>> [b.tolist() for (b,) in loader]
        [[0, 1], [2, 3], [4]]
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=False,
        drop_last=False,
        generator=None,
        device=None,
        collate_fn=None,
        sampler=None,
    ):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = _generator(generator)
        self.device = None if device is None else B.as_device(device)
        self.collate_fn = collate_fn

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self):
        if self.sampler is not None:
            return tensor([int(i) for i in self.sampler], dtype="int64")
        n = len(self.dataset)
        return _permutation(n, self.generator) if self.shuffle else arange(n)

    def __iter__(self):
        order = self._order()
        n, bs = len(order), self.batch_size
        stops = range(bs, (n if self.drop_last else n + bs - 1) + 1, bs)
        if isinstance(self.dataset, TensorDataset) and self.collate_fn is None:
            ts = self.dataset.tensors
            on = {t.device: None for t in ts}
            on = {d: order.to(d) for d in on}  # one index copy per device and epoch
            for stop in stops:
                start, stop = stop - bs, min(stop, n)
                batch = tuple(t[on[t.device][start:stop]] for t in ts)
                yield batch if self.device is None else _to(batch, self.device)
            return
        order = order.tolist()
        collate = self.collate_fn or default_collate
        for stop in stops:
            batch = collate([self.dataset[i] for i in order[stop - bs : min(stop, n)]])
            yield batch if self.device is None else _to(batch, self.device)
