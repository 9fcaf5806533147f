"""The op registry: one `Op` per primitive, with its forward, vjp and jvp side by side; the
public names the ops layer declares; and `apply`, the one way an op runs.

A rule is written once, against a namespace ``F`` (``gpugrad.ops.namespace``): the array
module's functions on raw arrays when backward builds no graph, gpugrad's own ops on tensors
under ``create_graph`` or forward mode, so that the same formula is differentiable again.

- ``fwd(xp, *arrays, *params)``: the forward on arrays (or the name of an array-module
  function, e.g. ``"sin"``). With ``residuals=True`` it returns ``(out, residuals)`` and the
  residuals are kept on the node for the vjp; with ``with_needs=True`` it gets ``needs=`` (which
  inputs will want a gradient) to compute only what they use.
- ``vjp(F, g, args, out, node)``: one cotangent per input, None where not needed (``node.needs``).
  ``args`` are the saved inputs (None where not saved), ``out`` the saved output. With
  ``unbroadcast=True`` the mechanism sums each cotangent down to its input's shape.
- ``jvp(F, ts, args, out, params)``: the output's tangent from the inputs' tangents (None
  where an input has none). ``linear=True`` derives it: the op applied to the tangents.
- ``batch(op, values, dims, params, level)``: the batching rule for ``vmap``
  (``gpugrad.ops.batching``): the op on whole batches ``values`` (batched along ``dims``, None
  for an input that is the same for every example), returning ``(out, out_dim)``.
- ``kernels={"cuda": fn}``: a device-specific forward with ``fwd``'s signature; it may return
  NotImplemented for inputs it does not take, and the portable forward runs instead.
- ``node_name``: PyTorch's name of the node (``grad_fn.name()``); by default the op's name in
  CamelCase + ``Backward0``; a function of the params where PyTorch's name depends on them
  (computed only when asked for). A composite, or a public overload of a primitive, labels its
  result's node with PyTorch's name for it: `named`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .. import backend as B
from ..core import collector
from ..core.batched import BatchedTensor, batched
from ..core.node import Node, sequence, user_frame
from ..core.state import anomaly, batch_levels, duals, fw_levels, state, track, track_all
from ..core.tensor import Tensor, live_views, wrap
from .namespace import ArrayMath, TensorMath

OPS: dict[str, Op] = {}

_XP = B._XP
_ndarray = B.ndarray
_new = object.__new__
_FLOATS = frozenset(d.np for d in B.DTYPES if d.is_floating_point)


class Op:
    """A primitive: forward, vjp and jvp, and what the vjp needs saved (see the module doc).

    ``save[i]`` lists the inputs that input i's gradient needs ("all": every input);
    ``save_out`` says the vjp uses the output. Only what the needed gradients use is saved.
    """

    __slots__ = ("name", "node_name", "fwd", "vjp", "jvp", "save", "save_out", "masks", "nin",
                 "kernels", "impls", "promote", "floating", "residuals", "with_needs",
                 "unbroadcast", "writes_out", "portable", "plain", "np_impl", "float_out", "batch")

    def __init__(self, name, fwd, vjp=None, jvp=None, *, save=None, save_out=False, nin=1,
                 node_name=None, kernels=None, promote=None, floating=False, residuals=False,
                 with_needs=False, unbroadcast=False, writes_out=False, float_out=True,
                 batch=None):
        self.name = name
        self.batch = batch
        self.node_name = node_name or (
            "".join(p.capitalize() for p in name.split("_")) + "Backward0")
        if isinstance(fwd, str):  # an array-module function of the same signature
            fname = fwd
            self.fwd = lambda xp, *a, **k: getattr(xp, fname)(*a, **k)
            self.portable = lambda xp: getattr(xp, fname)
            writes_out = True
        else:
            self.fwd = fwd
            self.portable = None
        self.vjp = vjp
        self.jvp = jvp
        self.save = save
        self.save_out = save_out
        self.masks: dict = {}
        self.nin = nin
        self.kernels = kernels or {}
        self.impls: dict = {}
        self.promote = promote
        self.floating = floating
        self.residuals = residuals
        self.with_needs = with_needs
        self.unbroadcast = unbroadcast
        self.writes_out = writes_out
        # No residuals and no needs for the forward: apply's fast paths may run it.
        self.plain = not (residuals or with_needs)
        # Float inputs give a float output (only then is a node recorded): False for casts.
        self.float_out = float_out
        self.np_impl = self.impl(_ndarray)

    def __repr__(self):
        return f"<Op {self.name}>"

    def impl(self, array_type) -> Callable:
        """The forward for arrays of `array_type`, the array module bound: the device kernel
        declared for its device, else the portable forward. Cached per array type."""
        f = self.impls.get(array_type)
        if f is None:
            xp = _XP[array_type]
            portable = self.portable(xp) if self.portable else _bind(self.fwd, xp)
            kernel = self.kernels.get("cpu" if array_type is _ndarray else "cuda")
            f = portable if kernel is None or not _kernels_on[0] else \
                _with_fallback(_bind(kernel, xp), portable)
            self.impls[array_type] = f
        return f

    def mask(self, needs):
        """Which inputs to save, given which inputs need a gradient (cached per pattern)."""
        m = self.masks.get(needs)
        if m is None:
            want: set = set()
            save = self.save
            for i, nd in enumerate(needs):
                if nd:
                    want.update(range(len(needs)) if save == "all" else (save[i] if save else ()))
            m = self.masks[needs] = tuple(i in want for i in range(len(needs)))
        return m


def _bind(fn, xp):
    def bound(*args, **kwargs):
        return fn(xp, *args, **kwargs)
    return bound


def _with_fallback(kernel, portable):
    def forward(*args, **kwargs):
        r = kernel(*args, **kwargs)
        return portable(*args, **kwargs) if r is NotImplemented else r
    return forward


# Device kernels in use (tests switch them off to compare with the portable forwards).
_kernels_on = [True]


def use_kernels(on: bool) -> None:
    """Switch the declared device kernels on or off (for tests against the portable forwards)."""
    _kernels_on[0] = bool(on)
    for op in OPS.values():
        if op.kernels:
            op.impls.clear()
            op.np_impl = op.impl(_ndarray)


def defop(name, fwd, vjp=None, jvp=None, **kw) -> Op:
    """Register a primitive (see the module doc for the rules' signatures); returns the `Op`."""
    if name in OPS:
        raise ValueError(f"op {name!r} is already registered")
    op = OPS[name] = Op(name, fwd, vjp, jvp, **kw)
    return op


def named(out: Tensor, name: str, *inputs) -> Tensor:
    """`out` with its node shown as `name` (``grad_fn.name()``, its repr and the tensor's):
    PyTorch's name for the public op that made it, where that op is a composite (``mean``:
    MeanBackward0, not the DivBackward0 of sum / n) or an overload of a primitive (``x.sum(0)``:
    SumBackward1). Only the name changes: the node and the composite's inner nodes run as before.
    A result that is one of `inputs` (a no-op returned its input) keeps its node's name."""
    n = out.grad_fn
    if n is not None:
        for x in inputs:
            if x is out or getattr(x, "grad_fn", None) is n:
                return out
        n.label = name
    return out


# ----------------------------------------------------------------------------- public names


class Public:
    """One public name of the ops layer: a function ``gpugrad.<name>`` and/or a Tensor method,
    with an in-place variant ``<name>_`` where declared; `group` is its README section."""

    __slots__ = ("name", "fn", "group", "function", "method", "inplace", "first_tensor")

    def __init__(self, name, fn, group, function, method, inplace, first_tensor):
        self.name, self.fn, self.group = name, fn, group
        self.function, self.method, self.inplace = function, method, inplace
        self.first_tensor = first_tensor


PUBLIC: dict[str, Public] = {}


_Fn = TypeVar("_Fn", bound=Callable)


def public(group: str, *, function=True, method=True, inplace=False, aliases=(), name=None,
           first_tensor=True) -> Callable[[_Fn], _Fn]:
    """Declare a public op: ``gpugrad.<name>`` (when `function`), ``Tensor.<name>`` (when
    `method`), ``Tensor.<name>_`` (when `inplace`; the function must take ``out=``), and the
    same for each of `aliases`. `first_tensor`: the function's first argument must be a
    tensor (checked for ``gpugrad.<name>``; methods have self)."""
    def declare(fn):
        for n in (name or fn.__name__, *aliases):
            if n in PUBLIC:
                raise ValueError(f"public name {n!r} is declared twice")
            PUBLIC[n] = Public(n, fn, group, function, method, inplace, first_tensor)
        return fn
    return declare


# ----------------------------------------------------------------------------- errors


def _describe(args):
    return ", ".join(f"{tuple(a._data.shape)} {a.dtype.name} on {a.device}"
                     if isinstance(a, Tensor) else repr(a) for a in args)


class LinAlgError(RuntimeError):
    """A linear-algebra op met a matrix it cannot handle (singular, not positive-definite):
    ``torch.linalg.LinAlgError``, with PyTorch's messages."""


def op_error(name, exc, args):
    """Turn an array-library error inside an op into one that names the op and its inputs."""
    if isinstance(exc, LinAlgError):  # raised by the op itself, already in PyTorch's words
        return exc
    msg = str(exc)
    if "broadcast" in msg:
        shapes = " and ".join(str(tuple(a._data.shape)) for a in args if isinstance(a, Tensor))
        return RuntimeError(f"{name}: shapes {shapes} cannot be broadcast together "
                            f"(inputs: {_describe(args)})")
    kind = type(exc) if isinstance(exc, (IndexError, TypeError, ZeroDivisionError)) else \
        RuntimeError
    return kind(f"{name}: {msg} (inputs: {_describe(args)})")


def device_error(name, a, b):
    return RuntimeError(
        f"{name}: expected all tensors on the same device, but found one on {a.device} and "
        f"one on {b.device}; move one with .to(device), .cpu() or .cuda()")


# ----------------------------------------------------------------------------- dtypes


def promote(name, a, b):
    """Bring two operands (tensor or scalar) to PyTorch's common dtype, casting tensors if needed.

    Python scalars never upcast a tensor of their own category; an integer tensor meeting a
    float (tensor or scalar) becomes the float dtype. Casts are differentiable ops.
    """
    if isinstance(a, Tensor):
        ad = a._data
        if isinstance(b, Tensor):
            bd = b._data
            if ad.dtype == bd.dtype:
                return a, b
            r = B.result_type(ad, bd)
            return (a if ad.dtype == r else a.to(B._BY_NP[r]),
                    b if bd.dtype == r else b.to(B._BY_NP[r]))
        if b is None:
            return a, b
        b = _scalar(name, b)
        r = B.scalar_result_type(ad, b)
        return (a if ad.dtype == r else a.to(B._BY_NP[r])), b
    if not isinstance(b, Tensor):
        if a is None:
            return a, b
        raise TypeError(f"{name}: expected at least one tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    b2, a2 = promote(name, b, a)
    return a2, b2


def _scalar(name, s):
    if isinstance(s, (bool, int, float)):
        return s
    if isinstance(s, B.SCALAR_TYPES):
        return B.py_scalar(s)
    raise TypeError(f"{name}: expected a tensor or a number, got {type(s).__name__}")


def _promoted(op, args):
    """`args` with the inputs named by ``op.promote`` brought to their common dtype."""
    i, j = op.promote
    a, b = args[i], args[j]
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._data.dtype == b._data.dtype:
        return args
    if isinstance(a, Tensor) and type(b) is float and a._data.dtype.kind == "f":
        return args
    a, b = promote(op.name, a, b)
    args = list(args)
    args[i], args[j] = a, b
    return tuple(args)


# ----------------------------------------------------------------------------- apply


class Target:
    """The target of an in-place method (``x.add_(y)`` passes ``out=Target(x, "add_")``): the
    tensor written into, and the method's name for errors."""

    __slots__ = ("tensor", "name")

    def __init__(self, tensor, name):
        self.tensor, self.name = tensor, name


def apply(op: Op, args: tuple, params: tuple = (), out: Tensor | Target | None = None) -> Tensor:
    """Run `op` on `args` (tensors; Python scalars or None where the op allows) with static
    `params`, the one way any op runs:

    1. check that the tensors share a device, and promote dtypes as PyTorch does;
    2. run the forward for the inputs' array type (a device kernel where one is declared);
    3. record a node when grad mode is on and an input requires grad, saving only what the
       needed gradients use (and a fused forward's residuals);
    4. push forward-mode tangents through the jvp when a dual level is open.

    With `out` (a tensor, or a `Target`), the result is written into `out`'s storage and `out`
    takes the new node: the in-place variant of the op. Without a graph or tangent to record,
    an op whose forward takes ``out=`` writes there directly, with no temporary.
    """
    if batch_levels and _any_batched(args, params):  # inside vmap, on a batch
        return apply_batched(op, args, params, out)
    # Fast paths (one tensor; two tensors of one dtype on the CPU, or a tensor and a float):
    # the general path below, without the loops that find and reconcile the tensors.
    arrays: Any
    if out is None and op.plain:
        impl = None
        if len(args) == 1:
            x = args[0]
            if isinstance(x, Tensor):
                xd = x._data
                if not op.floating or xd.dtype in _FLOATS:
                    tx = type(xd)
                    impl = op.np_impl if tx is _ndarray else (op.impls.get(tx) or op.impl(tx))
                    arrays = (xd,)
                    rg = x._rg
        elif len(args) == 2:
            a, b = args
            if isinstance(a, Tensor):
                ad = a._data
                tx = type(ad)
                if isinstance(b, Tensor):
                    bd = b._data
                    if type(bd) is tx is _ndarray and bd.dtype == ad.dtype:
                        impl = op.np_impl
                        arrays = (ad, bd)
                        rg = a._rg or b._rg
                elif type(b) is float and ad.dtype in _FLOATS:
                    impl = op.np_impl if tx is _ndarray else (op.impls.get(tx) or op.impl(tx))
                    arrays = (ad, b)
                    rg = a._rg
        if impl is not None:
            try:
                r = impl(*arrays, *params) if params else impl(*arrays)
            except Exception as exc:
                raise op_error(op.name, exc, args) from None
            if type(r) is not tx and type(r) not in _XP:  # NumPy: scalars for 0-d results
                r = _XP[tx].asarray(r)
            t = _new(Tensor)
            t._data = r
            t.grad_fn = None
            t._rg = False
            t._vc = [0]
            if rg and op.vjp is not None and state.grad_enabled and (
                    op.float_out or r.dtype in _FLOATS):
                _record(op, t, args, params, None)
            if fw_levels[0]:
                _push_tangent(op, t, args, params)
            return t
    elif out is not None and op.writes_out and not state.grad_enabled and not fw_levels[0]:
        # In place with nothing to record (an optimizer's update): straight into the storage.
        target: Tensor = out.tensor if isinstance(out, Target) else out
        od = target._data
        if type(od) is _ndarray:
            if len(args) == 2 and not params:  # x.add_(y), x.mul_(0.9): no list, no unpacking
                a, b = args
                if a is target:
                    b = b._data if isinstance(b, Tensor) else b
                    if type(b) is _ndarray or type(b) is float:
                        try:
                            op.np_impl(od, b, out=od)
                        except Exception as exc:
                            name = out.name if isinstance(out, Target) else op.name + "_"
                            raise _inplace_error(name, target, args, exc) from None
                        target._vc[0] += 1
                        return target
            arrays = []
            for a in args:
                if isinstance(a, Tensor):
                    if type(a._data) is not _ndarray:
                        break
                    arrays.append(a._data)
                else:
                    arrays.append(a)
            else:
                name = out.name if isinstance(out, Target) else op.name + "_"
                return _write(name, op.np_impl, arrays, params, args, target, True)
    first = None
    rg = False
    for a in args:
        if isinstance(a, Tensor):
            if first is None:
                first = a
            elif type(a._data) is not type(first._data) or (
                    type(first._data) is not _ndarray and not B.same_device(a._data, first._data)):
                raise device_error(op.name, first, a)
            if a._rg:
                rg = True
    if first is None:
        raise TypeError(f"{op.name}: expected a tensor, got "
                        f"{', '.join(type(a).__name__ for a in args)}")
    if op.promote is not None:
        args = _promoted(op, args)
        first = next(a for a in args if isinstance(a, Tensor))
    elif op.floating and first._data.dtype.kind != "f":
        args = tuple(a.to(B.get_default_dtype()) if isinstance(a, Tensor) else a for a in args)
        first = args[0]
    tx = type(first._data)
    impl = op.np_impl if tx is _ndarray else (op.impls.get(tx) or op.impl(tx))
    arrays = [a._data if isinstance(a, Tensor) else a for a in args]
    record = rg and op.vjp is not None and state.grad_enabled
    tangents = fw_levels[0] and any(getattr(a, "_fw", None) for a in args)
    if out is not None:
        name = op.name + "_"
        if type(out) is Target:
            out, name = out.tensor, out.name
        refuse_overlap(name, out)
        check_inplace(name, out, args)
        if record or tangents:
            return _inplace_recorded(op, args, params, out, name)
        return _write(name, impl, arrays, params, args, out, op.writes_out)
    try:
        if op.with_needs:
            needs = tuple([record and isinstance(a, Tensor) and a._rg for a in args])
            r = impl(*arrays, *params, needs=needs)
        else:
            r = impl(*arrays, *params)
    except Exception as exc:
        raise op_error(op.name, exc, args) from None
    residuals = None
    if op.residuals:
        r, residuals = r
    if type(r) is not tx and type(r) not in _XP:  # NumPy: scalars for 0-d results
        r = _XP[tx].asarray(r)
    t = wrap(r)
    if record and (op.float_out or r.dtype in _FLOATS):
        _record(op, t, args, params, residuals)
    if tangents:
        _push_tangent(op, t, args, params)
    return t


# ----------------------------------------------------------------------------- vmap


def _any_batched(args, params):
    for a in args:
        if type(a) is BatchedTensor:
            return True
    for p in params:  # index tensors are params (gather, scatter_add, getitem, index_put)
        if type(p) is BatchedTensor:
            return True
        if type(p) is tuple:
            for q in p:
                if type(q) is BatchedTensor:
                    return True
    return False


def _level_of(args, params):
    """The innermost vmap level among the batched inputs (args and index params)."""
    level = None
    for a in (*args, *params, *(q for p in params if type(p) is tuple for q in p)):
        if type(a) is BatchedTensor and (level is None or a._level.id > level.id):
            level = a._level
    return level


def no_rule(op):
    return RuntimeError(
        f"vmap: the op {op.name!r} has no batching rule, so it cannot run inside vmap (there is "
        "no per-example loop fallback); add one to its registry entry (Op.batch, see "
        "gpugrad/ops/batching.py)")


def apply_batched(op: Op, args: tuple, params: tuple, out=None) -> Tensor:
    """`apply` inside vmap, with a batched input: the op's batching rule runs once on the
    values of the innermost level's batched inputs (the others are the same for every
    example), and the result is batched at that level. Autograd and forward AD record on
    the logical tensors as `apply` does; the rule's own ops record on the values."""
    if out is not None:
        return _inplace_batched(op, args, params, out)
    rule = op.batch
    if rule is None:
        raise no_rule(op)
    level = _level_of(args, params)
    if getattr(rule, "logical", False):  # the op as other ops on the logical tensors
        return rule(op, args, params)
    vals: list = []
    dims: list[int | None] = []
    size = level.size
    for a in args:
        if type(a) is BatchedTensor and a._level is level:
            v = a._value
            if v._data.shape[a._bdim] != size:
                raise RuntimeError(f"vmap: {op.name}: an input has batch size "
                                   f"{v._data.shape[a._bdim]}, expected {size}")
            vals.append(v)
            dims.append(a._bdim)
        else:
            vals.append(a)
            dims.append(None)
    r, d = rule(op, vals, dims, params, level)
    if d is None:
        raise RuntimeError(f"vmap: {op.name}: the batching rule returned no batch dim")
    t = batched(r, d, level)
    if state.grad_enabled and op.vjp is not None and (op.float_out or t._data.dtype in _FLOATS):
        for a in args:
            if isinstance(a, Tensor) and a._rg:
                _record(op, t, args, params, None)
                if op.save_out:
                    t.grad_fn.out_data = t  # the engine rebuilds the batched output from it
                break
    if fw_levels[0]:
        _push_tangent(op, t, args, params)
    return t


def _inplace_batched(op, args, params, out):
    """An in-place op inside vmap: the out-of-place result written into the target's values
    (through an in-place write at the level below), and the target takes its logical node."""
    name = op.name + "_"
    target = out
    if type(out) is Target:
        target, name = out.tensor, out.name
    check_inplace(name, target, args)
    if type(target) is BatchedTensor and (getattr(target, "_base", None) is not None
                                          or live_views(target)):
        raise RuntimeError(
            f"vmap: {name}: in place on a view of a batched tensor (or on a batched tensor "
            "that has views) is not supported inside vmap; clone() it first or use the "
            "out-of-place op")
    old = target
    if type(target) is BatchedTensor and op.save is not None and (
            target._rg or getattr(target, "_fw", None)):
        old = batched(target._value.clone(), target._bdim, target._level)  # what backward reads
        old.grad_fn, old._rg = target.grad_fn, target._rg
        if getattr(target, "_fw", None):
            old._fw = target._fw
    r = apply(op, tuple([old if a is target else a for a in args]), params)
    if type(target) is not BatchedTensor or type(r) is not BatchedTensor or \
            target._level is not r._level:
        raise RuntimeError(
            f"vmap: {name}: in place into a tensor that is the same for every example, from "
            "a batched value, is not possible (the result has one value per example); use "
            "the out-of-place op")
    if r._data.shape != target._data.shape:
        raise RuntimeError(f"{name}: the result has shape {tuple(r.shape)}, which does not "
                           f"match the in-place target's shape {tuple(target.shape)}")
    if r.dtype is not target.dtype:
        if not B.numpy.can_cast(r._data.dtype, target._data.dtype, "same_kind"):
            raise RuntimeError(f"{name}: result type {r.dtype} can't be cast to the in-place "
                               f"target's dtype {target.dtype}")
        r = r.to(target.dtype)
    v = r._value  # (r is batched at the target's level: the target is one of its inputs)
    if r._bdim != target._bdim:
        v = apply(OPS["permute"], (v,), (_move(v._data.ndim, r._bdim, target._bdim),))
    apply(OPS["index_put"], (target._value, v), ((Ellipsis,), False),
          Target(target._value, name))
    target._vc[0] += 1
    _take_graph(target, r)
    return target


def _move(ndim, src, dst):
    """The permutation that moves dim `src` to position `dst`."""
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return tuple(perm)


def check_inplace(name, t, args=()):
    """Refuse an in-place change of `t` that would corrupt the graph: of a leaf that requires
    grad (outside ``no_grad``), or of a view of a tensor that requires grad."""
    if not state.grad_enabled:
        return
    if fw_levels[0] and any(getattr(a, "_fw", None) for a in (t, *args)):
        return
    if t.grad_fn is None and t._rg:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad is being used in an in-place operation; "
            "wrap the update in `with gpugrad.no_grad():` (as optimizers do), or use an "
            "out-of-place op")
    base = getattr(t, "_base", None)
    if base is not None and base._rg:
        if base.grad_fn is None:
            raise RuntimeError(
                f"{name}: a view of a leaf tensor that requires grad (shape "
                f"{tuple(base.shape)}) is being used in an in-place operation; wrap the update "
                "in `with gpugrad.no_grad():`, or clone the view first")
        if not t._rg:
            raise RuntimeError(
                f"{name}: a view was created in no_grad mode and is being modified in place "
                "with grad mode enabled; make both the view and the in-place change inside "
                "no_grad (not tracked), or both outside (tracked)")


OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a "
           "single memory location. Please clone() the tensor before performing the operation.")


