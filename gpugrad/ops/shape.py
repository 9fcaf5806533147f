"""Shape and indexing: reshape, permute, expand, cat, flip, getitem and its transpose, gather,
scatter_add, index_put, clone, device moves (primitives, all linear: each jvp is the op on the
tangent); view, flatten, squeeze, unsqueeze, transpose, broadcast_to, stack, split, chunk,
repeat, ... (composites).

What CuPy does not check, these ops do, on every device: integer-array indices out of range
(CuPy wraps them around) are refused by `B.check_index`, at once on the CPU and at the next
sync point on a GPU (getitem, index_put and setitem, gather, scatter_add); scatter-adds of
bools and 8/16-bit integers go through int32 (`add_at`: CuPy's atomics lack them); and an
assignment through repeated indices is made deterministic on a GPU, the last write winning as
in NumPy (`last_wins`; PyTorch leaves it undefined). In-place writes into memory that
elements share (``expand``) are refused by the registry (`registry.refuse_overlap`).
"""

from __future__ import annotations

import builtins

from .. import backend as B
from ..core.batched import BatchedTensor, physical
from ..core.dims import norm_dim, norm_dims, size_args
from ..core.tensor import Tensor, make_view
from .elementwise import linear_op
from .namespace import sum_to
from .registry import apply, defop, named, public

# ----------------------------------------------------------------------------- dims


def broadcast_shapes(name, *shapes):
    """The broadcast of `shapes`, or an error naming the op and the shapes."""
    try:
        return B.numpy.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"{name}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot "
                           "be broadcast together") from None


# ----------------------------------------------------------------------------- reshape


def _reshape_vjp(F, g, args, out, n):
    shape, src = n.params
    return (F.reshape(g, src, shape),)


RESHAPE = linear_op("reshape", lambda xp, x, shape, src: xp.reshape(x, shape), _reshape_vjp,
                    node_name="ViewBackward0")


@public("Shape and indexing")
def reshape(input, *shape):
    """The same data with a new shape (one dim may be -1); a view when the layout allows.

    Example: ``gpugrad.arange(6).reshape(2, 3)``
    """
    return _reshape("reshape", input, shape)


