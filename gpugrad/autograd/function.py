"""Custom differentiable functions, as ``torch.autograd.Function``.

A subclass gives the forward computation and its derivatives as static methods; ``apply`` runs
it as one op of the graph (one node, named ``<ClassName>Backward``)::

    class Exp(gpugrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    y = Exp.apply(x)

Each subclass gets an `Op` of its own (made on its first ``apply``) and runs through the one
``gpugrad.ops.registry.apply``: the op's forward calls the user's ``forward`` on the original
tensors (grad mode and forward AD off), its vjp calls ``backward`` and checks what it returns,
its jvp calls ``jvp``. The tensors saved with ``ctx.save_for_backward`` become the node's saved
values, so the engine checks their versions and frees them as it does for any op.

A forward with several outputs is one node too; each tensor output is then a projection of it
(a node of the same name, whose vjp puts its cotangent in its slot of the Function's node's
cotangent, an object array that the engine sums slot by slot).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any

from .. import backend as B
from ..core.batched import BatchedTensor, batched
from ..core.state import batch_levels, fw_levels, state, track_all
from ..core.tensor import Tensor, wrap
from ..ops import registry
from ..ops.namespace import sum_to

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` of a `Function`: what ``forward`` (or ``setup_context``) leaves for
    ``backward`` and ``jvp``.

    Attributes set on it by the user (``ctx.k = 3``) are kept as they are.
    ``needs_input_grad`` is a tuple of booleans, one per input of ``forward``: whether that
    input will receive a gradient (a tensor requiring grad, with grad mode on).
    """

    def __init__(self):
        self.needs_input_grad: tuple[bool, ...] = ()
        self.materialize_grads = True
        self.to_save: tuple = ()
        self._fw_save: tuple | None = None
        self._dirty: tuple = ()
        self._non_diff: tuple = ()
        self._unpacked: tuple | None = None
        # Set by apply: the Function, its arguments and outputs (dropped after apply), the
        # inputs' and outputs' (shape, dtype, device or array module), what was saved where.
        self._cls: Any = None
        self._args: Any = None
        self._kwargs: Any = None
        self._setup = False
        self._error: Exception | None = None
        self._outputs: Any = None
        self._single = self._tuple = False
        self._tangents: Any = None
        self._in_meta: tuple = ()
        self._meta: tuple = ()
        self._spec: tuple = ()

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Save tensors (inputs, outputs or intermediates; None allowed) for ``backward``, where
        ``ctx.saved_tensors`` returns them. Call it at most once. Backward raises if a saved
        tensor is modified in place in between (as for any op's saved values).

        Example::

            ctx.save_for_backward(x, y)
        """
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors (or None), but "
                                f"argument {i} is a {type(t).__name__}; keep other values as "
                                "attributes of ctx (ctx.k = k)")
        self.to_save = tensors

    def save_for_forward(self, *tensors: Tensor | None) -> None:
        """Save tensors for ``jvp`` (where ``ctx.saved_tensors`` returns them)."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_forward expects tensors or None, but argument {i} "
                                f"is a {type(t).__name__}")
        self._fw_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward`` (in ``jvp``: to ``save_for_forward``,
        if called)."""
        if self._unpacked is not None:
            return self._unpacked
        return self.to_save

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Mark inputs that ``forward`` modified in place; each must also be returned as an
        output. The tensor itself is returned by ``apply``, with this Function's node as its
        ``grad_fn``.

        Example::

            x.mul_(2)
            ctx.mark_dirty(x)
            return x
        """
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """Mark outputs that are not differentiable (indices, masks): they do not require grad,
        and ``backward`` gets zeros for them (or None, see `set_materialize_grads`)."""
        self._non_diff = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """Whether ``backward`` (and ``jvp``) get zero tensors for outputs (inputs) that received
        no gradient (tangent): True by default; with False they get None."""
        self.materialize_grads = bool(value)


def _is_input(t, inputs):
    return any(t is a for a in inputs)


