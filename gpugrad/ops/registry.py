"""The op registry: one `Op` per primitive, with forward, vjp and jvp side by side, and `apply`.

`apply` is the only place where an op's forward runs: it checks devices, promotes dtypes
as PyTorch does, calls the forward on raw arrays, and records a graph node only when grad
mode is on and some input requires grad. Forward-mode tangents are pushed through the op's
jvp rule when a dual level is active.
"""

from __future__ import annotations

from .. import backend as B
from ..autograd import forward_ad
from ..autograd.grad_mode import anomaly as _anomaly
from ..autograd.grad_mode import fw_levels as _fw
from ..autograd.grad_mode import state
from ..autograd.graph import Node, user_frame
from ..tensor import Tensor, _wrap

OPS: dict = {}

_XP = B._XP
_ndarray = B.ndarray


class Op:
    """A primitive: ``fwd(xp, *arrays, *params)``, ``vjp(node, g)``, ``jvp(ts, out, args, params)``.

    ``save[i]`` lists the inputs that input i's gradient needs; ``save_out`` says the vjp uses
    the output. Only what the inputs that require grad need is saved.
    """

    __slots__ = ("name", "fwd", "vjp", "jvp", "node_name", "save", "save_out", "differentiable",
                 "masks", "save_one")

    def __init__(self, name, fwd, vjp=None, jvp=None, save=None, save_out=False, node_name=None):
        self.name = name
        self.fwd = fwd
        self.vjp = vjp
        self.jvp = jvp
        self.differentiable = vjp is not None
        self.save = save
        self.save_out = save_out
        self.node_name = node_name or (
            "".join(p.capitalize() for p in name.split("_")) + "Backward0")
        self.masks = {}
        # A one-input op saves its input when its gradient uses it.
        self.save_one = save == "all" or bool(save and save[0])

    def __repr__(self):
        return f"<Op {self.name}>"

    def mask(self, needs):
        """Which inputs to save, given which inputs need a gradient (cached per pattern)."""
        m = self.masks.get(needs)
        if m is None:
            want = set()
            save = self.save
            for i, nd in enumerate(needs):
                if nd:
                    want.update(range(len(needs)) if save == "all" else (save[i] if save else ()))
            m = self.masks[needs] = tuple(i in want for i in range(len(needs)))
        return m


def defop(name, fwd, vjp=None, jvp=None, save=None, save_out=False, node_name=None):
    """Register a primitive; returns the `Op`."""
    if name in OPS:
        raise ValueError(f"op {name!r} is already registered")
    op = OPS[name] = Op(name, fwd, vjp, jvp, save, save_out, node_name)
    return op


# ----------------------------------------------------------------------------- errors


def _describe(args):
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"{tuple(a._data.shape)} {a.dtype.name} on {a.device}")
        else:
            parts.append(repr(a))
    return ", ".join(parts)


def op_error(name, exc, args):
    """Turn an array-library error inside an op into one that names the op and its inputs."""
    msg = str(exc)
    kind = RuntimeError
    if isinstance(exc, IndexError):
        kind = IndexError
    elif isinstance(exc, TypeError):
        kind = TypeError
    if "broadcast" in msg:
        shapes = " and ".join(str(tuple(a._data.shape)) for a in args if isinstance(a, Tensor))
        return RuntimeError(f"{name}: shapes {shapes} cannot be broadcast together "
                            f"(inputs: {_describe(args)})")
    return kind(f"{name}: {msg} (inputs: {_describe(args)})")


def device_error(name, a, b):
    return RuntimeError(
        f"{name}: expected all tensors on the same device, but found one on {a.device} and "
        f"one on {b.device}; move one with .to(device), .cpu() or .cuda()")


# ----------------------------------------------------------------------------- apply


_new = object.__new__


_ONE = (True,)


def _record(op, out, args, params, shapes=None):
    """Attach a Node to `out` for an op applied to `args` (some of which require grad).

    `shapes` (the inputs' shapes) is kept only where the inputs broadcast against each other.
    Only the inputs that the needed gradients use are saved, with their versions.
    """
    n = _new(Node)
    n.op = op
    n.params = params
    n.shapes = shapes
    n.hooks = n.retained = None
    n.freed = False
    nargs = len(args)
    if nargs == 1:  # the hot path of unary ops: no mask to look up
        a = args[0]
        n.next = (a.grad_fn or a,)
        n.needs = _ONE
        if op.save_one:
            n.saved = args
            n.vers = (a._vc[0],)
        else:
            n.saved = n.vers = None
    else:
        if nargs == 2:
            a, b = args
            ea = (a.grad_fn or a) if (isinstance(a, Tensor) and a._rg) else None
            eb = (b.grad_fn or b) if (isinstance(b, Tensor) and b._rg) else None
            n.next = (ea, eb)
            needs = (ea is not None, eb is not None)
        else:  # (list comprehensions: faster than generators into tuple())
            n.next = tuple([(a.grad_fn or a) if (isinstance(a, Tensor) and a._rg) else None
                            for a in args])
            needs = tuple([e is not None for e in n.next])
        n.needs = needs
        mask = op.masks.get(needs) or op.mask(needs)
        if True not in mask:
            n.saved = n.vers = None
        elif nargs == 2:
            a, b = args
            ma, mb = mask
            n.saved = (a if ma else None, b if mb else None)
            n.vers = (a._vc[0] if (ma and isinstance(a, Tensor)) else None,
                      b._vc[0] if (mb and isinstance(b, Tensor)) else None)
        else:
            n.saved = tuple([a if m else None for a, m in zip(args, mask)])
            n.vers = tuple([a._vc[0] if (m and isinstance(a, Tensor)) else None
                            for a, m in zip(args, mask)])
    if op.save_out:
        n.out_data = out._data
        n.out_vc = out._vc
    else:
        n.out_data = None
    if _anomaly[0]:
        n.trace = user_frame()
    out.grad_fn = n
    out._rg = True


