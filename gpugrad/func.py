"""Function transforms with ``torch.func``'s names: grad, grad_and_value, vjp, jvp, jacrev, jacfwd,
hessian, vmap; and functional_call, stack_module_state.

Each transform takes a function and returns a function (``vjp`` and ``jvp`` evaluate at once).
They are built on the engine: reverse mode (`grad`, `vjp`, `jacrev`) runs ``autograd.grad`` on
fresh inputs that require grad; forward mode (`jvp`, `jacfwd`) pushes dual tensors through the
ops' jvp rules (``autograd.forward_ad``). Transforms compose: ``grad(grad(f))``,
``jvp(grad(f), ...)`` (forward over reverse), ``jacfwd(jacrev(f))``, ``grad`` of ``jvp``, and
forward over forward (``jacfwd(jacfwd(f))``, ``jvp`` of ``jvp``: each forward transform opens
its own, nested dual level).

Inputs and outputs may be tensors or nested tuples, lists and dicts of tensors (pytrees).
At the top level, results are cut from the graph the transform built for itself; they stay
connected to tensors the caller made with ``requires_grad=True`` (closed over or passed in),
so ordinary ``backward`` works through a transform.

Example::

    >>> from gpugrad.func import grad, hessian
    >>> x = gpugrad.tensor(2.0)
    >>> grad(lambda x: x ** 3)(x)              # 3 x^2
    tensor(12.)
    >>> grad(grad(lambda x: x ** 3))(x)        # 6 x
    tensor(12.)
    >>> hessian(lambda x: (x ** 3).sum())(gpugrad.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
"""

from __future__ import annotations

import functools
import threading

from .autograd import forward_ad as fwAD
from .autograd import grad as _autograd_grad
from .autograd.grad_mode import enable_grad
from .core import batched as _b
from .core import factories as _F
from .core.node import leaf_edges as _leaf_edges
from .core.state import batch_levels, fw_levels
from .core.tensor import Tensor
from .ops import cat, narrow, stack

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state"]

# ----------------------------------------------------------------------------- pytrees


def _flatten(tree):
    """``(leaves, spec)`` of a nest of tuples, lists and dicts; anything else is a leaf."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for x in tree:
            ls, s = _flatten(x)
            leaves += ls
            specs.append(s)
        return leaves, (type(tree), None, specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for x in tree.values():
            ls, s = _flatten(x)
            leaves += ls
            specs.append(s)
        return leaves, (dict, list(tree), specs)
    return [tree], None


def _unflatten(spec, leaves):
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        kind, keys, specs = s
        items = [build(c) for c in specs]
        if kind is dict:
            return dict(zip(keys, items))
        return kind(*items) if hasattr(kind, "_fields") else kind(items)  # (namedtuples)

    return build(spec)


def _tensors(name, what, leaves):
    for x in leaves:
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{name}: expected {what} to be tensors (or tuples, lists and dicts "
                f"of tensors), got {type(x).__name__}"
            )
    return leaves


# ----------------------------------------------------------------------------- levels

_tls = threading.local()


def _depth():
    return getattr(_tls, "depth", 0)


class _level:
    """One transform's extent. ``made`` holds the leaves created since the outermost one began."""

    def __enter__(self):
        d = _depth()
        if d == 0:
            _tls.made = {}
        _tls.depth = d + 1
        self.grad = enable_grad()
        self.grad.__enter__()
        return _tls.made

    def __exit__(self, *exc):
        self.grad.__exit__(*exc)
        _tls.depth -= 1
        if _tls.depth == 0:
            _tls.made = None  # vjp_fn keeps its own reference
        return False


def _nested():
    """True when an enclosing transform (or a dual level) will differentiate our results."""
    return _depth() > 1 or fw_levels[0] > 0


def _enter(x, made):
    """A fresh input that requires grad, still tied to `x`'s graph and tangent if it has them."""
    if x._rg or getattr(x, "_fw", None) is not None:
        y = x.clone()
        if y._rg:
            return y
    elif type(x) is _b.BatchedTensor:  # a new logical leaf; the values keep their own graph
        y = x._lift()
    else:
        y = x.detach()
    y.requires_grad_()
    made[id(y)] = y
    return y


