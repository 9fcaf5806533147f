"""Batching rules for ``vmap``: one per registry entry (``Op.batch``), as in JAX.

A rule ``rule(op, values, dims, params, level)`` gets the op's inputs as whole batches
(``values[i]`` batched along ``dims[i]``, or None for an input that is the same for every
example, scalars included) and returns ``(out, out_dim)``: the op on every example at once, as
batched array ops (never a loop over the batch). Families:

- elementwise: batch dims to the front, ranks aligned so that the examples broadcast;
- reductions, shape ops, flips: the batch dim in front, the op's dims shifted by one;
- matmul: a batched matmul (1-D operands as matrices);
- indexing, gather, scatter: per-example indices become advanced indices with the batch's
  ``arange`` in front;
- the view/in-place primitives at the batch's flat positions;
- fused primitives and ``linear`` with a batched weight: `logical` rules, the op written with
  other ops on the logical (one-example) tensors.

An op without a rule raises (``registry.no_rule``). ``tests/test_vmap.py`` checks every rule
against a loop over the examples, and that every primitive has one.
"""

from __future__ import annotations

from .. import backend as B
from ..core.batched import BatchedTensor, physical
from ..core.tensor import Tensor
from . import elementwise as E
from . import linalg as L
from . import reduction as R
from . import shape as S
from .registry import OPS, apply

# ----------------------------------------------------------------------------- helpers


def _ndim(v):
    return len(v._data.shape)


def _perm_to(ndim, src, dst):
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return tuple(perm)


def front(v, d):
    """Batch `v` (batched along `d`) with the batch in front."""
    if d == 0:
        return v
    return apply(S.PERMUTE, (v,), (_perm_to(_ndim(v), d, 0),))


def materialize(v, d, size):
    """`v` with the batch in front; an unbatched input broadcast to the batch (no copy)."""
    if d is not None:
        return front(v, d)
    shape = tuple(v._data.shape)
    return apply(S.EXPAND, (v,), ((size,) + shape, shape))


def pad(v, rank):
    """A front-batched `v` whose examples have fewer than `rank` dims: size-1 dims inserted
    after the batch, so that the examples broadcast from the right."""
    shape = tuple(v._data.shape)
    if len(shape) - 1 >= rank:
        return v
    new = shape[:1] + (1,) * (rank - len(shape) + 1) + shape[1:]
    return apply(S.RESHAPE, (v,), (new, shape))


def _permute(v, perm):
    if perm == tuple(range(len(perm))):
        return v
    return apply(S.PERMUTE, (v,), (perm,))


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def logical(fn):
    """A rule written as other ops on the logical tensors: ``fn(op, args, params)``."""
    fn.logical = True
    return fn


# ----------------------------------------------------------------------------- elementwise


def elementwise(op, vals, dims, params, level):
    rank = max(_ndim(v) - (d is not None) for v, d in zip(vals, dims) if isinstance(v, Tensor))
    new = tuple([pad(front(v, d), rank) if d is not None else v for v, d in zip(vals, dims)])
    return apply(op, new, params), 0


# ----------------------------------------------------------------------------- reductions


def _shift(dims):
    return tuple(d + 1 for d in dims)


def reduction(op, vals, dims, params, level):
    """sum, prod, amax, amin, norm: params (dims, keepdim, shape)."""
    v = front(vals[0], dims[0])
    rd, keep, _ = params
    return apply(op, (v,), (_shift(rd), keep, tuple(v._data.shape))), 0


def bool_reduction(op, vals, dims, params, level):
    """all, any: params (dims, keepdim)."""
    v = front(vals[0], dims[0])
    rd, keep = params
    return apply(op, (v,), (_shift(rd), keep)), 0


def arg_reduction(op, vals, dims, params, level):
    """argmax, argmin: params (dim, keepdim); dim None: over the flattened example."""
    v = front(vals[0], dims[0])
    dim, keep = params
    if dim is not None:
        return apply(op, (v,), (dim + 1, keep)), 0
    shape = tuple(v._data.shape)
    flat = apply(S.RESHAPE, (v,), ((shape[0], -1 if shape[0] else _size(shape[1:])), shape))
    r = apply(op, (flat,), (1, False))
    if keep:
        r = apply(S.RESHAPE, (r,), ((shape[0],) + (1,) * (len(shape) - 1), tuple(r._data.shape)))
    return r, 0


