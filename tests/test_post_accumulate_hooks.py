"""`Tensor.register_post_accumulate_grad_hook` and the engine's `queue_callback` (what
DistributedDataParallel builds on), against PyTorch's semantics."""

from __future__ import annotations

import pytest

import gpugrad
from gpugrad.autograd.engine import queue_callback


def _graph(lib, log):
    w = lib.ones(3, requires_grad=True)
    b = lib.ones(1, requires_grad=True)
    c = lib.ones(2, requires_grad=True)
    for name, t in (("w", w), ("b", b), ("c", c)):
        t.register_post_accumulate_grad_hook(
            lambda p, name=name: log.append((name, p.grad.tolist())))
    h = (w * 2).sum() * c.sum()  # c and w are used early (in the forward), b last
    y = (h + (w * b).sum()).sum() * 1.0
    return (w, b, c), y


def test_hooks_fire_once_per_leaf_in_pytorchs_order_with_the_final_grad():
    torch = pytest.importorskip("torch")
    ours, theirs = [], []
    (w, b, c), y = _graph(gpugrad, ours)
    y.backward()
    _, yt = _graph(torch, theirs)
    yt.backward()
    assert ours == theirs
    assert len(ours) == 3


def test_hook_sees_the_accumulated_grad_and_runs_each_backward():
    seen = []
    w = gpugrad.ones(2, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 3).sum().backward()
    (w * w).sum().backward()
    assert seen == [[3.0, 3.0], [5.0, 5.0]]


def test_hook_not_called_by_autograd_grad_and_removable():
    seen = []
    w = gpugrad.ones(2, requires_grad=True)
    h = w.register_post_accumulate_grad_hook(lambda p: seen.append(1))
    gpugrad.autograd.grad((w * 2).sum(), w)
    assert seen == []
    h.remove()
    (w * 2).sum().backward()
    assert seen == [] and w.grad.tolist() == [2.0, 2.0]


def test_hook_registration_errors_match_pytorch():
    w = gpugrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot be registered on non-leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        gpugrad.ones(2).register_post_accumulate_grad_hook(lambda p: None)


def test_queue_callback_runs_after_every_grad_is_stored():
    log = []
    w = gpugrad.ones(2, requires_grad=True)
    b = gpugrad.ones(2, requires_grad=True)

    def hook(p):
        log.append("hook")
        queue_callback(lambda: log.append(("cb", w.grad.tolist(), b.grad.tolist())))
        queue_callback(lambda: queue_callback(lambda: log.append("nested")))

    w.register_post_accumulate_grad_hook(hook)
    ((w * 2) * b).sum().backward()
    assert log == ["hook", ("cb", [2.0, 2.0], [2.0, 2.0]), "nested"]
    with pytest.raises(RuntimeError, match="only be installed during backward"):
        queue_callback(lambda: None)


def test_leaf_reached_through_an_unused_branch_still_finishes():
    """A node whose cotangent is None never runs; the leaf behind it is finished at the end."""
    seen = []
    w = gpugrad.ones(3, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    z = (w * 2)[:1].sum() + (w.detach() * w).sum()
    z.backward(create_graph=True)
    assert seen == [[3.0, 1.0, 1.0]]