def _reshape(name, input, shape):
    shape = size_args(name, shape)
    src = input._data.shape
    if shape == src:  # a new tensor all the same: hooks go on the tensor the user holds
        return make_view(apply(RESHAPE, (input,), (src, src)), input, (RESHAPE, (src, src)))
    size = input._data.size
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if shape.count(-1) > 1 or (shape.count(-1) == 0 and known != size) or (
            shape.count(-1) == 1 and (known == 0 or size % known)):
        raise RuntimeError(f"{name}: shape {list(shape)} is invalid for input of size {size} "
                           f"(shape {tuple(src)})")
    if -1 in shape:
        shape = tuple(size // known if s == -1 else s for s in shape)
    out = apply(RESHAPE, (input,), (shape, src))
    if B.xp_of(out._data).may_share_memory(out._data, input._data):
        make_view(out, input, (RESHAPE, (shape, src)))
    return out


def alias(input):
    """`input` as a new tensor object that shares its storage, version counter and (through a
    view node) its place in the graph: what forward AD's ``make_dual`` hands out."""
    shape = input._data.shape
    return make_view(apply(RESHAPE, (input,), (shape, shape)), input, (RESHAPE, (shape, shape)))


@public("Shape and indexing")
def view(input, *shape):
    """Same as ``reshape`` (gpugrad's arrays choose views whenever they can)."""
    return _reshape("view", input, shape)


@public("Shape and indexing")
def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    shp = input._data.shape
    if not shp:
        return reshape(input, 1)
    s = norm_dim("flatten", start_dim, len(shp))
    e = norm_dim("flatten", end_dim, len(shp))
    if s > e:
        raise RuntimeError("flatten: start_dim cannot come after end_dim")
    if s == e:  # nothing to merge: the tensor itself, as in PyTorch
        return input
    n = 1
    for d in shp[s:e + 1]:
        n *= d
    return reshape(input, shp[:s] + (n,) + shp[e + 1:])


@public("Shape and indexing")
def squeeze(input, dim=None):
    """Remove dims of size 1 (only `dim` when given)."""
    shp = input._data.shape
    if dim is None:
        dims = {i for i, s in enumerate(shp) if s == 1}
    else:
        dims = {d for d in norm_dims("squeeze", dim, len(shp)) if shp[d] == 1}
    # PyTorch's overloads: squeeze(), squeeze(dim), squeeze(dims)
    node = "SqueezeBackward" + ("0" if dim is None else "1" if isinstance(dim, int) else "2")
    return named(reshape(input, tuple(s for i, s in enumerate(shp) if i not in dims)), node, input)


@public("Shape and indexing")
def unsqueeze(input, dim):
    """Insert a dim of size 1 at `dim`."""
    shp = input._data.shape
    d = norm_dim("unsqueeze", dim, len(shp) + 1)
    return named(reshape(input, shp[:d] + (1,) + shp[d:]), "UnsqueezeBackward0", input)


# ----------------------------------------------------------------------------- permute


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _permute_vjp(F, g, args, out, n):
    return (F.permute(g, _inverse(n.params[0])),)


PERMUTE = linear_op("permute", lambda xp, x, perm: xp.transpose(x, perm), _permute_vjp)


@public("Shape and indexing")
def permute(input, *dims):
    """Reorder the dims (a view). Example: ``x.permute(2, 0, 1)``."""
    dims = size_args("permute", dims)
    nd = input._data.ndim
    perm = tuple(norm_dim("permute", d, nd) for d in dims)
    if len(perm) != nd or len(set(perm)) != nd:
        raise RuntimeError(f"permute: dims {list(dims)} are not a permutation of the "
                           f"{nd} dims of a tensor of shape {tuple(input._data.shape)}")
    return make_view(apply(PERMUTE, (input,), (perm,)), input, (PERMUTE, (perm,)))


@public("Shape and indexing", aliases=("swapaxes",))
def transpose(input, dim0, dim1):
    """Swap two dims (a view)."""
    nd = input._data.ndim
    if nd < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return permute(input, *range(nd))
    a, b = norm_dim("transpose", dim0, nd), norm_dim("transpose", dim1, nd)
    perm = list(range(nd))
    perm[a], perm[b] = perm[b], perm[a]
    return named(permute(input, *perm), "TransposeBackward0", input)



@public("Shape and indexing")
def t(input):
    """Transpose a tensor of at most 2 dims."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, but it has "
                           f"{input._data.ndim}")
    return named(transpose(input, 0, -1), "TBackward0", input)


@public("Shape and indexing")
def movedim(input, source, destination):
    """Move dim `source` to position `destination` (a view)."""
    nd = input._data.ndim
    s, d = norm_dim("movedim", source, nd), norm_dim("movedim", destination, nd)
    perm = [i for i in range(nd) if i != s]
    perm.insert(d, s)
    return permute(input, *perm)


# ----------------------------------------------------------------------------- expand


def _expand_vjp(F, g, args, out, n):
    return (sum_to(F, g, n.params[1]),)


def _expand_fwd(xp, x, shape, src):
    # Where no dim grows (only dims of size 1 added or kept), no element is repeated: a
    # reshape, a view that can be written through as in PyTorch (NumPy's broadcast views
    # are read-only).
    if x.size == _prod(shape):
        return xp.reshape(x, shape)
    return xp.broadcast_to(x, shape)


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


EXPAND = linear_op("expand", _expand_fwd, _expand_vjp)


@public("Shape and indexing")
def expand(input, *sizes):
    """Broadcast to a larger shape without copying (-1 keeps a dim): ``x.expand(3, -1)``."""
    sizes = size_args("expand", sizes)
    src = input._data.shape
    if len(sizes) < len(src):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(src)})")
    lead = len(sizes) - len(src)
    shape = tuple(src[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(sizes))
    for i, s in enumerate(src):
        if s != 1 and s != shape[i + lead]:
            raise RuntimeError(f"expand: the expanded size of the tensor ({shape[i + lead]}) must "
                               f"match the existing size ({s}) at non-singleton dimension "
                               f"{i + lead}; target sizes {list(sizes)}, tensor shape {tuple(src)}")
    return make_view(apply(EXPAND, (input,), (shape, src)), input, (EXPAND, (shape, src)))


@public("Shape and indexing")
def broadcast_to(input, shape):
    """Broadcast to `shape` (NumPy's name for ``expand``)."""
    return expand(input, *shape)


@public("Shape and indexing", function=False)
def reshape_as(input, other):
    """`input` reshaped to `other`'s shape."""
    return reshape(input, *other._data.shape)


@public("Shape and indexing", function=False)
def view_as(input, other):
    """`input` viewed with `other`'s shape."""
    return view(input, *other._data.shape)


@public("Shape and indexing", function=False)
def expand_as(input, other):
    """`input` expanded to `other`'s shape."""
    return expand(input, *other._data.shape)


@public("Shape and indexing", method=False, first_tensor=False)
def broadcast_tensors(*tensors) -> tuple[Tensor, ...]:
    """Broadcast tensors against each other."""
    shape = broadcast_shapes("broadcast_tensors", *(t._data.shape for t in tensors))
    return tuple(expand(t, *shape) for t in tensors)


# ----------------------------------------------------------------------------- cat


def _cat_vjp(F, g, args, out, n):
    dim, sizes = n.params
    shape = tuple(g.shape)
    grads, start = [], 0
    for need, size in zip(n.needs, sizes):
        idx = (slice(None),) * dim + (slice(start, start + size),)
        grads.append(F.getitem(g, idx, shape) if need else None)
        start += size
    return grads


def _cat_jvp(F, ts, args, out, params):
    return apply(CAT, tuple([t if t is not None else F.zeros_like(a) for t, a in zip(ts, args)]),
                 params)


CAT = defop("cat", lambda xp, *arrays_dim_sizes: xp.concatenate(
    arrays_dim_sizes[:-2], axis=arrays_dim_sizes[-2]), _cat_vjp, _cat_jvp, nin=None)


@public("Shape and indexing", method=False, first_tensor=False, aliases=("concat", "concatenate"))
def cat(tensors, dim=0):
    """Join tensors along an existing dim. Example: ``gpugrad.cat([a, b], dim=1)``."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"cat: expected a list of tensors, but item {i} is "
                            f"{type(x).__name__}")
    # Legacy behaviour kept by PyTorch: 1-D empty tensors are skipped.
    kept = [x for x in tensors if not (x._data.ndim == 1 and x._data.shape[0] == 0)] or tensors[:1]
    nd = kept[0]._data.ndim
    if nd == 0:
        raise RuntimeError("cat: zero-dimensional tensors cannot be concatenated")
    d = norm_dim("cat", dim, nd)
    dt = kept[0].dtype
    for x in kept[1:]:
        if x._data.ndim != nd:
            raise RuntimeError(f"cat: tensors must have the same number of dimensions: got {nd} "
                               f"and {x._data.ndim}")
        if x.dtype is not dt:
            dt = B.promote_types(dt, x.dtype)
        for j in range(nd):
            if j != d and x._data.shape[j] != kept[0]._data.shape[j]:
                raise RuntimeError(
                    f"cat: sizes of tensors must match except in dimension {d}: expected size "
                    f"{kept[0]._data.shape[j]} but got size {x._data.shape[j]} in dimension {j} "
                    f"(shapes {[tuple(t._data.shape) for t in kept]})")
    kept = [x if x.dtype is dt else x.to(dt) for x in kept]
    if len(kept) == 1:
        return named(kept[0].clone(), "CatBackward0")
    return apply(CAT, tuple(kept), (d, tuple(x._data.shape[d] for x in kept)))


@public("Shape and indexing", method=False, first_tensor=False)
def stack(tensors, dim=0):
    """Join tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    shp = tensors[0]._data.shape
    for x in tensors:
        if x._data.shape != shp:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got "
                               f"{tuple(shp)} and {tuple(x._data.shape)}")
    d = norm_dim("stack", dim, len(shp) + 1)
    return named(cat([unsqueeze(x, d) for x in tensors], d), "StackBackward0")


@public("Shape and indexing", method=False, first_tensor=False)
def hstack(tensors):
    """Join tensors column-wise (along dim 0 for 1-D tensors, else dim 1)."""
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


@public("Shape and indexing", method=False, first_tensor=False)
def vstack(tensors):
    """Join tensors row-wise (1-D tensors become rows)."""
    return cat([x.reshape(1, -1) if x._data.ndim < 2 else x for x in tensors], 0)


# ----------------------------------------------------------------------------- split and slicing


@public("Shape and indexing")
def narrow(input, dim, start, length):
    """The slice ``start:start+length`` along `dim` (a view)."""
    d = norm_dim("narrow", dim, input._data.ndim)
    size = input._data.shape[d]
    if start < 0:
        start += size
    if not (0 <= start <= size) or length < 0 or start + length > size:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}) of dim {d} (tensor shape {tuple(input._data.shape)})")
    idx = (slice(None),) * d + (slice(start, start + length),)
    return getitem(input, idx)


