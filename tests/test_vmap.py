"""vmap: the op table's batching property (for every op, the batched result equals the
per-example results stacked, with the batch dim in front, at the end, and with per-example
index tensors), every primitive has a rule, compositions with every transform in every order,
pytrees, randomness, chunk_size, errors, functional_call and stack_module_state; against
torch.func where installed."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from op_table import CASES, OpCase

import gpugrad as gg
from gpugrad.func import (
    functional_call,
    grad,
    grad_and_value,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    stack_module_state,
    vjp,
    vmap,
)
from gpugrad.ops.registry import OPS

NB = 3  # examples per batch

# ----------------------------------------------------------------------------- the op table


def _draw(case: OpCase, k: int) -> list:
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + 7919 * k)
    return [a.draw(rng, np.float64) for a in case.args]


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _np(t):
    return np.asarray(t.detach().numpy())


# Rows whose per-example function cannot be batched, with the error vmap gives (a value-
# dependent shape: a per-example boolean mask).
_EXPECTED_ERRORS = {("getitem-mask", "indices"): "boolean mask"}

VARIANTS = ["front", "last", "indices"]


def _in_dims(case, variant):
    dims = []
    for a in case.args:
        if a.kind == "const" and not a.is_float:  # indices, masks: per example in "indices"
            dims.append(0 if variant == "indices" else None)
        else:
            dims.append(-1 if variant == "last" else 0)
    if all(d is None for d in dims):  # only fixed inputs (ints as data): batch them all
        dims = [0] * len(dims)
    return dims


def _batch(arrays, dims):
    """Per-example arrays stacked along each input's batch dim (None: the first example's)."""
    out = []
    for i, d in enumerate(dims):
        if d is None:
            out.append(gg.tensor(arrays[0][i]))
        else:
            out.append(gg.tensor(np.stack([a[i] for a in arrays], axis=d)))
    return out


def _variant_cases():
    out = []
    for c in CASES:
        for v in VARIANTS:
            if v == "indices" and not any(a.kind == "const" and not a.is_float for a in c.args):
                continue
            if v == "last" and all(a.shape == () for a in c.args):
                continue
            out.append(pytest.param(c, v, id=f"{c.id}-{v}"))
    return out


@pytest.mark.parametrize("case,variant", _variant_cases())
def test_vmap_matches_per_example_results(case, variant):
    dims = _in_dims(case, variant)
    arrays = [_draw(case, k) for k in range(NB)]
    inputs = _batch(arrays, dims)
    expected = (case.id, variant) in _EXPECTED_ERRORS
    if expected:
        with pytest.raises(RuntimeError, match=_EXPECTED_ERRORS[(case.id, variant)]):
            vmap(case.fn, in_dims=tuple(dims))(*inputs)
        return
    got = _as_list(vmap(case.fn, in_dims=tuple(dims))(*inputs))
    per = [_as_list(case.fn(*[gg.tensor(a) for a in arrays[k]])) for k in range(NB)]
    assert len(got) == len(per[0])
    for j, g in enumerate(got):
        want = np.stack([_np(p[j]) for p in per])
        assert tuple(g.shape) == want.shape, f"output {j}: shape {tuple(g.shape)} != {want.shape}"
        assert g.dtype == per[0][j].dtype
        np.testing.assert_allclose(_np(g), want, rtol=1e-7, atol=1e-9, err_msg=f"output {j}")


GRAD_CASES = [c for c in CASES if c.grad_args and c.differentiable]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_vmap_of_vjp_matches_per_example(case):
    """Per-example cotangents through every op's vjp rule, batched (the rules run on batched
    tensors), against a loop."""
    arrays = [_draw(case, k) for k in range(NB)]
    idx = case.grad_args
    dims = tuple(None if a.kind == "const" and not a.is_float else 0 for a in case.args)

    def f(*xs):
        def g(*ys):
            full = list(xs)
            for i, y in zip(idx, ys):
                full[i] = y
            outs = [o for o in _as_list(case.fn(*full)) if o.dtype.is_floating_point]
            return sum((o * (o.detach() + 1.0)).sum() for o in outs)
        return grad(g, argnums=tuple(range(len(idx))))(*[xs[i] for i in idx])

    got = vmap(f, in_dims=dims)(*_batch(arrays, dims))
    for k in range(NB):
        want = f(*[gg.tensor(a) for a in arrays[k]])
        for g, w in zip(got, want):
            np.testing.assert_allclose(_np(g)[k], _np(w), rtol=1e-7, atol=1e-9)


def test_every_primitive_has_a_batching_rule():
    """Every registry entry declares how it runs on a batch (or a rule that raises, for ops
    where per-example semantics are impossible: listed in _NO_PER_EXAMPLE)."""
    missing = sorted(name for name, op in OPS.items() if op.batch is None)
    assert not missing, f"ops with no batching rule (add one in gpugrad/ops/batching.py): {missing}"
