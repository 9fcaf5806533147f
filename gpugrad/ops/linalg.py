"""Linear algebra: matmul and linear (primitives) and their composites (mm, mv, dot, outer,
bmm, inner); tril, triu, diagonal, diag_embed, einsum (linear primitives) and diag, trace;
inv, det, slogdet, solve, cholesky, lstsq (primitives, raising `LinAlgError` as PyTorch does)
and the norms of ``gpugrad.linalg``."""

from __future__ import annotations

from .. import backend as B
from ..core.batched import front_values, wrap_levels
from ..core.dims import norm_dim
from ..core.tensor import Tensor, wrap
from .elementwise import linear_op, where
from .namespace import mT, sum_to
from .reduction import amax, amin, norm
from .registry import LinAlgError, apply, defop, named, public
from .sorting import return_type


def _col(F, v):
    """`v` with a trailing dim of size 1 (a column)."""
    s = tuple(v.shape)
    return F.reshape(v, s + (1,), s)


def _row(F, v):
    """`v` with a size-1 dim before its last (a row)."""
    s = tuple(v.shape)
    return F.reshape(v, s[:-1] + (1,) + s[-1:], s)


def _drop(F, v, axis):
    """`v` without its size-1 dim `axis` (-1 or -2)."""
    s = tuple(v.shape)
    return F.reshape(v, s[:axis] + (s[axis + 1:] if axis != -1 else ()), s)


def _matmul_vjp(F, g, args, out, n):
    a, b = args
    sa, sb = n.params
    na, nb = n.needs
    ga = gb = None
    # No transposed copies: a transposed operand is a strided view that BLAS reads directly,
    # and the vector cases are written as vector-matrix products.
    if len(sa) == 1 and len(sb) == 1:
        ga = g * b if na else None
        gb = g * a if nb else None
    elif len(sb) == 1:
        if na:
            ga = sum_to(F, _col(F, g) * b, sa)
        if nb:
            gb = g @ a if len(sa) == 2 else sum_to(F, _drop(F, _row(F, g) @ a, -2), sb)
    elif len(sa) == 1:
        if na:
            ga = b @ g if len(sb) == 2 else sum_to(F, _drop(F, b @ _col(F, g), -1), sa)
        if nb:
            gb = sum_to(F, _col(F, a) * _row(F, g), sb)
    else:
        if na:
            ga = sum_to(F, g @ mT(F, b), sa)
        if nb:
            gb = sum_to(F, mT(F, a) @ g, sb)
    return ga, gb


def _matmul_jvp(F, ts, args, out, params):
    (ta, tb), (a, b) = ts, args
    r = None if ta is None else ta @ b
    if tb is not None:
        r = a @ tb if r is None else r + a @ tb
    return r


def _matmul_name(params):
    """PyTorch's node for a matmul of these ranks (its other cases are views around bmm)."""
    ranks = (len(params[0]), len(params[1]))
    return {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0"}.get(
        ranks, "MatmulBackward0")


MATMUL = defop("matmul", lambda xp, a, b, sa, sb: xp.matmul(a, b), _matmul_vjp, _matmul_jvp,
               save=((1,), (0,)), nin=2, promote=(0, 1), node_name=_matmul_name)


def _linear_fwd(xp, x, W, b):
    out = xp.matmul(x, W.T)
    if b is not None:
        out += b  # a fresh array: no second one for the sum
    return out


def _linear_vjp(F, g, args, out, n):
    x, W, _ = args
    nx, nW, nb = n.needs
    gx = g @ W if nx else None
    if x is not None and x.ndim == 1:  # a single vector: gW is an outer product
        return gx, g[..., None] * x if nW else None, g if nb else None
    # Batch dims folded into rows: gW = g^T x is one product, laid out as W (no copy).
    g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
    x2 = x.reshape(-1, x.shape[-1]) if nW and x.ndim != 2 else x
    return gx, g2.T @ x2 if nW else None, g2.sum(0) if nb else None


def _linear_jvp(F, ts, args, out, params):
    (tx, tW, tb), (x, W, _) = ts, args
    r = None if tx is None else tx @ W.mT
    if tW is not None:
        r = x @ tW.mT if r is None else r + x @ tW.mT
    if tb is not None:
        r = tb.expand(*out._data.shape) if r is None else r + tb
    return r


# input @ weight^T + bias, as nn.Linear computes it: one node, and the weight's gradient in
# the weight's own layout (the composite would transpose it back and copy it into .grad).
LINEAR = defop("linear", _linear_fwd, _linear_vjp, _linear_jvp, save=((1,), (0,), ()), nin=3,
               node_name="AddmmBackward0")