@public("Shape and indexing")
def split(tensor, split_size_or_sections, dim=0) -> tuple[Tensor, ...]:
    """Split into chunks of a given size, or of the given list of sizes, along `dim`."""
    d = norm_dim("split", dim, tensor._data.ndim)
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s <= 0:
            raise ValueError(f"split: split_size must be positive, got {s}")
        sizes = [builtins.min(s, n - i) for i in range(0, n, s)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split: split sizes {sizes} do not sum to the size {n} of "
                               f"dimension {d}")
    node = "SplitBackward0" if isinstance(split_size_or_sections, int) else \
        "SplitWithSizesBackward0"
    out, start = [], 0
    for s in sizes:
        out.append(named(narrow(tensor, d, start, s), node, tensor))
        start += s
    return tuple(out)


@public("Shape and indexing")
def chunk(input, chunks, dim=0) -> tuple[Tensor, ...]:
    """Split into `chunks` nearly equal pieces along `dim` (the last may be smaller)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    n = input._data.shape[norm_dim("chunk", dim, input._data.ndim)]
    return split(input, builtins.max(1, -(-n // chunks)), dim)


@public("Shape and indexing")
def unbind(input, dim=0) -> tuple[Tensor, ...]:
    """The slices along `dim`, as a tuple (the dim removed)."""
    if input._data.ndim == 0:
        raise IndexError("unbind: Dimension specified as 0 but tensor has no dimensions")
    d = norm_dim("unbind", dim, input._data.ndim)
    return tuple(named(select(input, d, i), "UnbindBackward0")
                 for i in range(input._data.shape[d]))


@public("Shape and indexing")
def select(input, dim, index):
    """The slice at `index` along `dim`, with that dim removed (a view)."""
    d = norm_dim("select", dim, input._data.ndim)
    size = input._data.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select: index {index} out of range for dimension {d} of size {size} "
                         f"(tensor shape {tuple(input._data.shape)})")
    return getitem(input, (slice(None),) * d + (index,))


# ----------------------------------------------------------------------------- flip, repeat


def _flip_vjp(F, g, args, out, n):
    return (F.flip(g, n.params[0]),)


FLIP = linear_op("flip", lambda xp, x, dims: xp.flip(x, axis=dims).copy(), _flip_vjp)


@public("Shape and indexing")
def flip(input, dims):
    """Reverse the order of elements along `dims` (a copy, as in PyTorch)."""
    return apply(FLIP, (input,), (norm_dims("flip", dims, input._data.ndim),))


@public("Shape and indexing")
def repeat(input, *sizes):
    """Tile the tensor: ``x.repeat(2, 3)`` repeats dim -2 twice and dim -1 three times."""
    sizes = size_args("repeat", sizes)
    if builtins.any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: Trying to create tensor with negative dimension "
                           f"(repeats {list(sizes)})")
    shp = input._data.shape
    if len(sizes) < len(shp):
        raise RuntimeError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller "
                           f"than the number of tensor dims ({len(shp)})")
    shp = (1,) * (len(sizes) - len(shp)) + tuple(shp)
    inter, big, final = [], [], []
    for r, s in zip(sizes, shp):
        inter += [1, s]
        big += [r, s]
        final.append(r * s)
    return named(reshape(expand(reshape(input, tuple(inter)), *big), tuple(final)),
                 "RepeatBackward0", input)


@public("Shape and indexing")
def tile(input, dims):
    """``repeat`` with the repeats given as one sequence."""
    dims = tuple(dims)
    return repeat(input, *(1,) * (input._data.ndim - len(dims)), *dims)


# ----------------------------------------------------------------------------- indexing


def _is_basic(idx):
    return builtins.all(i is None or i is Ellipsis or isinstance(i, (int, slice))
                        and not isinstance(i, bool) for i in idx)


def norm_index(name, x, idx):
    """An index tuple of arrays, ints, slices, None and Ellipsis, on `x`'s device."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for i in idx:
        if type(i) is BatchedTensor:  # per-example indices inside vmap: kept for the rule
            if i._data.dtype.kind not in "biu":
                raise IndexError(f"{name}: tensors used as indices must be long, int or bool, "
                                 f"got {i.dtype}")
            out.append(i)
        elif isinstance(i, Tensor):
            if not B.same_device(i._data, x._data):
                raise RuntimeError(f"{name}: index tensor is on {i.device} but the indexed tensor "
                                   f"is on {x.device}")
            k = i._data.dtype.kind
            if k not in "biu":
                raise IndexError(f"{name}: tensors used as indices must be long, int or bool, "
                                 f"got {i.dtype}")
            # A uint8 index is a mask, as in PyTorch (which deprecates it for bool).
            out.append(i._data.astype(bool) if i._data.dtype == B.uint8.np else i._data)
        elif isinstance(i, (list, B.ndarray)) and not isinstance(i, Tensor):
            try:
                a = B.xp_of(x._data).asarray(i)
            except ValueError:
                raise IndexError(f"{name}: the index list {i!r} is ragged (its sublists have "
                                 "different lengths); index with a tuple of equal-length "
                                 "lists or a tensor") from None
            if a.size and a.dtype.kind not in "biu":
                raise IndexError(f"{name}: indices must be integers or bools, got {i!r}")
            out.append(a if a.size else a.astype(B.numpy.int64))
        elif isinstance(i, B.SCALAR_TYPES) and not isinstance(i, (bool, B.numpy.bool_)):
            if isinstance(i, (float, B.numpy.floating)):
                raise IndexError(f"{name}: indices must be integers, slices, None, ..., or "
                                 f"tensors, got the float {i!r}")
            out.append(int(i))
        else:
            out.append(i)
    return tuple(out)


