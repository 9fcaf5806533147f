"""The namespaces ``F`` that rules are written against, and the helpers shared by rules.

A vjp or jvp is written once, as ``g * F.cos(x)``: operators and ``F.<op>(...)`` calls. The
engine runs it with ``F`` one of:

- `ArrayMath` (one per array type): the primitives' forwards on raw arrays, so that a backward
  that builds no graph runs on NumPy/CuPy arrays with no tensor or node per step;
- `TensorMath`: the primitives applied to tensors, recorded when a graph is being built
  (``create_graph=True``) or carrying tangents (forward mode), so the same formula is
  differentiable again.

``F.<op>(*inputs, *params)`` has the primitive's forward signature (without ``xp``) in both.
"""

from __future__ import annotations

from .. import backend as B
from ..core.tensor import Tensor, wrap


class _Math:
    """Binds ``F.<op>`` on first use, from the op registry."""

    def __init__(self, ops):
        self._ops = ops

    def __getattr__(self, name):
        ops = self.__dict__.get("_ops")
        op = ops.get(name) if ops is not None else None
        if op is None or op.residuals or op.with_needs:
            raise AttributeError(f"{type(self).__name__} has no op {name!r}")
        f = self._bind(op)
        setattr(self, name, f)
        return f


class ArrayMath(_Math):
    """Primitives on raw arrays of one array module (`xp`)."""

    builds_graph = False

    def __init__(self, xp, ops):
        super().__init__(ops)
        self.xp = xp
        self._array_type = xp.ndarray

    def _bind(self, op):
        return op.impl(self._array_type)

    def zeros_like(self, x):
        return self.xp.zeros_like(x)

    def zeros(self, shape, like):
        """Zeros of `shape` with `like`'s dtype and device."""
        return self.xp.zeros_like(like, shape=shape)

    def times(self, g, d, *inputs):
        """``g * d``. A large `d` that the formula made fresh (not one of `inputs` nor a view,
        g's shape and dtype) takes the product in place: one array and one pass fewer."""
        if (type(d) is type(g) and d.size >= IN_PLACE_MIN and d.base is None
                and d.shape == g.shape and d.dtype == g.dtype
                and all(d is not a for a in inputs)):
            return self.xp.multiply(d, g, out=d)
        return g * d


# From this many elements on, `ArrayMath.times` writes into a fresh local derivative (below
# it, out= costs more than it saves).
IN_PLACE_MIN = 1 << 15


class TensorMath(_Math):
    """Primitives applied to tensors (recorded when grad mode is on)."""

    builds_graph = True

    def __init__(self, ops, apply):
        super().__init__(ops)
        self._apply = apply

    def _bind(self, op):
        apply, nin = self._apply, op.nin

        def f(*args):
            return apply(op, args[:nin], args[nin:])
        f.__name__ = op.name
        return f

    @staticmethod
    def zeros_like(x):
        return wrap(B.xp_of(x._data).zeros_like(x._data))

    @staticmethod
    def zeros(shape, like):
        return wrap(B.xp_of(like._data).zeros_like(like._data, shape=shape))

    @staticmethod
    def times(g, d, *inputs):
        return g * d


# ----------------------------------------------------------------------------- shared helpers


def dtype_of(x) -> B.dtype:
    """The gpugrad dtype of a tensor or an array."""
    return x.dtype if isinstance(x, Tensor) else B._BY_NP[x.dtype]


def cast_like(F, x, like):
    """`x` converted to `like`'s dtype (itself when it already has it)."""
    dt, src = dtype_of(like), dtype_of(x)
    return x if dt is src else F.to_dtype(x, dt, src)


def sum_to(F, g, shape):
    """Sum cotangent `g` down to `shape`: the one unbroadcast every broadcasting rule ends in."""
    gs = tuple(g.shape)
    shape = tuple(shape)
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    dims = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gs[i + lead] != 1)
    r = F.sum(g, dims, True, gs) if dims else g
    return F.reshape(r, shape, tuple(r.shape)) if lead else r


def expand_to(F, t, shape):
    """`t` broadcast to `shape` (itself when it has that shape)."""
    ts = tuple(t.shape)
    return t if ts == tuple(shape) else F.expand(t, tuple(shape), ts)


def mT(F, x):
    """The transpose of the last two dims."""
    perm = list(range(len(x.shape)))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return F.permute(x, tuple(perm))