def _check_matmul(name, a, b):
    sa, sb = a._data.shape, b._data.shape
    if not sa or not sb:
        raise RuntimeError(f"{name}: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(sa)} and {tuple(sb)}")
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise RuntimeError(f"{name}: shapes {tuple(sa)} and {tuple(sb)} cannot be multiplied "
                           f"(inner dimensions {k_a} and {k_b} differ)")
    if len(sa) > 2 and len(sb) > 2:
        try:
            B.numpy.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise RuntimeError(f"{name}: batch dimensions of shapes {tuple(sa)} and {tuple(sb)} "
                               "cannot be broadcast") from None


@public("Linear algebra", first_tensor=False)
def matmul(input, other):
    """Matrix product with NumPy/PyTorch semantics: 1-D, 2-D, batched and broadcast batches.

    Example: ``gpugrad.randn(2, 3) @ gpugrad.randn(3)`` has shape (2,).
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"matmul: expected two tensors, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    _check_matmul("matmul", input, other)
    return apply(MATMUL, (input, other), (input._data.shape, other._data.shape))


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` for a 2-D weight (out_features, in_features), as one node."""
    dt = input._data.dtype
    if (weight._data.ndim == 2 and weight._data.dtype == dt and input._data.ndim >= 1
            and (bias is None or (bias._data.shape == weight._data.shape[:1]
                                  and bias._data.dtype == dt))):
        out = apply(LINEAR, (input, weight, bias))
        return out if bias is not None or input._data.ndim != 2 else named(out, "MmBackward0")
    out = input @ weight.mT if weight._data.ndim >= 2 else input @ weight
    return out if bias is None else out + bias


def _need_dims(name, what, *pairs):
    """Check each (tensor, ndim) pair; the error names the op and the shapes."""
    if any(t._data.ndim != n for t, n in pairs):
        shapes = " and ".join(str(tuple(t._data.shape)) for t, _ in pairs)
        raise RuntimeError(f"{name}: expected {what}, got shapes {shapes}")


@public("Linear algebra")
def mm(input, mat2):
    """Product of two 2-D matrices."""
    _need_dims("mm", "2-D tensors", (input, 2), (mat2, 2))
    return matmul(input, mat2)


@public("Linear algebra")
def mv(input, vec):
    """Product of a 2-D matrix and a 1-D vector."""
    _need_dims("mv", "a 2-D matrix and a 1-D vector", (input, 2), (vec, 1))
    return matmul(input, vec)


@public("Linear algebra")
def bmm(input, mat2):
    """Batched product of two 3-D tensors."""
    _need_dims("bmm", "3-D tensors", (input, 3), (mat2, 3))
    return named(matmul(input, mat2), "BmmBackward0")


@public("Linear algebra", aliases=("inner",))
def dot(input, other):
    """Inner product of two 1-D tensors of the same length."""
    _need_dims("dot", "1-D tensors", (input, 1), (other, 1))
    if input._data.shape != other._data.shape:
        raise RuntimeError(f"dot: inconsistent tensor sizes {input._data.shape[0]} and "
                           f"{other._data.shape[0]}")
    return matmul(input, other)


@public("Linear algebra")
def vdot(input, other):
    """Inner product of two 1-D tensors (real tensors: the same as ``dot``)."""
    return named(dot(input, other), "VdotBackward0")



@public("Linear algebra", aliases=("ger",))
def outer(input, vec2):
    """Outer product of two 1-D tensors: ``out[i, j] = a[i] * b[j]``."""
    _need_dims("outer", "1-D tensors", (input, 1), (vec2, 1))
    return input.unsqueeze(1) * vec2.unsqueeze(0)


# ----------------------------------------------------------------------------- triangles, diagonals


def _tri_vjp(name):
    def vjp(F, g, args, out, n):
        return (getattr(F, name)(g, *n.params),)
    return vjp


TRIL = linear_op("tril", lambda xp, x, k: xp.tril(x, k), _tri_vjp("tril"))
TRIU = linear_op("triu", lambda xp, x, k: xp.triu(x, k), _tri_vjp("triu"))


def _need_matrix(name, input):
    if input._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions (got shape "
                           f"{tuple(input._data.shape)})")


@public("Linear algebra")
def tril(input, diagonal=0):
    """The lower triangle of the (batched) matrix: entries above the `diagonal`-th diagonal
    set to 0. Example: ``gpugrad.ones(3, 3).tril()`` keeps 6 ones."""
    _need_matrix("tril", input)
    return apply(TRIL, (input,), (int(diagonal),))


@public("Linear algebra")
def triu(input, diagonal=0):
    """The upper triangle of the (batched) matrix: entries below the `diagonal`-th diagonal
    set to 0. Example: ``gpugrad.ones(3, 3).triu(1)`` keeps 3 ones."""
    _need_matrix("triu", input)
    return apply(TRIU, (input,), (int(diagonal),))


