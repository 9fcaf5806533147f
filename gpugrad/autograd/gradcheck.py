"""``gradcheck`` and ``gradgradcheck``: analytical Jacobians (autograd) against central
differences, as in PyTorch.

For every float output and every input with ``requires_grad=True``, the analytical Jacobian is
built row by row with ``autograd.grad`` (one one-hot cotangent per output element) and the
numerical one column by column, moving one input element by +-eps. An entry passes when
``|analytical - numerical| <= atol + rtol * |numerical|``. ``fast_mode=True`` compares only
``u^T J v`` for random unit directions u, v (one reverse pass and two evaluations per pair).

Example::

    >>> from gpugrad.autograd import gradcheck
    >>> x = gpugrad.randn(3, dtype=gpugrad.float64, requires_grad=True)
    >>> gradcheck(lambda x: (x.sin() * x).sum(), (x,))
    True
"""

from __future__ import annotations

import random
import warnings

from ..core.batched import batched, level, unbatched
from ..core.tensor import Tensor
from ..ops import stack
from .grad_mode import enable_grad
from .reverse import grad as _autograd_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by `gradcheck` and `gradgradcheck` when analytical and numerical Jacobians differ."""


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _float_outputs(out):
    return [o for o in _as_tuple(out) if isinstance(o, Tensor) and o.dtype.is_floating_point]


def _unravel(k, shape):
    idx = []
    for s in reversed(shape):
        idx.append(k % s)
        k //= s
    return tuple(reversed(idx))


def _moved(x, k, delta):
    """A copy of x with element k (flat index) moved by delta, requiring grad like x."""
    flat = x.detach().reshape(-1).clone()
    flat[k] = flat[k] + delta
    return flat.reshape(tuple(x.shape)).requires_grad_(x.requires_grad)


def _evaluate(fn, inputs):
    """fn's float outputs, detached (grad mode stays on: fn may itself call autograd.grad)."""
    with enable_grad():
        return [o.detach() for o in _float_outputs(fn(*inputs))]


def _analytical(outputs, diff):
    """J[i][j] for output i and input diff[j]: rows by reverse mode, shape (n_out, n_in)."""
    jac = []
    for o in outputs:
        rows = []
        for k in range(o.numel()):
            if not o.requires_grad:
                rows.append([None] * len(diff))
                continue
            e = o.new_zeros(o.numel())
            e[k] = 1.0
            gs = _autograd_grad(
                o, diff, e.reshape(tuple(o.shape)), retain_graph=True, allow_unused=True
            )
            rows.append(gs)
        jac.append(
            [
                stack(
                    [
                        r[j].detach().reshape(-1) if r[j] is not None else o.new_zeros(x.numel())
                        for r in rows
                    ]
                )
                if rows
                else o.new_zeros(0, x.numel())
                for j, x in enumerate(diff)
            ]
        )
    return jac


def _numerical(fn, inputs, pos, outputs, eps):
    """J[i][j] by central differences: columns, shape (n_out, n_in)."""
    jac = [[None] * len(pos) for _ in outputs]
    for j, p in enumerate(pos):
        x = inputs[p]
        cols = [[] for _ in outputs]
        for k in range(x.numel()):
            args = list(inputs)
            args[p] = _moved(x, k, eps)
            plus = _evaluate(fn, args)
            args[p] = _moved(x, k, -eps)
            minus = _evaluate(fn, args)
            for i, (a, b) in enumerate(zip(plus, minus)):
                cols[i].append(((a - b) / (2 * eps)).reshape(-1))
        for i, o in enumerate(outputs):
            jac[i][j] = stack(cols[i], 1) if cols[i] else o.new_zeros(o.numel(), 0)
    return jac


def _random_unit(rng, like):
    vals = [rng.uniform(-1.0, 1.0) for _ in range(like.numel())]
    t = like.new_tensor(vals).reshape(tuple(like.shape))
    n = t.norm().item() if vals else 0.0
    return t / n if n > 0 else t


def _dot(a, b):
    return float((a.detach().reshape(-1) * b.detach().reshape(-1)).sum().item())