def overlapping(a) -> bool:
    """Whether elements of array `a` share memory: a stride of 0 along a dim longer than 1 (an
    ``expand``/``broadcast_to`` view), PyTorch's "internal overlap"."""
    return 0 in a.strides and a.size > 1 and any(
        s == 0 and n > 1 for s, n in zip(a.strides, a.shape))


def refuse_overlap(name, t):
    """Refuse an in-place write into tensor `t` when its elements share memory, with PyTorch's
    error: NumPy refuses to write into a broadcast view (read-only), but CuPy has no read-only
    arrays and would write each shared element from many threads at once (a race). Every
    in-place op on a GPU (and on the CPU, outside the no-graph fast path in `apply`, where
    NumPy's read-only flag already refuses) passes here before writing."""
    a = t._data
    if 0 in a.strides and overlapping(a):
        raise RuntimeError(f"{name}: {OVERLAP}")


def _write(name, impl, arrays, params, args, out, writes_out):
    """The forward's result written into `out`'s storage, recording nothing."""
    od = out._data
    try:
        if writes_out:
            impl(*arrays, *params, out=od)
        else:
            r = impl(*arrays, *params)
            _check_into(od, r)
            B.xp_of(od).copyto(od, r, casting="same_kind")
    except Exception as exc:
        raise _inplace_error(name, out, args, exc) from None
    out._vc[0] += 1
    return out