def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# ----------------------------------------------------------------------------- shape ops


def reshape_rule(op, vals, dims, params, level):
    v = front(vals[0], dims[0])
    shape, _ = params
    b = v._data.shape[0]
    return apply(op, (v,), ((b,) + tuple(shape), tuple(v._data.shape))), 0


def permute_rule(op, vals, dims, params, level):
    v = front(vals[0], dims[0])
    return apply(op, (v,), ((0,) + _shift(params[0]),)), 0


def expand_rule(op, vals, dims, params, level):
    shape, _ = params
    v = pad(front(vals[0], dims[0]), len(shape))
    return apply(op, (v,), ((v._data.shape[0],) + tuple(shape), tuple(v._data.shape))), 0


def cat_rule(op, vals, dims, params, level):
    dim, sizes = params
    new = tuple([materialize(v, d, level.size) for v, d in zip(vals, dims)])
    return apply(op, new, (dim + 1, sizes)), 0


def flip_rule(op, vals, dims, params, level):
    v = front(vals[0], dims[0])
    return apply(op, (v,), (_shift(params[0]),)), 0


# ----------------------------------------------------------------------------- indexing


def _raw(t):
    """An index for the forward: a plain tensor's array; a batched tensor of an outer level
    stays a tensor (its own level's rule takes it)."""
    return t if type(t) is BatchedTensor else t._data


def _advanced(idx, ndim, level, like):
    """A logical index `idx` (of an example with `ndim` dims) as an index of the front-batched
    values: ``(arange(batch), *idx)`` with per-example index tensors moved to the front, and
    ``perm``, the permutation of the result's dims from NumPy's layout (batch, index dims,
    sliced dims) to the logical one (batch first)."""
    xp = B.xp_of(physical(like))
    size = level.size
    if not any(i is Ellipsis for i in idx):
        idx = (*idx, Ellipsis)  # the trailing dims, made explicit
    consumed = 0
    for i in idx:
        if i is None or i is Ellipsis:
            continue
        if isinstance(i, Tensor) or B.is_array(i):
            k = i._data.dtype.kind if isinstance(i, Tensor) else i.dtype.kind
            consumed += (len(i.shape) if k == "b" else 1)
        else:
            consumed += 1
    entries: list = []
    for i in idx:
        if i is Ellipsis:
            entries += [slice(None)] * (ndim - consumed)
        elif isinstance(i, Tensor) and i._data.dtype.kind == "b":
            raise RuntimeError(
                "vmap: indexing with a boolean mask tensor inside vmap is not supported (the "
                "result's shape would depend on the values); use where() instead")
        elif B.is_array(i) and i.dtype.kind == "b":
            entries += list(xp.nonzero(i))
        else:
            entries.append(i)
    adv = [k for k, i in enumerate(entries)
           if isinstance(i, (int, Tensor)) or B.is_array(i)]
    if not adv:  # (only basic entries: the batch's slice in front)
        return (slice(None), *entries), None
    brank = max([len(entries[k].shape) for k in adv if not isinstance(entries[k], int)] or [0])
    phys: list = [xp.arange(size).reshape((size,) + (1,) * brank)]
    for i in entries:
        if type(i) is BatchedTensor and i._level is level:
            i = _raw(pad(front(i._value, i._bdim), brank))
        elif isinstance(i, Tensor):
            i = _raw(i)
        phys.append(i)
    contiguous = adv == list(range(adv[0], adv[0] + len(adv)))
    pre = adv[0] if contiguous else 0  # sliced dims before the index dims, logically
    rest = sum(1 for i in entries if i is None or isinstance(i, slice))
    perm = ((0,) + tuple(1 + brank + k for k in range(pre)) + tuple(1 + k for k in range(brank))
            + tuple(1 + brank + k for k in range(pre, rest)))
    return tuple(phys), perm


def getitem_rule(op, vals, dims, params, level):
    idx, shape = params
    x, d = vals[0], dims[0]
    if d is not None and S._is_basic(idx):
        x = front(x, d)
        return apply(op, (x,), ((slice(None),) + tuple(idx), tuple(x._data.shape))), 0
    x = materialize(x, d, level.size)
    phys, perm = _advanced(idx, len(shape), level, x)
    r = apply(op, (x,), (phys, tuple(x._data.shape)))
    return (_permute(r, perm) if perm else r), 0