def _fail(raise_exception, msg):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def _compare(ja, jn, outputs, diff, pos, atol, rtol, raise_exception):
    for i, o in enumerate(outputs):
        for j, x in enumerate(diff):
            a, n = ja[i][j], jn[i][j]
            if a.numel() == 0:
                continue
            err, tol = (a - n).abs(), atol + rtol * n.abs()
            if (err <= tol).logical_not().any().item():  # NaN anywhere fails too
                k = int((err / tol).reshape(-1).argmax().item())
                r, c = divmod(k, max(x.numel(), 1))
                av, nv = a[r, c].item(), n[r, c].item()
                msg = (
                    f"Jacobian mismatch for output {i} with respect to input {pos[j]}: worst "
                    f"entry at output element {_unravel(r, tuple(o.shape))}, input element "
                    f"{_unravel(c, tuple(x.shape))}: analytical {av:.10g}, numerical "
                    f"{nv:.10g} (|difference| {abs(av - nv):.3g} > atol + rtol * |numerical| "
                    f"= {atol + rtol * abs(nv):.3g})"
                )
                if a.numel() <= 100:
                    msg += f"\nnumerical:\n{n}\nanalytical:\n{a}"
                return _fail(raise_exception, msg)
    return True


def _fast(fn, inputs, pos, outputs, eps, atol, rtol, raise_exception):
    """u^T J v by reverse mode against central differences along v, per (output, input)."""
    rng = random.Random(0)
    diff = [inputs[p] for p in pos]
    for i, o in enumerate(outputs):
        u = _random_unit(rng, o)
        gs = (
            _autograd_grad(o, diff, u, retain_graph=True, allow_unused=True)
            if o.requires_grad and o.numel()
            else [None] * len(diff)
        )
        for j, (p, x) in enumerate(zip(pos, diff)):
            v = _random_unit(rng, x)
            analytical = _dot(gs[j], v) if gs[j] is not None else 0.0
            args = list(inputs)
            args[p] = (x.detach() + eps * v).requires_grad_()
            plus = _evaluate(fn, args)[i]
            args[p] = (x.detach() - eps * v).requires_grad_()
            minus = _evaluate(fn, args)[i]
            numerical = _dot(u, (plus - minus) / (2 * eps))
            if not abs(analytical - numerical) <= atol + rtol * abs(numerical):
                return _fail(
                    raise_exception,
                    (
                        f"Jacobian mismatch for output {i} with respect to input {p} (fast mode: "
                        f"u^T J v for random unit u, v): analytical {analytical:.10g}, numerical "
                        f"{numerical:.10g}; rerun with fast_mode=False to see the worst entry"
                    ),
                )
    return True


