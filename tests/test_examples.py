"""Run each example as a script and check the figures it prints."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gpugrad

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"


def run_example(name, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def numbers(text):
    return [float(v) for v in re.findall(NUMBER, text)]


def line(out, pattern):
    """The numbers on the first printed line matching pattern."""
    m = re.search(pattern + r".*", out)
    assert m, f"no line matching {pattern!r} in:\n{out}"
    return m.group(0)


def vector_after(out, label):
    """The [a, b, ...] printed right after label."""
    m = re.search(re.escape(label) + r"\s*=?\s*\[([^\]]*)\]", out)
    assert m, f"no vector after {label!r} in:\n{out}"
    return numbers(m.group(1))


def test_computational_graph():
    out = run_example("computational_graph.py")
    assert re.search(r"f\(2, 3, 4\) = 3 \(x1\^2 \+ x2 x3\) = 48\n", out), out
    assert re.search(r"gradient \(df/dx1, df/dx2, df/dx3\) = \(12, 12, 9\)", out), out

    graph = out.split("each node before its inputs):\n")[1].split("gradient")[0]
    rows = [
        re.match(r"\s*\[(\d+)\] (\S+)\s+(.*)", row).groups() for row in graph.splitlines() if row
    ]
    names = [name for _, name, _ in rows]
    assert [int(i) for i, _, _ in rows] == list(range(len(rows))), graph
    assert names[0].startswith("MulBackward"), graph
    assert sum(n.startswith("MulBackward") for n in names) == 2, graph
    assert sum(n.startswith("AddBackward") for n in names) == 1, graph
    assert sum(n.startswith("PowBackward") for n in names) == 1, graph
    leaves = sorted(n for n in names if n.startswith("AccumulateGrad"))
    assert leaves == ["AccumulateGrad(x1)", "AccumulateGrad(x2)", "AccumulateGrad(x3)"], graph
    assert len(names) == 7, graph
    # reverse topological order: every node comes before the nodes of its inputs
    for i, _, rest in rows:
        for child in re.findall(r"\[(\d+)\]", rest):
            assert int(child) > int(i), graph
    assert re.search(r"leaf x1 = 2\b", graph) and re.search(r"leaf x3 = 4\b", graph), graph


def test_computational_graph_other_point():
    out = run_example("computational_graph.py", "--x1", "1", "--x2", "-2", "--x3", "5")
    assert re.search(r"= -27\n", out), out  # 3 (1 - 10)
    assert "= (6, 15, -6)" in out, out


def test_derivatives():
    out = run_example("derivatives.py")
    assert re.search(r"f'\(1\) by autodiff = 2\s", out), out
    # the finite-difference table: central differences reach 2 to 1e-6 at h = 1e-3
    rows = re.findall(rf"^\s*(1e-0\d)\s+({NUMBER})\s+({NUMBER})", out, flags=re.M)
    assert len(rows) == 6, out
    central = {h: float(c) for h, _, c in rows}
    assert abs(central["1e-03"] - 2) < 1e-6
    assert vector_after(out, "dy/dx") == [0, 4, 8, 12]
    assert vector_after(out, "after two backward calls") == [2, 2, 2, 2]
    assert vector_after(out, "after x.grad.zero_()") == [0, 0, 0, 0]
    assert vector_after(out, "(x * x).detach()") == [0, 1, 4, 9]
    assert "u.requires_grad = False" in out
    assert vector_after(out, "d(sum u * x)/dx") == [0, 1, 4, 9]
    assert vector_after(out, "d(sum x * x)/dx") == [0, 2, 4, 6]
    assert "under no_grad: v = x * 2 has requires_grad = False, grad_fn = None" in out
    assert re.search(r"outside it: w = x \* 2 has requires_grad = True, grad_fn = MulBackward", out)


def test_derivatives_other_point():
    out = run_example("derivatives.py", "--x", "2.5")
    assert re.search(r"f'\(2\.5\) by autodiff = 11\s", out), out


def test_house_prices():
    out = run_example("house_prices.py", "--steps", "6000")
    assert vector_after(out, "predictions X @ w") == [1150.0, 2300.0, 1600.0]
    expected = [-3866.67, -1733.33, -1600.00, -533.33]
    assert vector_after(out, "gradient by autodiff") == expected
    assert vector_after(out, "gradient 2/N X^T (X w - y)") == expected
    assert float(line(out, r"MSE loss = ").split("=")[1]) == pytest.approx(386666.67)

    losses = [float(v) for v in re.findall(rf"step\s+\d+\s+loss ({NUMBER})", out)]
    assert len(losses) >= 10 and losses[0] == pytest.approx(386666.67, rel=1e-6)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert float(line(out, r"final loss = ").split()[3]) < 1e-6
    assert vector_after(out, "final predictions") == pytest.approx([1550, 3100, 2200], abs=1e-3)


def test_linear_regression():
    args = ["--n", "2000", "--d", "8", "--steps", "300", "--device", "cpu", "--dtype", "float64"]
    out = run_example("linear_regression.py", *args)
    assert "device cpu, dtype float64, n = 2000, d = 8" in out
    losses = [float(v) for v in re.findall(rf"step\s+\d+\s+loss ({NUMBER})", out)]
    assert len(losses) >= 10 and losses[-1] < 0.02 < losses[0], losses
    assert all(b <= a for a, b in zip(losses, losses[1:])), losses
    assert re.search(rf"mean time per step: {NUMBER} ms", out)
    err_true = float(line(out, r"max \|\[w, b\] - \[w_true, b_true\]\| = ").split("= ")[1])
    err_lstsq = float(line(out, r"max \|\[w, b\] - least squares\|").split("= ")[1])
    assert err_true < 0.02, out  # noise 0.1 over 2000 samples: about 0.1 / sqrt(2000)
    assert err_lstsq < 1e-8, out  # gradient descent has converged to the least-squares solution


def test_linear_regression_chunked_follows_the_same_path():
    """--chunk (one pass over X per step) takes the same steps as the composite loss."""
    args = ["--n", "2000", "--d", "8", "--steps", "100", "--device", "cpu", "--dtype", "float64"]
    plain = run_example("linear_regression.py", *args)
    chunked = run_example("linear_regression.py", *args, "--chunk", "300")
    assert "one pass per step (300 rows)" in chunked
    loss = rf"step\s+\d+\s+loss ({NUMBER})"
    a, b = re.findall(loss, plain), re.findall(loss, chunked)
    assert len(a) >= 10 and [float(v) for v in a] == pytest.approx([float(v) for v in b],
                                                                     rel=1e-9)
    final = r"max \|\[w, b\] - least squares\|"
    assert float(line(chunked, final).split("= ")[1]) < 1e-4, chunked


def test_linear_regression_float32():
    args = ["--n", "2000", "--d", "8", "--steps", "200", "--device", "cpu", "--seed", "3"]
    out = run_example("linear_regression.py", *args)
    assert "dtype float32" in out
    err_lstsq = float(line(out, r"max \|\[w, b\] - least squares\|").split("= ")[1])
    assert err_lstsq < 1e-4, out


@pytest.mark.cuda
@pytest.mark.skipif(not gpugrad.cuda.is_available(), reason="needs a CUDA GPU")
def test_linear_regression_cuda():
    args = ["--n", "20000", "--d", "16", "--steps", "200", "--device", "cuda", "--dtype", "float64"]
    out = run_example("linear_regression.py", *args)
    assert "device cuda" in out
    err_lstsq = float(line(out, r"max \|\[w, b\] - least squares\|").split("= ")[1])
    assert err_lstsq < 1e-8, out


def test_legendre_fit():
    out = run_example("legendre_fit.py", "--steps", "2000")
    assert float(line(out, r"max \|P3' by hand").split("=")[1]) < 1e-12
    losses = [float(v) for v in re.findall(rf"step\s+\d+\s+loss ({NUMBER})", out)]
    assert len(losses) == 10 and all(b < a for a, b in zip(losses, losses[1:])), losses
    first = float(line(out, r"initial loss = ").split("=")[1])
    final = float(line(out, r"final loss = ").split("=")[1])
    assert first == pytest.approx(461.9, abs=0.1)
    assert final < 10.0  # the fit the tutorial reaches: y ~ -2.2 P3(0.255 x)
    a, b, c, d = numbers(line(out, r"result: y = ").split("=")[1].replace("P3", "P"))
    assert abs(a) < 1e-6 and abs(c) < 1e-6
    assert b == pytest.approx(-2.2, abs=0.1) and d == pytest.approx(0.255, abs=0.01)


def test_straight_through_clamp():
    out = run_example("straight_through_clamp.py")
    assert vector_after(out, "clamp(x, -1, 1)") == [-1, -0.5, 0.5, 1]
    assert vector_after(out, "gradient of gpugrad.clamp") == [0, 1, 1, 0]
    assert vector_after(out, "gradient of ClampSTE") == [1, 1, 1, 1]
    assert numbers(line(out, r"gpugrad.clamp: w")) == [-3.0, -1.0]  # no gradient: stuck
    w, y = numbers(line(out, r"ClampSTE: w"))
    assert w == pytest.approx(0.5, abs=1e-3) and y == pytest.approx(0.5, abs=1e-3)