def _check_into(od, r):
    if r.shape != od.shape:
        raise ValueError(f"the result has shape {tuple(r.shape)}, which does not match the "
                         f"in-place target's shape {tuple(od.shape)}")
    if r.dtype != od.dtype and not B.numpy.can_cast(r.dtype, od.dtype, "same_kind"):
        raise TypeError(f"result type {B.dtype_of(r)} can't be cast to the in-place target's "
                        f"dtype {B.dtype_of(od)}")


def _inplace_error(name, out, args, exc):
    msg = str(exc)
    if isinstance(exc, IndexError):
        return IndexError(f"{name}: {msg} (tensor shape {tuple(out._data.shape)})")
    if "read-only" in msg:
        if overlapping(out._data):  # (NumPy's flag of a broadcast view)
            return RuntimeError(f"{name}: {OVERLAP}")
        return RuntimeError(f"{name}: cannot write into this tensor ({msg}); clone() it first")
    if "broadcast" in msg or "shape" in msg:
        return RuntimeError(f"{name}: the result does not fit the in-place target of shape "
                            f"{tuple(out._data.shape)} ({msg}; inputs: {_describe(args)})")
    if "cast" in msg:
        rt = next((a.dtype for a in args if isinstance(a, Tensor)), "the result's")
        return RuntimeError(f"{name}: result type {rt} can't be cast to the in-place target's "
                            f"dtype {out.dtype}")
    return RuntimeError(f"{name}: {msg} (inputs: {_describe(args)})")


