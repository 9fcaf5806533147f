"""Issue 15's probe (``tests/bad_inputs_15.py``) against PyTorch's recorded behaviour
(``tests/data/bad_inputs_torch.json``; checked against live torch where it is installed)."""

from __future__ import annotations

import math
import os
import warnings

import pytest
from bad_inputs_15 import CASES, raising_cases, torch_record

import gpugrad as gg

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH = torch_record()
RETURNING = [c for c in CASES if c.id not in {r.id for r, _ in raising_cases()}]


def run_gpugrad(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return case.fn(gg)


def same(got, want):
    """Does gpugrad's result `got` match the recorded description `want`?"""
    if want is None:
        return got is None
    if "dtype" in want:
        if not isinstance(got, gg.Tensor):
            return False
        return (got.dtype.name == want["dtype"] and list(got.shape) == want["shape"]
                and _close(got.tolist(), want["values"]))
    if "py" in want:
        return got == want["py"] or _close(got, want["py"])
    if "seq" in want:
        return isinstance(got, (tuple, list)) and len(got) == len(want["seq"]) and all(
            same(g, w) for g, w in zip(got, want["seq"]))
    return True  # an object (a module, an optimizer, a loader): that it was made is enough


def _close(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, float) and isinstance(b, (int, float)):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6,
                                                                 abs_tol=1e-7)
    return False


def test_the_probe_is_large_and_recorded():
    assert len(CASES) >= 200
    assert len({c.id for c in CASES}) == len(CASES)
    assert set(TORCH) == {c.id for c in CASES}, "rerun: python tools/gen_bad_inputs.py"


def test_every_case_is_compared():
    """Raising cases run in the catalogue (tests/test_reliability_errors.py), the rest here."""
    assert len(raising_cases()) + len(RETURNING) == len(CASES)
    for c in CASES:
        rec = TORCH[c.id]
        assert not (c.differs and "raises" in rec), f"{c.id}: torch raises too: drop differs="
        assert not (c.accepts and "returns" in rec), f"{c.id}: torch accepts too: drop accepts="


@pytest.mark.parametrize("case", RETURNING, ids=[c.id for c in RETURNING])
def test_input_torch_accepts_gives_torch_result(case):
    """Where PyTorch returns, gpugrad returns the same dtype, shape and values; where gpugrad
    accepts what PyTorch refuses (``accepts=``), it returns a tensor without error."""
    got = run_gpugrad(case)
    if case.accepts:
        assert isinstance(got, gg.Tensor)
        return
    want = TORCH[case.id]["returns"]
    assert same(got, want), f"gpugrad {got!r} != torch {want}"


def test_record_matches_live_torch():
    """The JSON is torch's behaviour now (error type or result), case by case."""
    torch = pytest.importorskip("torch")
    import sys  # noqa: PLC0415

    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
    from gen_bad_inputs import run  # noqa: PLC0415

    torch.manual_seed(0)
    stale = []
    for c in CASES:
        live, rec = run(c, torch), TORCH[c.id]
        if ("raises" in live) != ("raises" in rec) or live.get("raises") != rec.get("raises"):
            stale.append(c.id)
    assert not stale, f"rerun tools/gen_bad_inputs.py: {stale}"
