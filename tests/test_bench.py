"""``python -m gpugrad.bench``: every suite runs in --quick mode, prints its rows with numbers,
writes its JSON, flags a wrong gradient with a non-zero exit, and runs without torch and jax."""

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
from gpugrad.bench.harness import Bench, Row, grad_error, time_rows, to_host

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
    """One in-process run of every suite in --quick mode: (exit status, stdout, JSON)."""
    path = tmp_path_factory.mktemp("bench") / "out.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = bench_main.main(["all", "--quick", "--json", str(path)])
    return rc, out.getvalue(), json.loads(path.read_text())


@pytest.mark.parametrize("suite", ["linreg", "overhead", "mlp", "cheapgrad", "vmap"])
def test_suite_prints_every_row_with_numbers(quick_all, suite):
    rc, text, _ = quick_all
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
    _, _, doc = quick_all
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