class Function:
    """Base class of custom differentiable operations, as ``torch.autograd.Function``.

    Define ``forward(ctx, *args, **kwargs)`` and ``backward(ctx, *grad_outputs)`` as static
    methods, and call the class's ``apply(*args, **kwargs)``. Alternatively ``forward`` takes no
    ``ctx`` and a ``setup_context(ctx, inputs, output)`` static method fills it in. ``backward``
    returns one gradient per input of ``forward`` (None for non-tensors and inputs that need
    none); written with gpugrad ops it is differentiable again (``create_graph=True``).
    ``jvp(ctx, *tangents)`` (optional) gives forward mode: one tangent per output.

    Example::

        class Cube(gpugrad.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 3 * x ** 2

        x = gpugrad.tensor(2.0, requires_grad=True)
        Cube.apply(x).backward()      # x.grad == 12
    """

    def __init__(self, *args, **kwargs):
        warnings.warn(
            f"{type(self)} should not be instantiated. Methods on autograd functions are all "
            "static, so you should invoke them on the class itself (MyFunction.apply(x)).",
            DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            f"new-style autograd function with static forward method: {type(self).__name__}"
            ".apply(...), with forward and backward defined as @staticmethod.")

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        """The computation (``forward(ctx, *args)``, or ``forward(*args)`` with a
        ``setup_context``); run by ``apply`` with grad mode off."""
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> Any:
        """Fill ``ctx`` from the inputs and output of a ``forward`` that takes no ctx."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        """The vector-Jacobian product: one gradient per input of ``forward``."""
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx: FunctionCtx, *grad_inputs: Any) -> Any:
        """The Jacobian-vector product (forward mode): one tangent per output of ``forward``."""
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it with "
            "forward mode AD.")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on `args` and record it as one node of the graph (when grad mode is
        on and a tensor input requires grad); returns what ``forward`` returned, its tensors
        being new tensors with ``grad_fn`` this Function's node."""
        if batch_levels and any(type(a) is BatchedTensor for a in (*args, *kwargs.values())):
            return _apply_vmap(cls, args, kwargs)
        ops = _ops(cls)
        setup = cls.setup_context is not Function.setup_context
        if setup:  # setup_context sees every argument of forward, defaults included
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        ctx = FunctionCtx()
        ctx._cls, ctx._args, ctx._kwargs, ctx._setup = cls, args, kwargs, setup
        ctx._in_meta = tuple((a._data.shape, a.dtype, a.device) if isinstance(a, Tensor)
                             else None for a in args)
        try:
            if any(isinstance(a, Tensor) for a in args):
                r = registry.apply(ops[0], args, (ctx,))
            else:  # nothing to record or to check: the forward alone
                _run_forward(ctx, (False,) * len(args))
                r = None
            if ctx._error is not None:
                raise ctx._error
            return _outputs(cls, ops, ctx, r)
        finally:
            ctx._args = ctx._kwargs = ctx._outputs = ctx._tangents = ctx._error = None
            ctx._fw_save = None
            ctx.to_save = ()


class VmapInfo:
    """What a Function's ``vmap`` staticmethod gets: ``batch_size`` and ``randomness``."""

    def __init__(self, batch_size, randomness):
        self.batch_size = batch_size
        self.randomness = randomness

    def __repr__(self):
        return f"VmapInfo(batch_size={self.batch_size}, randomness={self.randomness!r})"


def _apply_vmap(cls, args, kwargs):
    """``cls.apply`` inside vmap on batched inputs: the class's ``vmap`` staticmethod, as in
    torch.func, called with the innermost level's values and their batch dims (None where an
    argument is the same for every example); it returns ``(outputs, out_dims)``."""
    if getattr(cls, "generate_vmap_rule", False):
        raise NotImplementedError(
            f"{cls.__name__}: generate_vmap_rule=True is not supported by gpugrad; define the "
            "vmap staticmethod instead (vmap(info, in_dims, *args) -> (outputs, out_dims))")
    if not hasattr(cls, "vmap"):
        raise RuntimeError(
            f"vmap: the autograd.Function {cls.__name__} has no vmap rule. To use it inside "
            "vmap, define the staticmethod vmap(info, in_dims, *args) -> (outputs, out_dims), "
            "as in torch.func (generate_vmap_rule=True is not supported)")
    level = None
    for a in args:
        if type(a) is BatchedTensor and (level is None or a._level.id > level.id):
            level = a._level
    if level is None:
        raise RuntimeError(f"vmap: {cls.__name__}: batched keyword arguments are not supported")
    mine = [type(a) is BatchedTensor and a._level is level for a in args]
    if any(m and (a._rg or getattr(a, "_fw", None)) for a, m in zip(args, mine)):
        raise RuntimeError(
            f"vmap: the autograd.Function {cls.__name__} got inputs that a transform inside "
            "vmap differentiates (grad or jvp inside vmap); gpugrad runs a Function's vmap "
            "rule only outside such transforms (grad(vmap(f)) works, vmap(grad(f)) does not)")
    vals = tuple(a._value if m else a for a, m in zip(args, mine))
    in_dims = tuple(a._bdim if m else None for a, m in zip(args, mine))
    out, out_dims = cls.vmap(VmapInfo(level.size, level.randomness), in_dims, *vals, **kwargs)
    if isinstance(out, tuple):
        dims = out_dims if isinstance(out_dims, tuple) else (out_dims,) * len(out)
        if len(dims) != len(out):
            raise RuntimeError(f"vmap: {cls.__name__}.vmap returned {len(out)} outputs but "
                               f"{len(dims)} out_dims")
        return tuple(o if d is None or not isinstance(o, Tensor) else
                     batched(o, d % o.ndim, level) for o, d in zip(out, dims))
    if not isinstance(out_dims, int) and out_dims is not None:
        raise RuntimeError(f"vmap: {cls.__name__}.vmap returned one output, so out_dims must "
                           f"be an int or None, got {out_dims!r}")
    return out if out_dims is None else batched(out, out_dims % out.ndim, level)