def _push_tangent(op, out, args, params):
    ts = tuple(getattr(a, "_fw", None) for a in args)
    if any(t is not None for t in ts) and out.dtype.is_floating_point:
        if op.jvp is None:
            if op.differentiable:
                raise RuntimeError(f"{op.name}: no forward-mode (jvp) rule")
            return
        # The rule reads primal values: tangents of its inputs must not propagate again.
        level = _fw[0]
        _fw[0] = 0
        try:
            t = out._fw = op.jvp(ts, out, args, params)
        finally:
            _fw[0] = level
        if t is not None:
            forward_ad._track(out)
            if op.save_out and out.grad_fn is not None:
                # The vjp rebuilds the output from the node (Node.out): keep its tangent there
                # too, so that forward-over-reverse sees it.
                out.grad_fn.out_fw = (forward_ad.current_level(), t)


def apply(op, args, params=()):
    """Run `op` on `args` (tensors, or Python scalars where the op allows) with static `params`."""
    # Fast path: every input a tensor on one device with one dtype (the common case).
    first = None
    for a in args:
        if isinstance(a, Tensor):
            if first is None:
                first = a
            elif type(a._data) is not type(first._data) or (
                    type(first._data) is not B.ndarray
                    and not B.same_device(a._data, first._data)):
                raise device_error(op.name, first, a)
    xp = _XP[type(first._data)]
    arrays = [a._data if isinstance(a, Tensor) else a for a in args]
    try:
        out = op.fwd(xp, *arrays, *params)
    except Exception as exc:
        raise op_error(op.name, exc, args) from None
    if type(out) not in _XP:
        out = xp.asarray(out)
    t = _wrap(out)
    if op.vjp is not None and state.grad_enabled:
        for a in args:
            if isinstance(a, Tensor) and a._rg:
                _record(op, t, args, params,
                        tuple([v._data.shape if isinstance(v, Tensor) else () for v in args]))
                break
    if _fw[0]:
        _push_tangent(op, t, args, params)
    return t


def apply1(op, x, params=()):
    """`apply` for one tensor input: the hot path of unary ops, kept short."""
    xd = x._data
    try:
        out = op.fwd(_XP[type(xd)], xd, *params)
    except Exception as exc:
        raise op_error(op.name, exc, (x,)) from None
    if type(out) is not _ndarray and type(out) not in _XP:  # NumPy gives scalars for 0-d
        out = _XP[type(xd)].asarray(out)
    t = _new(Tensor)  # _wrap, inlined on the hot path
    t._data = out
    t.grad_fn = None
    t._rg = False
    t._vc = [0]
    if x._rg and op.vjp is not None and state.grad_enabled:
        _record(op, t, (x,), params)
    if _fw[0]:
        _push_tangent(op, t, (x,), params)
    return t


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
        b = _scalar(name, b)
        r = B.scalar_result_type(ad, b)
        return (a if ad.dtype == r else a.to(B._BY_NP[r])), b
    if not isinstance(b, Tensor):
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


def apply2(op, a, b, params=()):
    """`apply` for a binary op whose operands may be Python scalars, with dtype promotion."""
    if isinstance(a, Tensor):
        ad = a._data
        if isinstance(b, Tensor):
            bd = b._data
            ta = type(ad)
            if ta is not type(bd) or (ta is not _ndarray and not B.same_device(ad, bd)):
                raise device_error(op.name, a, b)
            da, db = ad.dtype, bd.dtype
            if da is not db and da != db:
                a, b = promote(op.name, a, b)
                ad, bd = a._data, b._data
            rg = a._rg or b._rg
        else:
            if type(b) is not float or ad.dtype.kind != "f":
                a, b = promote(op.name, a, b)
                ad = a._data
            bd = b
            rg = a._rg
        xp = _XP[type(ad)]
    else:
        a, b = promote(op.name, a, b)
        ad, bd = a, b._data
        xp = _XP[type(bd)]
        rg = b._rg
    try:
        out = op.fwd(xp, ad, bd, *params)
    except Exception as exc:
        raise op_error(op.name, exc, (a, b)) from None
    if type(out) is not _ndarray and type(out) not in _XP:  # NumPy gives scalars for 0-d
        out = xp.asarray(out)
    t = _new(Tensor)  # _wrap, inlined on the hot path
    t._data = out
    t.grad_fn = None
    t._rg = False
    t._vc = [0]
    if rg and op.vjp is not None and state.grad_enabled:
        sa = getattr(ad, "shape", None)
        sb = getattr(bd, "shape", None)
        _record(op, t, (a, b), params,
                None if (sa is None or sb is None or sa == sb) else (sa, sb))
    if _fw[0]:
        _push_tangent(op, t, (a, b), params)
    return t


# ----------------------------------------------------------------------------- shared helpers


def sum_to(g, shape):
    """Sum cotangent `g` down to `shape`: the one unbroadcast every broadcasting rule ends in."""
    gs = g._data.shape
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    dims = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gs[i + lead] != 1)
    r = _reduction.sum(g, dims, keepdim=True) if dims else g
    if lead:
        r = r.reshape(shape)
    return r


def broadcast_shapes(name, *shapes):
    """The broadcast of `shapes`, or an error naming the op and the shapes."""
    try:
        return B.numpy.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"{name}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot "
                           "be broadcast together") from None


# Last: gpugrad.ops.reduction builds on this module (sum_to calls its sum).
from . import reduction as _reduction  # noqa: E402
