"""The recorded graph (`Node`, seen by users as ``tensor.grad_fn``) and the reverse-mode engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..backend import quiet_fp as _quiet_fp
from . import forward_ad
from .grad_mode import anomaly, state

# gpugrad.tensor._wrap, set by gpugrad.tensor once it is defined
_wrap: Callable[[Any], Any] | None = None

_FREED_MSG = (
    "{name}: trying to backward through the graph a second time (or to use its saved tensors "
    "after they were freed). Saved intermediate values are freed when you call .backward() or "
    "autograd.grad(); pass retain_graph=True to the first call if you need to backward through "
    "the graph again."
)


class Node:
    """One recorded op application: the op, edges to its inputs, and what its vjp needs.

    ``next`` holds, per input, the input's own Node, the input tensor itself when it is a
    leaf that requires grad, or None. Saved inputs carry the version they had when saved, so
    that an in-place change before backward is caught.
    """

    __slots__ = ("op", "next", "needs", "saved", "vers", "params", "shapes", "out_data", "out_vc",
                 "out_fw", "trace",
                 "hooks", "retained", "freed", "__weakref__")
    op: Any  # the registry's Op

    def name(self) -> str:
        return self.op.node_name

    def __repr__(self):
        return f"<{self.op.node_name} object at {id(self):#x}>"

    @property
    def next_functions(self):
        """Edges to the inputs' nodes as ``(node, 0)`` pairs; a leaf shows as ``AccumulateGrad``."""
        return tuple((None if e is None else (e if type(e) is Node else AccumulateGrad(e)), 0)
                     for e in self.next)

    def out(self):
        """The op's output, rebuilt from the saved array (on this node with create_graph)."""
        if self.out_data is None:
            raise RuntimeError(_FREED_MSG.format(name=self.name()))
        t = _wrap(self.out_data)
        t._vc = self.out_vc
        fw = getattr(self, "out_fw", None)
        if fw is not None and fw[0] is not None and fw[0] is forward_ad.current_level():
            t._fw = fw[1]
        if state.grad_enabled:
            t.grad_fn = self
            t._rg = True
        return t

    def register_hook(self, fn):
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(fn)
        return _Handle(self.hooks, fn)

    def check_saved(self):
        """Raise if the saved tensors were freed or modified in place since they were saved."""
        if self.freed:
            raise RuntimeError(_FREED_MSG.format(name=self.name()))
        vers = self.vers
        if vers is not None:
            saved = self.saved
            for i in range(len(vers)):
                v = vers[i]
                if v is not None and saved[i]._vc[0] != v:
                    t = saved[i]
                    raise RuntimeError(
                        f"{self.name()}: input {i} (a tensor of shape {tuple(t._data.shape)} and "
                        f"dtype {t.dtype}) that it saved for backward has been modified by an "
                        f"in-place operation: it is now at version {t._vc[0]}; expected version "
                        f"{v}. Use an out-of-place op (x = x + 1 instead of x += 1), or .clone() "
                        "the tensor before changing it.")
        if self.out_data is not None and self.out_vc[0] != 0:
            raise RuntimeError(
                f"{self.name()}: its output, saved for backward, has been modified by an in-place "
                f"operation: it is now at version {self.out_vc[0]}; expected version 0. "
                "Use an out-of-place op, or .clone() the output before changing it.")


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


class _Handle:
    """Returned by ``register_hook``; ``remove()`` takes the hook away."""

    __slots__ = ("hooks", "fn")

    def __init__(self, hooks, fn):
        self.hooks, self.fn = hooks, fn

    def remove(self):
        if self.fn in self.hooks:
            self.hooks.remove(self.fn)


def _run_hooks(hooks, g):
    for h in hooks:
        r = h(g)
        if r is not None:
            g = r
    return g


def _own(g, handed):
    """Return a gradient safe to store in ``.grad``: a copy if it may alias another array."""
    d = g._data
    if id(g) in handed or d.base is not None:
        g = _wrap(d.copy())
    handed.add(id(g))
    return g


def _store_grad(t, g, create_graph, handed):
    """Accumulate gradient `g` into ``t.grad`` (in place unless building a graph)."""
    old = t.grad
    if old is None:
        t.grad = _own(g, handed) if not create_graph else g
    elif create_graph or old._rg:
        t.grad = old + g
    else:
        old._data += g._data


