"""The training examples, run in-process with small settings: mlp_digits (checkpoint and
resume), linear_regression's optimizer/plot/progress flags, computational_graph's DOT output."""

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import gpugrad

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NUMBER = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(module, capsys, *args):
    module.main([str(a) for a in args])
    return capsys.readouterr().out


def accuracy(out):
    return float(re.search(rf"test accuracy ({NUMBER})% \(\d+/\d+\)", out).group(1))


def test_mlp_digits_trains_checkpoints_and_resumes_exactly(tmp_path, capsys, device):
    pytest.importorskip("sklearn")
    mlp = load_example("mlp_digits")
    resumed, straight = tmp_path / "resumed.gpugrad", tmp_path / "straight.gpugrad"
    common = ["--device", device, "--no-progress"]

    out = run(mlp, capsys, *common, "--epochs", 2, "--checkpoint", resumed)
    assert f"device {device}, 1438 training and 359 test digits, 64 features" in out
    assert "Linear(in_features=64, out_features=128, bias=True)" in out
    assert len(re.findall(r"epoch\s+\d+/2\s+loss", out)) == 2
    ckpt = gpugrad.load(resumed, map_location="cpu")
    assert ckpt["epoch"] == 2 and set(ckpt) == {"model", "optimizer", "shuffle", "epoch"}
    assert ckpt["optimizer"]["state"][0]["step"] == 2 * 23  # 1438 / 64 -> 23 batches an epoch

    out = run(mlp, capsys, *common, "--epochs", 6, "--checkpoint", resumed, "--resume")
    assert f"resumed from {resumed} after epoch 2" in out
    assert "trained epochs 3..6" in out and "epoch   3/6" in out and "epoch   2/6" not in out
    assert accuracy(out) >= 95.0, out

    mlp.tqdm = None  # plain prints when tqdm is missing
    out_straight = run(mlp, capsys, *common, "--epochs", 6, "--checkpoint", straight)
    assert accuracy(out_straight) == accuracy(out)
    a, b = (gpugrad.load(p, map_location="cpu") for p in (resumed, straight))
    for k, t in a["model"].items():
        if device == "cpu":  # resuming ends exactly where an uninterrupted run does
            assert t.numpy().tobytes() == b["model"][k].numpy().tobytes(), k
        else:
            assert np.allclose(t.numpy(), b["model"][k].numpy(), atol=1e-5), k


def test_mlp_digits_progress_bar_and_missing_checkpoint(tmp_path, capsys):
    pytest.importorskip("sklearn")
    mlp = load_example("mlp_digits")
    mlp.main(["--device", "cpu", "--epochs", "1", "--checkpoint", str(tmp_path / "c")])
    captured = capsys.readouterr()
    assert re.search(r"epoch\s+1/1\s+loss", captured.out)  # tqdm.write keeps lines on stdout
    if mlp.tqdm is not None:
        assert "23/23" in captured.err  # the bar counts batches
    with pytest.raises(SystemExit):
        mlp.main(["--resume", "--checkpoint", str(tmp_path / "missing.gpugrad")])
    assert "no checkpoint" in capsys.readouterr().err


def test_cnn_digits_reaches_97_percent(capsys, device):
    pytest.importorskip("sklearn")
    cnn = load_example("cnn_digits")
    out = run(cnn, capsys, "--device", device, "--epochs", 3)
    assert f"device {device}, 1438 training and 359 test digits, images (1, 8, 8)" in out
    assert "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))" in out
    assert "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)" in out
    assert len(re.findall(r"epoch\s+\d+/3\s+loss", out)) == 3
    assert accuracy(out) >= 97.0, out


def losses(out):
    return [float(v) for v in re.findall(rf"step\s+\d+\s+loss ({NUMBER})", out)]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "lbfgs"])
def test_linear_regression_optimizers(optimizer, capsys, monkeypatch):
    lr = load_example("linear_regression")
    monkeypatch.setattr(lr, "tqdm", None)
    args = [
        "--n",
        2000,
        "--d",
        8,
        "--steps",
        300,
        "--device",
        "cpu",
        "--dtype",
        "float64",
        "--optimizer",
        optimizer,
    ]
    out = run(lr, capsys, *args)
    ls = losses(out)
    assert len(ls) >= 10 and ls[-1] < 0.02 < ls[0] and ls == sorted(ls, reverse=True), out
    err = float(re.search(rf"least squares\|\s+= ({NUMBER})", out).group(1))
    assert err < (1e-5 if optimizer == "adam" else 1e-8), out


def test_linear_regression_lbfgs_converges_in_few_steps(capsys, monkeypatch):
    """L-BFGS with the strong-Wolfe line search reaches the least-squares solution in 30
    iterations, where plain gradient descent with lr 0.1 is still about 1e-3 away."""
    lr = load_example("linear_regression")
    monkeypatch.setattr(lr, "tqdm", None)
    args = ["--n", 2000, "--d", 8, "--steps", 30, "--device", "cpu", "--dtype", "float64"]
    errors = {}
    for optimizer in ("lbfgs", "sgd"):
        out = run(lr, capsys, *args, "--optimizer", optimizer)
        errors[optimizer] = float(re.search(rf"least squares\|\s+= ({NUMBER})", out).group(1))
    assert errors["lbfgs"] < 1e-8 < 1e-4 < errors["sgd"], errors


def test_linear_regression_progress_and_plot(tmp_path, capsys):
    lr = load_example("linear_regression")
    png = tmp_path / "loss.png"
    out = run(lr, capsys, "--n", 500, "--d", 4, "--steps", 50, "--device", "cpu", "--plot", png)
    assert len(losses(out)) >= 10  # with or without tqdm, the step lines reach stdout
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "--plot needs matplotlib" in out and not png.exists()
    else:
        assert f"loss curve saved to {png}" in out
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_computational_graph_prints_dot_and_renders(tmp_path, capsys):
    cg = load_example("computational_graph")
    out = run(cg, capsys)
    dot = out.split("DOT text")[1]
    assert "gradient (df/dx1, df/dx2, df/dx3) = (12, 12, 9)" in out.split("DOT text")[0]
    assert dot.count("MulBackward0") == 2 and "PowBackward0" in dot and "AddBackward0" in dot
    for leaf in ("x1", "x2", "x3"):
        assert f'label="{leaf}\\n()"' in dot
    svg = tmp_path / "graph.svg"
    try:
        import graphviz  # noqa: F401
    except ImportError:
        graphviz = None
    if graphviz is None or shutil.which("dot") is None:
        with pytest.raises(SystemExit):
            cg.main(["--render", str(svg)])
        assert "pip install graphviz" in capsys.readouterr().err
    else:
        out = run(cg, capsys, "--render", svg)
        assert f"graph drawn to {svg}" in out and "<svg" in svg.read_text()
