"""Pictures of the recorded graph: ``to_dot`` (Graphviz DOT text) and ``render`` (SVG, PNG, PDF).

The graph is walked from ``tensor.grad_fn`` through ``next_functions``; a leaf shows up as
``AccumulateGrad`` with its tensor in ``.variable``. Leaves are labelled by their ``.name``
(``x.name = "w"``) or else x0, x1, ... in the order they are first met.
"""

from __future__ import annotations

import os
import shutil

_INSTALL = (
    "gpugrad.viz.render needs the `graphviz` Python package and Graphviz's `dot` "
    "program: pip install graphviz (or pip install 'gpugrad[plot]'), and "
    "apt-get install graphviz (macOS: brew install graphviz). to_dot() works without "
    "them."
)


def _quote(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(t):
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.ndim == 1 else "") + ")"


def to_dot(tensor, name="out"):
    """Graphviz DOT text of the graph that produced `tensor`.

    Op nodes are labelled by ``grad_fn.name()`` (``MulBackward0``, ...), leaves by name and
    shape, and the output by `name` and shape; edges point the way values flow (inputs to
    ops to the output).

    Example::

        >>> x = gpugrad.tensor([1.0, 2.0], requires_grad=True)
        >>> x.name = "x"
        >>> print(gpugrad.viz.to_dot((x * x).sum()))   # doctest: +ELLIPSIS
        digraph {
        ...
    """
    lines = [
        "digraph {",
        '  graph [rankdir=BT, fontname="Helvetica"];',
        '  node [fontname="Helvetica", fontsize=11, style=filled, shape=box];',
    ]
    ids: dict = {}
    leaves = [0]

    def leaf_id(t):
        key = ("leaf", id(t))
        if key not in ids:
            ids[key] = f"n{len(ids)}"
            label = t.name if t.name is not None else f"x{leaves[0]}"
            if t.name is None:
                leaves[0] += 1
            text = _quote(label + "\n" + _shape(t))
            lines.append(f'  {ids[key]} [label={text}, fillcolor="lightblue"];')
        return ids[key]

    out = f"n{len(ids)}"
    ids[("out", id(tensor))] = out
    text = _quote(name + "\n" + _shape(tensor))
    lines.append(f'  {out} [label={text}, fillcolor="darkolivegreen1"];')
    root = tensor.grad_fn
    if root is None:
        if tensor.requires_grad:
            lines.append(f"  {leaf_id(tensor)} -> {out};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def op_id(node):
        key = ("op", id(node))
        new = key not in ids
        if new:
            ids[key] = f"n{len(ids)}"
            lines.append(f'  {ids[key]} [label={_quote(node.name())}, fillcolor="lightgrey"];')
        return ids[key], new

    rid, _ = op_id(root)
    lines.append(f"  {rid} -> {out};")
    stack = [root]  # the recorded graph keeps every node alive, so ids stay unique
    while stack:
        node = stack.pop()
        nid = ids[("op", id(node))]
        for child, _ in node.next_functions:
            if child is None:
                continue
            var = getattr(child, "variable", None)
            if var is not None:
                lines.append(f"  {leaf_id(var)} -> {nid};")
                continue
            cid, new = op_id(child)
            lines.append(f"  {cid} -> {nid};")
            if new:
                stack.append(child)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tensor, path, name="out"):
    """Draw the graph of `tensor` to `path`; the suffix picks the format (.svg, .png, .pdf).

    Needs the ``graphviz`` package and the ``dot`` program; raises RuntimeError saying how to
    install them otherwise. Returns `path`.

    Example::

        gpugrad.viz.render(loss, "graph.svg")
    """
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "svg"
    try:
        import graphviz  # noqa: PLC0415 - optional
    except ImportError:
        raise RuntimeError(
            "gpugrad.viz.render: the `graphviz` Python package is not installed. " + _INSTALL
        ) from None
    if shutil.which("dot") is None:
        raise RuntimeError(
            "gpugrad.viz.render: Graphviz's `dot` program was not found on PATH. " + _INSTALL
        )
    data = graphviz.Source(to_dot(tensor, name)).pipe(format=fmt)
    with open(path, "wb") as f:
        f.write(data)
    return path


__all__ = ["to_dot", "render"]
