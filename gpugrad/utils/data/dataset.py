"""Map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``."""

from __future__ import annotations

from ...core.factories import Generator, randperm
from ...core.tensor import Tensor


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample i and ``len(dataset)`` their number.

    Example::

        class Squares(Dataset):
            def __len__(self):
                return 10

            def __getitem__(self, i):
                return gpugrad.tensor(float(i)), gpugrad.tensor(float(i * i))
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class TensorDataset(Dataset):
    """Samples are the i-th rows of tensors of equal first dimension.

    ``DataLoader`` gathers a whole batch from it with one index per tensor.

    Example::

        >>> ds = TensorDataset(gpugrad.zeros(5, 2), gpugrad.arange(5))
        >>> len(ds), ds[1]
        (5, (tensor([0., 0.]), tensor(1)))
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: expected tensors, got {type(t).__name__}")
            if t.ndim == 0 or t.shape[0] != tensors[0].shape[0]:
                raise ValueError(
                    "TensorDataset: size mismatch between tensors: first "
                    f"dimensions {[tuple(x.shape)[:1] for x in tensors]}"
                )
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of `dataset` at `indices`."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into non-overlapping random ``Subset``s of the given lengths.

    Example::

        train, test = random_split(ds, [800, 200], generator=0)
    """
    if sum(lengths) != len(dataset):
        raise ValueError(
            f"random_split: sum of input lengths ({sum(lengths)}) does not equal "
            f"the length of the input dataset ({len(dataset)})"
        )
    perm = _permutation(len(dataset), generator).tolist()
    out, start = [], 0
    for n in lengths:
        out.append(Subset(dataset, perm[start : start + n]))
        start += n
    return out


def _generator(generator):
    if generator is None or isinstance(generator, Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return Generator().manual_seed(generator)
    raise TypeError(
        f"generator must be None, an int seed or a gpugrad.utils.data.Generator, got "
        f"{type(generator).__name__}"
    )


def _permutation(n, generator):
    g = _generator(generator)
    return randperm(n) if g is None else g.randperm(n)
