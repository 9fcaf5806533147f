"""DistributedDataParallel: replicas stay bitwise identical and match one process training
on the full batch."""

from __future__ import annotations

import numpy as np
import pytest

import gpugrad
import gpugrad.distributed as dist
from gpugrad import nn
from gpugrad.nn.parallel import DistributedDataParallel as DDP

BATCH = 16


def make_model(seed):
    gpugrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
                         nn.Linear(8, 1))


def data():
    rng = np.random.default_rng(42)
    return (gpugrad.tensor(rng.standard_normal((BATCH, 5)).astype(np.float32)),
            gpugrad.tensor(rng.standard_normal((BATCH, 1)).astype(np.float32)))


def flat_params(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def train(model, X, y, steps=20, micro=1, ddp=None):
    opt = gpugrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        parts = np.array_split(np.arange(len(X)), micro)
        for i, idx in enumerate(parts):
            idx = gpugrad.tensor(idx)
            loss = ((model(X[idx]) - y[idx]) ** 2).mean() * (len(idx) / len(X))
            if ddp is not None and i < micro - 1:
                with ddp.no_sync():
                    loss.backward()
            else:
                loss.backward()
        opt.step()
    return flat_params(model)


def shard(X, y, r, n):
    rows = slice(r * BATCH // n, (r + 1) * BATCH // n)
    return X[rows], y[rows]


def assert_same_on_every_rank(v):
    n = dist.get_world_size()
    every = [gpugrad.zeros(len(v), dtype=gpugrad.float32) for _ in range(n)]
    dist.all_gather(every, gpugrad.tensor(v))
    for e in every:
        np.testing.assert_array_equal(e.numpy(), v)  # bitwise


@pytest.mark.parametrize("bucket_cap_mb", [25, 0.0002])
def test_ddp_20_steps_identical_across_ranks_and_equal_to_one_process(world, bucket_cap_mb):
    r, n = world
    X, y = data()
    reference = train(make_model(0), X, y)
    model = DDP(make_model(0 if r == 0 else 100 + r), bucket_cap_mb=bucket_cap_mb)
    assert len(model._buckets) == (1 if bucket_cap_mb == 25 else 3)
    np.testing.assert_array_equal(flat_params(model.module), flat_params(make_model(0)))
    Xs, ys = shard(X, y, r, n)
    # each rank's loss is the mean over its rows; the average over ranks is the full mean
    got = _train_shard(model, Xs, ys)
    assert_same_on_every_rank(got)
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-6)


def _train_shard(model, Xs, ys, steps=20, micro=1):
    opt = gpugrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        parts = np.array_split(np.arange(len(Xs)), micro)
        for i, idx in enumerate(parts):
            idx = gpugrad.tensor(idx)
            loss = ((model(Xs[idx]) - ys[idx]) ** 2).mean() * (len(idx) / len(Xs))
            if i < micro - 1:
                with model.no_sync():
                    loss.backward()
            else:
                loss.backward()
        opt.step()
    return flat_params(model.module)


def test_no_sync_accumulates_then_reduces(world):
    r, n = world
    X, y = data()
    reference = train(make_model(0), X, y, steps=5)
    model = DDP(make_model(0), bucket_cap_mb=0.0005)
    got = _train_shard(model, *shard(X, y, r, n), steps=5, micro=2)
    assert_same_on_every_rank(got)
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-6)


def test_module_attribute_and_state_dict_keys(world):
    inner = make_model(0)
    model = DDP(inner)
    assert model.module is inner
    assert all(k.startswith("module.") for k in model.state_dict())
    assert [id(p) for p in model.parameters()] == [id(p) for p in inner.parameters()]


def test_unused_parameter_counts_as_zero(world):
    r, n = world

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 1)
            self.b = nn.Linear(2, 1)

        def forward(self, x):
            return self.a(x) if r == 0 else self.a(x) + self.b(x)

    gpugrad.manual_seed(0)
    model = DDP(Two())
    model(gpugrad.ones(1, 2)).sum().backward()
    assert model.module.a.weight.grad.tolist() == [[1.0, 1.0]]
    expect = 0.0 if n == 1 else (n - 1) / n
    if n == 1:
        assert model.module.b.weight.grad is None or \
            model.module.b.weight.grad.tolist() == [[0.0, 0.0]]
    else:
        assert model.module.b.weight.grad.tolist() == [[expect, expect]]


def test_shape_mismatch_names_the_first_parameter(several):
    r, n = several
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2 + (r == 1)))
    with pytest.raises(RuntimeError, match=r"parameter 2 \('1.weight'\) differs across ranks"):
        DDP(model)
    with pytest.raises(RuntimeError, match="number of parameters"):
        DDP(nn.Linear(3, 4, bias=(r == 0)))


def test_buffers_follow_rank_0(world):
    r, n = world

    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)
            self.register_buffer("count", gpugrad.tensor([float(r)]))

        def forward(self, x):
            self.count += 1 + r  # diverges between ranks unless re-broadcast
            return self.fc(x)

    model = DDP(WithBuffer())
    assert model.module.count.tolist() == [0.0]  # rank 0's, at construction
    model(gpugrad.ones(1, 2)).sum().backward()
    model(gpugrad.ones(1, 2)).sum().backward()
    assert model.module.count.tolist() == [2.0 + r]  # rank 0's (1) before the 2nd forward
    assert_same_on_every_rank(flat_params(model.module))


def test_buckets_start_during_backward_in_order(world):
    """The last layer's bucket starts before backward reaches the first layer's weight."""
    model = DDP(make_model(0), bucket_cap_mb=0.0002)
    log = []
    started = model._start

    def start(bucket):
        log.append(("start", model._buckets.index(bucket)))
        started(bucket)

    object.__setattr__(model, "_start", start)
    first_weight = model.module[0].weight
    first_weight.register_post_accumulate_grad_hook(lambda p: log.append("first weight ready"))
    X, y = data()
    ((model(X) - y) ** 2).mean().backward()
    starts = [e for e in log if e != "first weight ready"]
    assert starts == [("start", k) for k in range(len(model._buckets))]
    assert log.index(("start", 0)) < log.index("first weight ready")
    assert model.module[0].weight.grad is not None
