"""Dtype semantics from one table (issue 15): result dtypes of arithmetic, comparisons,
reductions and unary ops follow PyTorch's promotion and integer rules. The table
``tests/data/dtype_table.json`` is PyTorch's (``tools/gen_dtype_table.py``), so the check runs
without torch; a hypothesis test draws dtypes, shapes and values and compares dtype and value
with torch where it is installed, with the table and NumPy where not."""

from __future__ import annotations

import json
import os
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpugrad as gg

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
import gen_dtype_table as G  # noqa: E402

with open(os.path.join(HERE, "data", "dtype_table.json")) as _f:
    TABLE = json.load(_f)

# Where gpugrad computes what PyTorch refuses (never a different dtype where both compute):
# these functions take a Python number where PyTorch's take tensors only; abs and argmax of
# bool tensors.
ACCEPTED = {("scalar", op) for op in ("atan2", "maximum", "minimum", "logical_and")} | {
    ("unary", "abs|bool"), ("reduce", "argmax|bool")}


def _accepted(section, key):
    return (section, key.split("|")[0]) in ACCEPTED or (section, key) in ACCEPTED


def test_table_is_complete():
    assert set(TABLE) >= {"binary", "scalar", "unary", "reduce"}
    assert sum(len(TABLE[s]) for s in ("binary", "scalar", "unary", "reduce")) > 4000


def test_result_dtypes_follow_the_table():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = G.build(gg)
    wrong = [f"{s} {k}: torch {TABLE[s][k]}, gpugrad {v}" for s in got for k, v in got[s].items()
             if v != TABLE[s][k] and not (TABLE[s][k] == "error" and _accepted(s, k))]
    assert not wrong, "\n".join(wrong[:40]) + f"\n({len(wrong)} in all)"


# ----------------------------------------------------------------------------- values

OPS = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "maximum",
       "minimum", "eq", "lt"]
NP = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
      "floor_divide": np.floor_divide, "remainder": np.remainder, "fmod": np.fmod,
      "pow": np.power, "maximum": np.maximum, "minimum": np.minimum, "eq": np.equal,
      "lt": np.less}
SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (3,)), ((3,), ()), ((0,), (1,))]


def _values(draw, dtype, shape, op, divisor):
    n = int(np.prod(shape))
    if dtype == "bool":  # a divisor is True (1): integer division by zero raises
        vals = [True] * n if divisor else draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif dtype in ("float16", "float32", "float64"):
        lo = 0.5 if divisor else -4.0
        vals = draw(st.lists(st.floats(lo, 4.0, width=16), min_size=n, max_size=n))
        if divisor:
            signs = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            vals = [v if s else -v for v, s in zip(vals, signs)]
    else:
        lo = 0 if dtype == "uint8" else -5
        lo = 0 if op == "pow" and divisor else lo
        ints = st.integers(lo, 3 if op == "pow" and divisor else 5)
        if divisor and op != "pow":
            ints = ints.filter(lambda v: v != 0)
        vals = draw(st.lists(ints, min_size=n, max_size=n))
    return np.array(vals, dtype=dtype).reshape(shape)


@st.composite
def binary_case(draw):
    op = draw(st.sampled_from(OPS))
    da = draw(st.sampled_from(G.DTYPES))
    db = draw(st.sampled_from(G.DTYPES))
    sa, sb = draw(st.sampled_from(SHAPES))
    a = _values(draw, da, sa, op, False)
    b = _values(draw, db, sb, op, op in ("div", "floor_divide", "remainder", "fmod", "pow"))
    return op, a, b


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(binary_case())
def test_binary_dtypes_and_values_as_torch(case):
    op, a, b = case
    try:
        import torch  # noqa: PLC0415 - optional: the table and NumPy otherwise
    except ImportError:
        torch = None
    kind = "nd-nd" if a.ndim and b.ndim else ("nd-0d" if a.ndim else "0d-nd")
    want_dtype = TABLE["binary"][f"{op}|{a.dtype.name}|{b.dtype.name}|{kind}"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = getattr(gg, op)(gg.tensor(a), gg.tensor(b))
        except (RuntimeError, TypeError, NotImplementedError, ZeroDivisionError) as exc:
            assert want_dtype == "error", f"gpugrad raised {exc!r}; torch gives {want_dtype}"
            return
        assert want_dtype != "error", f"torch refuses {op} of {a.dtype} and {b.dtype}"
        assert got.dtype.name == want_dtype
        if torch is not None:
            want = getattr(torch, op)(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        else:
            # operands cast to the computation dtype first (the promoted one), as PyTorch does
            ct = want_dtype if op == "div" else TABLE["binary"][
                f"add|{a.dtype.name}|{b.dtype.name}|{kind}"]
            want = NP[op](a.astype(ct), b.astype(ct)).astype(want_dtype)
    tol = {"float16": 2e-3, "float32": 2e-6}.get(want_dtype, 1e-12)
    np.testing.assert_allclose(got.numpy().astype(float), want.astype(float), rtol=tol,
                               atol=tol, equal_nan=True)


@pytest.mark.parametrize("op", ["sum", "prod", "mean", "amax", "std", "norm", "logsumexp"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "uint8", "int64",
                                   "bool"])
def test_reduction_dtypes_and_values(op, dtype):
    want_dtype = TABLE["reduce"][f"{op}|{dtype}"]
    a = (np.arange(1, 7) % 3).astype(dtype)
    t = gg.tensor(a)
    if want_dtype == "error":
        with pytest.raises((RuntimeError, TypeError)):
            G.reduce(gg, op, t)
        return
    got = G.reduce(gg, op, t)
    assert got.dtype.name == want_dtype
    torch = pytest.importorskip("torch")
    want = G.reduce(torch, op, torch.from_numpy(a))
    np.testing.assert_allclose(float(got), float(want), rtol=2e-3)