def _diagonal_vjp(F, g, args, out, n):
    offset, d1, d2, shape = n.params
    return (F.diag_embed(g, offset, d1, d2, shape),)


DIAGONAL = linear_op("diagonal", lambda xp, x, offset, d1, d2, shape:
                     xp.diagonal(x, offset, d1, d2).copy(), _diagonal_vjp)


def _embed_fwd(xp, v, offset, d1, d2, shape):
    out = xp.zeros(shape, dtype=v.dtype)
    o = xp.moveaxis(out, (d1, d2), (-2, -1))  # a view: writes land in out
    i = xp.arange(v.shape[-1])
    o[..., i + max(-offset, 0), i + max(offset, 0)] = v
    return out


def _embed_vjp(F, g, args, out, n):
    offset, d1, d2, shape = n.params
    return (F.diagonal(g, offset, d1, d2, tuple(g.shape)),)


# The transpose of diagonal: `v`'s last dim laid on the diagonal (dims d1, d2) of zeros.
DIAG_EMBED = linear_op("diag_embed", _embed_fwd, _embed_vjp)


@public("Linear algebra")
def diagonal(input, offset=0, dim1=0, dim2=1):
    """The `offset`-th diagonal of the matrices in dims (`dim1`, `dim2`), as the last dim.

    Example: ``gpugrad.eye(3).diagonal()`` -> tensor([1., 1., 1.])
    """
    nd = input._data.ndim
    d1, d2 = norm_dim("diagonal", dim1, nd), norm_dim("diagonal", dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return apply(DIAGONAL, (input,), (int(offset), d1, d2, input._data.shape))


def _embed(name, input, offset, dim1, dim2):
    nd = input._data.ndim + 1
    d1, d2 = norm_dim(name, dim1, nd), norm_dim(name, dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"{name}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    m = input._data.shape[-1] + abs(offset)
    lead = list(input._data.shape[:-1])
    shape = []
    for d in range(nd):
        shape.append(m if d in (d1, d2) else lead.pop(0))
    return apply(DIAG_EMBED, (input,), (int(offset), d1, d2, tuple(shape)))


@public("Linear algebra")
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices (in dims `dim1`, `dim2`) with the last dim of `input` on their `offset`-th
    diagonal, zeros elsewhere. Example: ``gpugrad.diag_embed(gpugrad.ones(2, 3)).shape`` ->
    (2, 3, 3)"""
    return _embed("diag_embed", input, offset, dim1, dim2)


@public("Linear algebra")
def diag(input, diagonal=0):
    """A 1-D tensor: the square matrix with it on the `diagonal`-th diagonal; a 2-D tensor: its
    `diagonal`-th diagonal. Example: ``gpugrad.diag(gpugrad.tensor([1., 2.]))`` ->
    tensor([[1., 0.], [0., 2.]])"""
    nd = input._data.ndim
    if nd == 1:
        return named(_embed("diag", input, diagonal, 0, 1), "DiagEmbedBackward0")
    if nd == 2:
        return named(globals()["diagonal"](input, diagonal, 0, 1), "DiagonalBackward0_copy")
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")


@public("Linear algebra")
def trace(input):
    """The sum of the diagonal of a 2-D matrix. Example: ``gpugrad.eye(3).trace()`` ->
    tensor(3.)"""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim "
                           f"{input._data.ndim}")
    return named(diagonal(input).sum(), "TraceBackward0", input)


# ----------------------------------------------------------------------------- einsum


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_fwd(xp, *arrays_eq):
    *arrays, eq = arrays_eq
    return xp.einsum(eq, *arrays, optimize=len(arrays) > 2)


def _einsum_apply(F, eq, operands, like):
    if F.builds_graph:
        return apply(EINSUM, tuple(operands), (eq,))
    return EINSUM.impl(type(like))(*operands, eq)


def _const(F, array):
    return wrap(array) if F.builds_graph else array


def _einsum_vjp(F, g, args, out, n):
    (eq,) = n.params
    ins, out_sub = eq.split("->")
    subs = ins.split(",")
    sizes = {c: s for sub, a in zip(subs, args) for c, s in zip(sub, a.shape)}
    used = set(eq)
    fresh = (c for c in _LETTERS if c not in used)
    a0 = args[0]._data if isinstance(args[0], Tensor) else args[0]
    xp = B.xp_of(a0)
    grads = []
    for k, need in enumerate(n.needs):
        if not need:
            grads.append(None)
            continue
        # g, the other operands, an identity per repeated letter of operand k (its diagonal),
        # and ones over the letters that only operand k has (summed in the forward).
        target, ops, terms = [], [g], [out_sub]
        for j, (sub, a) in enumerate(zip(subs, args)):
            if j != k:
                ops.append(a)
                terms.append(sub)
        for c in subs[k]:
            if c in target:
                c2 = next(fresh)
                ops.append(_const(F, xp.eye(sizes[c], dtype=a0.dtype)))
                terms.append(c + c2)
                c = c2
            target.append(c)
        have = set("".join(terms))
        only = "".join(dict.fromkeys(c for c in subs[k] if c not in have))
        if only:
            ops.append(_const(F, xp.ones(tuple(sizes[c] for c in only), dtype=a0.dtype)))
            terms.append(only)
        grads.append(_einsum_apply(F, ",".join(terms) + "->" + "".join(target), ops, a0))
    return grads


def _einsum_jvp(F, ts, args, out, params):
    r = None
    for k, t in enumerate(ts):
        if t is not None:
            ops = list(args)
            ops[k] = t
            term = apply(EINSUM, tuple(ops), params)
            r = term if r is None else r + term
    return r


EINSUM = defop("einsum", _einsum_fwd, _einsum_vjp, _einsum_jvp, save="all", nin=None)


def _parse_einsum(equation, operands):
    """The equation with explicit letters only (no ellipsis, an explicit output) and the
    operands broadcast where a letter has size 1 in some and n in others."""
    eq = equation.replace(" ", "")
    ins, arrow, out = eq.partition("->")
    subs = ins.split(",")
    if len(subs) != len(operands):
        raise ValueError(f"einsum(): {len(subs)} operands in the equation {equation!r} but "
                         f"{len(operands)} were given")
    for c in eq:
        if c not in _LETTERS and c not in ".,->":
            raise ValueError(f"einsum(): invalid subscript given: {c!r} in {equation!r}; "
                             "subscripts must be letters in [a-zA-Z]")
    used = set(eq)
    fresh = [c for c in _LETTERS if c not in used]
    n_ell = 0
    full = []
    for sub, t in zip(subs, operands):
        nd = t._data.ndim
        if "..." in sub:
            k = nd - (len(sub) - 3)
            if k < 0:
                raise RuntimeError(f"einsum(): the subscripts {sub!r} have more dimensions than "
                                   f"the operand's {nd}")
            n_ell = max(n_ell, k)
        elif len(sub) != nd:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(sub)}) does not match the number of dimensions ({nd}) "
                               f"for operand {len(full)}")
        full.append(sub)
    ell = "".join(fresh[:n_ell])
    full = [s.replace("...", ell[len(ell) - (t._data.ndim - (len(s) - 3)):]) if "..." in s
            else s for s, t in zip(full, operands)]
    if not arrow:
        counts: dict = {}
        for c in "".join(full):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, m in counts.items() if m == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
        for c in out:
            if c not in "".join(full):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand")
    sizes: dict = {}
    for k, (sub, t) in enumerate(zip(full, operands)):
        for c, s in zip(sub, t._data.shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = s
            elif s not in (1, sizes[c]):
                raise RuntimeError(f"einsum(): subscript {c} has size {s} for operand "
                                   f"{k} which does not broadcast with previously "
                                   f"seen size {sizes[c]}")
    ops = []
    for sub, t in zip(full, operands):
        want = tuple(sizes[c] for c in sub)
        ops.append(t if tuple(t._data.shape) == want else t.expand(*want))
    return ",".join(full) + "->" + out, ops


@public("Linear algebra", method=False, first_tensor=False)
def einsum(equation, *operands):
    """Einstein summation: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``; repeated letters
    are multiplied along, letters missing from the output are summed; ``...`` stands for
    the remaining (broadcast) dims; without ``->`` the output is the letters used once, in
    order. Operands may also be passed as one list.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError("einsum(): the equation must be a string (the sublist format is not "
                        "supported)")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): operand {i} must be a Tensor, not {type(t).__name__}")
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    dt = operands[0].dtype
    for t in operands[1:]:
        dt = B.promote_types(dt, t.dtype)
    operands = tuple(t if t.dtype is dt else t.to(dt) for t in operands)
    eq, ops = _parse_einsum(equation, operands)
    return apply(EINSUM, tuple(ops), (eq,))


# ----------------------------------------------------------------------------- errors


def _check_square(name, A):
    s = A._data.shape
    if len(s) < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if s[-1] != s[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{s[-2]} by {s[-1]} matrices")
    _check_float(name, A)


def _check_float(name, A):
    if A._data.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_TORCH_NAMES.get(A.dtype.name, A.dtype.name)}")


_TORCH_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
                "uint8": "Byte", "bool": "Bool"}