def commit(name, target, r):
    """Write result `r` into `target`'s storage and give `target` the node that made `r`; when
    `target` is a view, its base (and every view of it) takes the graph of the write."""
    td = target._data
    try:
        _check_into(td, r._data)
        B.xp_of(td).copyto(td, r._data, casting="same_kind")
    except (TypeError, ValueError) as exc:
        raise _inplace_error(name, target, (r,), exc) from None
    target._vc[0] += 1
    if r.dtype is not target.dtype and (r._rg or getattr(r, "_fw", None)):
        r = apply(OPS["to_dtype"], (r,), (target.dtype, r.dtype))
    base = getattr(target, "_base", None)
    if base is not None:
        if r._rg or getattr(r, "_fw", None):
            _rebase(base, target, r)
        return target
    _take_graph(target, r)
    if getattr(target, "_views", None):
        _refresh_views(target)
    return target


def _take_graph(target, r):
    if r.grad_fn is not None:
        target.grad_fn = r.grad_fn
        target._rg = True
    fw = getattr(r, "_fw", None)
    if fw:
        target._fw = fw
        track_all(target)


def _inplace_recorded(op, args, params, out, name):
    """In place with a graph or tangents to record: the out-of-place op on the old value (on a
    copy of it when the op's backward saves it, so that the write does not change what the
    backward reads), written into `out` by `commit`."""
    old = out._alias()
    if op.save is not None:
        needs = tuple([isinstance(a, Tensor) and a._rg for a in args])
        if any(m and a is out for a, m in zip(args, op.mask(needs))):
            old._data = out._data.copy()
            old._vc = [0]
    return commit(name, out, apply(op, tuple([old if a is out else a for a in args]), params))


