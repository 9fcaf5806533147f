"""DistributedSampler partitions the dataset, and DataLoader(sampler=) follows it."""

from __future__ import annotations

import pytest

import gpugrad
import gpugrad.distributed as dist
from gpugrad.utils.data import DataLoader, DistributedSampler, TensorDataset


@pytest.mark.parametrize("n", [10, 11, 3, 0])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shares_partition_the_indices(n, replicas, shuffle):
    data = list(range(n))
    shares = [list(DistributedSampler(data, replicas, r, shuffle=shuffle, seed=3))
              for r in range(replicas)]
    sizes = {len(s) for s in shares}
    assert len(sizes) == 1 and sizes.pop() == len(DistributedSampler(data, replicas, 0))
    every = [i for s in shares for i in s]
    if n % replicas == 0:
        assert sorted(every) == data  # no overlap, nothing missing
    else:
        assert set(every) == set(data)  # padded by repeating the first indices
        assert len(every) - n < replicas
    dropped = [list(DistributedSampler(data, replicas, r, shuffle=shuffle, drop_last=True))
               for r in range(replicas)]
    flat = [i for s in dropped for i in s]
    assert len(flat) == len(set(flat)) == (n // replicas) * replicas


def test_matches_pytorch_without_shuffle():
    pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TS

    for n, k, drop in [(10, 3, False), (10, 3, True), (7, 2, False), (2, 4, False)]:
        for r in range(k):
            ours = list(DistributedSampler(range(n), k, r, shuffle=False, drop_last=drop))
            theirs = list(TS(range(n), k, r, shuffle=False, drop_last=drop))
            assert ours == theirs, (n, k, r, drop)


def test_epochs_shuffle_the_same_way_on_every_rank():
    a = DistributedSampler(range(20), 2, 0, seed=1)
    b = DistributedSampler(range(20), 2, 1, seed=1)
    first = (list(a), list(b))
    assert sorted(first[0] + first[1]) == list(range(20))
    a.set_epoch(1)
    b.set_epoch(1)
    second = (list(a), list(b))
    assert sorted(second[0] + second[1]) == list(range(20))
    assert second != first
    a.set_epoch(0)
    assert list(a) == first[0]


def test_defaults_come_from_the_group_and_bad_ranks_raise(world):
    r, n = world
    s = DistributedSampler(range(10))
    assert (s.rank, s.num_replicas, s.shuffle, s.seed, s.drop_last) == (r, n, True, 0, False)
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval "
                       r"\[0, 1\]"):
        DistributedSampler(range(10), num_replicas=2, rank=2)


def test_dataloader_follows_the_sampler(world):
    r, n = world
    ds = TensorDataset(gpugrad.arange(10))
    sampler = DistributedSampler(ds, shuffle=False)
    loader = DataLoader(ds, batch_size=2, sampler=sampler)
    got = [int(v) for (b,) in loader for v in b.tolist()]
    assert got == list(sampler)
    assert len(loader) == -(-len(sampler) // 2)
    everyone = [gpugrad.zeros(len(got), dtype=gpugrad.int64) for _ in range(n)]
    dist.all_gather(everyone, gpugrad.tensor(got))
    seen = sorted(v for e in everyone for v in e.tolist())
    assert seen == list(range(10)) if 10 % n == 0 else set(seen) == set(range(10))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=sampler, shuffle=True)
