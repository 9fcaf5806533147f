"""gpugrad.viz: DOT text of the recorded graph, and rendering when Graphviz is there."""

import re
import shutil
import sys

import pytest

import gpugrad
import gpugrad.viz as viz


def nodes_and_edges(dot):
    labels = dict(re.findall(r"^\s*(n\d+) \[label=\"([^\"]*)\"", dot, flags=re.M))
    edges = re.findall(r"^\s*(n\d+) -> (n\d+);", dot, flags=re.M)
    return labels, [(labels[a], labels[b]) for a, b in edges]


def test_dot_of_a_small_graph():
    x = gpugrad.tensor([1.0, 2.0], requires_grad=True)
    x.name = "x"
    w = gpugrad.ones(3, 2, requires_grad=True)  # unnamed: x0
    c = gpugrad.ones(3)  # a constant: not drawn
    out = ((w @ x) * c + x.sum()).sum()
    dot = viz.to_dot(out, name="loss")
    assert dot.startswith("digraph {") and dot.rstrip().endswith("}")
    labels, edges = nodes_and_edges(dot)
    assert sorted(labels.values()) == sorted(
        [
            "loss\\n()",
            "SumBackward0",
            "AddBackward0",
            "MulBackward0",
            "MvBackward0",
            "SumBackward0",
            "x\\n(2,)",
            "x0\\n(3, 2)",
        ]
    )
    assert sorted(edges) == sorted(
        [
            ("SumBackward0", "loss\\n()"),
            ("AddBackward0", "SumBackward0"),
            ("MulBackward0", "AddBackward0"),
            ("SumBackward0", "AddBackward0"),
            ("MvBackward0", "MulBackward0"),
            ("x0\\n(3, 2)", "MvBackward0"),
            ("x\\n(2,)", "MvBackward0"),
            ("x\\n(2,)", "SumBackward0"),
        ]
    )
    assert list(labels.values()).count("x\\n(2,)") == 1  # x feeds two ops but is drawn once


def test_dot_names_unnamed_leaves_in_order_and_escapes():
    a = gpugrad.ones(2, requires_grad=True)
    b = gpugrad.ones(2, requires_grad=True)
    b.name = 'we"ird\\name'
    dot = viz.to_dot(a * b)
    assert "x0\\n(2,)" in dot and "x1" not in dot
    assert 'we\\"ird\\\\name' in dot
    labels, edges = nodes_and_edges(viz.to_dot(a))
    assert list(labels.values()) == ["out\\n(2,)", "x0\\n(2,)"] and len(edges) == 1
    assert "->" not in viz.to_dot(gpugrad.ones(1))  # nothing recorded


def test_dot_after_backward_and_for_shared_nodes():
    x = gpugrad.tensor(2.0, requires_grad=True)
    y = x * x
    z = y + y  # y's node feeds z twice
    z.backward()
    labels, edges = nodes_and_edges(viz.to_dot(z))
    assert list(labels.values()).count("MulBackward0") == 1
    assert edges.count(("MulBackward0", "AddBackward0")) == 2


def test_render_without_graphviz_says_how_to_install(monkeypatch, tmp_path):
    x = gpugrad.ones(2, requires_grad=True)
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import fails
    with pytest.raises(RuntimeError, match="pip install graphviz.*apt-get install graphviz"):
        viz.render(x * 2, tmp_path / "g.svg")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "graphviz", object())
    with pytest.raises(RuntimeError, match="`dot` program was not found.*apt-get install"):
        viz.render(x * 2, tmp_path / "g.svg")


def test_render_svg(tmp_path):
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    x = gpugrad.ones(2, requires_grad=True)
    x.name = "x"
    path = viz.render((x * 3).sum(), tmp_path / "g.svg")
    text = path.read_text()
    assert "<svg" in text and "MulBackward0" in text and ">x<" in text
