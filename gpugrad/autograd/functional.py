"""Higher-level autograd functions with ``torch.autograd.functional``'s signatures.

``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp`` and ``vhp`` take a function and its
inputs (a tensor or a tuple of tensors) and return results shaped like PyTorch's: a tensor
where the inputs (and outputs) were single tensors, tuples otherwise.

``create_graph=False`` returns results cut from the graph; ``create_graph=True`` keeps them
differentiable w.r.t. inputs that require grad. ``strict=True`` raises when an output does not
depend on an input instead of returning zeros. ``vectorize`` is accepted and ignored (there is
no vmap: rows are computed one by one). ``jvp`` and ``hvp`` use the double-backward trick,
as PyTorch does, so they need only reverse mode; ``strategy="forward-mode"`` in ``jacobian``
uses dual tensors.

Example::

    >>> from gpugrad.autograd.functional import jacobian, hessian
    >>> jacobian(lambda x: x ** 2, gpugrad.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    >>> hessian(lambda x: (x ** 3).sum(), gpugrad.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
"""

from __future__ import annotations

from ..core.tensor import Tensor
from ..ops import stack
from . import forward_ad as fwAD
from .grad_mode import enable_grad
from .reverse import grad as _autograd_grad


def zeros_like(x):
    return x.new_zeros(x.shape)


def ones_like(x):
    return x.new_ones(x.shape)


__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(name, arg, x):
    """(was_tuple, tuple of tensors)."""
    if isinstance(x, Tensor):
        return False, (x,)
    if isinstance(x, (tuple, list)):
        for i, t in enumerate(x):
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"{name}: the {arg} must be a tensor or a tuple of tensors, but "
                    f"element {i} is {type(t).__name__}"
                )
        return True, tuple(x)
    raise TypeError(
        f"{name}: the {arg} must be a tensor or a tuple of tensors, got {type(x).__name__}"
    )


def _prepare(inputs, create_graph):
    """Inputs to differentiate: with create_graph, the caller's tensors keep their graph."""
    return tuple(
        x if (create_graph and x.requires_grad) else x.detach().requires_grad_() for x in inputs
    )


def _finish(tree, create_graph):
    """Cut every tensor in a nest of tuples from the graph unless create_graph."""
    if isinstance(tree, tuple):
        return tuple(_finish(t, create_graph) for t in tree)
    return tree if create_graph else tree.detach()


def _unpack(tree, *was_tuple):
    """Drop the tuple levels that were single tensors in the caller's arguments."""
    if not was_tuple:
        return tree
    if not was_tuple[0]:
        return _unpack(tree[0], *was_tuple[1:])
    return tuple(_unpack(t, *was_tuple[1:]) for t in tree)


def _check_v(name, v, like, what):
    was_tuple, v = _as_tuple(name, "v", v)
    if len(v) != len(like):
        raise RuntimeError(f"{name}: v has {len(v)} tensors but the {what} has {len(like)}")
    for i, (a, b) in enumerate(zip(v, like)):
        if a.shape != b.shape:
            raise RuntimeError(
                f"{name}: entry {i} of v has shape {tuple(a.shape)} but entry {i} "
                f"of the {what} has shape {tuple(b.shape)}"
            )
    return v


def _default_v(name, v, like, what):
    if v is not None:
        return _check_v(name, v, like, what)
    if len(like) != 1 or like[0].numel() != 1:
        raise RuntimeError(
            f"{name}: v can be omitted only when the {what} is a single tensor with one element"
        )
    return (ones_like(like[0]),)