def _rebase(base, view, r):
    """After `r` was written into `view`: `base` becomes ``base with the view's elements
    replaced by r`` (PyTorch's CopySlices), and its views are rebuilt on that graph."""
    old = base._alias()
    args = (old, r)
    params = (_positions(base, view._view),)
    if r._rg and state.grad_enabled:
        _record(VIEW_SCATTER, base, args, params, None)
    if fw_levels[0]:
        _push_tangent(VIEW_SCATTER, base, args, params)
    _refresh_views(base)


def _positions(base, steps):
    """The flat positions in `base` of a view's elements, as an array of the view's shape:
    the view's steps replayed on ``arange``, so any layout works."""
    bd = base._data
    pos = B.xp_of(bd).arange(bd.size).reshape(bd.shape)
    for vop, vparams in steps:
        pos = vop.impl(type(pos))(pos, *vparams)
    return pos


def _refresh_views(base):
    """Give every live view of `base` the graph (and tangent) of its steps replayed on
    `base`, so that later uses of a view see in-place changes made through the base or
    another view."""
    if not (base._rg or getattr(base, "_fw", None)):
        return
    for v in live_views(base):
        t = base
        for vop, vparams in v._view:
            t = apply(vop, (t,), vparams)
        _take_graph(v, t)


def _scatter_fwd(xp, base, src, pos):
    out = base.copy()
    out.reshape(-1)[pos] = src
    return out


