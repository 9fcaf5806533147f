"""The reverse-mode engine: walks the recorded graph from the outputs to the leaves.

Each node's vjp runs on raw arrays (``ArrayMath``) when no graph is being built: no tensor or
node is made per step. Under ``create_graph=True``, or with a forward-AD level open, the same
rules run on tensors (``TensorMath``) so that the gradients are differentiable again.
"""

from __future__ import annotations

import threading
from heapq import heapify, heappop, heappush

from .. import backend as B
from ..core import collector
from ..core.batched import BatchedTensor, physical
from ..core.node import FREED, Node, leaf_edges
from ..core.state import anomaly, batch_levels, duals, fw_levels, post_hooked, state, track_all
from ..core.tensor import Tensor, wrap
from ..ops.namespace import sum_to
from ..ops.registry import TENSOR, array_math
from ..ops.shape import TO_DEVICE

_XP = B._XP
_ndarray = B.ndarray


def _tensor(v):
    """A cotangent as a tensor (arrays are wrapped; NumPy's 0-d scalars become arrays)."""
    if isinstance(v, Tensor):
        return v
    if type(v) not in _XP:
        v = B.numpy.asarray(v)
    return wrap(v)


def _run_hooks(hooks, g, graph):
    """Call tensor hooks on cotangent `g` (a tensor, or an array when `graph` is False); a
    hook's result must be a tensor of the cotangent's shape, dtype and device (PyTorch's check)."""
    t = _tensor(g)
    for h in hooks:
        r = h(t)
        if r is not None:
            _check_hook_result(h, t, r)
            t = r
    return t if graph else t._data


def _check_hook_result(h, g, r):
    name = getattr(h, "__qualname__", None) or type(h).__name__
    if not isinstance(r, Tensor):
        raise TypeError(f"hook '{name}' returned a {type(r).__name__}; a tensor hook must "
                        "return a Tensor (the new gradient) or None")
    what = ("size", tuple(g._data.shape), tuple(r._data.shape)) if r._data.shape != \
        g._data.shape else ("dtype", g.dtype, r.dtype) if r._data.dtype != g._data.dtype else \
        ("device", g.device, r.device) if not B.same_device(r._data, g._data) else None
    if what is not None:
        raise RuntimeError(f"hook '{name}' has changed the {what[0]} of the gradient (was "
                           f"{what[1]}, got {what[2]}); return a gradient like the one given")


# One lock for every accumulation into a ``.grad``: threads that backpropagate into a shared
# leaf at once would otherwise lose updates (a read-modify-write). PyTorch locks it too.
_grad_lock = threading.Lock()


def _own(g, handed):
    """A gradient safe to store in ``.grad``: a copy where it may alias another array."""
    d = g._data
    if type(g) is BatchedTensor:  # (its _data is a placeholder; rules never alias a batch)
        return g
    if id(d) in handed or d.base is not None:
        g = wrap(d.copy())
    handed.add(id(g._data))
    return g


def store_grad(t, g, create_graph, handed):
    """Accumulate cotangent `g` (tensor or array) into ``t.grad`` (in place unless building a
    graph), after checking its shape and casting it to t's dtype, as PyTorch's engine does."""
    g = _tensor(g)
    if type(g) is BatchedTensor and type(t) is not BatchedTensor:
        raise RuntimeError(
            "backward: inside vmap, the gradient of a tensor that is the same for every example "
            "has one value per example and cannot be accumulated into its .grad; use "
            "gpugrad.func.grad (or vjp) inside vmap instead of backward()")
    if g._data.shape != t._data.shape:
        raise RuntimeError(f"backward: the gradient computed for a tensor of shape "
                           f"{tuple(t._data.shape)} has shape {tuple(g._data.shape)} (a rule "
                           "returned a wrong shape)")
    if g._data.dtype != t._data.dtype:
        g = g.to(t.dtype)
    gd, td = g._data, t._data
    if type(gd) is not _ndarray or type(td) is not _ndarray:
        if not B.same_device(gd, td):
            raise RuntimeError(f"backward: the gradient computed for a tensor on {t.device} is "
                               f"on {g.device} (a rule returned a gradient on another device)")
        guard = B.on_device_of(td)
        if guard is not B.NO_SWITCH:  # CuPy: copy or sum on t's device, not the current one
            with guard:
                return store_grad(t, g, create_graph, handed)
    with _grad_lock:
        old = getattr(t, "_grad", None)
        if old is None:
            # (shape, dtype and device checked above: the .grad setter's checks, without it)
            t._grad = _own(g, handed) if not create_graph else g
        elif create_graph or old._rg or type(old) is BatchedTensor or type(g) is BatchedTensor:
            t.grad = old + g
        else:
            old._data += g._data


