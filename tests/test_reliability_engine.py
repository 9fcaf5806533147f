"""Engine reliability: very deep graphs, memory that stays flat over long training, exact
accumulation with retain_graph on diamond graphs, and backward from many threads at once."""

from __future__ import annotations

import gc
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import gpugrad as gg

# The deep chain has 1,000,000 ops (about 15 s here); tracemalloc makes a chain about 3x
# slower, so the memory check runs on a 30,000-op chain.
DEEP = 1_000_000


def test_deep_chain_backpropagates_without_recursion_and_frees_its_graph():
    x = gg.ones(1, requires_grad=True)
    y = x
    for _ in range(DEEP):
        y = y * 1.0
    first = weakref.ref(y.grad_fn)
    y.sum().backward()
    assert x.grad.item() == 1.0
    del y
    gc.collect()
    assert first() is None  # the whole chain is gone, without a deep recursive dealloc crash


def test_deep_chain_memory_returns_to_baseline():
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        x = gg.ones(1, requires_grad=True)
        y = x
        for _ in range(30_000):
            y = y * 1.0
        graph = tracemalloc.get_traced_memory()[0] - base
        y.sum().backward()
        del y
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert graph > 1_000_000  # the graph was really recorded (~370 B an op)
    assert after < 64 * 1024, f"{after} bytes left of a {graph}-byte graph"
    assert x.grad.item() == 1.0


def _train(steps, marks, *, create_graph=False, hooks=False, retain_graph=False):
    gg.manual_seed(0)
    model = gg.nn.Linear(4, 1)
    opt = gg.optim.SGD(model.parameters(), lr=0.01)
    x, target = gg.randn(8, 4), gg.randn(8, 1)
    seen = []
    memory = {}
    if hooks:  # a leaf's hooks persist (as in PyTorch), so register that one once
        model.weight.register_hook(lambda g: seen.append(1))
    for step in range(1, steps + 1):
        opt.zero_grad()
        out = model(x)
        if hooks:
            out.register_hook(lambda g: g * 1.0)  # a hook on a fresh non-leaf each step
        loss = ((out - target) ** 2).mean()
        loss.backward(create_graph=create_graph, retain_graph=retain_graph)
        opt.step()
        if step in marks:
            seen.clear()
            gc.collect()
            memory[step] = tracemalloc.get_traced_memory()[0]
    return memory, loss.item()


@pytest.mark.parametrize(
    "steps, options",
    [
        (10_000, {}),
        (10_000, {"create_graph": True, "hooks": True, "retain_graph": True}),
    ],
    ids=["plain-10000", "create_graph-hooks-retain_graph-10000"],
)
def test_training_memory_stays_flat(steps, options):
    marks = (steps // 10, steps)
    gc.collect()
    tracemalloc.start()
    try:
        memory, loss = _train(steps, marks, **options)
    finally:
        tracemalloc.stop()
    start, end = memory[marks[0]], memory[marks[1]]
    print(f"traced memory at step {marks[0]}: {start} B, at step {marks[1]}: {end} B")
    # one leaked 8x4 float tensor per step would be > 1 MB here
    assert end - start < 32 * 1024, (start, end)
    assert np.isfinite(loss)


def test_create_graph_cycle_is_collected():
    # x -> x.grad -> grad_fn -> saved x is a reference cycle, as in PyTorch; gc must free it.
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    probe = weakref.ref(x.grad.grad_fn)
    del x
    gc.collect()
    assert probe() is None


# ----------------------------------------------------------------------------- exact accumulation


def test_retain_graph_accumulates_exactly_twice_on_a_diamond(device):
    x = gg.tensor([1.5, -2.0], dtype=gg.float64, device=device, requires_grad=True)
    a = x * 3.0
    a.retain_grad()
    calls = []
    a.register_hook(lambda g: calls.append(1))
    b, c = a.sin(), a * a  # a feeds two branches that meet again
    y = (b * c).sum() + a.sum()
    y.backward(retain_graph=True)
    once_x, once_a = x.grad.cpu().numpy().copy(), a.grad.cpu().numpy().copy()
    assert len(calls) == 1  # the intermediate node runs once per backward, not once per path
    y.backward()
    assert len(calls) == 2
    np.testing.assert_array_equal(x.grad.cpu().numpy(), 2 * once_x)
    np.testing.assert_array_equal(a.grad.cpu().numpy(), 2 * once_a)
    av = 3.0 * np.array([1.5, -2.0])
    da = np.cos(av) * av**2 + np.sin(av) * 2 * av + 1.0
    np.testing.assert_allclose(once_a, da, rtol=1e-14)
    np.testing.assert_allclose(once_x, 3.0 * da, rtol=1e-14)


def test_stacked_diamonds_count_nodes_not_paths(device):
    # 60 stacked diamonds have 2**60 paths; a correct engine visits 180 nodes and gets 2**60.
    x = gg.tensor(1.0, dtype=gg.float64, device=device, requires_grad=True)
    y = x
    for _ in range(60):
        y = y * 1.0 + y * 1.0
    y.backward(retain_graph=True)
    assert x.grad.item() == 2.0**60
    y.backward()
    assert x.grad.item() == 2.0**61


# ----------------------------------------------------------------------------- threads


def _grads(seed):
    rng = np.random.default_rng(seed)
    w = gg.tensor(rng.standard_normal((16, 8)), dtype=gg.float64, requires_grad=True)
    x = gg.tensor(rng.standard_normal((32, 16)), dtype=gg.float64, requires_grad=True)
    h = (x @ w).tanh()
    for _ in range(20):
        h = (h * 1.01).sigmoid() + h
    loss = gg.logsumexp(h, dim=1).sum()
    loss.backward()
    return w.grad.numpy(), x.grad.numpy()


def test_eight_threads_backpropagate_independent_graphs():
    expected = [_grads(s) for s in range(8)]
    results = [None] * 8
    errors = []
    start = threading.Barrier(8)

    def work(i):
        try:
            start.wait()
            for _ in range(5):
                results[i] = _grads(i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_grad_mode_is_thread_local():
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def other():
        entered.wait()
        seen["enabled"] = gg.is_grad_enabled()
        x = gg.ones(2, requires_grad=True)
        seen["recorded"] = (x * 2).grad_fn is not None
        with gg.no_grad():
            seen["inner"] = gg.is_grad_enabled()
        checked.set()

    t = threading.Thread(target=other)
    t.start()
    with gg.no_grad():
        entered.set()
        checked.wait(10)
        assert not gg.is_grad_enabled()
        assert (gg.ones(2, requires_grad=True) * 2).grad_fn is None
    t.join()
    assert seen == {"enabled": True, "recorded": True, "inner": False}
    assert gg.is_grad_enabled()