def _scatter_vjp(F, g, args, out, n):
    pos = n.params[0]
    nb, nr = n.needs
    gb = F.view_scatter(g, F.zeros(pos.shape, g), pos) if nb else None
    return gb, (F.view_take(g, pos, tuple(g.shape)) if nr else None)


def _scatter_jvp(F, ts, args, out, params):
    tb, tr = ts
    return F.view_scatter(F.zeros_like(args[0]) if tb is None else tb,
                          F.zeros_like(args[1]) if tr is None else tr, *params)


def _take_vjp(F, g, args, out, n):
    pos, shape = n.params
    return (F.view_scatter(F.zeros(shape, g), g, pos),)


def _take_jvp(F, ts, args, out, params):
    return F.view_take(ts[0], *params)


# A base after an in-place write into one of its views: the base with the view's elements
# (at flat positions `pos`) replaced. Linear in (base, src); its transpose takes the elements.
VIEW_SCATTER = defop("view_scatter", _scatter_fwd, _scatter_vjp, _scatter_jvp, nin=2,
                     node_name="CopySlices")
VIEW_TAKE = defop("view_take", lambda xp, x, pos, shape: x.reshape(-1)[pos], _take_vjp,
                  _take_jvp, node_name="AsStridedBackward0")


def _record(op, out, args, params, residuals):
    """Attach a Node to `out` for `op` applied to `args` (some of which require grad)."""
    n = _new(Node)
    n.op = op
    n.seq = seq = next(sequence)
    if not seq & _EVERY:  # (a large graph growing: full collections wait, core/collector.py)
        collector.checkpoint(n)
    n.params = params
    if residuals is not None:
        n.residuals = residuals
    if len(args) == 1:  # (one input: no mask to look up)
        x = args[0]
        n.next = (x.grad_fn or x,)
        n.needs = _ONE
        if op.save is not None:
            n.saved = args
            n.vers = (x._vc[0],)
        else:
            n.saved = n.vers = None
    elif len(args) == 2:  # (two inputs: the common binary case, without comprehensions)
        a, b = args
        ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
        ea = (a.grad_fn or a) if (ta and a._rg) else None
        eb = (b.grad_fn or b) if (tb and b._rg) else None
        n.next = (ea, eb)
        needs = n.needs = (ea is not None, eb is not None)
        mask = op.masks.get(needs) or op.mask(needs)
        ma, mb = mask
        if ma or mb:
            n.saved = (a if ma else None, b if mb else None)
            n.vers = (a._vc[0] if (ma and ta) else None, b._vc[0] if (mb and tb) else None)
        else:
            n.saved = n.vers = None
        if op.unbroadcast:
            shape = out._data.shape
            sa = a._data.shape if ta else None
            sb = b._data.shape if tb else None
            if (sa is not None and sa != shape) or (sb is not None and sb != shape):
                n.shapes = (sa, sb)
    else:
        edges = n.next = tuple([(a.grad_fn or a) if (isinstance(a, Tensor) and a._rg) else None
                                for a in args])
        needs = n.needs = tuple([e is not None for e in edges])
        mask = op.masks.get(needs) or op.mask(needs)
        if True in mask:
            n.saved = tuple([a if m else None for a, m in zip(args, mask)])
            n.vers = tuple([a._vc[0] if (m and isinstance(a, Tensor)) else None
                            for a, m in zip(args, mask)])
        else:
            n.saved = n.vers = None
        if op.unbroadcast:
            shapes = _shapes(args, out)
            if shapes is not None:
                n.shapes = shapes
    if op.save_out:
        n.out_data = out._data
        n.out_vc = out._vc
    else:
        n.out_data = None
    if anomaly[0]:
        n.trace = user_frame()
    out.grad_fn = n
    out._rg = True