def _saved_out(n):
    """The op's output, rebuilt on node `n` (so that a graph built now runs through it)."""
    d = n.out_data
    t = d._lift() if type(d) is BatchedTensor else wrap(d)
    t._vc = n.out_vc
    if n.out_fw is not None:  # the tangents of the levels that made them and are still open
        tokens, fw = n.out_fw
        fw = {k: v for k, v in fw.items() if k < len(duals) and duals[k] is tokens[k]}
        if fw:
            t._fw = fw
            track_all(t)
    if state.grad_enabled:
        t.grad_fn = n
        t._rg = True
    return t


def _check_nan(n, grads):
    """Anomaly mode: raise if the vjp of `n` produced NaN, naming the op and where it was made."""
    for i, gi in enumerate(grads):
        if gi is None:
            continue
        d = physical(gi) if isinstance(gi, Tensor) else B.numpy.asarray(gi) if type(gi) not in _XP \
            else gi
        if d.dtype.kind == "f" and bool(B.xp_of(d).isnan(d).any()):
            where = n.trace or "(unknown: anomaly mode was off in the forward)"
            raise RuntimeError(
                f"{n.name()}: the gradient it returned for input {i} contains NaN. The op was "
                f"created in the forward at\n  {where}")


def _observe(n, g, graph, capture, create_graph, handed):
    """A node's cotangent seen by its hooks (which may replace it), by ``retain_grad`` and by
    ``autograd.grad``'s inputs."""
    if n.hooks:
        g = _run_hooks(n.hooks, g, graph)
    if n.retained is not None:
        t = n.retained()
        if t is not None:
            store_grad(t, g, create_graph, handed)
    if capture is not None and n in capture:
        capture[n] = g
    return g


class _Callbacks(threading.local):
    """Per thread, one list per backward being run (backward may run inside a hook): the
    callbacks queued during it, run once it has finished."""

    def __init__(self):
        self.stack: list[list] = []


_callbacks = _Callbacks()


def queue_callback(callback) -> None:
    """Run ``callback()`` when the backward now running has finished (after every leaf's
    ``.grad`` is stored), as PyTorch's ``Variable._execution_engine.queue_callback``.

    Example::

        def hook(p):
            queue_callback(lambda: print("backward done"))
        w.register_post_accumulate_grad_hook(hook)
    """
    stack = _callbacks.stack
    if not stack:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    stack[-1].append(callback)


def _leaf_uses(roots) -> dict:
    """For each leaf with post-accumulate-grad hooks, how many edges lead to it from the nodes
    reachable from `roots` (when all have delivered, its gradient is final)."""
    uses: dict = {}
    for m in leaf_edges(r for r in roots if type(r) is Node):
        if getattr(m, "_post_hooks", None):
            uses[m] = uses.get(m, 0) + 1
    return uses