def _dims_taken(i):
    """How many dims of the indexed tensor index entry `i` consumes (a bool mask: its own)."""
    if i is None or i is Ellipsis:
        return 0
    a = i._data if type(i) is BatchedTensor else i  # (a batched index: its logical shape)
    return a.ndim if B.is_array(a) and a.dtype.kind == "b" else 1


def check_arrays(name, shape, idx):
    """Check the integer-array entries of index tuple `idx` (from `norm_index`) against the
    sizes of the dims of `shape` they index (negative ones count from the end), for arrays
    whose indexing wraps instead of raising (CuPy's; `B.check_index` checks them on the
    device and raises at the next sync)."""
    dim = 0
    for k, i in enumerate(idx):
        if i is Ellipsis:
            dim = len(shape) - builtins.sum(_dims_taken(j) for j in idx[k + 1:])
            continue
        a = physical(i) if type(i) is BatchedTensor else i
        if B.is_array(a) and a.dtype.kind != "b" and dim < len(shape):
            n = shape[dim]
            B.check_index(f"{name}: index {{value}} is out of bounds for dimension {dim} with "
                          f"size {n}", a, -n, n)
        dim += _dims_taken(i)


def _getitem_vjp(F, g, args, out, n):
    idx, shape = n.params
    return (F.index_add_zeros(g, shape, idx),)


