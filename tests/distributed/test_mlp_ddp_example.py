"""examples/mlp_digits_ddp.py: DDP + DistributedSampler reach one process's accuracy."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import gpugrad
from gpugrad import nn
from gpugrad.utils.data import DataLoader, DistributedSampler, TensorDataset

pytest.importorskip("sklearn", reason="the digits example needs scikit-learn")

ROOT = Path(__file__).resolve().parents[2]
EPOCHS, HIDDEN = 4, 64


def load(name):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "examples"))
    return module


def one_process(example):
    """The example's schedule in this process alone: no DDP, no process group."""
    gpugrad.manual_seed(0)
    (X, y), (X_test, y_test) = example.load_data("cpu", 0)
    model = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                          nn.Linear(HIDDEN, 10))
    opt = gpugrad.optim.Adam(model.parameters(), lr=1e-3)
    data = TensorDataset(X, y)
    sampler = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=0,
                                 drop_last=True)
    for epoch in range(1, EPOCHS + 1):
        sampler.set_epoch(epoch)
        for xb, yb in DataLoader(data, batch_size=64, sampler=sampler):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    return example.accuracy(model, X_test, y_test).item()


def test_ddp_digits_matches_one_process(world, capsys):
    example = load("mlp_digits_ddp")
    acc, same = example.main(["--epochs", str(EPOCHS), "--hidden", str(HIDDEN),
                              "--bucket-cap-mb", "0.002"])
    assert same
    out = capsys.readouterr().out
    if world[0] == 0:
        assert f"{world[1]} process(es)" in out and "replicas identical on every rank: True" in out
    # every world size follows one process's schedule (the global batch of 64 is split over
    # the ranks), so it reaches the same accuracy (within a digit or two: sums in another order)
    assert acc > 0.85
    assert acc == pytest.approx(one_process(example), abs=2 / 359)
