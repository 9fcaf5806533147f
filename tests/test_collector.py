"""Full collections postponed while a large graph grows (gpugrad/core/collector.py): counted,
not timed."""

import gc

import pytest

import gpugrad
from gpugrad.core import collector


@pytest.fixture(autouse=True)
def _user_thresholds():
    """Each test starts unpaused, with the interpreter's thresholds, and leaves them so."""
    collector.release()
    before = gc.get_threshold()
    enabled = gc.isenabled()
    yield before
    collector.release()
    gc.set_threshold(*before)
    if enabled:
        gc.enable()


def chain(x, n):
    for _ in range(n):
        x = x * 1.0001
    return x


def leaf():
    return gpugrad.ones(1, dtype=gpugrad.float64, requires_grad=True)


class Collections:
    """Counts the collections of each generation while active."""

    def __init__(self):
        self.counts = [0, 0, 0]

    def __call__(self, phase, info):
        if phase == "start":
            self.counts[info["generation"]] += 1

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def test_a_large_growing_graph_pauses_full_collections_and_backward_restores_them(
        _user_thresholds):
    x = leaf()
    n = collector.EVERY * (collector.LIVE + 2)
    with Collections() as c:
        y = chain(x, n)
        assert collector.paused()
        assert gc.get_threshold()[0] == _user_thresholds[0]  # young objects still collected
        assert gc.get_threshold()[2] > 1 << 20
        y.sum().backward()
    assert not collector.paused()
    assert gc.get_threshold() == _user_thresholds
    assert c.counts[0] > 0
    assert x.grad.item() == pytest.approx(1.0001 ** n)


def test_a_long_chain_records_without_a_full_collection():
    x = leaf()
    with Collections() as c:
        y = chain(x, 100_000)
    # Without the pause CPython makes about ten full passes over the growing graph here.
    assert c.counts[2] <= 1
    del y


def test_small_graphs_do_not_pause():
    for _ in range(20):
        x = leaf()
        chain(x, collector.EVERY).sum().backward()
        assert not collector.paused()


def test_a_graph_that_dies_unused_ends_the_pause(_user_thresholds):
    y = chain(leaf(), collector.EVERY * (collector.LIVE + 1))
    assert collector.paused()
    del y  # dropped without backward: the next checkpoint sees its nodes dead
    with gpugrad.enable_grad():
        z = chain(leaf(), collector.EVERY + 1)
    assert not collector.paused()
    assert gc.get_threshold() == _user_thresholds
    del z


def test_a_threshold_the_user_sets_while_paused_is_kept():
    y = chain(leaf(), collector.EVERY * (collector.LIVE + 1))
    assert collector.paused()
    gc.set_threshold(1234, 5, 6)
    y.sum().backward()
    assert gc.get_threshold() == (1234, 5, 6)


def test_with_the_collector_disabled_nothing_changes(_user_thresholds):
    gc.disable()
    y = chain(leaf(), collector.EVERY * (collector.LIVE + 1))
    assert not collector.paused()
    assert not gc.isenabled()
    assert gc.get_threshold() == _user_thresholds
    del y


def test_while_paused_a_full_collection_still_runs_every_valve_nodes(monkeypatch):
    monkeypatch.setattr(collector, "VALVE", 4 * collector.EVERY)
    with Collections() as c:
        y = chain(leaf(), collector.EVERY * (collector.LIVE + 10))
    assert collector.paused()
    assert c.counts[2] >= 2
    del y


def test_cycles_made_while_paused_are_collected_by_gc_collect():
    class Cycle:
        pass

    import weakref
    y = chain(leaf(), collector.EVERY * (collector.LIVE + 1))
    assert collector.paused()
    a = Cycle()
    a.me = a
    r = weakref.ref(a)
    del a
    gc.collect()
    assert r() is None
    del y