def _getitem_fwd(xp, x, idx, shape):
    r = x[idx]
    # NumPy gives a scalar for an element: index with a trailing ... for a 0-d view instead
    return r if isinstance(r, xp.ndarray) else x[(*idx, Ellipsis)]


def _getitem_name(params):
    """PyTorch's node for ``x[idx]``: IndexBackward0 with an index tensor, else that of the last
    view the index applies (an int selects, a slice other than ``:`` slices, None unsqueezes)."""
    name = None
    for i in params[0]:
        if i is None:
            name = "Unsqueeze"
        elif isinstance(i, int):
            name = "Select"
        elif isinstance(i, slice):
            if i != slice(None) or name is None:
                name = "Slice"
        elif i is not Ellipsis:
            return "IndexBackward0"
    return (name or "Alias") + "Backward0"


GETITEM = linear_op("getitem", _getitem_fwd, _getitem_vjp, node_name=_getitem_name)


def _index(x, idx):
    params = (idx, x._data.shape)
    out = apply(GETITEM, (x,), params)
    if _is_basic(idx):
        make_view(out, x, (GETITEM, params))
    return out


@public("Shape and indexing", method=False)
def getitem(input, index):
    """``input[index]`` with ints, slices, None, ..., bool masks and integer tensors/lists."""
    idx = norm_index("getitem", input, index)
    if not B.index_checked(input._data):
        check_arrays("getitem", input._data.shape, idx)
    return _index(input, idx)