def _batched_grads(outputs, diff, atol, rtol, raise_exception, n=3):
    """``check_batched_grad``: the vjps of a batch of `n` random cotangents per output, taken
    at once under vmap (the rules on batched tensors), against one vjp per cotangent."""
    rng = random.Random(2)
    for i, o in enumerate(outputs):
        if not o.requires_grad or not o.numel():
            continue
        cts = [_random_unit(rng, o) for _ in range(n)]
        want = [_autograd_grad(o, diff, c, retain_graph=True, allow_unused=True) for c in cts]
        with level(n) as lv:
            got = _autograd_grad(o, diff, batched(stack(cts), 0, lv), retain_graph=True,
                                 allow_unused=True)
        for j, x in enumerate(diff):
            g = unbatched(got[j], lv)
            for k in range(n):
                w = want[k][j]
                if w is None and g is None:
                    continue
                a = g[k] if g is not None else x.new_zeros(x.shape)
                b = w if w is not None else x.new_zeros(x.shape)
                err = ((a - b).abs() - rtol * b.abs()).amax().item() if b.numel() else 0.0
                if err > atol:
                    return _fail(
                        raise_exception,
                        f"check_batched_grad: the gradient w.r.t. input {j} for cotangent {k} "
                        f"of output {i}, computed under vmap (batched), differs from the one "
                        f"computed alone by up to {err + atol:.3g}\nbatched:\n{a}\nalone:\n{b}")
    return True


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, fast_mode=False,
              check_batched_grad=False):
    """Check the gradients of `fn` at `inputs` against central finite differences.

    Differentiates w.r.t. the inputs with ``requires_grad=True`` (use float64: other float
    dtypes get a warning). Returns True when every Jacobian entry matches; otherwise raises
    `GradcheckError` naming the worst entry (or returns False with ``raise_exception=False``).
    With ``check_batched_grad=True`` it also checks that the vjps of a batch of cotangents,
    taken at once under vmap, equal the vjps taken one at a time (every rule batches right).

    Example::

        >>> x = gpugrad.tensor([1.0, 2.0], dtype=gpugrad.float64, requires_grad=True)
        >>> gradcheck(lambda x: x.exp(), (x,))
        True
    """
    inputs = _as_tuple(inputs)
    pos = [p for p, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not pos:
        raise ValueError("gradcheck: expected at least one input tensor with requires_grad=True")
    for p in pos:
        if inputs[p].dtype.name != "float64":
            warnings.warn(
                f"gradcheck: input {p} requires grad and has dtype {inputs[p].dtype}, not "
                f"float64; finite differences with eps={eps} are inaccurate in low precision, so "
                "the check may fail (or pass) wrongly. Use .double().",
                UserWarning,
                stacklevel=2,
            )
    with enable_grad():
        outputs = _float_outputs(fn(*inputs))
    diff = [inputs[p] for p in pos]
    if fast_mode:
        ok = _fast(fn, inputs, pos, outputs, eps, atol, rtol, raise_exception)
    else:
        ja = _analytical(outputs, diff)
        jn = _numerical(fn, inputs, pos, outputs, eps)
        ok = _compare(ja, jn, outputs, diff, pos, atol, rtol, raise_exception)
    if ok and check_batched_grad:
        ok = _batched_grads(outputs, diff, atol, rtol, raise_exception)
    return ok


def gradgradcheck(
    fn,
    inputs,
    grad_outputs=None,
    *,
    eps=1e-6,
    atol=1e-5,
    rtol=1e-3,
    raise_exception=True,
    fast_mode=False,
    check_batched_grad=False,
):
    """Check second derivatives: `gradcheck` of the map (inputs, v) -> v^T J (built with
    ``create_graph=True``), w.r.t. the inputs that require grad and the cotangents v.

    `grad_outputs` (the v, one per float output) default to fixed pseudo-random tensors.
    A vjp rule written with raw arrays instead of differentiable ops passes `gradcheck` but
    fails here. ``check_batched_grad=True`` checks the second-order vjps under vmap as well.

    Example::

        >>> x = gpugrad.tensor([1.0, 2.0], dtype=gpugrad.float64, requires_grad=True)
        >>> gradgradcheck(lambda x: x ** 3, (x,))
        True
    """
    inputs = _as_tuple(inputs)
    pos = [p for p, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with enable_grad():
        outputs = _float_outputs(fn(*inputs))
    if grad_outputs is None:
        rng = random.Random(1)
        grad_outputs = tuple(
            o.new_tensor([rng.uniform(-1.0, 1.0) for _ in range(o.numel())])
            .reshape(tuple(o.shape))
            .requires_grad_()
            for o in outputs
        )
    else:
        grad_outputs = _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"gradgradcheck: got {len(grad_outputs)} grad_outputs for {len(outputs)} float outputs"
        )
    n = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:n], args[n:]
        outs = _float_outputs(fn(*xs))
        pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        diff = [xs[p] for p in pos]
        if not pairs:
            return tuple(x.new_zeros(x.shape) for x in diff)
        gs = _autograd_grad(
            [o for o, _ in pairs], diff, [v for _, v in pairs], create_graph=True, allow_unused=True
        )
        return tuple(x.new_zeros(x.shape) if g is None else g for x, g in zip(diff, gs))

    return gradcheck(
        first_derivatives,
        inputs + tuple(grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        fast_mode=fast_mode,
        check_batched_grad=check_batched_grad,
    )
