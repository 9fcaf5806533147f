"""The recorded graph: `Node` (seen by users as ``tensor.grad_fn``), what ``next_functions``
shows for a leaf (`AccumulateGrad`), and hook handles. The engine that walks the graph is
``gpugrad.autograd.engine``."""

from __future__ import annotations

import itertools
import linecache
import os
import sys
from typing import Any

FREED_MSG = (
    "{name}: trying to backward through the graph a second time (or to use its saved tensors "
    "after they were freed). Saved intermediate values are freed when you call .backward() or "
    "autograd.grad(); pass retain_graph=True to the first call if you need to backward through "
    "the graph again."
)


class _Freed(tuple):
    """The ``saved`` of a node whose saved values backward has released."""


FREED = _Freed()


class Node:
    """One recorded op application: the op, edges to its inputs, and what its vjp needs.

    ``next`` holds, per input, the input's own Node, the input tensor itself when it is a
    leaf that requires grad, or None; ``needs`` says which inputs want a gradient. ``saved``
    holds the inputs the needed gradients use (None elsewhere; `FREED` once backward has
    released them), ``vers`` the versions they had when saved, so that an in-place change
    before backward is caught. ``out_data`` and ``out_vc`` keep the output's array and
    version counter when the vjp reads the output; ``residuals`` what a fused forward
    computed for its vjp. ``shapes`` holds the inputs' shapes where they broadcast against
    each other, for the unbroadcast of their gradients. ``seq`` numbers nodes in the order
    they were made: an op's node always comes after its inputs' nodes, so the engine runs
    nodes in decreasing ``seq`` (as PyTorch's does). ``label`` is the name of the public op
    whose result this node made, where that differs from the primitive's (``named``).
    """

    __slots__ = ("op", "seq", "next", "needs", "saved", "vers", "params", "out_data", "out_vc",
                 "__dict__", "__weakref__")
    op: Any  # the registry's Op
    seq: int
    next: tuple
    needs: tuple
    saved: Any
    vers: Any
    params: tuple
    out_data: Any
    out_vc: Any
    # Set on few nodes (in the instance dict when they are): the defaults.
    shapes = residuals = out_fw = trace = hooks = retained = label = None

    def name(self) -> str:
        """PyTorch's name for this node's op (``MulBackward0``): the public op's where a
        composite or an overload labelled it, else the primitive's (from its params, where
        the name depends on them)."""
        if self.label is not None:
            return self.label
        n = self.op.node_name
        return n if type(n) is str else n(self.params)

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self):
        """Edges to the inputs' nodes as ``(node, 0)`` pairs; a leaf shows as ``AccumulateGrad``."""
        return tuple((None if e is None else (e if type(e) is Node else AccumulateGrad(e)), 0)
                     for e in self.next)

    def register_hook(self, fn):
        """Call ``fn(grad)`` with the cotangent of this node's output; a result replaces it."""
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(fn)
        return Handle(self.hooks, fn)

    def saved_error(self) -> RuntimeError:
        """The error for saved values that were freed or changed in place since they were saved."""
        if self.saved is FREED:
            return RuntimeError(FREED_MSG.format(name=self.name()))
        for i, v in enumerate(self.vers or ()):
            t = self.saved[i]
            if v is not None and t._vc[0] != v:
                return RuntimeError(
                    f"{self.name()}: input {i} (a tensor of shape {tuple(t._data.shape)} and "
                    f"dtype {t.dtype}) that it saved for backward has been modified by an "
                    f"in-place operation: it is now at version {t._vc[0]}; expected version "
                    f"{v}. Use an out-of-place op (x = x + 1 instead of x += 1), or .clone() "
                    "the tensor before changing it.")
        return RuntimeError(
            f"{self.name()}: its output, saved for backward, has been modified by an in-place "
            f"operation: it is now at version {self.out_vc[0]}; expected version 0. "
            "Use an out-of-place op, or .clone() the output before changing it.")


# Numbers the nodes as they are made (next() on a count is atomic under the GIL).
sequence = itertools.count()


class AccumulateGrad:
    """What ``next_functions`` shows for a leaf: it accumulates into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    @property
    def next_functions(self):
        return ()

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


class Handle:
    """Returned by ``register_hook``; ``remove()`` takes the hook away."""

    __slots__ = ("hooks", "fn")

    def __init__(self, hooks, fn):
        self.hooks, self.fn = hooks, fn

    def remove(self):
        if self.fn in self.hooks:
            self.hooks.remove(self.fn)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_frame():
    """The innermost stack frame outside gpugrad: the user's line that called an op."""
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PACKAGE + os.sep):
        f = f.f_back
    if f is None:
        return None
    line = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f'File "{f.f_code.co_filename}", line {f.f_lineno}, in {f.f_code.co_name}: {line}'


def leaf_edges(nodes):
    """The leaf end of every edge out of the nodes reachable from `nodes` (each node walked
    once): a leaf tensor once per edge into it."""
    seen = set(nodes)
    stack = list(seen)
    while stack:
        for m in stack.pop().next:
            if m is None:
                continue
            if type(m) is Node:
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
            else:
                yield m
