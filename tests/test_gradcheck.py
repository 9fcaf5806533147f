"""gradcheck and gradgradcheck: they pass on the op table and fail, naming the worst entry, on
wrong rules."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from op_table import CASES
from test_ops import draw

import gpugrad as gg
from gpugrad.autograd import GradcheckError, gradcheck, gradgradcheck
from gpugrad.ops.registry import OPS, apply, defop

F64 = gg.float64

# Every differentiable row whose inputs have at most 12 elements each (most of the table).
SMALL = [c for c in CASES if c.grad_args and all(math.prod(a.shape) <= 12 for a in c.args)]


def inputs_of(case):
    arrays = draw(case, np.float64)
    return tuple(gg.tensor(a, requires_grad=i in case.grad_args) for i, a in enumerate(arrays))


def tolerances(case):
    return dict(eps=case.fd_eps, atol=max(1e-5, case.atol), rtol=max(1e-3, case.rtol))


@pytest.mark.parametrize("case", SMALL, ids=[c.id for c in SMALL])
def test_op_table_passes(case):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every input is float64: no precision warning
        assert gradcheck(case.fn, inputs_of(case), **tolerances(case))


FAST = SMALL[::7]


@pytest.mark.parametrize("case", FAST, ids=[c.id for c in FAST])
def test_op_table_passes_fast_mode_and_second_order(case):
    assert gradcheck(case.fn, inputs_of(case), fast_mode=True, **tolerances(case))
    assert gradgradcheck(case.fn, inputs_of(case), fast_mode=True, **tolerances(case))


def test_device(device):
    x = gg.tensor([0.5, -1.0, 2.0], dtype=F64, device=device, requires_grad=True)
    y = gg.tensor([[1.0, 2.0], [0.3, 0.4]], dtype=F64, device=device, requires_grad=True)
    assert gradcheck(lambda x, y: (x[:2] @ y).tanh(), (x, y))
    assert gradgradcheck(lambda x, y: (x[:2] @ y).tanh(), (x, y))


@pytest.fixture
def bad_square():
    """A throwaway op x -> x^2 whose vjp is wrong (3x instead of 2x); its jvp is right."""
    op = defop(
        "_test_bad_square",
        lambda xp, x: x * x,
        lambda F, g, args, out, n: (g * 3 * args[0],),
        lambda F, ts, args, out, params: ts[0] * 2 * args[0],
        save=((0,),),
    )
    try:
        yield lambda x: apply(op, (x,))
    finally:
        del OPS["_test_bad_square"]


def test_wrong_rule_is_caught(bad_square):
    x = gg.tensor([1.0, 2.0, -3.0], dtype=F64, requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(bad_square, (x,))
    msg = str(info.value)
    # the worst entry is the diagonal one at x = -3: 3x = -9 against 2x = -6
    assert "output 0 with respect to input 0" in msg, msg
    assert "output element (2,), input element (2,)" in msg, msg
    assert "analytical -9" in msg and "numerical -6" in msg, msg
    assert isinstance(info.value, RuntimeError)
    assert gradcheck(bad_square, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="fast mode"):
        gradcheck(bad_square, (x,), fast_mode=True)


def test_worst_entry_among_several_inputs_and_outputs(bad_square):
    x = gg.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    y = gg.tensor([[0.5, 4.0], [1.0, 1.5]], dtype=F64, requires_grad=True)

    def fn(x, y):
        return x.sin(), (bad_square(y) * x).sum(0)

    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, (x, y))
    msg = str(info.value)
    # d out1[1] / d y[0, 1] = 3 * 4 * x[1] = 24 analytically against 2 * 4 * 2 = 16
    assert "output 1 with respect to input 1" in msg, msg
    assert "output element (1,), input element (0, 1)" in msg, msg
    assert "analytical 24" in msg and "numerical 16" in msg, msg


def test_gradgradcheck_catches_a_rule_that_breaks_double_backward():
    """A vjp that steps outside the graph (a detached tensor) is right to first order but has
    no second derivative."""
    def raw(F, g, args, out, n):
        x = args[0]
        return (g * (2 * x.detach() if isinstance(x, gg.Tensor) else 2 * x),)

    op = defop(
        "_test_raw_square",
        lambda xp, x: x * x,
        raw,
        lambda F, ts, args, out, params: ts[0] * 2 * args[0],
        save=((0,),),
    )
    try:
        x = gg.tensor([1.0, -2.0], dtype=F64, requires_grad=True)
        assert gradcheck(lambda x: apply(op, (x,)), (x,))
        with pytest.raises(GradcheckError, match="analytical 0"):
            gradgradcheck(lambda x: apply(op, (x,)), (x,))
        assert gradgradcheck(lambda x: x * x, (x,))
    finally:
        del OPS["_test_raw_square"]


def test_gradgradcheck_with_given_grad_outputs():
    x = gg.tensor([0.3, 0.7], dtype=F64, requires_grad=True)
    v = gg.tensor([1.0, -2.0], dtype=F64, requires_grad=True)
    assert gradgradcheck(lambda x: x.exp() * x, (x,), (v,))
    with pytest.raises(ValueError, match="grad_outputs"):
        gradgradcheck(lambda x: x.exp(), (x,), (v, v))


def test_warnings_and_errors():
    x32 = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        gradcheck(lambda x: x * 2, (x32,), eps=1e-3, atol=1e-3, rtol=1e-2)
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda x: x * 2, (gg.tensor([1.0], dtype=F64),))
    # a single tensor is accepted for inputs; non-float outputs are skipped
    x = gg.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    assert gradcheck(lambda x: (x * 3, x.argmax()), x)