def _ops(cls):
    """The Function's op, and the op of its outputs' projections (made once per class)."""
    ops = cls.__dict__.get("_gpugrad_ops")
    if ops is None:
        name = cls.__name__ + "Backward"
        ops = (registry.Op(cls.__name__, _forward, _vjp, _jvp, node_name=name, with_needs=True,
                           float_out=False),
               registry.Op(cls.__name__ + ".output", _project, _project_vjp, _project_jvp,
                           node_name=name, float_out=False))
        cls._gpugrad_ops = ops
    return ops


# ----------------------------------------------------------------------------- forward


def _run_forward(ctx, needs):
    """The user's forward on the original arguments, grad mode and forward AD off; the outputs
    are kept on ctx, and an exception raised by the user's code too (re-raised by apply)."""
    cls, args, kwargs = ctx._cls, ctx._args, ctx._kwargs
    ctx.needs_input_grad = needs
    prev, level = state.grad_enabled, fw_levels[0]
    state.grad_enabled = False
    fw_levels[0] = 0
    try:
        if ctx._setup:
            output = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, output)
        else:
            output = cls.forward(ctx, *args, **kwargs)
    except Exception as exc:
        ctx._error = exc
        output = None
    finally:
        state.grad_enabled, fw_levels[0] = prev, level
    ctx._single = isinstance(output, Tensor)
    ctx._tuple = isinstance(output, tuple)
    ctx._outputs = (output,) if not isinstance(output, tuple) else output
    ctx._meta = tuple((o._data.shape, o._data.dtype, B.xp_of(o._data))
                      if isinstance(o, Tensor) else None for o in ctx._outputs)
    return output


def _forward(xp, *arrays_and_ctx, needs):
    """The op's forward: the output's array, or an empty placeholder for several outputs (the
    Function's node is then recorded on it, and each output is a projection of it)."""
    ctx = arrays_and_ctx[-1]
    output = _run_forward(ctx, needs)
    if ctx._single:
        return output._data
    return xp.empty(0)


def _project(xp, placeholder, ctx, i):
    return ctx._outputs[i]._data


def _outputs(cls, ops, ctx, r):
    """What apply returns: the forward's outputs, its tensors given the recorded node (a dirty
    input is itself rebased onto it); the saved tensors moved onto the node."""
    outputs = ctx._outputs
    args = ctx._args
    non_diff = ctx._non_diff
    dirty = ctx._dirty
    for t in dirty:
        if not any(t is o for o in outputs) or not _is_input(t, args):
            raise RuntimeError(f"{cls.__name__}: a tensor marked dirty (mark_dirty) must be an "
                               "input of forward that forward also returns")
    node = r.grad_fn if r is not None else None
    public: list = []
    for i, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            public.append(o)
            continue
        if ctx._single:
            t = r
        elif (r._rg or getattr(r, "_fw", None) is not None) and not _is_input(o, non_diff) \
                and o._data.dtype.kind == "f":
            t = registry.apply(ops[1], (r,), (ctx, i))
        else:
            public.append(o)
            continue
        if _is_input(o, non_diff):
            t.detach_()
            if getattr(t, "_fw", None) is not None:
                del t._fw
        if _is_input(o, dirty):
            if o.grad_fn is None and o._rg and state.grad_enabled:
                raise RuntimeError(
                    f"{cls.__name__}: a leaf tensor that requires grad has been used in an "
                    "in-place operation (marked dirty in forward); clone it first")
            if t.grad_fn is not None:
                o.grad_fn, o._rg = t.grad_fn, True
            fw = getattr(t, "_fw", None)
            if fw:
                o._fw = fw
                track_all(o)  # a level's exit drops it from o too
            t = o
        else:
            for a in args:  # an input returned as it is: the output shares its version counter
                if isinstance(a, Tensor) and a._data is t._data:
                    t._vc = a._vc
        public.append(t)
    if node is not None:
        _save(ctx, node, outputs, public)
    return tuple(public) if ctx._tuple else public[0]