def index_add_zeros_rule(op, vals, dims, params, level):
    shape, idx = params
    g = materialize(vals[0], dims[0], level.size)
    out = (level.size,) + tuple(shape)
    if S._is_basic(idx):
        return apply(op, (g,), (out, (slice(None),) + tuple(idx))), 0
    phys, perm = _advanced(idx, len(shape), level, g)
    if perm:
        g = _permute(g, _inverse(perm))
    return apply(op, (g,), (out, phys)), 0


def index_put_rule(op, vals, dims, params, level):
    idx, accumulate = params
    (x, v), (dx, dv) = vals, dims
    x = materialize(x, dx, level.size)
    if S._is_basic(idx) and not _batched_index(idx, level):
        if dv is not None:
            v = pad(front(v, dv), len(x._data[(slice(None),) + tuple(idx)].shape) - 1)
        return apply(op, (x, v), ((slice(None),) + tuple(idx), accumulate)), 0
    phys, perm = _advanced(idx, _ndim(x) - 1, level, x)
    if isinstance(v, Tensor):
        # the values laid out as the indexed result: batch, index dims, sliced dims
        target = _indexed_shape(x, phys, perm)
        if dv is None:
            v = apply(S.EXPAND, (v,), (target, tuple(v._data.shape)))
        else:
            v = pad(front(v, dv), len(target) - 1)
            v = apply(S.EXPAND, (v,), (target, tuple(v._data.shape)))
        if perm:
            v = _permute(v, _inverse(perm))
    return apply(op, (x, v), (phys, accumulate)), 0


def _batched_index(idx, level):
    return any(type(i) is BatchedTensor and i._level is level for i in idx)


def _indexed_shape(x, phys, perm):
    """The logical layout (batch first) of ``x[phys]``'s shape."""
    arrays = [i._data if isinstance(i, Tensor) else i for i in phys]
    shape = x._data[tuple(arrays)].shape
    return tuple(shape[p] for p in perm) if perm else tuple(shape)


def gather_rule(op, vals, dims, params, level):
    dim, index, _ = params
    x = materialize(vals[0], dims[0], level.size)
    index = _index_values(index, level)
    return apply(op, (x,), (dim + 1, index, tuple(x._data.shape))), 0


def _index_values(index, level):
    """A gather/scatter index tensor for the front-batched values."""
    if type(index) is BatchedTensor and index._level is level:
        return front(index._value, index._bdim)
    return materialize(index, None, level.size)


def scatter_add_rule(op, vals, dims, params, level):
    dim, index, _ = params
    x = materialize(vals[0], dims[0], level.size)
    src = materialize(vals[1], dims[1], level.size)
    index = _index_values(index, level)
    return apply(op, (x, src), (dim + 1, index, tuple(src._data.shape))), 0


# ----------------------------------------------------------------------------- linear algebra


def matmul_rule(op, vals, dims, params, level):
    (a, b), (da, db) = vals, dims
    sa, sb = params
    ra, rb = len(sa), len(sb)
    # 1-D operands as matrices, squeezed again at the end
    if da is not None:
        a = front(a, da)
        if ra == 1:
            a = apply(S.RESHAPE, (a,), (a._data.shape[:1] + (1,) + a._data.shape[1:],
                                        tuple(a._data.shape)))
    if db is not None:
        b = front(b, db)
        if rb == 1:
            b = apply(S.RESHAPE, (b,), (tuple(b._data.shape) + (1,), tuple(b._data.shape)))
    rank = max(max(ra, 2), max(rb, 2))  # the examples' matrix ranks
    if da is not None:
        a = pad(a, rank)
    elif ra == 1 and db is not None:
        a = apply(S.RESHAPE, (a,), ((1,) + tuple(a._data.shape), tuple(a._data.shape)))
    if db is not None:
        b = pad(b, rank)
    elif rb == 1 and da is not None:
        b = apply(S.RESHAPE, (b,), (tuple(b._data.shape) + (1,), tuple(b._data.shape)))
    r = apply(op, (a, b), (tuple(a._data.shape), tuple(b._data.shape)))
    shape = tuple(r._data.shape)
    new = shape
    if ra == 1:
        new = new[:-2] + new[-1:]
    if rb == 1:
        new = new[:-1]
    if new != shape:
        r = apply(S.RESHAPE, (r,), (new, shape))
    return r, 0