_ONE = (True,)
_EVERY = collector.EVERY - 1


def _shapes(args, out):
    """The inputs' shapes, where some input's shape differs from the output's (else None)."""
    shape = out._data.shape
    shapes = tuple([a._data.shape if isinstance(a, Tensor) else None for a in args])
    for s in shapes:
        if s is not None and s != shape:
            return shapes
    return None


def _push_tangent(op, out, args, params):
    """Give `out` its tangent on each visible level where an input carries one: level k's by
    the jvp rule on tensors that show levels < k only (fw_levels[0] = k while it runs), from
    the outermost in, so that the rule's own ops push the tangents of the outer levels onto
    level k's tangent (the mixed derivatives) and no level sees another's perturbation."""
    fws = [getattr(a, "_fw", None) for a in args]
    if not any(fws) or not out.dtype.is_floating_point:
        return
    n = fw_levels[0]
    fw: dict = {}
    for k in range(n):
        ts = tuple([f.get(k) if f else None for f in fws])
        for t in ts:
            if t is not None:
                break
        else:
            continue
        if op.jvp is None:
            if op.vjp is not None:
                raise RuntimeError(f"{op.name}: no forward-mode (jvp) rule")
            return
        fw_levels[0] = k
        try:
            t = op.jvp(TENSOR, ts, args, out, params)
        finally:
            fw_levels[0] = n
        if t is not None:
            out._fw = fw = {**fw, k: t}  # before level k + 1's rule, which reads `out`
            track(out, k)
    if fw and op.save_out and out.grad_fn is not None:
        # The engine rebuilds the output from the node: keep its tangents there too, so that
        # forward-over-reverse sees them (with the levels' tokens, to reuse them only there).
        out.grad_fn.out_fw = (duals[:n], fw)


# The namespaces rules are written against: gpugrad's ops on tensors, and per array type the
# array module's functions (with gpugrad's signatures) on raw arrays.
TENSOR = TensorMath(OPS, apply)
_ARRAY: dict = {}


def array_math(array_type) -> ArrayMath:
    """The namespace of raw arrays of `array_type` (NumPy or CuPy; their scalars too)."""
    F = _ARRAY.get(array_type)
    if F is None:
        xp = _XP.get(array_type)
        if xp is None:
            if not issubclass(array_type, B.numpy.generic):
                raise TypeError(f"backward: a rule returned a {array_type.__name__}, not an array")
            xp = B.numpy
        F = _ARRAY[array_type] = ArrayMath(xp, OPS)
    return F