def _batches(a):
    """(batch element index, matrix) for each matrix of a host array (..., n, n)."""
    flat = a.reshape((-1,) + a.shape[-2:])
    return list(enumerate(flat)), a.ndim > 2


def _zero_pivot(m):
    """The first zero pivot (1-based) of LU with partial pivoting (LAPACK's getrf), or 0."""
    a = m.astype(B.numpy.float64)
    n = a.shape[0]
    for k in range(n):
        p = k + int(B.numpy.argmax(B.numpy.abs(a[k:, k])))
        if a[p, k] == 0:
            return k + 1
        a[[k, p]] = a[[p, k]]
        a[k + 1:, k:] -= B.numpy.outer(a[k + 1:, k] / a[k, k], a[k, k:])
    return 0


def _bad_minor(m):
    """The order (1-based) of the first leading minor that is not positive-definite, or 0."""
    a = m.astype(B.numpy.float64)
    n = a.shape[0]
    L = B.numpy.zeros_like(a)
    for j in range(n):
        d = a[j, j] - L[j, :j] @ L[j, :j]
        if not d > 0:
            return j + 1
        L[j, j] = d ** 0.5
        L[j + 1:, j] = (a[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    return 0


def _linalg_error(name, a, find, message):
    """The LinAlgError PyTorch raises for the first bad matrix of `a` (any device)."""
    host = B.to_numpy(a)
    items, batched = _batches(host)
    for i, m in items:
        k = find(m)
        if k:
            prefix = f"(Batch element {i}): " if batched else ""
            return LinAlgError(f"{name}: {prefix}{message(k)}")
    return LinAlgError(f"{name}: {message(0)}")


def _inv_error(name, a):
    return _linalg_error(name, a, _zero_pivot, lambda k: (
        f"The diagonal element {k} is zero, the inversion could not be completed because the "
        "input matrix is singular."))


def _solve_error(name, a):
    return _linalg_error(name, a, _zero_pivot, lambda k: (
        "The solver failed because the input matrix is singular."))


def _cholesky_error(name, a):
    return _linalg_error(name, a, _bad_minor, lambda k: (
        "The factorization could not be completed because the input is not positive-definite "
        f"(the leading minor of order {k} is not positive-definite)."))


def _guarded(xp, fn, error, a, *args):
    """``fn(a, *args)``, raising `error(a)` where the array library found the matrix singular
    or not positive-definite (and, as a second guard on a GPU, where a finite input gave
    non-finite values)."""
    try:
        with B.linalg_errors(a):
            out = fn(a, *args)
    except B.numpy.linalg.LinAlgError:
        raise error(a) from None
    if xp is not B.numpy and out.size and not bool(xp.isfinite(out).all()) and bool(
            xp.isfinite(a).all()):
        raise error(a)
    return out


# ----------------------------------------------------------------------------- inv, det


def _inv_fwd(xp, a):
    return _guarded(xp, xp.linalg.inv, lambda m: _inv_error("linalg.inv", m), a)


def _inv_vjp(F, g, args, out, n):
    # d(A^-1) = -A^-1 dA A^-1
    t = mT(F, out)
    return (-(t @ g @ t),)


def _inv_jvp(F, ts, args, out, params):
    return -(out @ ts[0] @ out)


INV = defop("inv", _inv_fwd, _inv_vjp, _inv_jvp, save_out=True,
            node_name="LinalgInvExBackward0")


def inv(A):
    _check_square("linalg.inv", A)
    return apply(INV, (A,))


@public("Linear algebra")
def inverse(input):
    """The inverse of a square (batched) matrix; `LinAlgError` when it is singular.

    Example: ``gpugrad.tensor([[2., 0.], [0., 4.]]).inverse()`` -> tensor([[0.5, 0.], [0.,
    0.25]])
    """
    return inv(input)


def _mat(F, v):
    """`v` (batch dims) with two trailing dims of size 1."""
    s = tuple(v.shape)
    return F.reshape(v, s + (1, 1), s)


def _cofactors(a):
    """det(A) A^-T (the cofactor matrix), also where A is singular: with A = U S V^T it is
    det(U) det(V) U diag(prod_{j != i} s_j) V^T (on arrays; no graph)."""
    xp = B.xp_of(a)
    u, s, vt = xp.linalg.svd(a)
    ones = xp.ones_like(s[..., :1])
    before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], -1), -1)
    after = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(s, -1)[..., :-1]], -1), -1), -1)
    sign = xp.linalg.det(u) * xp.linalg.det(vt)
    return xp.asarray(sign)[..., None, None] * ((u * (before * after)[..., None, :]) @ vt)


