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
from . import forward_ad
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


def _compare(ja, jn, outputs, diff, pos, atol, rtol, raise_exception, mode=""):
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
                    f"Jacobian mismatch for output {i} with respect to input {pos[j]}{mode}: worst "
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


def _fresh(x):
    """A new leaf with x's value that requires grad like x (fn may differentiate it)."""
    return x.detach().requires_grad_(x.requires_grad)


def _forward_jacobian(fn, inputs, pos, outputs):
    """J[i][j] by forward mode: one column per input element (a one-hot tangent)."""
    jac = [[None] * len(pos) for _ in outputs]
    for j, p in enumerate(pos):
        x = inputs[p]
        cols = [[] for _ in outputs]
        for k in range(x.numel()):
            e = x.new_zeros(x.numel())
            e[k] = 1.0
            with forward_ad.dual_level():
                args = list(inputs)
                args[p] = forward_ad.make_dual(_fresh(x), e.reshape(tuple(x.shape)))
                outs = _float_outputs(fn(*args))
                for i, o in enumerate(outs):
                    t = forward_ad.unpack_dual(o).tangent
                    cols[i].append(o.new_zeros(o.numel()) if t is None
                                   else t.detach().reshape(-1))
        for i, o in enumerate(outputs):
            jac[i][j] = stack(cols[i], 1) if cols[i] else o.new_zeros(o.numel(), 0)
    return jac


def _fast_forward(fn, inputs, pos, outputs, eps, atol, rtol, raise_exception):
    """u^T (J v) by forward mode against central differences along v, per (output, input)."""
    rng = random.Random(0)
    us = [_random_unit(rng, o) for o in outputs]
    for p in pos:
        x = inputs[p]
        v = _random_unit(rng, x)
        with forward_ad.dual_level():
            args = list(inputs)
            args[p] = forward_ad.make_dual(_fresh(x), v)
            tangents = [forward_ad.unpack_dual(o).tangent for o in _float_outputs(fn(*args))]
        args = list(inputs)
        args[p] = (x.detach() + eps * v).requires_grad_()
        plus = _evaluate(fn, args)
        args[p] = (x.detach() - eps * v).requires_grad_()
        minus = _evaluate(fn, args)
        for i, (u, t) in enumerate(zip(us, tangents)):
            analytical = _dot(u, t) if t is not None else 0.0
            numerical = _dot(u, (plus[i] - minus[i]) / (2 * eps))
            if not abs(analytical - numerical) <= atol + rtol * abs(numerical):
                return _fail(raise_exception, (
                    f"Jacobian mismatch for output {i} with respect to input {p} (forward mode, "
                    f"fast mode: u^T J v for random unit u, v): analytical {analytical:.10g}, "
                    f"numerical {numerical:.10g}; rerun with fast_mode=False to see the worst "
                    "entry"))
    return True


def _reentrant(outputs, diff, ja, nondet_tol, raise_exception):
    """Backward run twice gives the same Jacobian, within `nondet_tol`."""
    again = _analytical(outputs, diff)
    for i in range(len(outputs)):
        for j in range(len(diff)):
            a, b = ja[i][j], again[i][j]
            if a.numel() and float((a - b).abs().max().item()) > nondet_tol:
                return _fail(raise_exception, (
                    "Backward is not reentrant, i.e., running backward with the same input and "
                    "grad_output several times gives different values, although the analytical "
                    f"gradient matches the numerical one. The tolerance for nondeterminism was "
                    f"{nondet_tol} (nondet_tol=)."))
    return True


def _undefined_grad(outputs, diff, raise_exception):
    """Backward with zero output gradients (what PyTorch's undefined ones stand for) gives
    zero (or no) input gradients."""
    pairs = [o for o in outputs if o.requires_grad]
    if not pairs:
        return True
    gs = _autograd_grad(pairs, diff, [o.new_zeros(o.shape) for o in pairs], retain_graph=True,
                        allow_unused=True)
    for j, g in enumerate(gs):
        if g is not None and bool((g != 0).any().item()):
            return _fail(raise_exception, (
                f"Expected backward to treat undefined (zero) output gradients as zero, but the "
                f"gradient of input {j} is non-zero for all-zero output gradients "
                "(check_undefined_grad=)"))
    return True


def _grad_dtypes(outputs, diff, pos, raise_exception):
    """Each input's gradient has the input's dtype and device."""
    pairs = [o for o in outputs if o.requires_grad]
    if not pairs:
        return True
    gs = _autograd_grad(pairs, diff, [o.new_ones(o.shape) for o in pairs], retain_graph=True,
                        allow_unused=True)
    for p, x, g in zip(pos, diff, gs):
        if g is not None and (g.dtype is not x.dtype or g.device != x.device):
            return _fail(raise_exception, (
                f"Gradient for input {p} has dtype {g.dtype} on {g.device}, but the input has "
                f"dtype {x.dtype} on {x.device} (check_grad_dtypes=)"))
    return True