def _reaches_user_leaf(tensors, made):
    """Whether the graph of `tensors` reaches a leaf that requires grad and no transform made."""
    roots = []
    for t in tensors:
        if isinstance(t, Tensor) and t._rg:
            if t.grad_fn is None:
                if id(t) not in made:
                    return True
            else:
                roots.append(t.grad_fn)
    return any(id(m) not in made for m in _leaf_edges(roots))


def _need_graph(tensors, made):
    """Whether the backward pass must be recorded (create_graph) for someone to use it."""
    return _nested() or _reaches_user_leaf(tensors, made) or (bool(batch_levels) and any(
        _b.outer_tracked(x) for x in made.values() if type(x) is _b.BatchedTensor))


def _finish(tree, made):
    """At the top level, cut results from graphs that only the transforms themselves built."""
    if _nested():
        return tree
    leaves, spec = _flatten(tree)
    out = []
    for t in leaves:
        if isinstance(t, Tensor) and t._rg and not _reaches_user_leaf([t], made):
            t = t._lift() if type(t) is _b.BatchedTensor else t.detach()
        out.append(t)
    return _unflatten(spec, out)


def _argnums(name, argnums, nargs):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise RuntimeError(f"{name}: argnums must be an int or a non-empty tuple of ints")
    out = []
    for a in nums:
        if not isinstance(a, int) or not -nargs <= a < nargs:
            raise RuntimeError(
                f"{name}: got argnums={argnums!r}, but the function was called "
                f"with {nargs} positional argument(s)"
            )
        out.append(a % nargs)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{name}: argnums {argnums!r} has duplicates")
    return tuple(out)


def _prepare(name, args, nums, made):
    """Replace args[i] (i in nums) by fresh inputs; returns (args, per-arg (leaves, spec))."""
    args = list(args)
    parts = []
    for i in nums:
        leaves, spec = _flatten(args[i])
        _tensors(name, f"argument {i}", leaves)
        fresh = [_enter(x, made) for x in leaves]
        args[i] = _unflatten(spec, fresh)
        parts.append((fresh, spec))
    return args, parts


def _split_aux(name, out, has_aux):
    if not has_aux:
        return out, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise RuntimeError(f"{name}(f, has_aux=True): f must return a pair (output, aux)")
    return out[0], out[1]


def _pack(argnums, parts, per_leaf):
    """Arrange per-input-leaf results like the differentiated arguments: one tree for an int
    argnums, else a tuple of trees."""
    it = iter(per_leaf)
    trees = [_unflatten(spec, [next(it) for _ in leaves]) for leaves, spec in parts]
    return trees[0] if isinstance(argnums, int) else tuple(trees)