def linear_rule(op, vals, dims, params, level):
    (x, W, b), (dx, dW, db) = vals, dims
    if dW is None and db is None:  # one weight: the batch joins the rows
        return apply(op, (front(x, dx), W, b), params), 0
    # a weight per example (ensembles): a batched x @ W^T + b
    W = front(W, dW) if dW is not None else W
    nd = _ndim(W)
    Wt = apply(S.PERMUTE, (W,), (tuple(range(nd - 2)) + (nd - 1, nd - 2),))
    sx = tuple(x._data.shape)
    if dx is not None:
        sx = sx[:dx] + sx[dx + 1:]
    sw = tuple(Wt._data.shape[1:]) if dW is not None else tuple(Wt._data.shape)
    r, _ = matmul_rule(L.MATMUL, (x, Wt), (dx, None if dW is None else 0), (sx, sw), level)
    if b is not None:
        r, _ = elementwise(E.ADD, (r, b), (0, db), (), level)
    return r, 0


# ----------------------------------------------------------------------------- fused


@logical
def linear_mse_rule(op, args, params):
    X, w, b, y = args
    r = L.matmul(X, w)
    if b is not None:
        r = r + b
    return R.mean((r - y) ** 2)


@logical
def cross_entropy_rule(op, args, params):
    x, t = args
    reduction = params[0]
    nll = R.logsumexp(x, 1) - S.gather(x, 1, S.unsqueeze(t, 1)).squeeze(1)
    if reduction == "none":
        return nll
    return nll.sum() if reduction == "sum" else R.mean(nll)


# ----------------------------------------------------------------------------- views, in place


def _flat_positions(pos, level, n):
    """Per-example flat positions `pos` (in an example of `n` elements) as positions in the
    front-batched values: ``arange(batch) * n + pos``."""
    xp = B.xp_of(pos)
    size = level.size
    return xp.arange(size).reshape((size,) + (1,) * pos.ndim) * n + pos


def view_scatter_rule(op, vals, dims, params, level):
    (base, src), (db, ds) = vals, dims
    pos = params[0]
    base = materialize(base, db, level.size)
    src = materialize(src, ds, level.size)
    n = _size(base._data.shape[1:])
    return apply(op, (base, src), (_flat_positions(pos, level, n),)), 0


def view_take_rule(op, vals, dims, params, level):
    pos, shape = params
    x = front(vals[0], dims[0])
    n = _size(shape)
    return apply(op, (x,), (_flat_positions(pos, level, n), (level.size,) + tuple(shape))), 0


# ----------------------------------------------------------------------------- scans, sorting


def along_dim(op, vals, dims, params, level):
    """cumsum, cumprod, argsort, mode_index: params (dim, ...); a 0-d example as (1,)."""
    v = front(vals[0], dims[0])
    shape = tuple(v._data.shape)
    if len(shape) == 1:  # 0-d examples: along a dim of size 1, then back
        v = apply(S.RESHAPE, (v,), ((shape[0], 1), shape))
        r = apply(op, (v,), (1,) + tuple(params[1:]))
        return apply(S.RESHAPE, (r,), (tuple(r._data.shape[:1]), tuple(r._data.shape))), 0
    return apply(op, (v,), (params[0] + 1,) + tuple(params[1:])), 0


def no_per_example(op, vals, dims, params, level):
    """Ops whose result's shape depends on the values (unique, bincount) or that gpugrad does
    not batch (histc): a clear error, never a loop."""
    raise RuntimeError(
        f"vmap: {op.name} is not supported inside vmap (its output's shape depends on each "
        "example's values, or it has no batched form); call it outside vmap")


# ----------------------------------------------------------------------------- matrices


def matrix_rule(op, vals, dims, params, level):
    """Ops on the last two dims with any leading dims (tril, triu, inv, det, slogdet,
    cholesky): the batch in front; the params unchanged."""
    return apply(op, (front(vals[0], dims[0]),), params), 0