def _grad(outputs, inputs, grad_outputs, create_graph, strict, message):
    """autograd.grad that gives zeros (or raises, if strict) for inputs the outputs ignore."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if pairs:
        res = list(
            _autograd_grad(
                [o for o, _ in pairs],
                inputs,
                [g for _, g in pairs],
                retain_graph=True,
                create_graph=create_graph,
                allow_unused=True,
            )
        )
    else:
        res = [None] * len(inputs)
    for i, r in enumerate(res):
        if r is None:
            if strict:
                raise RuntimeError(message.format(i=i) + " This is not allowed in strict mode.")
            res[i] = zeros_like(inputs[i])
    return tuple(res)


_INDEPENDENT = "The output of the user-provided function is independent of input {i}."


def _value_and_grad(name, func, inputs, strict):
    """``(out, d out / d inputs)`` of scalar `func`, the gradient recorded (differentiable)."""
    out = func(*inputs)
    if not isinstance(out, Tensor) or out.numel() != 1:
        raise RuntimeError(f"{name}: the function must return a tensor with a single element")
    return out, _grad([out], inputs, [ones_like(out)], True, strict, _INDEPENDENT)


def _double_backward(outputs, inputs, v, create_graph, strict, vjp_message, jvp_message):
    """J v, with J the Jacobian of `outputs` w.r.t. `inputs`, by reverse mode only: the gradient,
    w.r.t. a dummy cotangent u, of <u^T J, v>."""
    us = tuple(zeros_like(o).requires_grad_() for o in outputs)
    ujs = _grad(outputs, inputs, us, True, strict, vjp_message)
    return _grad(ujs, us, v, create_graph, strict, jvp_message)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at `inputs`.

    `v` has the shape of the output (it may be omitted for a one-element output).

    Example::

        >>> from gpugrad.autograd.functional import vjp
        >>> vjp(lambda x: x ** 2, gpugrad.tensor([1.0, 2.0]), gpugrad.tensor([1.0, 1.0]))
        (tensor([1., 4.]), tensor([2., 4.]))
    """
    in_tuple, inputs = _as_tuple("vjp", "inputs", inputs)
    with enable_grad():
        inputs = _prepare(inputs, create_graph)
        out_tuple, outputs = _as_tuple("vjp", "outputs of the function", func(*inputs))
        v = _default_v("vjp", v, outputs, "output")
        res = _grad(outputs, inputs, v, create_graph, strict, _INDEPENDENT)
    return (
        _unpack(_finish(outputs, create_graph), out_tuple),
        _unpack(_finish(res, create_graph), in_tuple),
    )


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product at `inputs`.

    `v` has the shape of the inputs (it may be omitted for a one-element input). Computed with
    the double-backward trick: J v is the gradient, w.r.t. a dummy cotangent u, of <u^T J, v>.

    Example::

        >>> from gpugrad.autograd.functional import jvp
        >>> jvp(lambda x: x ** 2, gpugrad.tensor([1.0, 2.0]), gpugrad.tensor([1.0, 0.0]))
        (tensor([1., 4.]), tensor([2., 0.]))
    """
    in_tuple, inputs = _as_tuple("jvp", "inputs", inputs)
    v = _default_v("jvp", v, inputs, "input")
    with enable_grad():
        inputs = _prepare(inputs, create_graph)
        out_tuple, outputs = _as_tuple("jvp", "outputs of the function", func(*inputs))
        res = _double_backward(
            outputs,
            inputs,
            v,
            create_graph,
            strict,
            _INDEPENDENT,
            "The Jacobian-vector product of output {i} is independent of the inputs.",
        )
    return (
        _unpack(_finish(outputs, create_graph), out_tuple),
        _unpack(_finish(res, create_graph), out_tuple),
    )


def jacobian(
    func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"
):
    """The Jacobian of `func` at `inputs`: ``J[i][j]`` of shape ``out_i.shape + in_j.shape``.

    A single output and a single input give a tensor; tuples give tuples (outputs outside).
    ``strategy="reverse-mode"`` takes one vjp per output element, ``"forward-mode"`` one jvp
    per input element (dual tensors; pick it when there are more outputs than inputs).

    Example::

        >>> from gpugrad.autograd.functional import jacobian
        >>> jacobian(lambda x, y: x * y, (gpugrad.tensor([1.0, 2.0]), gpugrad.tensor([3.0, 4.0])))
        (tensor([[3., 0.],
                [0., 4.]]), tensor([[1., 0.],
                [0., 2.]]))
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(
            f"jacobian: unknown strategy {strategy!r}; expected 'reverse-mode' or 'forward-mode'"
        )
    in_tuple, inputs = _as_tuple("jacobian", "inputs", inputs)
    with enable_grad():
        if strategy == "forward-mode":
            jac, outputs = _jacobian_forward(func, inputs, create_graph, strict)
        else:
            inputs = _prepare(inputs, create_graph)
            outputs = func(*inputs)
            jac = []
            for i, o in enumerate(_as_tuple("jacobian", "outputs of the function", outputs)[1]):
                msg = f"Output {i} of the user-provided function is independent of input {{i}}."
                rows = [
                    _grad([o], inputs, [_one_hot(k, o)], create_graph, strict, msg)
                    for k in range(o.numel())
                ]
                jac.append(
                    tuple(_stack(0, [r[j] for r in rows], o, x, x) for j, x in enumerate(inputs))
                )
    out_tuple = _as_tuple("jacobian", "outputs of the function", outputs)[0]
    return _unpack(_finish(tuple(jac), create_graph), out_tuple, in_tuple)