def _grads(outputs, cotangents, inputs, create_graph):
    """Gradients of sum <cotangent, output> w.r.t. `inputs`; zeros where independent."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o._rg]
    if not pairs:
        return [_F.zeros_like(x) for x in inputs]
    return list(
        _autograd_grad(
            [o for o, _ in pairs],
            inputs,
            [c for _, c in pairs],
            retain_graph=True,
            create_graph=create_graph,
            materialize_grads=True,
        )
    )


# ----------------------------------------------------------------------------- reverse mode


def grad_and_value(func, argnums=0, has_aux=False):
    """Like `grad`, but the new function returns ``(gradient, value)``.

    With ``has_aux=True`` it returns ``(gradient, (value, aux))``.

    Example::

        >>> g, v = grad_and_value(lambda x: (x ** 2).sum())(gpugrad.tensor([1.0, 2.0]))
        >>> g, v
        (tensor([2., 4.]), tensor(5.))
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums("grad", argnums, len(args))
        with _level() as made:
            args, parts = _prepare("grad", args, nums, made)
            out, aux = _split_aux("grad", func(*args, **kwargs), has_aux)
            if not isinstance(out, Tensor) or out.numel() != 1:
                what = (
                    f"a tensor of shape {tuple(out.shape)}"
                    if isinstance(out, Tensor)
                    else type(out).__name__
                )
                raise RuntimeError(
                    f"grad(f)(*args): expected f(*args) to return a tensor with "
                    f"a single element, got {what}; for other outputs use vjp or "
                    "jacrev"
                )
            inputs = [x for leaves, _ in parts for x in leaves]
            gs = _grads([out], [_F.ones_like(out)], inputs, _need_graph([out], made))
            result = (_pack(argnums, parts, gs), (out, aux) if has_aux else out)
            return _finish(result, made)

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """The gradient of `func` (which returns a one-element tensor) w.r.t. argument `argnums`.

    ``argnums`` may be a tuple (then a tuple of gradients is returned); with ``has_aux=True``,
    `func` returns ``(output, aux)`` and the new function returns ``(gradient, aux)``.

    Example::

        >>> from gpugrad.func import grad
        >>> grad(gpugrad.sin)(gpugrad.tensor(0.0))                     # cos 0
        tensor(1.)
        >>> grad(grad(grad(gpugrad.sin)))(gpugrad.tensor(0.0))         # -cos 0
        tensor(-1.)
        >>> grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(gpugrad.tensor(2.), gpugrad.tensor(3.))
        (tensor(3.), tensor(2.))
    """
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives ``cotangents^T J`` per primal.

    `cotangents` has the structure of the output; ``vjp_fn`` returns a tuple with one entry per
    primal and can be called any number of times. With ``has_aux=True`` the result is
    ``(output, vjp_fn, aux)``.

    Example::

        >>> from gpugrad.func import vjp
        >>> out, vjp_fn = vjp(lambda x: x ** 2, gpugrad.tensor([1.0, 2.0]))
        >>> vjp_fn(gpugrad.tensor([1.0, 10.0]))
        (tensor([ 2., 40.]),)
    """
    with _level() as made:
        args, parts = _prepare("vjp", primals, range(len(primals)), made)
        out, aux = _split_aux("vjp", func(*args), has_aux)
        outs, ospec = _flatten(out)
        _tensors("vjp", "the outputs of f", outs)
        inputs = [x for leaves, _ in parts for x in leaves]
        result = _finish(out, made)
        aux = _finish(aux, made)

    def vjp_fn(cotangents):
        cts, cspec = _flatten(cotangents)
        _tensors("vjp_fn", "the cotangents", cts)
        if cspec != ospec or len(cts) != len(outs):
            raise RuntimeError("vjp_fn: expected cotangents with the structure of the output of f")
        for i, (o, c) in enumerate(zip(outs, cts)):
            if c.shape != o.shape:
                raise RuntimeError(
                    f"vjp_fn: cotangent {i} has shape {tuple(c.shape)}, but "
                    f"output {i} has shape {tuple(o.shape)}"
                )
        with _level() as inner_made:
            inner_made.update(made)
            gs = _grads(outs, cts, inputs, _need_graph(outs + cts, inner_made))
            return _finish(_pack(None, parts, gs), inner_made)

    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


def _one_hot(k, like):
    e = _F.zeros(like.numel(), dtype=like.dtype, device=like.device)
    e[k] = 1.0
    return e.reshape(tuple(like.shape))


def _stack(parts, dim, shape, like):
    """Stack per-element results along a new `dim` (0: rows, -1: columns), reshaped to `shape`."""
    if not parts:
        return _F.zeros(*shape, dtype=like.dtype, device=like.device)
    return stack(parts, dim).reshape(shape)


def _jacobians(argnums, parts, ospec, outs, inputs, pieces, dim):
    """The nest of Jacobians (outputs outside, inputs inside), each ``o.shape + x.shape``.

    ``pieces(m, j)`` lists the block of output leaf m and input leaf j element by element:
    rows (``dim=0``: vjps, in the input's dtype) or columns (``dim=-1``: jvps, in the output's).
    """
    jacs = []
    for m, o in enumerate(outs):
        per_input = [
            _stack(pieces(m, j), dim, tuple(o.shape) + tuple(x.shape), x if dim == 0 else o)
            for j, x in enumerate(inputs)
        ]
        jacs.append(_pack(argnums, parts, per_input))
    return _unflatten(ospec, jacs)


def jacrev(func, argnums=0, has_aux=False):
    """The Jacobian of `func` w.r.t. argument `argnums` by reverse mode: a vjp per output element.

    Each Jacobian has shape ``output.shape + input.shape``; tuples and nests of outputs and
    argnums give nests of Jacobians (outputs outside, inputs inside), as in ``torch.func``.

    Example::

        >>> from gpugrad.func import jacrev
        >>> jacrev(lambda x: x ** 2)(gpugrad.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums("jacrev", argnums, len(args))
        with _level() as made:
            args, parts = _prepare("jacrev", args, nums, made)
            out, aux = _split_aux("jacrev", func(*args, **kwargs), has_aux)
            outs, ospec = _flatten(out)
            _tensors("jacrev", "the outputs of f", outs)
            inputs = [x for leaves, _ in parts for x in leaves]
            create = _need_graph(outs, made)
            # rows[m][k][j]: the gradient w.r.t. input j of element k of output m
            rows = [
                [_grads([o], [_one_hot(k, o)], inputs, create) for k in range(o.numel())]
                for o in outs
            ]
            result = _jacobians(
                argnums, parts, ospec, outs, inputs, lambda m, j: [r[j] for r in rows[m]], 0
            )
            return _finish((result, aux) if has_aux else result, made)

    return wrapper


# ----------------------------------------------------------------------------- forward mode


def _unpack(o):
    p, t = fwAD.unpack_dual(o)
    return p, (_F.zeros_like(p) if t is None else t)


def jvp(func, primals, tangents, has_aux=False):
    """``(func(*primals), J @ tangents)`` by forward mode: one pass with dual tensors.

    `primals` and `tangents` are tuples (of tensors or nests of tensors) of the same structure.
    Returns ``(output, jvp_out)``, or ``(output, jvp_out, aux)`` with ``has_aux=True``. It opens
    its own forward-AD level, so it nests: ``jvp`` of ``jvp`` gives second derivatives.

    Example::

        >>> from gpugrad.func import jvp
        >>> jvp(lambda x: 2 * x ** 3 - 1, (gpugrad.tensor(2.0),), (gpugrad.tensor(1.0),))
        (tensor(15.), tensor(24.))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise RuntimeError("jvp(f, primals, tangents): primals and tangents must be tuples")
    ps, pspec = _flatten(tuple(primals))
    ts, tspec = _flatten(tuple(tangents))
    _tensors("jvp", "primals", ps)
    _tensors("jvp", "tangents", ts)
    if pspec != tspec:
        raise RuntimeError("jvp: primals and tangents must have the same structure")
    with _level() as made:
        with fwAD.dual_level():
            duals = [fwAD.make_dual(p, t) for p, t in zip(ps, ts)]
            out, aux = _split_aux("jvp", func(*_unflatten(pspec, duals)), has_aux)
            outs, ospec = _flatten(out)
            _tensors("jvp", "the outputs of f", outs)
            pairs = [_unpack(o) for o in outs]
            aux = _unflatten(*_primal_leaves(aux))
        result = (
            _unflatten(ospec, [p for p, _ in pairs]),
            _unflatten(ospec, [t for _, t in pairs]),
        )
        return _finish(result + (aux,) if has_aux else result, made)


def jacfwd(func, argnums=0, has_aux=False):
    """The Jacobian of `func` w.r.t. argument `argnums` by forward mode: a jvp per input element.

    Same layout as `jacrev`: ``output.shape + input.shape``. It opens its own forward-AD
    levels, so it composes with every transform: ``jacfwd(jacfwd(f))`` and
    ``jacfwd(jacrev(f))`` are Hessians.

    Example::

        >>> from gpugrad.func import jacfwd
        >>> jacfwd(lambda x: x.sin())(gpugrad.tensor([0.0, 1.0]))
        tensor([[1.0000, 0.0000],
                [0.0000, 0.5403]])
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums("jacfwd", argnums, len(args))
        parts = []
        for i in nums:
            leaves, spec = _flatten(args[i])
            parts.append((_tensors("jacfwd", f"argument {i}", leaves), spec))
        inputs = [x for leaves, _ in parts for x in leaves]

        def call(j=None, k=None):
            """f with input leaf j moved along its k-th coordinate (or at the primal)."""
            a = list(args)
            n = 0
            for i, (leaves, spec) in zip(nums, parts):
                new = []
                for x in leaves:
                    new.append(fwAD.make_dual(x, _one_hot(k, x)) if n == j else x)
                    n += 1
                a[i] = _unflatten(spec, new)
            return _split_aux("jacfwd", func(*a, **kwargs), has_aux)

        with _level() as made:
            cols = [[] for _ in inputs]  # cols[j][k]: output tangents along input j, element k
            out = aux = None
            for j, x in enumerate(inputs):
                for k in range(x.numel()):
                    with fwAD.dual_level():
                        o, a = call(j, k)
                        outs, ospec = _flatten(o)
                        _tensors("jacfwd", "the outputs of f", outs)
                        pairs = [_unpack(t) for t in outs]
                        if out is None:
                            out = [p for p, _ in pairs]
                            aux = _unflatten(*_primal_leaves(a))
                    cols[j].append([t for _, t in pairs])
            if out is None:  # every input is empty: evaluate once for the output shapes
                o, aux = call()
                out, ospec = _flatten(o)
            result = _jacobians(
                argnums, parts, ospec, out, inputs, lambda m, j: [c[m] for c in cols[j]], -1
            )
            return _finish((result, aux) if has_aux else result, made)

    return wrapper


def _primal_leaves(tree):
    """(spec, leaves) of `tree` with dual tensors replaced by their primals."""
    leaves, spec = _flatten(tree)
    return spec, [fwAD.unpack_dual(a).primal if isinstance(a, Tensor) else a for a in leaves]


def hessian(func, argnums=0):
    """The Hessian of a scalar `func` w.r.t. argument `argnums`: the Jacobian of its gradient.

    Shape ``input.shape + input.shape``; a tuple of argnums gives the blocks ``H[i][j]``.

    Example::

        >>> from gpugrad.func import hessian
        >>> f = lambda x: x[0] ** 3 + 2 * x[1] ** 2
        >>> hessian(f)(gpugrad.tensor([1.0, 5.0]))        # [[6 x1, 0], [0, 4]]
        tensor([[6., 0.],
                [0., 4.]])
    """
    # Forward over reverse, as torch.func: the jvp of every vjp rule is itself an op's jvp.
    return jacfwd(jacrev(func, argnums), argnums)


# ----------------------------------------------------------------------------- vmap


def _leaf_dims(name, what, dims, tree):
    """Per leaf of `tree`, its dim: `dims` is an int or None for the whole tree, or a nest of
    the tree's structure (tuples, lists, dicts) ending in ints or None."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(_flatten(tree)[0])
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)) and \
            len(dims) == len(tree):
        return [d for sub, t in zip(dims, tree) for d in _leaf_dims(name, what, sub, t)]
    if isinstance(dims, dict) and isinstance(tree, dict) and set(dims) == set(tree):
        return [d for k, t in tree.items() for d in _leaf_dims(name, what, dims[k], t)]
    raise ValueError(
        f"{name}: {what}={dims!r} is not compatible with the structure of the "
        f"{'inputs' if what == 'in_dims' else 'outputs'} ({type(tree).__name__}); give an int, "
        "None, or a nest matching it")


def _norm(name, what, d, ndim):
    if not -ndim <= d < ndim:
        raise ValueError(f"{name}: {what} {d} is out of range for a tensor with {ndim} dims "
                         f"(expected a dim in [{-ndim}, {ndim - 1}])")
    return d % ndim


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """`func` over a batch: the new function runs `func` on every example at once and stacks
    the results, as ``torch.func.vmap``.

    ``in_dims`` says where each positional argument is batched: an int (negative counts from
    the end), None (the same for every example: Python numbers, unbatched tensors), or a tuple
    with one entry per argument, each an int, None or a nest (tuples, lists, dicts) matching
    that argument. ``out_dims`` likewise places the batch in the outputs (tensors or nests of
    tensors). Keyword arguments are not batched. Each op runs once on the whole batch, through
    its batching rule (``gpugrad.ops.batching``); an op without a rule raises.

    vmap nests (``vmap(vmap(f))``) and composes with every transform in any order:
    ``vmap(grad(loss), in_dims=(None, 0, 0))`` gives per-example gradients,
    ``vmap(jacrev(f))`` batched Jacobians, ``grad(lambda p: vmap(f)(p).sum())`` works.
    ``randomness``: "error" (random ops inside raise), "different" (each example draws its
    own), "same" (one draw for all). ``chunk_size`` runs the batch in chunks of that many
    examples (less memory; the outputs are joined).

    Example::

        >>> from gpugrad.func import vmap
        >>> x, y = gpugrad.randn(5, 3), gpugrad.randn(5, 3)
        >>> vmap(gpugrad.dot)(x, y).shape          # one dot product per row
        gpugrad.Size([5])
        >>> vmap(lambda row, w: row * w, in_dims=(0, None))(x, gpugrad.ones(3)).shape
        gpugrad.Size([5, 3])
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"vmap: randomness must be 'error', 'different' or 'same', got "
                           f"{randomness!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or a positive int, got {chunk_size!r}")
    if not isinstance(in_dims, (int, tuple)) and in_dims is not None:
        raise ValueError(f"vmap: in_dims must be an int, None or a tuple, got "
                         f"{type(in_dims).__name__}")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if isinstance(in_dims, tuple) and len(in_dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(in_dims)} entries but the function was "
                             f"called with {len(args)} positional arguments")
        leaves, spec = _flatten(tuple(args))
        dims = _leaf_dims("vmap", "in_dims", in_dims, tuple(args))
        size = None
        for i, (x, d) in enumerate(zip(leaves, dims)):
            if d is None:
                continue
            if not isinstance(x, Tensor):
                raise ValueError(f"vmap: got in_dim={d} for an input of type "
                                 f"{type(x).__name__}; only tensors can be batched (use None)")
            d = dims[i] = _norm("vmap", "in_dim", d, x.ndim)
            n = x.shape[d]
            if size is None:
                size = n
            elif n != size:
                raise ValueError(f"vmap: expected all batched inputs to have the same size in "
                                 f"their batch dims, got sizes {size} and {n}")
        if size is None:
            raise ValueError("vmap: at least one input must be batched (in_dims are all None "
                             "or there are no tensor inputs)")
        if chunk_size is None or chunk_size >= size:
            return _vmap_call(func, leaves, dims, spec, size, kwargs)
        parts = []
        for start in range(0, size, chunk_size):
            n = min(chunk_size, size - start)
            chunk = [x if d is None else narrow(x, d, start, n) for x, d in zip(leaves, dims)]
            parts.append(_vmap_call(func, chunk, dims, spec, n, kwargs))
        first, ospec = _flatten(parts[0])
        odims = _leaf_dims("vmap", "out_dims", out_dims, parts[0])
        joined = []
        for k, (o, d) in enumerate(zip(first, odims)):
            if d is None:
                joined.append(o)
            else:
                joined.append(cat([_flatten(p)[0][k] for p in parts],
                                  _norm("vmap", "out_dim", d, o.ndim)))
        return _unflatten(ospec, joined)

    def _vmap_call(func, leaves, dims, spec, size, kwargs):
        with _b.level(size, randomness) as lv:
            wrapped = [x if d is None else _b.batched(x, d, lv) for x, d in zip(leaves, dims)]
            out = func(*_unflatten(spec, wrapped), **kwargs)
        outs, ospec = _flatten(out)
        odims = _leaf_dims("vmap", "out_dims", out_dims, out)
        result = []
        for o, d in zip(outs, odims):
            if not isinstance(o, Tensor):
                raise ValueError(f"vmap: `func` must only return tensors (or nests of them), "
                                 f"got {type(o).__name__}")
            if d is None:
                if type(o) is _b.BatchedTensor and o._level is lv:
                    raise ValueError("vmap: out_dims is None for an output that differs from "
                                     "example to example; give it a batch dim")
                result.append(o)
            else:
                result.append(_b.unbatched(o, lv, _norm("vmap", "out_dim", d, o.ndim + 1)))
        return _unflatten(ospec, result)

    return wrapper