def add_at(xp, out, idx, v):
    """``xp.add.at(out, idx, v)``: `v` added into `out` at `idx`, repeated indices adding up,
    for every dtype. CuPy's scatter-add (atomics) takes 32- and 64-bit integers and floats
    only, so bools and 8- and 16-bit integers add up in int32 and are cast back: integers wrap
    around as in PyTorch (the sum modulo 2**bits, whatever the order), bools are a logical or."""
    if out.dtype.kind in "biu" and out.dtype.itemsize < 4:
        wide = out.astype(xp.int32)
        xp.add.at(wide, idx, v)
        out[...] = wide != 0 if out.dtype.kind == "b" else wide.astype(out.dtype)
    else:
        xp.add.at(out, idx, v)


def _iaz_fwd(xp, g, shape, idx):
    z = xp.zeros(shape, dtype=g.dtype)
    if _is_basic(idx):
        z[idx] = g
    else:
        add_at(xp, z, idx, g)
    return z


def _iaz_vjp(F, g, args, out, n):
    shape, idx = n.params
    return (F.getitem(g, idx, shape),)


# The transpose of getitem: `g` added into zeros of `shape` at `idx` (xp.add.at, so repeated
# integer indices add up). A primitive, not index_put into zeros: that would copy the zeros.
INDEX_ADD_ZEROS = linear_op("index_add_zeros", _iaz_fwd, _iaz_vjp)


def index_add_zeros(g, shape, idx):
    """Zeros of `shape` with `g` added at `idx` (repeated indices add up): getitem's transpose."""
    return apply(INDEX_ADD_ZEROS, (g,), (tuple(shape), norm_index("index_add_zeros", g, idx)))


