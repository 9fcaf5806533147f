"""Batched tensors for ``vmap`` (JAX's BatchTracer, functorch's BatchedTensor).

A `BatchedTensor` is the tensor one example of a batch looks like inside ``vmap``: its
`_value` is the tensor holding every example (a plain tensor, or a batched tensor of an outer
vmap level), with the batch along dim `_bdim`; `_level` is the vmap level that made it. Its
shape, dtype and device are the example's (the "logical" tensor). It is a `Tensor` with
graph fields of its own: autograd inside vmap (``vmap(grad(f))``) records on the logical
tensors, while the values' own graph (``grad(vmap(f))``) is recorded by the ops the batching
rules run on them.

Ops on batched tensors run through ``apply`` like all ops: when a level is open and an input
is batched, ``apply`` calls the op's batching rule (``Op.batch``, ``gpugrad.ops.batching``)
on the values, once for the whole batch.

``_data`` of a batched tensor is a read-only placeholder of the logical shape
(``backend.no_values``): code that only reads shapes and dtypes works unchanged; on NumPy,
code that reads its values raises (the values are never in it).
"""

from __future__ import annotations

import itertools

from .. import backend as B
from .state import batch_levels
from .tensor import Tensor

_new = object.__new__
_ids = itertools.count(1)


class Level:
    """One open vmap: its batch size and randomness ("error", "different" or "same")."""

    __slots__ = ("id", "size", "randomness")

    def __init__(self, size, randomness):
        self.id = next(_ids)  # increases with nesting: an inner level's id is larger
        self.size = size
        self.randomness = randomness


class BatchedTensor(Tensor):
    """One example's view of a batch inside vmap (see the module doc)."""

    __slots__ = ("_value", "_bdim", "_level")
    _value: Tensor
    _bdim: int
    _level: Level

    def __repr__(self):
        return (f"BatchedTensor(lvl={self._level.id}, bdim={self._bdim}, "
                f"value={self._value!r})")

    __str__ = __repr__

    def _lift(self) -> BatchedTensor:
        """The same batch as a new logical tensor outside the logical graph (the values keep
        theirs)."""
        return batched(self._value, self._bdim, self._level)

    def detach(self) -> Tensor:
        return batched(self._value.detach(), self._bdim, self._level)

    def _refuse(self, what):
        raise RuntimeError(
            f"vmap: {what} is not possible on a batched tensor inside vmap (its value differs "
            "from example to example: data-dependent control flow); return the tensor from the "
            "vmapped function, or use where() instead of an if")

    def _agreed(self, what):
        """The one value of a one-element batched tensor when every example has the same
        (so control flow on it, e.g. a check that raises, is the same for every example)."""
        if self._data.size != 1:
            raise RuntimeError(f"{what}: a tensor with {self._data.size} elements cannot be "
                               "converted to a Python number; only one-element tensors can")
        a = B.to_numpy(physical(self)).reshape(-1)
        first = a[:1]
        if a.size and not bool((a == first).all()):
            self._refuse(f"{what} (its value differs from example to example)")
        return first[0].item() if a.size else None

    def item(self):
        return self._agreed("item")

    def tolist(self):
        self._refuse("tolist()")

    def numpy(self, *, force=False):
        self._refuse("numpy()")

    def __array__(self, dtype=None, copy=None):
        self._refuse("conversion to a NumPy array")

    def __bool__(self):
        return bool(self._agreed("bool() (data-dependent control flow)"))

    def __dlpack__(self, stream=None, **kwargs):
        self._refuse("__dlpack__")

    def __deepcopy__(self, memo):
        self._refuse("deepcopy")

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, value):
        self._refuse("setting .data")

    def is_contiguous(self):
        return True


