"""gpugrad.utils.data: datasets, batching, shuffling and device placement."""

import pytest

import gpugrad
from gpugrad.utils.data import (
    DataLoader,
    Dataset,
    Generator,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


def epoch(loader):
    return [[t.tolist() for t in batch] for batch in loader]


@pytest.mark.parametrize("n,batch_size", [(10, 3), (10, 5), (1, 4), (7, 1), (0, 2)])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_sample_once_per_epoch(n, batch_size, shuffle, drop_last):
    X = gpugrad.arange(n).reshape(n, 1) * 10
    ds = TensorDataset(gpugrad.arange(n), X)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader)
        seen = [i for idx, _ in batches for i in idx.tolist()]
        sizes = [len(idx) for idx, _ in batches]
        if drop_last:
            assert sizes == [batch_size] * (n // batch_size)
            assert len(set(seen)) == len(seen) == n - n % batch_size
        else:
            assert sorted(seen) == list(range(n))
            assert all(s == batch_size for s in sizes[:-1])
        for idx, x in batches:  # the tensors stay aligned
            assert x[:, 0].tolist() == [10 * i for i in idx.tolist()]
        if not shuffle:
            assert seen == list(range(len(seen)))


def test_seeded_shuffle_is_reproducible_and_differs_between_epochs():
    ds = TensorDataset(gpugrad.arange(20))
    a = DataLoader(ds, batch_size=5, shuffle=True, generator=7)
    b = DataLoader(ds, batch_size=5, shuffle=True, generator=Generator().manual_seed(7))
    first, second = epoch(a), epoch(a)
    assert first == epoch(b) and second == epoch(b)
    assert first != second
    assert epoch(DataLoader(ds, batch_size=5, shuffle=True, generator=8)) != first
    gpugrad.manual_seed(3)  # without a generator: gpugrad's global one
    c = epoch(DataLoader(ds, batch_size=5, shuffle=True))
    gpugrad.manual_seed(3)
    assert epoch(DataLoader(ds, batch_size=5, shuffle=True)) == c


def test_generator_state_round_trip():
    g = Generator().manual_seed(1)
    g.randperm(5)
    state = g.get_state()
    x = g.randperm(10).tolist()
    assert g.set_state(state).randperm(10).tolist() == x
    assert g.initial_seed() == 1
    with pytest.raises(TypeError, match="generator must be"):
        DataLoader(TensorDataset(gpugrad.arange(3)), generator="seed")


def test_one_gather_per_tensor_and_batch(monkeypatch):
    calls = []
    getitem = gpugrad.Tensor.__getitem__

    def counting(self, index):
        calls.append(index)
        return getitem(self, index)

    ds = TensorDataset(gpugrad.zeros(100, 3), gpugrad.arange(100))
    loader = DataLoader(ds, batch_size=32, shuffle=True, generator=0)
    monkeypatch.setattr(gpugrad.Tensor, "__getitem__", counting)
    batches = list(loader)
    gathers = [c for c in calls if isinstance(c, gpugrad.Tensor)]
    assert len(batches) == 4 and len(gathers) == 8  # one integer index per tensor and batch


def test_batches_on_device(device):
    ds = TensorDataset(gpugrad.randn(9, 2), gpugrad.arange(9))
    for xb, yb in DataLoader(ds, batch_size=4, shuffle=True, generator=0, device=device):
        assert xb.device == gpugrad.device(device) and yb.device == gpugrad.device(device)
    on_dev = TensorDataset(gpugrad.randn(9, 2, device=device), gpugrad.arange(9, device=device))
    batches = list(DataLoader(on_dev, batch_size=4, shuffle=True))
    assert all(b.device == gpugrad.device(device) for batch in batches for b in batch)
    assert sorted(i for _, y in batches for i in y.tolist()) == list(range(9))


def test_batches_are_copies():
    X = gpugrad.zeros(4, 2)
    (xb,) = next(iter(DataLoader(TensorDataset(X), batch_size=2)))
    xb += 1
    assert X.sum().item() == 0


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": gpugrad.tensor([float(i)]), "y": i * i, "name": f"s{i}"}


def test_map_style_dataset_and_collate(device):
    batches = list(DataLoader(Squares(), batch_size=2, device=device))
    assert len(batches) == 3
    assert batches[0]["x"].tolist() == [[0.0], [1.0]] and batches[0]["x"].shape == (2, 1)
    assert batches[1]["y"].tolist() == [4, 9] and batches[1]["y"].dtype == gpugrad.int64
    assert batches[2]["name"] == ["s4"]
    assert batches[0]["x"].device == gpugrad.device(device)
    xs, ys = default_collate([(gpugrad.zeros(2), 1.5), (gpugrad.ones(2), 2.5)])
    assert xs.shape == (2, 2) and ys.tolist() == [1.5, 2.5]
    with pytest.raises(NotImplementedError):
        Dataset()[0]


def test_tensor_dataset_subset_and_random_split():
    ds = TensorDataset(gpugrad.arange(10), gpugrad.arange(10) * 2)
    assert len(ds) == 10 and [t.item() for t in ds[3]] == [3, 6]
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(gpugrad.zeros(3), gpugrad.zeros(4))
    a, b = random_split(ds, [7, 3], generator=0)
    assert isinstance(a, Subset) and (len(a), len(b)) == (7, 3)
    got = sorted([a[i][0].item() for i in range(7)] + [b[i][0].item() for i in range(3)])
    assert got == list(range(10))
    again, _ = random_split(ds, [7, 3], generator=0)
    assert again.indices == a.indices
    with pytest.raises(ValueError, match="does not equal"):
        random_split(ds, [5, 3])
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