def _det_grad(F, a, out):
    """det(A) A^-T: through the inverse (differentiable again) where every matrix is
    invertible; through an SVD where one is singular, on arrays only."""
    if bool((out != 0).all()):
        return _mat(F, out) * mT(F, F.inv(a))
    if F.builds_graph:
        raise LinAlgError("linalg.det: the derivative at a singular matrix is computed on "
                          "arrays only: not under create_graph=True or in forward mode")
    return _cofactors(a)


def _det_vjp(F, g, args, out, n):
    # d det(A) = det(A) tr(A^-1 dA): the gradient is det(A) A^-T (the transposed adjugate).
    return (_mat(F, g) * _det_grad(F, args[0], out),)


def _det_jvp(F, ts, args, out, params):
    (t,), (a,) = ts, args
    s = tuple(t.shape)
    return F.sum(_det_grad(F, a, out) * t, (len(s) - 2, len(s) - 1), False, s)


DET = defop("det", lambda xp, a: xp.linalg.det(a), _det_vjp, _det_jvp, save=((0,),),
            save_out=True, node_name="LinalgDetBackward0")


@public("Linear algebra")
def det(input):
    """The determinant of a square (batched) matrix. Its gradient, det(A) A^-T, is also
    defined where A is singular (then computed through an SVD, first order only).

    Example: ``gpugrad.tensor([[2., 1.], [1., 3.]]).det()`` -> tensor(5.)
    """
    _check_square("linalg.det", input)
    return apply(DET, (input,))