def last_wins(xp, shape, idx, v):
    """`v` for ``out[idx] = v`` (`out` of `shape`; `idx` from `norm_index`, with integer
    arrays) such that every element of `out` that the integer arrays name more than once
    gets the same value from each of its writes: the value of its last write (in C order
    over the index arrays), as NumPy's sequential assignment gives. The writes then agree
    whatever order they land in, so the result is deterministic where CuPy's scatter runs
    them concurrently (PyTorch leaves ``index_put_`` with repeated indices undefined). One
    stable sort of the flat positions finds each element's last write; `v` is returned
    unchanged when no two writes could differ (no integer array, or `v` the same along the
    arrays' dims). Bool masks never repeat an element: with one, `v` is returned unchanged."""
    ndim = len(shape)
    entries = list(idx)
    if not builtins.any(B.is_array(i) for i in entries) or builtins.any(
            B.is_array(i) and i.dtype.kind == "b" for i in entries):
        return v
    # The dims each entry indexes, the result dims the basic entries give, and the integer
    # entries (Python ints are advanced indices too when arrays are present, as in NumPy).
    adv, keys, basic, dim = [], [], [], 0
    before = None  # result dims from basic entries before the first advanced one
    for k, i in enumerate(entries):
        if i is None:
            basic.append(1)
        elif i is Ellipsis:
            n = ndim - dim - builtins.sum(1 for j in entries[k + 1:]
                                          if j is not None and j is not Ellipsis)
            basic.extend(shape[dim:dim + n])
            dim += n
        elif isinstance(i, slice):
            basic.append(len(range(*i.indices(shape[dim]))))
            dim += 1
        else:
            if before is None:
                before = len(basic)
            n = shape[dim]
            a = xp.asarray(i)
            adv.append(k)
            keys.append((xp.where(a < 0, a + n, a), n))
            dim += 1
    basic.extend(shape[dim:])
    key = None
    for a, n in keys:  # the position among the indexed dims, as one integer
        key = a if key is None else key * n + a
    assert key is not None and before is not None
    sshape = key.shape
    p = before if adv == list(range(adv[0], adv[-1] + 1)) else 0  # NumPy's placement
    rshape = tuple(basic[:p]) + tuple(sshape) + tuple(basic[p:])
    va = xp.asarray(v)
    lead = len(rshape) - va.ndim
    if key.size <= 1 or builtins.all(va.shape[d - lead] == 1 for d in range(p, p + len(sshape))
                                     if d >= lead):
        return v
    flat = key.reshape(-1)
    m = flat.size
    order = xp.argsort(flat, kind="stable")  # the writes of one position together, in order
    sk = flat[order]
    start = xp.ones(m, dtype=bool)
    start[1:] = sk[1:] != sk[:-1]
    run = xp.cumsum(start) - 1  # each sorted write's run (its position's rank)
    ends = xp.zeros(m, dtype=run.dtype)
    xp.maximum.at(ends, run, xp.arange(m, dtype=run.dtype))  # (no boolean mask: no sync)
    w = xp.empty_like(order)
    w[order] = order[ends[run]]  # each write's last write of the same position
    vb = xp.broadcast_to(va, rshape).reshape(rshape[:p] + (m,) + rshape[p + len(sshape):])
    return xp.take(vb, w, axis=p).reshape(rshape)


def _index_put_fwd(xp, x, v, idx, accumulate, out=None):
    if out is None:
        out = x.copy()
    if not accumulate:
        if not B.index_checked(out) and not _is_basic(idx):
            v = last_wins(xp, out.shape, idx, v)  # (NumPy's assignment is sequential)
        out[idx] = v
    elif _is_basic(idx):
        out[idx] += v
    else:
        add_at(xp, out, idx, v)
    return out


def _index_put_vjp(F, g, args, out, n):
    idx, accumulate = n.params
    nx, nv = n.needs
    gx = (g if accumulate else F.index_put(g, 0.0, idx, False)) if nx else None
    return gx, F.getitem(g, idx, tuple(g.shape)) if nv else None


# Linear in (input, values) jointly; the values' gradient is summed down to their shape.
INDEX_PUT = linear_op("index_put", _index_put_fwd, _index_put_vjp, nin=2, unbroadcast=True,
                      writes_out=True)


@public("Shape and indexing", inplace=True)
def index_put(input, indices, values, accumulate=False, *, out=None):
    """A copy of `input` with ``input[indices] = values`` (or ``+=`` with accumulate)."""
    idx = norm_index("index_put", input, indices)
    if not B.index_checked(input._data):
        check_arrays("index_put", input._data.shape, idx)
    if isinstance(values, Tensor):
        if not B.same_device(values._data, input._data):
            raise RuntimeError(f"index_put: values are on {values.device} but the tensor is on "
                               f"{input.device}")
        if values.dtype is not input.dtype:
            values = values.to(input.dtype)
    elif not isinstance(values, B.SCALAR_TYPES):
        values = input.new_tensor(values)
    return apply(INDEX_PUT, (input, values), (idx, accumulate), out)


def _gather_index(xp, index, dim):
    """Full index tuple addressing ``out[i][j][k]`` -> ``x[i][index[i][j][k]][k]`` (dim = 1)."""
    nd = index.ndim
    idx = []
    for d in range(nd):
        if d == dim:
            idx.append(index)
        else:
            shape = [1] * nd
            shape[d] = index.shape[d]
            idx.append(xp.arange(index.shape[d]).reshape(shape))
    return tuple(idx)


