"""``python -m gpugrad.bench``: every suite runs in --quick mode, prints its rows with numbers,
writes its JSON, flags a wrong gradient with a non-zero exit, and runs without torch and jax;
the scaling suite prints a table per curve with slopes, flags superlinear growth, and plots."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import sys
import time

import numpy as np
import pytest

import gpugrad
from gpugrad.bench import __main__ as bench_main
from gpugrad.bench import scaling
from gpugrad.bench.harness import Bench, Result, Row, fmt_count, grad_error, time_rows, to_host

HAS = {m: importlib.util.find_spec(m) is not None for m in ("torch", "jax")}


def expected_rows(suite: str, torch: bool, jax: bool) -> list[str]:
    if suite == "linreg":
        from gpugrad.ops.kernels import linear_mse_cpu
        numba = linear_mse_cpu.unavailable() is None
        rows = ["numpy hand", "gpugrad autograd", "gpugrad fused",
                *(["gpugrad fused, NumPy"] if numba else []),
                *(["torch"] if torch else []), *(["jax", "jax jit"] if jax else []), "copy X",
                "X @ w"]
    elif suite == "overhead":
        rows = ["numpy hand", "gpugrad", "numpy forward", "gpugrad forward",
                "gpugrad forward, no_grad", *(["torch"] if torch else []),
                *(["jax vjp"] if jax else [])]
    elif suite == "vmap":
        rows = ["numpy hand", "gpugrad vmap", "gpugrad loop of grad",
                *(["torch.func vmap"] if torch else []), *(["jax jit vmap"] if jax else [])]
    elif suite == "mlp":
        rows = ["numpy hand", "numpy hand, W (out, in)", "gpugrad", *(["torch"] if torch else []),
                *(["jax jit"] if jax else [])]
    else:  # cheapgrad
        names = ["numpy hand", "gpugrad", *(["torch"] if torch else []),
                 *(["jax jit"] if jax else [])]
        rows = [f"{n} {kind}" for n in names for kind in ("value", "value+grad")]
    return rows


NUMBER = r"(?:\d+(?:\.\d*)?(?:e[+-]\d+)?)"


def row_numbers(section: str, name: str) -> list[list[float]]:
    """The median, min and max of every table line of row `name` in `section`."""
    pattern = rf"^  {re.escape(name)} +({NUMBER}) +({NUMBER}) +({NUMBER})\b"
    return [[float(v) for v in m.groups()] for m in re.finditer(pattern, section, re.M)]


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^\[(\w+)\]$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.fixture(scope="module")
def quick_all(tmp_path_factory):
    """One in-process run of every suite in --quick mode, with the scaling plot: (exit status,
    stdout, JSON, the plot's path)."""
    tmp = tmp_path_factory.mktemp("bench")
    path, png = tmp / "out.json", tmp / "scaling.png"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = bench_main.main(["all", "--quick", "--json", str(path), "--plot", str(png)])
    return rc, out.getvalue(), json.loads(path.read_text()), png


@pytest.mark.parametrize("suite", ["linreg", "overhead", "mlp", "cheapgrad", "vmap"])
def test_suite_prints_every_row_with_numbers(quick_all, suite):
    rc, text, _, _ = quick_all
    assert rc == 0, text
    section = sections(text)[suite]
    tables = {"overhead": 2, "cheapgrad": 2, "vmap": 2}.get(suite, 1)
    for name in expected_rows(suite, HAS["torch"], HAS["jax"]):
        found = row_numbers(section, name)
        assert len(found) == tables, f"{suite}: row {name!r} missing in\n{section}"
        for med, lo, hi in found:
            assert 0 < lo <= med <= hi, (name, med, lo, hi)
    if suite == "cheapgrad":  # the fused loss is in the linreg table only
        for name in ("gpugrad fused value", "gpugrad fused value+grad"):
            assert len(row_numbers(section, name)) == 1, section
    assert "WRONG" not in section
    assert "target:" in section


def test_json_has_every_row_and_the_environment(quick_all):
    _, _, doc, _ = quick_all
    assert {"argv", "environment", "rows", "skipped", "notes", "wrong"} <= set(doc)
    env = doc["environment"]
    for key in ("python", "numpy", "torch", "jax", "cupy", "device", "device_name", "date", "cpu"):
        assert key in env
    assert env["numpy"] == np.__version__ and env["device"] == "cpu"
    for suite in ("linreg", "overhead", "mlp", "cheapgrad", "vmap"):
        names = {r["name"] for r in doc["rows"] if r["suite"] == suite}
        fused = {"gpugrad fused value", "gpugrad fused value+grad"}
        fused = fused if suite == "cheapgrad" else set()
        assert names == set(expected_rows(suite, HAS["torch"], HAS["jax"])) | fused, suite
    for r in doc["rows"]:
        assert {"suite", "table", "name", "times", "median", "min", "max", "unit", "ratio",
                "grad_err"} <= set(r)
        assert len(r["times"]) == 3 and r["min"] <= r["median"] <= r["max"]
        assert r["unit"] in ("ms", "us/op")
    linreg = {r["name"]: r for r in doc["rows"] if r["suite"] == "linreg"}
    assert linreg["numpy hand"]["ratio"] == 1.0 and linreg["numpy hand"]["grad_err"] == 0.0
    assert linreg["copy X"]["grad_err"] is None and linreg["copy X"]["x floor"] > 0
    assert linreg["gpugrad autograd"]["peak MB"] > 0
    assert doc["wrong"] == []


def test_without_torch_and_jax_their_rows_are_skipped(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    monkeypatch.setitem(sys.modules, "jax", None)
    assert bench_main.main(["all", "--quick", "--repeat", "1"]) == 0
    text = capsys.readouterr().out
    for suite, section in sections(text).items():
        assert re.search(r"^  torch: skipped, not importable", section, re.M), suite
        if suite == "scaling":  # no JAX rows in this suite
            for curve, table in curve_tables(section).items():
                for name in CURVE_ROWS[curve]:
                    assert len(curve_lines(table, name)) == len(QUICK_X[curve]), (curve, name)
                assert not curve_lines(table, "torch"), curve
            continue
        assert re.search(r"^  jax: skipped, not importable", section, re.M), suite
        for name in expected_rows(suite, torch=False, jax=False):
            assert row_numbers(section, name), (suite, name)
        for name in ("torch", "jax", "jax jit", "torch value", "jax jit value+grad"):
            assert not row_numbers(section, name), (suite, name)


def fake_suite(bench, args):
    ref = np.linspace(1.0, 2.0, 5, dtype=np.float32)
    rows = [Row("hand", lambda: ref), Row("close", lambda: ref * np.float32(1 + 1e-5)),
            Row("off", lambda: [ref * np.float32(1.01)]),
            Row("no gradient", lambda: ref.copy(), grad=False)]
    res = bench.measure("fake", "", rows, repeat=2, ratio_ref="hand", grad_ref="hand")
    bench.table("fake suite", res, ratio_ref="hand")


def test_a_wrong_gradient_is_flagged_and_fails_the_run(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(bench_main.SUITES, "fake", fake_suite)
    path = tmp_path / "fake.json"
    assert bench_main.main(["fake", "--quick", "--json", str(path)]) == 1
    text = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in text.splitlines() if ln.startswith("  ") and ln.split()}
    assert lines["off"].rstrip().endswith("WRONG")
    assert "WRONG" not in lines["close"] and "WRONG" not in lines["hand"]
    assert "WRONG gradients: fake/off" in text
    doc = json.loads(path.read_text())
    assert doc["wrong"] == ["fake//off"]
    by_name = {r["name"]: r for r in doc["rows"]}
    assert by_name["off"]["grad_err"] == pytest.approx(0.01, rel=1e-3)
    assert by_name["no gradient"]["grad_err"] is None


def test_rows_are_timed_interleaved_after_warm_up():
    calls = []
    rows = [Row(n, lambda n=n: calls.append(n)) for n in "abc"]
    times, _, _ = time_rows(rows, repeat=3, warmup=2)
    assert calls == list("abc") * 2 + list("aabbcc") * 3  # each timed call after an untimed one
    assert [len(t) for t in times] == [3, 3, 3]


def test_a_row_slower_than_its_cap_is_dropped(capsys):
    bench = Bench("cpu", quick=True)
    slow = Row("slow", lambda: time.sleep(0.02), max_s=0.001, grad=False)
    res = bench.measure("s", "", [Row("fast", lambda: None, grad=False), slow], repeat=2)
    assert list(res) == ["fast"]
    assert "slow: skipped, one call took" in capsys.readouterr().out


def test_grad_error_and_tolerance_follow_the_coarser_dtype():
    a = np.array([1.0, -2.0, 4.0])
    assert grad_error([a], [a]) == (0.0, 1e-9)
    err, tol = grad_error([a.astype(np.float32) + np.float32(0.004)], [a])
    assert err == pytest.approx(1e-3, rel=1e-3) and tol == 1e-3
    assert grad_error([a[:2]], [a])[0] == np.inf  # a shape mismatch is wrong
    assert grad_error([a * np.nan], [a])[0] == np.inf
    assert grad_error([a, a], [a])[0] == np.inf


def test_to_host_flattens_tensors_and_lists():
    t = gpugrad.tensor([1.0, 2.0], requires_grad=True)
    out = to_host([t, (np.zeros(2), None)])
    assert out is not None and len(out) == 2
    np.testing.assert_array_equal(out[0], [1.0, 2.0])


@pytest.mark.cuda
def test_cuda_suites_run():
    if not gpugrad.cuda.is_available():
        pytest.skip("no usable CUDA device")
    assert bench_main.main(["all", "--quick", "--device", "cuda"]) == 0


# ----------------------------------------------------------------------------- scaling

CURVE_ROWS = {"linreg vs N": ["numpy hand", "gpugrad autograd", "gpugrad fused", "copy X", "X @ w"],
              "overhead vs ops": ["numpy hand", "gpugrad", "gpugrad forward"],
              "mlp vs batch": ["numpy hand", "gpugrad"]}
CURVE_ROWS["linreg vs d"] = CURVE_ROWS["linreg vs N"]
QUICK_X = {"linreg vs N": scaling.QUICK["n_grid"], "linreg vs d": scaling.QUICK["d_grid"],
           "overhead vs ops": scaling.QUICK["ops_grid"],
           "mlp vs batch": scaling.QUICK["batch_grid"]}


def curve_tables(section: str) -> dict[str, str]:
    """The scaling section's text by curve, from each table's title to the next."""
    parts = re.split(rf"^({'|'.join(map(re.escape, QUICK_X))}): ", section, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def curve_lines(table: str, name: str) -> list[tuple[float, float, float, float]]:
    """(x, median, min, max) of every line of row `name` in a curve's table."""
    pattern = rf"^  {re.escape(name)} +(\d+(?:e\d+)?) +({NUMBER}) +({NUMBER}) +({NUMBER})\b"
    return [(float(m[1]), float(m[2]), float(m[3]), float(m[4]))
            for m in re.finditer(pattern, table, re.M)]


def test_scaling_prints_a_table_per_curve_with_slopes(quick_all):
    rc, text, _, png = quick_all
    assert rc == 0, text
    section = sections(text)["scaling"]
    tables = curve_tables(section)
    assert list(tables) == list(QUICK_X)
    for curve, table in tables.items():
        for name in CURVE_ROWS[curve] + (["torch"] if HAS["torch"] else []):
            found = curve_lines(table, name)
            assert [x for x, *_ in found] == list(QUICK_X[curve]), (curve, name, table)
            for _, med, lo, hi in found:
                assert 0 < lo <= med <= hi, (curve, name, med, lo, hi)
        slopes = re.search(r"^  log-log slope of time over \S+ = (\S+): (.*)$", table, re.M)
        assert slopes, table
        lo_x, hi_x = QUICK_X[curve][-scaling.SLOPE_POINTS], QUICK_X[curve][-1]
        assert slopes[1] == f"{fmt_count(lo_x)}..{fmt_count(hi_x)}"
        for name in CURVE_ROWS[curve]:
            assert re.search(rf"(^|, ){re.escape(name)} -?\d+\.\d\d(,|$)", slopes[2]), name
        assert "WRONG" not in table
    linreg = tables["linreg vs N"]
    assert re.search(r"read bandwidth, GB/s by N: copy X .*; X @ w \(one read of X\) ", linreg)
    assert "one-pass floor, ms: 256: " in linreg
    assert re.search(r"^  target: gpugrad us/op flat within 10% from 1e3 ops up \(max / min\) "
                     r"\(now \d", tables["overhead vs ops"], re.M)
    assert f"wrote the plot to {png}" in section


def test_scaling_json_has_every_cell(quick_all):
    _, _, doc, _ = quick_all
    rows = [r for r in doc["rows"] if r["suite"] == "scaling"]
    x_name = {"linreg vs N": "N", "linreg vs d": "d", "overhead vs ops": "ops",
              "mlp vs batch": "batch"}
    per = {"linreg vs N": "us/row", "linreg vs d": "ns/elem", "overhead vs ops": "us/op",
           "mlp vs batch": "us/example"}
    for curve, grid in QUICK_X.items():
        names = CURVE_ROWS[curve] + (["torch"] if HAS["torch"] else [])
        cells = [r for r in rows if r["table"].startswith(curve + ", ")]
        assert sorted((r["name"], r[x_name[curve]]) for r in cells) == sorted(
            (name, x) for name in names for x in grid), curve
        for r in cells:
            assert r["table"] == f"{curve}, {x_name[curve]}={r[x_name[curve]]}"
            assert r[per[curve]] > 0 and isinstance(r["slope"], float)
            assert r["wrong"] is False
        hand = [r for r in cells if r["name"] == "numpy hand"]
        assert all(r["ratio"] == 1.0 and r["peak MB"] > 0 for r in hand), curve
    linreg = [r for r in rows if r["table"].startswith("linreg vs N")]
    assert all(r["d"] == scaling.QUICK["d"] and r["x floor"] > 0 for r in linreg)


def test_scaling_plot_is_a_png(quick_all):
    png = quick_all[3]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_plot_without_matplotlib_names_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    png = tmp_path / "s.png"
    assert bench_main.main(["scaling", "--quick", "--plot", str(png)]) == 2
    err = capsys.readouterr().err
    assert "--plot needs matplotlib" in err and "gpugrad[plot]" in err
    assert not png.exists()  # refused before any suite ran


def test_plot_needs_the_scaling_suite(capsys):
    with pytest.raises(SystemExit) as e:
        bench_main.main(["linreg", "--plot", "x.png"])
    assert e.value.code == 2 and "name scaling" in capsys.readouterr().err


def test_grids_take_counts_written_as_powers_of_ten(capsys):
    args = bench_main.parser().parse_args(["scaling", "--n-grid", "1e3", "20000", "--ops-grid",
                                           "1e6"])
    assert args.n_grid == [1000, 20000] and args.ops_grid == [1_000_000]
    for bad in ("1.5", "0", "ten"):
        with pytest.raises(SystemExit):
            bench_main.parser().parse_args(["scaling", "--d-grid", bad])
        assert "positive whole number" in capsys.readouterr().err


def test_loglog_slope_fits_the_largest_points():
    xs = [10.0, 100.0, 1e3, 1e4, 1e5]
    assert scaling.loglog_slope(xs, [3 * x for x in xs]) == pytest.approx(1.0)
    assert scaling.loglog_slope(xs, [x**2 for x in xs]) == pytest.approx(2.0)
    assert scaling.loglog_slope(xs, [x**0.5 for x in xs]) == pytest.approx(0.5)
    # a fixed cost that dominates small x does not count: the fit uses the largest three
    assert scaling.loglog_slope(xs, [1e6 + x for x in xs[:2]] + [x**1.5 for x in xs[2:]]
                                ) == pytest.approx(1.5)
    assert scaling.loglog_slope(xs, [5.0] * 5) == pytest.approx(0.0)
    # unsorted input; missing and non-positive values are left out
    assert scaling.loglog_slope([1e4, 10.0, 1e3], [1e8, None, 1e6]) == pytest.approx(2.0)
    assert scaling.loglog_slope(xs, [None, 0.0, -1.0, None, 2.0]) is None
    assert scaling.loglog_slope([10.0, 10.0], [1.0, 2.0]) is None  # one x: no slope


def fake_result(name: str, x: int, seconds: float, peak: float | None = None) -> Result:
    r = Result("scaling", f"fake, n={x}", name, "ms", 1e3, [seconds])
    r.extra.update({"n": x, "peak MB": peak})
    return r


def test_superlinear_growth_is_flagged():
    curve = scaling.Curve("fake", "n", "us/item", lambda x: 1e6 / x)
    for x in (10, 100, 1000, 10000):
        curve.cells.append((x, {"numpy hand": fake_result("numpy hand", x, 1e-6 * x, 0.1 * x),
                                "quadratic": fake_result("quadratic", x, 1e-9 * x * x, 1.0),
                                "nearly linear": fake_result("nearly linear", x, 1e-6 * x**1.05),
                                "memory": fake_result("memory", x, 1e-3, 1e-4 * x**1.5)}))
    out = io.StringIO()
    bench = Bench("cpu", quick=True, out=out)
    scaling.report(bench, curve, "fake curve", ["peak MB"])
    text = out.getvalue()
    assert "log-log slope of time over n = 100..1e4: numpy hand 1.00, quadratic 2.00, " \
           "nearly linear 1.05, memory 0.00" in text
    assert "log-log slope of peak MB over n = 100..1e4: numpy hand 1.00, quadratic 0.00, " \
           "memory 1.50" in text
    flags = [ln.strip() for ln in text.splitlines() if "SUPERLINEAR" in ln]
    assert flags == [
        "SUPERLINEAR: fake: quadratic's time grows as n^2.00 over n = 100..1e4 (linear is 1; "
        "flagged above 1.1)",
        "SUPERLINEAR: fake: memory's peak memory grows as n^1.50 over n = 100..1e4 (linear is 1; "
        "flagged above 1.1)"]
    assert flags == [n for n in bench.notes if "SUPERLINEAR" in n]
    # one line per row and x, grouped by row, x first
    assert re.search(r"^  quadratic +1e4 +100\.0 ", text, re.M), text
    assert curve.cells[0][1]["quadratic"].extra["slope"] == pytest.approx(2.0)


def test_chain_flatness_is_max_over_min_from_1e3_ops():
    curve = scaling.Curve("overhead vs ops", "ops", "us/op", lambda x: 1e6 / x)
    for x, us in ((100, 9.0), (1000, 4.0), (10**4, 4.2), (10**6, 4.6)):
        curve.cells.append((x, {"gpugrad": fake_result("gpugrad", x, us * x / 1e6)}))
        curve.cells[-1][1]["gpugrad"].extra["us/op"] = us
    assert scaling.flatness(curve, "gpugrad") == pytest.approx(4.6 / 4.0)
    assert scaling.flatness(curve, "torch") is None


def test_fmt_count():
    assert [fmt_count(v) for v in (1, 10.0, 256, 1000, 2000, 1e6, 10**7, None)] == [
        "1", "10", "256", "1e3", "2000", "1e6", "1e7", "-"]