def _logabsdet_vjp(F, g, args, out, n):
    (a,) = args
    return (_mat(F, g) * mT(F, F.inv(a)),)


def _logabsdet_jvp(F, ts, args, out, params):
    (t,), (a,) = ts, args
    s = tuple(t.shape)
    return F.sum(mT(F, F.inv(a)) * t, (len(s) - 2, len(s) - 1), False, s)


LOGABSDET = defop("slogdet", lambda xp, a: xp.linalg.slogdet(a)[1], _logabsdet_vjp,
                  _logabsdet_jvp, save=((0,),), node_name="LinalgSlogdetBackward0")


def slogdet_of(A, name, kind):
    """(sign, logabsdet) as the named tuple `kind` (PyTorch: slogdet or linalg_slogdet)."""
    _check_square(name, A)
    values, levels = front_values(A)  # (inside vmap: every example's)
    xp = B.xp_of(values)
    sign = wrap_levels(wrap(xp.asarray(xp.linalg.slogdet(values)[0])), levels)
    return return_type(kind, ("sign", "logabsdet"))(sign, apply(LOGABSDET, (A,)))


@public("Linear algebra")
def slogdet(input):
    """``(sign, logabsdet)``: the sign of the determinant and the log of its absolute value
    (-inf for a singular matrix), without overflow. Only logabsdet has a gradient.

    Example: ``gpugrad.tensor([[-2., 0.], [0., 3.]]).slogdet()`` -> sign tensor(-1.),
    logabsdet tensor(1.7918)
    """
    return slogdet_of(input, "linalg.slogdet", "slogdet")


@public("Linear algebra")
def logdet(input):
    """log(det(A)): NaN where the determinant is negative, -inf where it is 0.

    Example: ``gpugrad.tensor([[2., 0.], [0., 3.]]).logdet()`` -> tensor(1.7918)
    """
    sign, logabs = slogdet_of(input, "logdet", "slogdet")
    return where(sign < 0, float("nan"), logabs)  # PyTorch's node: WhereBackward0


# ----------------------------------------------------------------------------- solve, cholesky


def _solve_fwd(xp, a, b, sa, sb):
    return _guarded(xp, xp.linalg.solve, lambda m: _solve_error("torch.linalg.solve", m), a, b)


def _solve_vjp(F, g, args, out, n):
    # X = A^-1 B: gB = A^-T g, gA = -gB X^T (summed over broadcast batch dims).
    a = args[0]
    sa, sb = n.params
    na, nb = n.needs
    gb = _solve(F, mT(F, a), g)
    ga = sum_to(F, -(gb @ mT(F, out)), sa) if na else None
    return ga, (sum_to(F, gb, sb) if nb else None)


def _solve_jvp(F, ts, args, out, params):
    (ta, tb), a = ts, args[0]
    r = tb if ta is None else (-(ta @ out) if tb is None else tb - ta @ out)
    return _solve(F, a, r)


def _solve(F, a, b):
    """A^-1 b inside a rule (b's batch dims broadcast against a's)."""
    return F.solve(a, b, tuple(a.shape), tuple(b.shape))