def user_frame():
    """The innermost stack frame outside gpugrad: the user's line that called an op."""
    import os
    import sys

    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(pkg + os.sep):
        f = f.f_back
    if f is None:
        return None
    import linecache

    line = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f'File "{f.f_code.co_filename}", line {f.f_lineno}, in {f.f_code.co_name}: {line}'


def _check_nan(n, grads):
    """Anomaly mode: raise if the vjp of `n` produced NaN, naming the op and where it was made."""
    for i, gi in enumerate(grads):
        if gi is not None and gi.dtype.is_floating_point and bool(gi.isnan().any()):
            where = getattr(n, "trace", None) or "(unknown: anomaly mode was off in the forward)"
            raise RuntimeError(
                f"{n.name()}: the gradient it returned for input {i} contains NaN. The op was "
                f"created in the forward at\n  {where}")


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None):
    """Reverse mode over the recorded graph.

    1. Seed each output's node (or leaf) with its cotangent.
    2. Count, for every reachable node, the edges that lead into it (iterative DFS).
    3. Kahn's algorithm: a node runs its vjp once all its consumers have run; its input
       cotangents are summed into buffers; saved tensors are freed unless retain_graph.
    4. Leaves (and requested `inputs`) receive their summed cotangent: hooks, then ``.grad``
       (or the result list, for ``autograd.grad``).

    Returns the gradients for `inputs` when given (None where unreachable), else None.
    """
    buffers: dict = {}
    handed: set = set()
    roots = []
    for out, g in zip(outputs, grad_outputs):
        key = out.grad_fn if out.grad_fn is not None else out
        handed.add(id(g))
        if key in buffers:
            buffers[key] = buffers[key] + g
        else:
            buffers[key] = g
            roots.append(key)

    capture = None
    if inputs is not None:
        capture = {}
        for t in inputs:
            capture[t.grad_fn if t.grad_fn is not None else t] = None

    stack = [r for r in roots if type(r) is Node]
    deps: dict = dict.fromkeys(stack, 0)  # a node is in deps once seen
    while stack:
        n = stack.pop()
        for m in n.next:
            if type(m) is Node:
                c = deps.get(m)
                if c is None:
                    deps[m] = 1
                    stack.append(m)
                else:
                    deps[m] = c + 1

    leaves: dict = {}
    for r in roots:
        if type(r) is not Node:
            leaves[r] = buffers.pop(r)

    prev = state.grad_enabled
    state.grad_enabled = create_graph
    check_nan = anomaly[0]
    quiet = _quiet_fp()
    quiet.__enter__()
    try:
        ready = [r for r in roots if type(r) is Node and deps[r] == 0]
        while ready:
            n = ready.pop()
            g = buffers.pop(n, None)
            if g is not None:
                if n.hooks:
                    g = _run_hooks(n.hooks, g)
                if n.retained is not None:
                    t = n.retained()
                    if t is not None:
                        _store_grad(t, g, create_graph, handed)
                if capture is not None and n in capture:
                    capture[n] = g
                if n.freed:
                    n.check_saved()  # raises: freed by an earlier backward
                vers = n.vers
                if vers is not None:
                    for t, v in zip(n.saved, vers):
                        if v is not None and t._vc[0] != v:
                            n.check_saved()  # raises, naming the input and both versions
                if n.out_data is not None and n.out_vc[0] != 0:
                    n.check_saved()
                grads = n.op.vjp(n, g)
                if check_nan:
                    _check_nan(n, grads)
            else:
                grads = (None,) * len(n.next)
            if not retain_graph and (n.saved is not None or n.out_data is not None):
                n.saved = n.out_data = None  # release the saved arrays
                n.freed = True
            for m, gi in zip(n.next, grads):
                if m is None:
                    continue
                if type(m) is Node:
                    if gi is not None:
                        b = buffers.get(m)
                        buffers[m] = gi if b is None else b + gi
                    c = deps[m] - 1
                    deps[m] = c
                    if c == 0:
                        ready.append(m)
                elif gi is not None:
                    b = leaves.get(m)
                    leaves[m] = gi if b is None else b + gi

        for t, g in leaves.items():
            hooks = getattr(t, "_hooks", None)
            if hooks:
                g = _run_hooks(hooks, g)
            if capture is not None:
                if t in capture:
                    capture[t] = g
            else:
                _store_grad(t, g, create_graph, handed)
    finally:
        state.grad_enabled = prev
        quiet.__exit__(None, None, None)
    if capture is not None:
        return [capture[t.grad_fn if t.grad_fn is not None else t] for t in inputs]
    return None