def _low_precision(inputs, pos):
    return [p for p in pos if inputs[p].dtype.name != "float64"]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False,
              check_forward_ad=False, check_backward_ad=True, fast_mode=False,
              masked=None):
    """Check the gradients of `fn` at `inputs` against central finite differences.

    Differentiates w.r.t. the inputs with ``requires_grad=True``. Use float64: with other
    float dtypes it warns, as PyTorch does, and a failure says that the dtype is the likely
    cause. Returns True when every Jacobian entry matches; otherwise raises `GradcheckError`
    naming the worst entry (or returns False with ``raise_exception=False``).

    PyTorch's keywords: ``check_backward_ad`` (reverse mode, on by default),
    ``check_forward_ad`` (forward mode too), ``fast_mode`` (u^T J v for random unit u, v
    instead of whole Jacobians), ``nondet_tol`` (backward run twice must agree within it),
    ``check_undefined_grad`` (zero output gradients give zero input gradients),
    ``check_grad_dtypes`` (gradients have their inputs' dtypes and devices).
    ``check_batched_grad`` (the vjps of a batch of cotangents taken at once under vmap equal
    those taken one at a time) and ``check_batched_forward_grad`` (the same for the jvps of a
    batch of tangents). ``masked`` is accepted and ignored (gpugrad has no sparse tensors).

    Example::

        >>> x = gpugrad.tensor([1.0, 2.0], dtype=gpugrad.float64, requires_grad=True)
        >>> gradcheck(lambda x: x.exp(), (x,), check_forward_ad=True)
        True
    """
    if not (check_forward_ad or check_backward_ad):
        raise ValueError("gradcheck: expected at least one of check_forward_ad or "
                         "check_backward_ad to be True")
    inputs = _as_tuple(inputs)
    pos = [p for p, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not pos:
        raise ValueError("gradcheck: expected at least one input tensor with requires_grad=True")
    low = _low_precision(inputs, pos)
    for p in low:
        warnings.warn(
            f"gradcheck: input {p} requires gradient and has dtype {inputs[p].dtype}, not "
            f"float64; finite differences with eps={eps} are inaccurate in low precision, so "
            "the check will likely fail (or pass wrongly) unless every input is float64. Use "
            ".double().",
            UserWarning,
            stacklevel=2,
        )
    try:
        ok = _gradcheck(func, inputs, pos, eps, atol, rtol, raise_exception, nondet_tol,
                        check_undefined_grad, check_grad_dtypes, check_forward_ad,
                        check_backward_ad, fast_mode)
        if ok and check_batched_grad and check_backward_ad:
            ok = _batched_grads(func, inputs, pos, atol, rtol, raise_exception)
        if ok and check_batched_forward_grad:
            ok = _batched_forward_grads(func, inputs, pos, atol, rtol, raise_exception)
        return ok
    except GradcheckError as exc:
        if low:
            raise GradcheckError(
                f"{exc}\n(inputs {low} are not float64: gradcheck wants float64 inputs, since "
                "finite differences in lower precision are too inaccurate for its tolerances; "
                "use .double())") from None
        raise


def _close_batch(what, got, want, lv, atol, rtol, raise_exception):
    """Compare `got` (computed under vmap level `lv`: one entry per tensor) with `want` (per
    batch element k, the same entries computed alone)."""
    for j, g in enumerate(got):
        g = unbatched(g, lv)
        for k, ws in enumerate(want):
            w = ws[j]
            if w is None and g is None:
                continue
            like = w if w is not None else g[k]
            a = g[k] if g is not None else like.new_zeros(like.shape)
            b = w if w is not None else like.new_zeros(like.shape)
            err = float(((a - b).abs() - rtol * b.abs()).amax().item()) if b.numel() else 0.0
            if err > atol:
                return _fail(raise_exception, (
                    f"{what}: entry {j} for batch element {k}, computed under vmap (batched), "
                    f"differs from the one computed alone by up to {err + atol:.3g}\nbatched:\n"
                    f"{a}\nalone:\n{b}"))
    return True


def _batched_grads(fn, inputs, pos, atol, rtol, raise_exception, n=3):
    """``check_batched_grad``: per output, the vjps of `n` random cotangents taken at once
    under vmap (every vjp rule on batched tensors) against one vjp per cotangent."""
    rng = random.Random(2)
    with enable_grad():
        outputs = _float_outputs(fn(*inputs))
    diff = [inputs[p] for p in pos]
    for i, o in enumerate(outputs):
        if not o.requires_grad or not o.numel():
            continue
        cts = [_random_unit(rng, o) for _ in range(n)]
        want = [_autograd_grad(o, diff, c, retain_graph=True, allow_unused=True) for c in cts]
        with level(n) as lv:
            got = _autograd_grad(o, diff, batched(stack(cts), 0, lv), retain_graph=True,
                                 allow_unused=True)
        if not _close_batch(f"check_batched_grad (output {i}, gradients w.r.t. the inputs)",
                            got, want, lv, atol, rtol, raise_exception):
            return False
    return True


def _batched_forward_grads(fn, inputs, pos, atol, rtol, raise_exception, n=3):
    """``check_batched_forward_grad``: per input, the jvps of `n` random tangents taken at once
    under vmap (every jvp rule on batched tangents) against one jvp per tangent."""
    rng = random.Random(3)
    for p in pos:
        x = inputs[p]
        ts = [_random_unit(rng, x) for _ in range(n)]
        want = []
        for t in ts:
            with forward_ad.dual_level():
                args = list(inputs)
                args[p] = forward_ad.make_dual(_fresh(x), t)
                want.append([forward_ad.unpack_dual(o).tangent
                             for o in _float_outputs(fn(*args))])
        with level(n) as lv, forward_ad.dual_level():
            args = list(inputs)
            args[p] = forward_ad.make_dual(_fresh(x), batched(stack(ts), 0, lv))
            got = [forward_ad.unpack_dual(o).tangent for o in _float_outputs(fn(*args))]
        if not _close_batch(f"check_batched_forward_grad (input {p}, tangents of the outputs)",
                            got, want, lv, atol, rtol, raise_exception):
            return False
    return True


def _gradcheck(fn, inputs, pos, eps, atol, rtol, raise_exception, nondet_tol,
               check_undefined_grad, check_grad_dtypes, check_forward_ad, check_backward_ad,
               fast_mode):
    with enable_grad():
        outputs = _float_outputs(fn(*inputs))
    diff = [inputs[p] for p in pos]
    if fast_mode:
        if check_backward_ad and not _fast(fn, inputs, pos, outputs, eps, atol, rtol,
                                           raise_exception):
            return False
        if check_forward_ad and not _fast_forward(fn, inputs, pos, outputs, eps, atol, rtol,
                                                  raise_exception):
            return False
    else:
        jn = _numerical(fn, inputs, pos, outputs, eps)
        if check_backward_ad:
            ja = _analytical(outputs, diff)
            if not _compare(ja, jn, outputs, diff, pos, atol, rtol, raise_exception):
                return False
            if not _reentrant(outputs, diff, ja, nondet_tol, raise_exception):
                return False
        if check_forward_ad:
            jf = _forward_jacobian(fn, inputs, pos, outputs)
            if not _compare(jf, jn, outputs, diff, pos, atol, rtol, raise_exception,
                            " (forward mode)"):
                return False
    if check_backward_ad and check_undefined_grad and not _undefined_grad(outputs, diff,
                                                                          raise_exception):
        return False
    if check_backward_ad and check_grad_dtypes and not _grad_dtypes(outputs, diff, pos,
                                                                     raise_exception):
        return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """Check second derivatives: `gradcheck` of the map (inputs, v) -> v^T J (built with
    ``create_graph=True``), w.r.t. the inputs that require grad and the cotangents v.

    `grad_outputs` (the v, one per float output) default to fixed pseudo-random tensors.
    A vjp rule written with raw arrays instead of differentiable ops passes `gradcheck` but
    fails here. ``check_rev_over_rev`` (on by default) checks reverse over reverse,
    ``check_fwd_over_rev`` forward over reverse; the other keywords are `gradcheck`'s
    (``gen_non_contig_grad_outputs`` is accepted and ignored: gpugrad's tensors are
    contiguous).

    Example::

        >>> x = gpugrad.tensor([1.0, 2.0], dtype=gpugrad.float64, requires_grad=True)
        >>> gradgradcheck(lambda x: x ** 3, (x,), check_fwd_over_rev=True)
        True
    """
    inputs = _as_tuple(inputs)
    pos = [p for p, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with enable_grad():
        outputs = _float_outputs(func(*inputs))
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
        outs = _float_outputs(func(*xs))
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
        nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad,
        check_grad_dtypes=check_grad_dtypes,
        check_batched_grad=check_batched_grad,
        check_forward_ad=check_fwd_over_rev,
        check_backward_ad=check_rev_over_rev,
        fast_mode=fast_mode,
    )