SOLVE = defop("solve", _solve_fwd, _solve_vjp, _solve_jvp, save=((0,), (0,)), save_out=True,
              nin=2, node_name="LinalgSolveExBackward0")


def solve(A, B_, *, left=True):
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return named(solve(A.mT, B_.mT).mT, "LinalgSolveExBackward0")
    _check_square("linalg.solve", A)
    _check_float("linalg.solve", B_)
    n = A._data.shape[-1]
    sb = tuple(B_._data.shape)
    vector = len(sb) == 1 or (len(sb) == A._data.ndim - 1 and sb == A._data.shape[:-1])
    if (sb[-1] if vector else sb[-2]) != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX "
                           f"= B ({tuple(A._data.shape)} and {sb})")
    if A.dtype is not B_.dtype:
        dt = B.promote_types(A.dtype, B_.dtype)
        A, B_ = A.to(dt), B_.to(dt)
    b = B_.unsqueeze(-1) if vector else B_
    x = apply(SOLVE, (A, b), (A._data.shape, b._data.shape))
    return named(x.squeeze(-1), "LinalgSolveExBackward0") if vector else x


def _phi(F, x):
    """The lower triangle of `x` with its diagonal halved."""
    return 0.5 * (F.tril(x, 0) + F.tril(x, -1))


def _cholesky_vjp(F, g, args, out, n):
    # A = L L^T, dL = L Phi(L^-1 dA L^-T); the adjoint: gA = L^-T sym(Phi(L^T gL)) L^-1.
    lt = mT(F, out)
    p = _phi(F, lt @ g)
    p = 0.5 * (p + mT(F, p))
    y = _solve(F, lt, p)
    return (mT(F, _solve(F, lt, mT(F, y))),)


def _cholesky_jvp(F, ts, args, out, params):
    (t,) = ts
    z = _solve(F, out, mT(F, t))  # L^-1 dA^T
    return out @ _phi(F, _solve(F, out, mT(F, z)))  # L Phi(L^-1 dA L^-T)


CHOLESKY = defop("cholesky", lambda xp, a: _guarded(
    xp, xp.linalg.cholesky, lambda m: _cholesky_error("linalg.cholesky", m), a),
    _cholesky_vjp, _cholesky_jvp, save_out=True, node_name="LinalgCholeskyExBackward0")


def cholesky(A, *, upper=False):
    _check_square("linalg.cholesky", A)
    L = apply(CHOLESKY, (A,))
    return L.mT if upper else L


# ----------------------------------------------------------------------------- lstsq


def _lstsq_fwd(xp, a, b, rcond):
    if a.ndim == 2:
        return xp.linalg.lstsq(a, b, rcond=rcond)[0]
    lead = a.shape[:-2]
    fa = a.reshape((-1,) + a.shape[-2:])
    fb = b.reshape((-1,) + b.shape[-2:])
    xs = [xp.linalg.lstsq(fa[i], fb[i], rcond=rcond)[0] for i in range(fa.shape[0])]
    return xp.stack(xs).reshape(lead + (a.shape[-1], b.shape[-1])) if xs else \
        xp.zeros(lead + (a.shape[-1], b.shape[-1]), dtype=a.dtype)


def _lstsq(F, a, b, rcond):
    return F.lstsq(a, b, rcond)


def _lstsq_vjp(F, g, args, out, n):
    # X = P B with P = pinv(A) (A of constant rank: full rank in practice). gB = P^T g and
    # gA = -P^T g X^T + (I - A P) B g^T P P^T + P^T P B g^T (I - P A), written with
    # lstsq itself (P^T = pinv(A^T)): R = B - A X is (I - A P) B, and P B = X.
    a, b = args
    (rcond,) = n.params
    na, nb = n.needs
    at = mT(F, a)
    z = _lstsq(F, at, g, rcond)  # P^T g
    if not na:
        return None, z
    r = b - a @ out
    pz = _lstsq(F, a, z, rcond)  # P P^T g
    ptx = _lstsq(F, at, out, rcond)  # P^T X
    h = g - _lstsq(F, a, a @ g, rcond)  # (I - P A) g
    ga = -(z @ mT(F, out)) + r @ mT(F, pz) + ptx @ mT(F, h)
    return ga, (z if nb else None)


def _lstsq_jvp(F, ts, args, out, params):
    # dX = P (dB - dA X) + P P^T dA^T R + (I - P A) dA^T P^T X
    (ta, tb), (a, b) = ts, args
    (rcond,) = params
    if ta is None:
        return _lstsq(F, a, tb, rcond)
    at, tat = mT(F, a), mT(F, ta)
    rhs = -(ta @ out) if tb is None else tb - ta @ out
    r = b - a @ out
    w = tat @ _lstsq(F, at, out, rcond)
    return (_lstsq(F, a, rhs + _lstsq(F, at, tat @ r, rcond), rcond)
            + w - _lstsq(F, a, a @ w, rcond))