def _save(ctx, node, outputs, public):
    """The tensors of ``save_for_backward`` as the node's saved values, with their versions
    now (after forward). A saved output is kept as an alias sharing the returned output's
    version counter, without a grad_fn (no reference cycle); backward reattaches it."""
    saved, vers, spec = [], [], []
    for s in ctx.to_save:
        if s is None:
            spec.append(None)
            continue
        k = next((i for i, o in enumerate(outputs) if o is s), None)
        if k is not None:
            p = public[k]
            s = wrap(p._data)
            s._vc = p._vc
        spec.append((len(saved), k))
        saved.append(s)
        vers.append(s._vc[0])
    ctx._spec = tuple(spec)
    if saved:
        node.saved, node.vers = tuple(saved), tuple(vers)


# ----------------------------------------------------------------------------- backward


def _as_tensor(v):
    if isinstance(v, Tensor):
        return v
    if type(v) not in B._XP:
        v = B.numpy.asarray(v)
    return wrap(v)


def _unpack(ctx, node, args, graph):
    """``ctx.saved_tensors`` for a backward run: the saved tensors (as tensors), outputs
    reattached to the node when a graph is being built."""
    out = []
    for sp in ctx._spec:
        if sp is None:
            out.append(None)
            continue
        j, k = sp
        s = args[j]
        if not graph:
            s = _as_tensor(s)
        elif k is not None and state.grad_enabled:
            t = wrap(s._data)
            t._vc, t.grad_fn, t._rg = s._vc, node, True
            s = t
        out.append(s)
    return tuple(out)


def _vjp(F, g, args, out, n):
    """The op's vjp: the user's backward on the outputs' cotangents, its result checked."""
    ctx = n.params[0]
    cls = ctx._cls
    graph = F.builds_graph
    gs = (g,) if ctx._single else [None if type(s) is int else s for s in g]
    grads = []
    for gi, meta in zip(gs, ctx._meta):
        if gi is None:
            if ctx.materialize_grads and meta is not None:
                gi = wrap(meta[2].zeros(meta[0], meta[1]))
        elif not graph:
            gi = _as_tensor(gi)
        grads.append(gi)
    backward = cls.backward
    if cls.vjp is not Function.vjp:
        if backward is not Function.backward:
            raise RuntimeError(f"{cls.__name__}: implementing both 'backward' and 'vjp' is not "
                               "allowed; implement only one of them")
        backward = cls.vjp
    ctx._unpacked = _unpack(ctx, n, args, graph) if ctx._spec else ()
    try:
        result = backward(ctx, *grads)
    finally:
        ctx._unpacked = None
    return _checked(n, ctx, result, graph)


def _checked(n, ctx, result, graph):
    """The gradients returned by a backward, checked against the inputs (count, type, shape,
    dtype, device), summed down to the input's shape where they broadcast, as arrays unless
    a graph is being built."""
    name = n.op.node_name
    if not isinstance(result, tuple):
        result = (result,)
    nin = len(ctx._in_meta)
    if len(result) != nin:
        if len(result) < nin or any(r is not None for r in result[nin:]):
            raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                               f"(expected {nin}, got {len(result)})")
        result = result[:nin]
    grads = []
    for i, (gi, meta, need) in enumerate(zip(result, ctx._in_meta, n.needs)):
        if gi is None:
            grads.append(None)
            continue
        if not isinstance(gi, Tensor):
            raise TypeError(f"function {name} returned a {type(gi).__name__} as the gradient "
                            f"for input {i}; expected a Tensor or None")
        if meta is None:
            raise RuntimeError(f"function {name} returned a gradient different than None for "
                               f"input {i}, but the corresponding forward input was not a "
                               "Tensor")
        if not need:
            grads.append(None)
            continue
        shape, dtype, device = meta
        gs = tuple(gi._data.shape)
        if gs != shape:
            if not _expandable(shape, gs):
                raise RuntimeError(f"function {name} returned an invalid gradient for input {i}: "
                                   f"shape {gs}, but the input has shape {shape}")
            gi = sum_to(registry.TENSOR, gi, shape)
        if gi.dtype is not dtype:
            if not gi.dtype.is_floating_point:
                raise TypeError(f"function {name} returned a gradient of dtype {gi.dtype} for "
                                f"input {i} of dtype {dtype}; expected a floating-point "
                                "gradient")
            gi = gi.to(dtype)
        if gi.device != device:
            raise RuntimeError(f"function {name} returned a gradient on {gi.device} for input "
                               f"{i} on {device}")
        grads.append(gi if graph else gi._data)
    return grads