# ----------------------------------------------------------------------------- modules


def _slots(module):
    """Every (name, owner module, kind, key) where a parameter or buffer sits, tied ones
    included under each of their names."""
    out = []

    def walk(m, prefix, seen):
        if id(m) in seen:
            return
        seen = seen | {id(m)}
        for kind in ("_parameters", "_buffers"):
            for k, v in getattr(m, kind).items():
                if v is not None:
                    out.append((prefix + k, m, kind, k))
        for k, sub in m._modules.items():
            if sub is not None:
                walk(sub, prefix + k + ".", seen)

    walk(module, "", frozenset())
    return out


def functional_call(module, params_and_buffers, args=None, kwargs=None, *, tie_weights=True,
                    strict=False):
    """Call `module` with its parameters and buffers replaced by those given, as
    ``torch.func.functional_call``: a module as a pure function of its weights, for `grad`,
    `jacrev`, `vmap` (ensembles) and the like.

    ``params_and_buffers`` maps names (as in ``named_parameters()``) to tensors (a dict, or a
    tuple of dicts); the others keep the module's own. ``args`` is one argument or a tuple of
    them. With ``tie_weights``, a tensor given for one of several names of one tied
    parameter replaces it under all of them; ``strict`` requires every parameter and buffer
    to be given. The module is restored afterwards.

    Example::

        >>> net = gpugrad.nn.Linear(3, 1)
        >>> params = {k: v.detach() for k, v in net.named_parameters()}
        >>> loss = lambda p, x: functional_call(net, p, (x,)).sum()
        >>> grad(loss)(params, gpugrad.ones(2, 3))["bias"]
        tensor([2.])
    """
    if isinstance(params_and_buffers, dict):
        given = dict(params_and_buffers)
    elif isinstance(params_and_buffers, (tuple, list)) and all(
            isinstance(d, dict) for d in params_and_buffers):
        given = {}
        for d in params_and_buffers:
            for k, v in d.items():
                if k in given:
                    raise ValueError(f"functional_call: {k!r} appeared in multiple dictionaries")
                given[k] = v
    else:
        raise TypeError("functional_call: expected params_and_buffers to be a dict or a tuple "
                        f"of dicts, got {type(params_and_buffers).__name__}")
    slots = _slots(module)
    names = {name for name, *_ in slots}
    for k, v in given.items():
        if not isinstance(v, Tensor):
            raise TypeError(f"functional_call: the value for {k!r} must be a tensor, got "
                            f"{type(v).__name__}")
    unexpected = sorted(set(given) - names)
    missing = sorted(names - set(given))
    if tie_weights:  # a name not given still follows a tied name that is
        by_obj: dict = {}
        for name, m, kind, k in slots:
            by_obj.setdefault(id(getattr(m, kind)[k]), []).append(name)
        for group in by_obj.values():
            vals = {id(given[n]): n for n in group if n in given}
            if len(vals) > 1:
                raise ValueError(f"functional_call: tied weights {sorted(group)} were given "
                                 "different values")
            if vals:
                v = given[next(iter(vals.values()))]
                for n in group:
                    given.setdefault(n, v)
                missing = [n for n in missing if n not in group]
    if unexpected or (strict and missing):
        parts = []
        if unexpected:
            parts.append(f"unexpected key(s): {', '.join(map(repr, unexpected))}")
        if strict and missing:
            parts.append(f"missing key(s): {', '.join(map(repr, missing))}")
        raise RuntimeError(f"functional_call: error(s) in reparametrizing for "
                           f"{type(module).__name__}: {'; '.join(parts)}")
    saved = []
    try:
        for name, m, kind, k in slots:
            if name in given:
                d = getattr(m, kind)
                saved.append((d, k, d[k]))
                d[k] = given[name]
        if args is None:
            args = ()
        elif not isinstance(args, tuple):
            args = (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for d, k, v in reversed(saved):
            d[k] = v


def stack_module_state(models):
    """``(params, buffers)``: each parameter and buffer of `models` (modules of one
    architecture) stacked along a new first dim, for ``vmap`` over an ensemble with
    `functional_call`. The stacked parameters are new leaves (they require grad where the
    models' do), not tied to the models.

    Example::

        >>> models = [gpugrad.nn.Linear(3, 2) for _ in range(5)]
        >>> params, buffers = stack_module_state(models)
        >>> params["weight"].shape
        gpugrad.Size([5, 2, 3])
    """
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: expected at least one model, got none")
    kinds = {type(m) for m in models}
    if len(kinds) > 1:
        raise RuntimeError("stack_module_state: expected all models to be of the same class, "
                           f"got {sorted(k.__name__ for k in kinds)}")
    if len({m.training for m in models}) > 1:
        raise RuntimeError("stack_module_state: expected all models to be in the same "
                           "training/eval mode")

    def stacked(named):
        names = [n for n, _ in named(models[0])]
        out = {}
        for n in names:
            ts = [dict(named(m))[n] for m in models]
            if any(tuple(t.shape) != tuple(ts[0].shape) for t in ts):
                raise RuntimeError(f"stack_module_state: {n!r} has different shapes across "
                                   "the models")
            s = stack([t.detach() for t in ts])
            out[n] = s.requires_grad_(ts[0].requires_grad) if ts[0].requires_grad else s
        return out

    return (stacked(lambda m: list(m.named_parameters())),
            stacked(lambda m: list(m.named_buffers())))