LSTSQ = defop("lstsq", _lstsq_fwd, _lstsq_vjp, _lstsq_jvp, save=("all"), save_out=True, nin=2,
              node_name="LinalgLstsqBackward0")


def lstsq(A, B_, rcond=None, *, driver=None):
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           f"gelsy, gelsd, gelss), but got {driver}")
    _check_float("torch.linalg.lstsq", A)
    _check_float("torch.linalg.lstsq", B_)
    if A._data.ndim < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    vector = B_._data.ndim == A._data.ndim - 1
    if B_._data.ndim < 1 or (B_._data.shape[-1 if vector else -2] != A._data.shape[-2]):
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-"
                           f"{1 if vector else 2}) (shapes {tuple(A._data.shape)} and "
                           f"{tuple(B_._data.shape)})")
    if A.dtype is not B_.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {A.dtype} and other's dtype "
                           f"{B_.dtype}")
    b = B_.unsqueeze(-1) if vector else B_
    lead = B.numpy.broadcast_shapes(A._data.shape[:-2], b._data.shape[:-2])
    m, n = A._data.shape[-2:]
    a = A if A._data.shape[:-2] == lead else A.expand(*lead, m, n)
    b = b if b._data.shape[:-2] == lead else b.expand(*lead, *b._data.shape[-2:])
    eps = B.numpy.finfo(A._data.dtype).eps
    x = apply(LSTSQ, (a, b), (eps * max(m, n) if rcond is None else float(rcond),))
    if vector:
        x = named(x.squeeze(-1), "LinalgLstsqBackward0")
    values, levels = front_values(a)  # (inside vmap: every example's)
    xp = B.xp_of(values)
    empty = wrap(xp.zeros(0, dtype=A._data.dtype))
    driver = driver or "gelsy"
    sv = xp.linalg.svd(values, compute_uv=False) if driver in ("gelsd", "gelss") else None
    if driver == "gels":
        rank_values = None
        rank = wrap(xp.zeros(0, dtype=B.int64.np))
    else:
        s = sv if sv is not None else xp.linalg.svd(values, compute_uv=False)
        tol = (eps * max(m, n) if rcond is None else float(rcond)) * (
            s[..., :1] if s.shape[-1] else 0)
        rank_values = xp.asarray((s > tol).sum(-1)).astype(B.int64.np)
        rank = wrap_levels(wrap(rank_values), levels)
    residuals = empty
    full_rank = driver == "gels" or bool((rank_values == n).all())
    if driver != "gelsy" and m > n and full_rank:
        d = a @ x.unsqueeze(-1) - b if vector else a @ x - b
        residuals = (d * d).sum(-2)  # (*, k); (*, 1) for a vector b, as PyTorch
    return return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))(
        x, residuals, rank, wrap_levels(wrap(sv), levels) if sv is not None else empty)


# ----------------------------------------------------------------------------- norms


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        x = x.to(dtype)
    _check_float("linalg.vector_norm", x)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    if x._data.size == 0 and (ord < 0 or ord == float("inf")) and (
            dim is None or any(x._data.shape[d] == 0 for d in
                               ((dim,) if isinstance(dim, int) else dim))):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty "
                           "tensor because the operation does not have an identity")
    return norm(x, 2 if ord == 2 else ord, dim, keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    if dtype is not None:
        A = A.to(dtype)
    _check_float("linalg.matrix_norm", A)
    nd = A._data.ndim
    if nd < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim}")
    d0, d1 = norm_dim("linalg.matrix_norm", dim[0], nd), norm_dim("linalg.matrix_norm",
                                                                   dim[1], nd)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({d0}, {d1})")
    if ord == "fro":
        return norm(A, 2, (d0, d1), keepdim)
    inf = float("inf")
    if ord in (1, -1, inf, -inf):
        # 1: the largest column sum of |A| (sum over rows d0), inf: the largest row sum.
        s, r = (d0, d1) if ord in (1, -1) else (d1, d0)
        col = A.abs().sum(s, keepdim=keepdim)
        if not keepdim and s < r:
            r -= 1
        return amax(col, r, keepdim) if ord > 0 else amin(col, r, keepdim)
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs singular values, "
                                  "which gpugrad does not compute yet; use 'fro', 1, -1, inf "
                                  "or -inf")
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    nd = A._data.ndim
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if nd == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        if nd == 1:
            return vector_norm(A, ord, None, keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {nd}D.")
    if len(dim) == 2:
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype)
    if len(dim) == 1:
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got "
                       f"{list(dim)}")