def _jacobian_forward(func, inputs, create_graph, strict):
    inputs = tuple(x if create_graph else x.detach() for x in inputs)
    cols = [[] for _ in inputs]  # cols[j][k]: tangents of the outputs along input j, element k
    outputs = None
    for j, x in enumerate(inputs):
        for k in range(x.numel()):
            with fwAD.dual_level():
                args = list(inputs)
                args[j] = fwAD.make_dual(x, _one_hot(k, x))
                outputs = func(*args)
                outs = _as_tuple("jacobian", "outputs of the function", outputs)[1]
                ts = []
                for i, o in enumerate(outs):
                    p, t = fwAD.unpack_dual(o)
                    if t is None:
                        if strict:
                            raise RuntimeError(
                                f"Output {i} of the user-provided function is "
                                f"independent of input {j}. This is not allowed "
                                "in strict mode."
                            )
                        t = zeros_like(p)
                    ts.append(t)
                outputs = (
                    tuple(fwAD.unpack_dual(o).primal for o in outs)
                    if isinstance(outputs, (tuple, list))
                    else fwAD.unpack_dual(outputs).primal
                )
            cols[j].append(ts)
    if outputs is None:  # every input is empty
        outputs = func(*inputs)
    outs = _as_tuple("jacobian", "outputs of the function", outputs)[1]
    jac = tuple(
        tuple(_stack(-1, [c[i] for c in cols[j]], o, x, o) for j, x in enumerate(inputs))
        for i, o in enumerate(outs)
    )
    return jac, outputs


def _one_hot(k, like):
    e = like.new_zeros(like.numel())
    e[k] = 1.0
    return e.reshape(tuple(like.shape))


def _stack(dim, parts, o, x, like):
    shape = tuple(o.shape) + tuple(x.shape)
    if not parts:
        return like.new_zeros(shape)
    return stack(parts, dim).reshape(shape)


def _gradient_fn(name, func, strict):
    """inputs -> the gradient of scalar `func`, recorded so that it can be differentiated."""

    def gradient(*inputs):
        return _value_and_grad(name, func, inputs, strict)[1]

    return gradient


def hessian(
    func,
    inputs,
    create_graph=False,
    strict=False,
    vectorize=False,
    outer_jacobian_strategy="reverse-mode",
):
    """The Hessian of scalar `func` at `inputs`: ``H[i][j]`` of shape ``in_i.shape + in_j.shape``.

    A single input gives a tensor, a tuple of inputs a tuple of tuples. The inner gradient is
    reverse mode; ``outer_jacobian_strategy`` picks the mode of the outer Jacobian.

    Example::

        >>> from gpugrad.autograd.functional import hessian
        >>> hessian(lambda x: x[0] ** 3 + 2 * x[1] ** 2, gpugrad.tensor([1.0, 5.0]))
        tensor([[6., 0.],
                [0., 4.]])
    """
    in_tuple, inputs = _as_tuple("hessian", "inputs", inputs)
    res = jacobian(
        _gradient_fn("hessian", func, strict),
        inputs,
        create_graph,
        strict,
        strategy=outer_jacobian_strategy,
    )
    return _unpack(res, in_tuple, in_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)``: the vector-Hessian product of scalar `func` at `inputs`.

    Example::

        >>> from gpugrad.autograd.functional import vhp
        >>> vhp(lambda x: (x ** 3).sum(), gpugrad.tensor([1.0, 2.0]), gpugrad.tensor([1.0, 1.0]))
        (tensor(9.), tensor([ 6., 12.]))
    """
    return _hessian_product("vhp", func, inputs, v, create_graph, strict)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)``: the Hessian-vector product of scalar `func` at `inputs`.

    Uses the double-backward trick (H v is the gradient, w.r.t. a dummy u, of <H^T u, v>); for
    twice continuously differentiable functions H is symmetric and `vhp` gives the same, faster.

    Example::

        >>> from gpugrad.autograd.functional import hvp
        >>> hvp(lambda x: (x ** 3).sum(), gpugrad.tensor([1.0, 2.0]), gpugrad.tensor([1.0, 0.0]))
        (tensor(9.), tensor([6., 0.]))
    """
    return _hessian_product("hvp", func, inputs, v, create_graph, strict)


def _hessian_product(name, func, inputs, v, create_graph, strict):
    """``(func(inputs), H v)`` for `hvp`, ``(func(inputs), v^T H)`` for `vhp`."""
    in_tuple, inputs = _as_tuple(name, "inputs", inputs)
    v = _default_v(name, v, inputs, "input")
    with enable_grad():
        inputs = _prepare(inputs, create_graph)
        out, jac = _value_and_grad(name, func, inputs, strict)
        msg = "The Hessian of the user-provided function is independent of input {i}."
        if name == "hvp":
            res = _double_backward(jac, inputs, v, create_graph, strict, msg, msg)
        else:  # v^T H: the gradient of <grad, v>
            res = _grad(jac, inputs, v, create_graph, strict, msg)
    return _finish(out, create_graph), _unpack(_finish(res, create_graph), in_tuple)