def diagonal_rule(op, vals, dims, params, level):
    offset, d1, d2, _ = params
    v = front(vals[0], dims[0])
    return apply(op, (v,), (offset, d1 + 1, d2 + 1, tuple(v._data.shape))), 0


def diag_embed_rule(op, vals, dims, params, level):
    offset, d1, d2, shape = params
    v = front(vals[0], dims[0])
    return apply(op, (v,), (offset, d1 + 1, d2 + 1, (level.size,) + tuple(shape))), 0


def solve_rule(op, vals, dims, params, level):
    """solve and lstsq: matrices (the public functions make b a matrix), batch dims aligned."""
    sa, sb = (params[0], params[1]) if op.name == "solve" else (None, None)
    rank = max(_ndim(v) - (d is not None) for v, d in zip(vals, dims))
    a, b = (pad(materialize(v, d, level.size), rank) for v, d in zip(vals, dims))
    if op.name == "solve":
        return apply(op, (a, b), (tuple(a._data.shape), tuple(b._data.shape))), 0
    return apply(op, (a, b), params), 0


def einsum_rule(op, vals, dims, params, level):
    eq = params[0]
    free = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA"
                if c not in eq)
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    if "->" not in eq:  # implicit output: the letters that appear once, sorted
        letters = [c for c in lhs if c.isalpha()]
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    new, ops = [], []
    for t, v, d in zip(terms, vals, dims):
        if d is None:
            new.append(t)
            ops.append(v)
        else:
            new.append(free + t)
            ops.append(front(v, d))
    return apply(op, tuple(ops), (",".join(new) + "->" + free + rhs,)), 0


# ----------------------------------------------------------------------------- layers


def _fold(v, size):
    """Front-batched (B, N, ...) as (B * N, ...)."""
    shape = tuple(v._data.shape)
    return apply(S.RESHAPE, (v,), ((shape[0] * shape[1],) + shape[2:], shape))