def _finish_leaf(t, g, graph, create_graph, handed):
    """A leaf's summed cotangent: its hooks, ``.grad``, then its post-accumulate-grad hooks."""
    hooks = getattr(t, "_hooks", None)
    if hooks:
        g = _run_hooks(hooks, g, graph)
    store_grad(t, g, create_graph, handed)
    post = getattr(t, "_post_hooks", None)
    if post:
        for h in list(post):
            h(t)


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None):
    """Reverse mode over the recorded graph.

    1. Seed each output's node (or leaf) with its cotangent.
    2. Run the nodes that have received a cotangent, the most recent first (a max-heap on
       ``Node.seq``): a node is made after its inputs' nodes, so all of its consumers have run
       by then. Its vjp's input cotangents are summed into buffers (and unbroadcast to the
       inputs' shapes where the op broadcast them); saved values are freed unless retain_graph.
    3. Leaves (and requested `inputs`) receive their summed cotangent: hooks, then ``.grad``
       (or the result list, for ``autograd.grad``), then post-accumulate-grad hooks. A leaf
       with such hooks is finished as soon as every edge to it (counted first, by a walk
       from the roots) has delivered, the others at the end.
    4. Callbacks queued during backward (`queue_callback`) run, in order.

    Cotangents are arrays, or tensors when the rules must be differentiable (`create_graph`,
    or a forward-AD level open). Returns the gradients for `inputs` when given (None where
    unreachable), else None.
    """
    # (inside vmap the rules run on tensors too: cotangents may be batched)
    graph = bool(create_graph or fw_levels[0] or batch_levels)
    buffers: dict = {}
    handed: set = set()
    roots = []
    for out, g in zip(outputs, grad_outputs):
        key = out.grad_fn if out.grad_fn is not None else out
        v = g if graph else g._data
        handed.add(id(g._data))
        if key in buffers:
            buffers[key] = buffers[key] + v
        else:
            buffers[key] = v
            roots.append(key)

    capture = None
    if inputs is not None:
        capture = {}
        for t in inputs:
            capture[t.grad_fn if t.grad_fn is not None else t] = None

    leaves: dict = {}
    heap = []  # (-seq, node) of the nodes that have received a cotangent
    for r in roots:
        if type(r) is Node:
            heap.append((-r.seq, r))
        else:
            leaves[r] = buffers.pop(r)
    heapify(heap)
    pending = _leaf_uses(roots) if post_hooked and capture is None else None

    _callbacks.stack.append([])
    prev = state.grad_enabled
    state.grad_enabled = create_graph
    check_nan = anomaly[0]
    F = TENSOR
    last_type = None  # the array type F was looked up for (array mode)
    quiet = B.quiet_fp()
    quiet.__enter__()
    try:
        while heap:
            n = heappop(heap)[1]
            g = buffers.pop(n)
            if n.hooks is not None or n.retained is not None or capture is not None:
                g = _observe(n, g, graph, capture, create_graph, handed)
            saved = n.saved
            if saved is None:
                args = None
            elif saved is FREED:
                raise n.saved_error()
            elif len(saved) == 1:  # (one input: a tensor, saved)
                x = saved[0]
                if x._vc[0] != n.vers[0]:
                    raise n.saved_error()
                args = saved if graph else (x._data,)
            else:
                for s, v in zip(saved, n.vers):
                    if v is not None and s._vc[0] != v:
                        raise n.saved_error()
                args = saved if graph else tuple([s._data if isinstance(s, Tensor) else s
                                                  for s in saved])
            out = n.out_data
            if out is not None:
                if n.out_vc[0] != 0:
                    raise n.saved_error()
                if graph:
                    out = _saved_out(n)
            if not graph and type(g) is not last_type:
                last_type = type(g)
                F = array_math(last_type)
                if F.xp is not B.numpy:  # CuPy: each node's rule on its cotangent's device
                    last_type = None  # (so this runs for every node)
                    if type(quiet) is not B.DeviceKeeper:
                        quiet = B.DeviceKeeper(quiet)  # (its exit restores the device)
                    # (a move between devices: its cotangent is summed on the source device)
                    quiet.follow(n.params[1] if n.op is TO_DEVICE else g)
            grads = n.op.vjp(F, g, args, out, n)
            if n.shapes is not None:
                grads = [gi if gi is None or s is None else sum_to(F, gi, s)
                         for gi, s in zip(grads, n.shapes)]
            if check_nan:
                _check_nan(n, grads)
            if not retain_graph and (saved is not None or out is not None):
                n.saved = FREED  # release the saved arrays
                n.out_data = None
                if n.residuals is not None:
                    n.residuals = None
            for m, gi in zip(n.next, grads):
                if m is None:
                    continue
                if gi is not None:
                    if type(m) is Node:
                        if m in buffers:
                            buffers[m] = buffers[m] + gi
                        else:
                            buffers[m] = gi
                            heappush(heap, (-m.seq, m))
                    elif m in leaves:
                        leaves[m] = leaves[m] + gi
                    else:
                        leaves[m] = gi
                if pending and m in pending:  # a leaf with post-accumulate-grad hooks
                    pending[m] -= 1
                    if not pending[m]:
                        del pending[m]
                        if m in leaves:
                            _finish_leaf(m, leaves.pop(m), graph, create_graph, handed)

        for t, g in leaves.items():
            if capture is not None:
                hooks = getattr(t, "_hooks", None)
                if hooks:
                    g = _run_hooks(hooks, g, graph)
                if t in capture:
                    capture[t] = g
            else:
                _finish_leaf(t, g, graph, create_graph, handed)
        callbacks = _callbacks.stack[-1]
        i = 0
        while i < len(callbacks):  # a callback may queue more
            callbacks[i]()
            i += 1
    finally:
        _callbacks.stack.pop()
        state.grad_enabled = prev
        quiet.__exit__(None, None, None)
        collector.release()  # (full collections, if a large graph had paused them)
    if capture is not None:
        return [_result(capture[t.grad_fn if t.grad_fn is not None else t], t, handed)
                for t in inputs]
    return None


def _result(g, t, handed):
    """A gradient returned by ``autograd.grad``: a tensor of t's dtype, never an alias of the
    cotangents given or of another result."""
    if g is None:
        return None
    g = _tensor(g)
    if g._data.dtype != t._data.dtype:
        g = g.to(t.dtype)
    if type(g) is not BatchedTensor and (g._data.base is not None or id(g._data) in handed):
        if not g._rg:
            g = wrap(B.copy_of(g._data))
    handed.add(id(g._data))
    return g
