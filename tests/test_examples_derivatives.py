"""Smoke tests of the derivative examples: run each as a script and check what it prints."""

from __future__ import annotations

import importlib.util
import math
import re

import pytest
from test_examples import NUMBER, line, run_example

HAS_MPL = importlib.util.find_spec("matplotlib") is not None


def test_forward_mode():
    out = run_example("forward_mode.py")
    hand, func = out.split("2. The same with gpugrad.func.jvp")
    for part in (hand, func):
        assert re.search(r"f'\(2\) = 24, f'\(3\) = 54\b", part), out
        assert re.search(r"x\^5: f'\(2\) = 80\b", part), out
        for fn, ref in (("sin", "cos"), ("exp", "exp")):
            m = re.search(rf"{fn}'\(0\.5\) = ({NUMBER})\s+{ref}\(0\.5\) = ({NUMBER})", part)
            assert m, out
            got, expected = float(m.group(1)), float(m.group(2))
            assert got == pytest.approx(expected, abs=1e-12), out
            assert expected == pytest.approx(getattr(math, ref)(0.5), abs=1e-11)
    assert "[0.0, 6.0, 24.0]" in out
    assert "[[4.0, 3.0], [1.0, 8.0]]" in out


def _fd_table(out):
    rows = re.findall(rf"^\s*(1e-\d\d)((?:\s+(?:{NUMBER}|nan)){{4}})\s*$", out, flags=re.M)
    assert len(rows) == 12, out
    table = {}
    for h, rest in rows:
        f32f, f32c, f64f, f64c = (float(v) for v in rest.split())
        table[float(h)] = {"float32": (f32f, f32c), "float64": (f64f, f64c)}
    return table


def test_finite_differences(tmp_path):
    path = tmp_path / "errors.png"
    out = run_example("finite_differences.py", "--plot", str(path))
    t = _fd_table(out)
    f64 = {h: v["float64"] for h, v in t.items()}
    f32 = {h: v["float32"] for h, v in t.items()}
    # truncation: forward error ~ h/2 f'' , central ~ h^2 f'''/6, so central << forward
    assert f64[1e-4][1] < 1e-3 * f64[1e-4][0]
    assert f64[1e-1][0] / f64[1e-2][0] == pytest.approx(10, rel=0.1)  # O(h)
    assert f64[1e-1][1] / f64[1e-2][1] == pytest.approx(100, rel=0.1)  # O(h^2)
    # rounding: below the best step the error rises again
    assert f64[1e-12][0] > 100 * f64[1e-8][0]
    assert f64[1e-12][1] > 100 * f64[1e-5][1]
    assert f32[1e-6][0] > 100 * f32[1e-3][0]
    assert math.isnan(f32[1e-12][0])  # x + h rounds to x in float32
    for dtype in ("float32", "float64"):
        ulps = float(line(out, rf"{dtype}: autodiff error = ").split("=")[2].split()[0])
        assert ulps <= 2.0, out
    best = line(out, r"float64: best forward h = ")
    assert re.search(r"best forward h = 1e-0[78]", best) and "best central h = 1e-05" in best
    if HAS_MPL:
        assert path.stat().st_size > 0
    else:
        assert "matplotlib is not installed" in out


def test_cost_of_gradients(tmp_path):
    path = tmp_path / "cost.png"
    out = run_example("cost_of_gradients.py", "--dims", "10", "100", "--plot", str(path))
    rows = re.findall(
        rf"^\s*(\d+)\s+(finite differences|forward mode|reverse mode)\s+(.*?)\s+"
        rf"({NUMBER})\s+({NUMBER})\s*$",
        out,
        flags=re.M,
    )
    assert len(rows) == 6, out
    secs = {}
    for d, method, _passes, sec, err in rows:
        d = int(d)
        secs[d, method] = float(sec)
        tol = 1e-5 if method == "finite differences" else 1e-12
        assert float(err) < tol, out
    assert "101 evaluations of f" in out and "100 jvp passes" in out
    # 100 passes against one forward and one backward: reverse mode is clearly cheaper
    assert secs[100, "reverse mode"] < secs[100, "forward mode"], out
    assert secs[100, "reverse mode"] < secs[100, "finite differences"], out
    if HAS_MPL:
        assert path.stat().st_size > 0
    else:
        assert "matplotlib is not installed" in out