def _unfold(r, size):
    shape = tuple(r._data.shape)
    return apply(S.RESHAPE, (r,), ((size, shape[0] // size) + shape[1:], shape))


def _channels_in(v):
    """Front-batched (B, N, C, ...) as (N, B * C, ...): the batch as groups of channels."""
    shape = tuple(v._data.shape)
    v = apply(S.PERMUTE, (v,), ((1, 0) + tuple(range(2, len(shape))),))
    return apply(S.RESHAPE, (v,), ((shape[1], shape[0] * shape[2]) + shape[3:],
                                   tuple(v._data.shape)))


def _channels_out(r, size):
    """(N, B * C, ...) back to front-batched (B, N, C, ...)."""
    shape = tuple(r._data.shape)
    r = apply(S.RESHAPE, (r,), ((shape[0], size, shape[1] // size) + shape[2:], shape))
    return apply(S.PERMUTE, (r,), ((1, 0) + tuple(range(2, len(shape) + 1)),))


def _stack_weights(w, size):
    shape = tuple(w._data.shape)
    return apply(S.RESHAPE, (w,), ((shape[0] * shape[1],) + shape[2:], shape))


def conv_rule(op, vals, dims, params, level):
    """conv, and its two transposes: with one weight for every example, the batch joins N;
    with a weight per example (or per-example weight gradients), the batch becomes groups
    of channels (one grouped convolution)."""
    (a, b), (da, db) = vals, dims
    _, _, stride, padding, dilation, groups = params
    size = level.size
    if op.name == "conv_weight_grad":  # (x, g) -> per-example weight gradients
        x, g = materialize(a, da, size), materialize(b, db, size)
        w_shape = params[1]
        xs, gs = _channels_in(x), _channels_in(g)
        r = apply(op, (xs, gs), (tuple(xs._data.shape), (size * w_shape[0],) + w_shape[1:],
                                 stride, padding, dilation, groups * size))
        shape = tuple(r._data.shape)
        return apply(S.RESHAPE, (r,), ((size, shape[0] // size) + shape[1:], shape)), 0
    # conv (x, w) or conv_input_grad (g, w)
    if db is None:
        v = _fold(front(a, da), size)
        x_shape = params[0]
        if op.name == "conv":
            x_shape = tuple(v._data.shape)
        else:
            x_shape = (size * x_shape[0],) + tuple(x_shape[1:])
        r = apply(op, (v, b), (x_shape,) + tuple(params[1:]))
        return _unfold(r, size), 0
    v = _channels_in(materialize(a, da, size))
    w = _stack_weights(front(b, db), size)
    x_shape = params[0]
    x_shape = (x_shape[0], size * x_shape[1]) + tuple(x_shape[2:]) if op.name != "conv" else \
        tuple(v._data.shape)
    r = apply(op, (v, w), (x_shape, tuple(w._data.shape), stride, padding, dilation,
                           groups * size))
    return _channels_out(r, size), 0


def pool_indices_rule(op, vals, dims, params, level):
    r = apply(op, (_fold(front(vals[0], dims[0]), level.size),), params)
    return _unfold(r, level.size), 0


# ----------------------------------------------------------------------------- random


def sampled_rule(op, vals, dims, params, level):
    """Random draws: every example draws its own (randomness "different"); the inputs are
    made whole batches so that the draw has the batch's shape."""
    if level.randomness != "different":
        raise RuntimeError(
            f"vmap: a random op ({params[0]}) on per-example parameters needs "
            f"randomness='different' (this vmap has randomness={level.randomness!r}); "
            "'same' with per-example parameters is not supported")
    rank = max(_ndim(v) - (d is not None) for v, d in zip(vals, dims) if isinstance(v, Tensor))
    new = tuple([pad(materialize(v, d, level.size), rank) if isinstance(v, Tensor) else v
                 for v, d in zip(vals, dims)])
    return apply(op, new, params), 0


# ----------------------------------------------------------------------------- the table

_ELEMENTWISE = (
    "exp exp2 expm1 log log2 log10 log1p sqrt rsqrt sin cos tan asin acos atan sinh cosh tanh "
    "asinh acosh atanh reciprocal sigmoid relu abs sign floor ceil trunc frac round softplus neg "
    "add sub mul div pow pow_scalar div_rounded floor_divide remainder fmod atan2 hypot logaddexp "
    "xlogy maximum minimum where clamp to_dtype eq ne lt le gt ge logical_and logical_or "
    "logical_xor logical_not isnan isinf isfinite bitwise_and bitwise_or bitwise_xor clone "
    "to_device binary_cross_entropy").split()

RULES = {
    **{name: elementwise for name in _ELEMENTWISE},
    **{name: reduction for name in ("sum", "prod", "amax", "amin", "norm")},
    "all": bool_reduction, "any": bool_reduction,
    "argmax": arg_reduction, "argmin": arg_reduction,
    "reshape": reshape_rule, "permute": permute_rule, "expand": expand_rule, "cat": cat_rule,
    "flip": flip_rule, "getitem": getitem_rule, "index_add_zeros": index_add_zeros_rule,
    "index_put": index_put_rule, "gather": gather_rule, "scatter_add": scatter_add_rule,
    "matmul": matmul_rule, "linear": linear_rule,
    "linear_mse": linear_mse_rule, "cross_entropy": cross_entropy_rule,
    "view_scatter": view_scatter_rule, "view_take": view_take_rule,
    "sampled": sampled_rule,
    "ndtr": elementwise,
    "cumsum": along_dim, "cumprod": along_dim, "argsort": along_dim, "mode_index": along_dim,
    "unique": no_per_example, "bincount": no_per_example, "histc": no_per_example,
    "tril": matrix_rule, "triu": matrix_rule, "inv": matrix_rule, "det": matrix_rule,
    "slogdet": matrix_rule, "cholesky": matrix_rule,
    "diagonal": diagonal_rule, "diag_embed": diag_embed_rule,
    "solve": solve_rule, "lstsq": solve_rule, "einsum": einsum_rule,
    "conv": conv_rule, "conv_input_grad": conv_rule, "conv_weight_grad": conv_rule,
    "max_pool_indices": pool_indices_rule,
}

# Ops that raise inside vmap (their output's shape depends on the values, or no batched
# form): tests/test_vmap.py expects exactly these to refuse.
NOT_BATCHED = ("unique", "bincount", "histc")


def register(rules=RULES) -> None:
    """Give each named registry entry its batching rule (entries that declared one keep it)."""
    for name, rule in rules.items():
        op = OPS.get(name)
        if op is not None and op.batch is None:
            op.batch = rule