def _gather_vjp(F, g, args, out, n):
    dim, index, shape = n.params
    return (F.scatter_add(F.zeros(shape, g), g, dim, index, tuple(g.shape)),)


GATHER = linear_op("gather", lambda xp, x, dim, index, shape:
                   x[_gather_index(xp, index._data, dim)], _gather_vjp)


def _check_index(name, input, dim, index):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got "
                        f"{getattr(index, 'dtype', type(index).__name__)}")
    if not B.same_device(index._data, input._data):
        raise RuntimeError(f"{name}: index is on {index.device} but input is on {input.device}")
    d = norm_dim(name, dim, input._data.ndim)
    if index._data.ndim != input._data.ndim:
        raise RuntimeError(f"{name}: index has {index._data.ndim} dims but input has "
                           f"{input._data.ndim}")
    for j, (a, b) in enumerate(zip(index._data.shape, input._data.shape)):
        if j != d and a > b:
            raise RuntimeError(f"{name}: size of index ({tuple(index._data.shape)}) exceeds the "
                               f"input's ({tuple(input._data.shape)}) at dimension {j}")
    size = input._data.shape[d] if input._data.ndim else 1
    # No wrap-around of negative indices, as in PyTorch (inside vmap: every example's indices;
    # on a GPU checked on the device, raised at the next sync: B.check_index).
    B.check_index(f"{name}: index {{value}} is out of bounds for dimension {d} with size {size}",
                  physical(index), 0, size)
    return d


@public("Shape and indexing")
def gather(input, dim, index):
    """``out[i][j] = input[i][index[i][j]]`` for dim = 1 (PyTorch's gather, any dim)."""
    d = _check_index("gather", input, dim, index)
    return apply(GATHER, (input,), (d, index, input._data.shape))


@public("Shape and indexing")
def take_along_dim(input, indices, dim):
    """``gather`` with NumPy's argument order."""
    return gather(input, dim, indices)


def _scatter_add_fwd(xp, x, src, dim, index, src_shape):
    out = x.copy()
    idx = _gather_index(xp, index._data, dim)
    add_at(xp, out, idx, src[tuple(slice(0, s) for s in index._data.shape)])
    return out


def _scatter_add_vjp(F, g, args, out, n):
    dim, index, src_shape = n.params
    nx, ns = n.needs
    gs = None
    if ns:
        # Only src's leading block (index's shape) is scattered; the rest gets no gradient.
        gs = F.gather(g, dim, index, tuple(g.shape))
        if tuple(gs.shape) != src_shape:
            gs = F.index_add_zeros(gs, src_shape, tuple(slice(0, s) for s in gs.shape))
    return (g if nx else None), gs


SCATTER_ADD = linear_op("scatter_add", _scatter_add_fwd, _scatter_add_vjp, nin=2)


@public("Shape and indexing")
def scatter_add(input, dim, index, src):
    """A copy of `input` with ``out[i][index[i][j]] += src[i][j]`` for dim = 1 (PyTorch's)."""
    d = _check_index("scatter_add", input, dim, index)
    return apply(SCATTER_ADD, (input, src), (d, index, src._data.shape))


# ----------------------------------------------------------------------------- copies, devices


def _identity_vjp(F, g, args, out, n):
    return (g,)


CLONE = linear_op("clone", lambda xp, x: x.copy(), _identity_vjp)


@public("Shape and indexing")
def clone(input):
    """A copy with its own storage (gradients flow through)."""
    return apply(CLONE, (input,))


def _to_device_vjp(F, g, args, out, n):
    dev, src = n.params
    return (F.to_device(g, src, dev),)


TO_DEVICE = linear_op("to_device", lambda xp, x, dev, src: B.transfer(x, dev), _to_device_vjp,
                      node_name="ToCopyBackward0")


def to_device(input, dev):
    """`input` on device `dev` (a copy; gradients flow back to `input`'s device)."""
    return apply(TO_DEVICE, (input,), (dev, input.device))