def _expandable(shape, to):
    """Whether `shape` broadcasts to `to` (its gradient may then be summed down to it)."""
    if len(shape) > len(to):
        return False
    return all(s == t or s == 1 for s, t in zip(shape[::-1], to[::-1]))


def _project_vjp(F, g, args, out, n):
    ctx, i = n.params
    slots = B.numpy.zeros(len(ctx._meta), dtype=object)  # 0: no cotangent for that output
    slots[i] = g
    return (slots,)


# ----------------------------------------------------------------------------- forward mode


def _jvp(F, ts, args, out, params):
    """The op's jvp: the user's jvp on the inputs' tangents (zeros where an input has none)."""
    ctx = params[0]
    cls = ctx._cls
    if ctx._error is not None:
        return None
    if cls.jvp is Function.jvp:
        raise NotImplementedError(
            f"{cls.__name__}: you must implement the jvp function (a @staticmethod "
            "jvp(ctx, *tangents)) to use this autograd.Function with forward mode AD")
    tangents = []
    for a, t in zip(args, ts):
        if t is None and isinstance(a, Tensor) and ctx.materialize_grads:
            t = wrap(B.xp_of(a._data).zeros_like(a._data))
        tangents.append(t)
    if ctx._fw_save is not None:
        ctx._unpacked = ctx._fw_save
    try:
        result = cls.jvp(ctx, *tangents)
    finally:
        ctx._unpacked = None
    if not isinstance(result, tuple):
        result = (result,)
    if len(result) != len(ctx._outputs):
        raise RuntimeError(f"{cls.__name__}.jvp returned {len(result)} tangents for "
                           f"{len(ctx._outputs)} outputs")
    for i, (t, meta) in enumerate(zip(result, ctx._meta)):
        if t is not None and (not isinstance(t, Tensor) or meta is None
                              or t._data.shape != meta[0]):
            got = f"shape {tuple(t._data.shape)}" if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(f"{cls.__name__}.jvp returned an invalid tangent for output {i}: "
                               f"{got}, expected " +
                               (f"shape {meta[0]}" if meta is not None else "None"))
    if ctx._single:
        return result[0]
    ctx._tangents = result
    return wrap(B.xp_of(out._data).empty(0))  # the placeholder's tangent


def _project_jvp(F, ts, args, out, params):
    ctx, i = params
    t = ctx._tangents[i]
    if t is None or t.dtype is out.dtype:
        return t
    return t.to(out.dtype)


# ----------------------------------------------------------------------------- once_differentiable


class _DelayedError(Function):
    """Marks a gradient computed without a graph: differentiating it again raises."""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def once_differentiable(fn):
    """Decorate a Function's ``backward`` that is not itself differentiable (written with
    operations autograd cannot see, e.g. on raw arrays): it runs with grad mode off, and a
    double backward through its gradients raises instead of silently giving zeros.

    Example::

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            ...
    """
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = state.grad_enabled
        state.grad_enabled = False
        try:
            outputs = fn(ctx, *args)
        finally:
            state.grad_enabled = prev
        if not prev or not any(isinstance(a, Tensor) and a._rg for a in args):
            return outputs
        single = not isinstance(outputs, tuple)

        def delayed(v):
            if not isinstance(v, Tensor) or not v.dtype.is_floating_point:
                return v
            return _DelayedError.apply(v.detach().requires_grad_())

        return delayed(outputs) if single else tuple(delayed(v) for v in outputs)
    return wrapper
