"""Python's cyclic garbage collector and large graphs: full collections postponed while a large
graph is alive and growing, so that recording an op costs the same at any graph size.

Every op leaves about four objects the collector tracks (its output Tensor, its Node, the
Node's tuple of edges, the version counter). CPython runs a full collection, which visits every
tracked object alive, each time the objects that reached the oldest generation since the last
one exceed a quarter of those that survived it. While one graph grows, that happens again and
again (every 25% of growth), and each pass visits the whole graph: for chains of 1e5 to 1e6 ops
the passes cost more than recording the ops (PyTorch's nodes are not Python objects, so it does
not pay this). The young generations are still collected as usual, which is where most
cyclic garbage dies.

The mechanism: `checkpoint` runs every `EVERY` recorded nodes (from ``_record``; one bit test
per op). It keeps weak references to the nodes at the last `LIVE` checkpoints; when all of
them are alive, a graph of more than ``EVERY * (LIVE - 1)`` nodes is alive and still growing,
and the thresholds of the two older generations are raised out of reach (``gc.set_threshold``;
the youngest is still collected as usual). They are put back, exactly as they were, when
backward ends (`release`, from the engine) or when a checkpoint finds that the graph has died;
thresholds the user changed in between are left as the user set them. While paused, a full
collection still runs every `VALVE` nodes (so that a program that keeps recording without ever
calling backward still has its cycles collected), and ``gc.collect()`` collects everything, as
always.
"""

from __future__ import annotations

import gc
import weakref

EVERY = 1 << 10  # nodes between checkpoints (a power of two: tested as a bit mask)
LIVE = 3  # checkpoints that must all be alive: a graph of more than 2,048 nodes
VALVE = 1 << 22  # nodes recorded while paused between two full collections
_OUT_OF_REACH = 1 << 30

_refs: list = []  # weak references to the nodes at the last LIVE checkpoints
_saved: list = []  # [user's thresholds, the thresholds set, seq at the pause] while paused


def checkpoint(node) -> None:
    """Called for every `EVERY`-th node recorded (`node.seq` a multiple of `EVERY`)."""
    _refs.append(weakref.ref(node))
    if len(_refs) > LIVE:
        del _refs[0]
    alive = len(_refs) == LIVE and all(r() is not None for r in _refs)
    if _saved:
        if not alive:
            release()
        elif node.seq - _saved[2] >= VALVE:
            gc.collect()
            _saved[2] = node.seq
    elif alive and gc.isenabled():
        user = gc.get_threshold()
        if len(user) >= 3 and user[0] > 0:  # (threshold 0 disables collection: nothing to do)
            ours = (user[0], _OUT_OF_REACH, _OUT_OF_REACH)
            gc.set_threshold(*ours)
            _saved[:] = [user, ours, node.seq]


def release() -> None:
    """End the pause, if any: the oldest generation's threshold as the user had it."""
    if _saved:
        user, ours, _ = _saved
        _saved.clear()
        _refs.clear()
        if gc.get_threshold() == ours:
            gc.set_threshold(*user)


def paused() -> bool:
    """Whether full collections are postponed now (for tests and benchmarks)."""
    return bool(_saved)