def batched(value: Tensor, bdim: int, level: Level) -> BatchedTensor:
    """`value` (the whole batch, along `bdim`) seen as one example at `level`."""
    t = _new(BatchedTensor)
    d = value._data
    shape = d.shape
    t._data = B.no_values(d, shape[:bdim] + shape[bdim + 1:])
    t._value = value
    t._bdim = bdim
    t._level = level
    t.grad_fn = None
    t._rg = False
    t._vc = [0]
    return t


def is_batched(t) -> bool:
    return type(t) is BatchedTensor


def outer_tracked(t) -> bool:
    """Whether the values under batched tensor `t` (at any outer level) are recorded by
    autograd or carry tangents: then gradients taken inside vmap must be recorded too."""
    while type(t) is BatchedTensor:
        t = t._value
        if t._rg or getattr(t, "_fw", None):
            return True
    return False


def physical(t):
    """The array holding a tensor's values (a batched tensor's: its outermost value's)."""
    while type(t) is BatchedTensor:
        t = t._value
    return t._data


def random_batch(size):
    """For a random factory called inside vmap: the leading batch sizes to draw (one per
    level with randomness "different", outermost first), and the levels to wrap the draw
    in. Raises under randomness "error", as torch.func does."""
    lead, levels = (), []
    for lv in batch_levels:
        if lv.randomness == "error":
            raise RuntimeError(
                "vmap: called a random operation while in randomness error mode. Please either "
                "use the 'same' or 'different' randomness flags on vmap or perform the "
                "randomness operation out of vmap")
        if lv.randomness == "different":
            lead += (lv.size,)
            levels.append(lv)
    return lead, levels


def wrap_levels(t: Tensor, levels) -> Tensor:
    """A draw of shape ``(*sizes, *shape)`` seen as one example of each of `levels`."""
    for lv in levels:
        t = batched(t, 0, lv)
    return t


class level:
    """``with level(size) as lv:`` a vmap level open for its extent (``func.vmap``'s core)."""

    def __init__(self, size, randomness="error"):
        self.level = Level(size, randomness)

    def __enter__(self) -> Level:
        batch_levels.append(self.level)
        return self.level

    def __exit__(self, *exc):
        batch_levels.remove(self.level)
        return False


def unbatched(t, lv: Level, dim: int = 0):
    """A result of a function run at level `lv`, with the batch at `dim`: its value, or,
    for a result that is the same for every example, that result repeated (a broadcast view);
    None stays None."""
    if t is None:
        return None
    if type(t) is BatchedTensor and t._level is lv:
        v = t._value
        return v if t._bdim == dim else v.movedim(t._bdim, dim)
    shape = list(t.shape)
    shape.insert(dim, lv.size)
    return t.unsqueeze(dim).expand(*shape)


def random_input(x):
    """For a random op inside vmap that draws with `x`'s shape: raises under randomness
    "error"; under "different", `x` batched at every such level where it is not yet (so that
    each example draws its own); under "same", `x` as it is (one draw for every example)."""
    _, levels = random_batch(())
    for lv in levels:
        x = _with_level(x, lv)
    return x


def _with_level(x, lv):
    if type(x) is BatchedTensor:
        if x._level is lv:
            return x
        if x._level.id > lv.id:  # an inner level: add lv under it
            return batched(_with_level(x._value, lv), x._bdim, x._level)
    shape = tuple(x.shape)
    return batched(x.unsqueeze(0).expand(lv.size, *shape), 0, lv)


def front_values(t):
    """``(array, levels)``: the values of `t` with the batch dims of its vmap levels in front
    (outermost first), and those levels; for a plain tensor, its array and no levels. Code
    that computes on raw arrays over trailing dims (NumPy's linalg) runs on every example
    at once with it, and `wrap_levels` makes the result batched again."""
    chain = []
    while type(t) is BatchedTensor:
        chain.append((t._level, t._bdim))
        t = t._value
    a = t._data
    for k, (_, d) in enumerate(reversed(chain)):
        a = B.xp_of(a).moveaxis(a, d + k, k)
    return a, [lv for lv, _ in reversed(chain)]
